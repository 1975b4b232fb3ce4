/* The SIMT emulator's own tests: each kernel below is ordinary CUDA C++ against autograd/cuda/simt.h, checked
 * against the obvious host result; then the faults the emulator must catch (a race, a host pointer, a device
 * pointer read on the host, an out-of-bounds shared index, a barrier deadlock).
 * `test_simt_emu --bench` instead prints the emulator's speed (ns per fiber switch, a 1M-element kernel). */
#include "autograd/cuda/simt.h"
#include "tests/check.h"

#include <float.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

static char err[512];

template <class T> static T *dev_alloc(size_t n)
{
    void *p = NULL;
    if (cf_cuda_malloc(&p, n * sizeof(T), err, sizeof err) != 0) {
        fprintf(stderr, "cf_cuda_malloc: %s\n", err);
        exit(1);
    }
    return (T *)p;
}
template <class T> static std::vector<T> to_host(const T *d, size_t n)
{
    std::vector<T> h(n);
    CHECK(cf_cuda_copy_d2h(h.data(), d, n * sizeof(T), err, sizeof err) == 0, "%s", err);
    return h;
}
template <class T> static T *to_device(const std::vector<T> &h)
{
    T *d = dev_alloc<T>(h.size());
    CHECK(cf_cuda_copy_h2d(d, h.data(), h.size() * sizeof(T), err, sizeof err) == 0, "%s", err);
    return d;
}
static bool launch_ok()
{
    if (CF_CUDA_CHECK_LAUNCH(err, sizeof err) == 0) return true;
    fprintf(stderr, "unexpected launch error: %s\n", err);
    return false;
}

/* ---- barrier order: every thread's tickets before a barrier come before every thread's after it ---- */
__global__ void k_barrier_order(int *counter, int *tickets, int phases)
{
    int t = threadIdx.x;
    for (int p = 0; p < phases; p++) {
        tickets[p * blockDim.x + t] = atomicAdd(counter, 1);
        __syncthreads();
    }
}

static void test_barrier_order()
{
    const int n = 96, phases = 3;
    int *counter = to_device(std::vector<int>(1, 0));
    int *tickets = dev_alloc<int>(n * phases);
    CF_LAUNCH(k_barrier_order, 1, n, 0, counter, tickets, phases);
    CHECK(launch_ok());
    std::vector<int> t = to_host(tickets, n * phases);
    for (int p = 0; p < phases; p++)
        for (int i = 0; i < n; i++)
            CHECK(t[p * n + i] >= p * n && t[p * n + i] < (p + 1) * n, "phase %d thread %d ticket %d", p, i,
                  t[p * n + i]);
    cf_cuda_free(counter);
    cf_cuda_free(tickets);
}

/* ---- shuffles, ballot, any/all over two warps and a partial third ---- */
__global__ void k_shuffles(const float *in, float *out, unsigned *votes)
{
    int t = threadIdx.x;
    float v = in[t];
    out[t * 6 + 0] = __shfl_sync(0xffffffffu, v, 5);
    out[t * 6 + 1] = __shfl_up_sync(0xffffffffu, v, 3);
    out[t * 6 + 2] = __shfl_down_sync(0xffffffffu, v, 3);
    out[t * 6 + 3] = __shfl_xor_sync(0xffffffffu, v, 1);
    out[t * 6 + 4] = __shfl_down_sync(0xffffffffu, v, 2, 8);
    out[t * 6 + 5] = __shfl_sync(0xffffffffu, v, 3, 16);
    votes[t * 3 + 0] = __ballot_sync(0xffffffffu, t % 3 == 0);
    votes[t * 3 + 1] = (unsigned)__any_sync(0xffffffffu, t == 40);
    votes[t * 3 + 2] = (unsigned)__all_sync(0xffffffffu, t < 64);
}

static void test_shuffles()
{
    const int n = 80; /* warps 0 and 1 full, warp 2 has 16 lanes */
    std::vector<float> in(n);
    for (int i = 0; i < n; i++) in[i] = 100.0f + i;
    float *din = to_device(in), *dout = dev_alloc<float>(n * 6);
    unsigned *dv = dev_alloc<unsigned>(n * 3);
    CF_LAUNCH(k_shuffles, 1, n, 0, din, dout, dv);
    CHECK(launch_ok());
    std::vector<float> out = to_host(dout, n * 6);
    std::vector<unsigned> votes = to_host(dv, n * 3);
    for (int t = 0; t < n; t++) {
        int w = t / 32 * 32, lane = t % 32, size = n - w < 32 ? n - w : 32;
        auto at = [&](int l) { return l < size ? in[w + l] : in[t]; }; /* an absent lane gives the caller's value */
        CHECK(out[t * 6 + 0] == at(5), "idx t=%d", t);
        CHECK(out[t * 6 + 1] == (lane >= 3 ? at(lane - 3) : in[t]), "up t=%d", t);
        CHECK(out[t * 6 + 2] == (lane + 3 < 32 ? at(lane + 3) : in[t]), "down t=%d", t);
        CHECK(out[t * 6 + 3] == at(lane ^ 1), "xor t=%d", t);
        CHECK(out[t * 6 + 4] == (lane % 8 + 2 < 8 ? at(lane + 2) : in[t]), "down width 8 t=%d", t);
        CHECK(out[t * 6 + 5] == at(lane / 16 * 16 + 3), "idx width 16 t=%d", t);
        unsigned ballot = 0;
        for (int l = 0; l < size; l++)
            if ((w + l) % 3 == 0) ballot |= 1u << l;
        CHECK(votes[t * 3 + 0] == ballot, "ballot t=%d: %#x vs %#x", t, votes[t * 3 + 0], ballot);
        CHECK(votes[t * 3 + 1] == (unsigned)(w == 32), "any t=%d", t);
        CHECK(votes[t * 3 + 2] == (unsigned)(w < 64), "all t=%d", t);
    }
    cf_cuda_free(din);
    cf_cuda_free(dout);
    cf_cuda_free(dv);
}

/* ---- a block reduction in shared memory, then a warp-shuffle finish; grid-wide total by atomicAdd ---- */
__global__ void k_reduce(const float *in, float *block_sums, float *total, int n)
{
    CF_SHARED(float, s, 256);
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride >= 32; stride /= 2) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t < 32) {
        float v = s[t];
        for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
        if (t == 0) {
            block_sums[blockIdx.x] = v;
            atomicAdd(total, v);
        }
    }
}

/* the classic bug: the first __syncthreads is missing, so a thread reads a neighbour's word before it is written */
__global__ void k_reduce_racy(const float *in, float *out, int n)
{
    CF_SHARED(float, s, 256);
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = i < n ? in[i] : 0.0f;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

static void test_reduction()
{
    const int n = 1000, blocks = (n + 255) / 256;
    std::vector<float> in(n);
    for (int i = 0; i < n; i++) in[i] = (float)(i % 7) - 2.0f;
    float *din = to_device(in), *dsums = dev_alloc<float>(blocks), *dtotal = to_device(std::vector<float>(1, 0));
    CF_LAUNCH(k_reduce, blocks, 256, 0, din, dsums, dtotal, n);
    CHECK(launch_ok());
    std::vector<float> sums = to_host(dsums, blocks), total = to_host(dtotal, 1);
    double all = 0;
    for (int b = 0; b < blocks; b++) {
        double want = 0;
        for (int i = b * 256; i < n && i < (b + 1) * 256; i++) want += in[i];
        CHECK_NEAR(sums[b], want, 1e-4);
        all += want;
    }
    CHECK_NEAR(total[0], all, 1e-3);

    CF_LAUNCH(k_reduce_racy, blocks, 256, 0, din, dsums, n);
    CHECK(CF_CUDA_CHECK_LAUNCH(err, sizeof err) != 0, "the racy reduction was not reported");
    CHECK(strstr(err, "race on shared s[") && strstr(err, "k_reduce_racy"), "race report: %s", err);
    printf("  reported: %s\n", err);
    CHECK(CF_CUDA_CHECK_LAUNCH(err, sizeof err) == 0, "the error is taken once");
    cf_cuda_free(din);
    cf_cuda_free(dsums);
    cf_cuda_free(dtotal);
}

/* ---- tiled transpose through shared memory (padded rows, a 2-D block, ragged edges) ---- */
__global__ void k_transpose(const float *in, float *out, int rows, int cols)
{
    CF_SHARED(float, tile, 32 * 33);
    int x = blockIdx.x * 32 + threadIdx.x, y0 = blockIdx.y * 32;
    for (int j = threadIdx.y; j < 32; j += blockDim.y)
        if (x < cols && y0 + j < rows) tile[j * 33 + threadIdx.x] = in[(y0 + j) * cols + x];
    __syncthreads();
    int ox = blockIdx.y * 32 + threadIdx.x, oy0 = blockIdx.x * 32;
    for (int j = threadIdx.y; j < 32; j += blockDim.y)
        if (ox < rows && oy0 + j < cols) out[(oy0 + j) * rows + ox] = tile[threadIdx.x * 33 + j];
}

static void test_transpose()
{
    const int rows = 45, cols = 70;
    std::vector<float> in(rows * cols);
    for (int i = 0; i < rows * cols; i++) in[i] = (float)i;
    float *din = to_device(in), *dout = dev_alloc<float>(rows * cols);
    CF_LAUNCH(k_transpose, dim3((cols + 31) / 32, (rows + 31) / 32), dim3(32, 8), 0, din, dout, rows, cols);
    CHECK(launch_ok());
    std::vector<float> out = to_host(dout, rows * cols);
    int bad = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) bad += out[c * rows + r] != in[r * cols + c];
    CHECK(bad == 0, "%d transposed elements wrong", bad);
    cf_cuda_free(din);
    cf_cuda_free(dout);
}

/* ---- dynamic shared memory: reverse each block's slice ---- */
__global__ void k_reverse(const int *in, int *out)
{
    CF_DYNAMIC_SHARED(int, buf);
    int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    buf[t] = in[base + t];
    __syncthreads();
    out[base + t] = buf[blockDim.x - 1 - t];
}

static void test_dynamic_shared()
{
    const int bs = 48, blocks = 3;
    std::vector<int> in(bs * blocks);
    for (int i = 0; i < bs * blocks; i++) in[i] = i * 3 + 1;
    int *din = to_device(in), *dout = dev_alloc<int>(bs * blocks);
    CF_LAUNCH(k_reverse, blocks, bs, bs * sizeof(int), din, dout);
    CHECK(launch_ok());
    std::vector<int> out = to_host(dout, bs * blocks);
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < bs; t++) CHECK(out[b * bs + t] == in[b * bs + bs - 1 - t], "b=%d t=%d", b, t);
    cf_cuda_free(din);
    cf_cuda_free(dout);
}

/* ---- atomics from every thread of several blocks ---- */
__global__ void k_atomics(int *ints, unsigned *uns, unsigned long long *ulls, float *f, double *d)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(&ints[0], 1);
    atomicMax(&ints[1], i);
    atomicMin(&ints[2], -i);
    atomicAdd(&uns[0], 2u);
    atomicMax(&uns[1], (unsigned)i * 3u);
    atomicAdd(&ulls[0], 1ull << 33);
    atomicAdd(&f[0], 0.5f);
    atomicAdd(&d[0], 0.25);
    /* a spin-free "first one wins" with CAS: only one thread sees 0 */
    if (atomicCAS(&ints[3], 0, i + 1) == 0) atomicAdd(&ints[4], 1);
    atomicExch(&uns[2], 7u);
}

static void test_atomics()
{
    const int blocks = 5, bs = 64, n = blocks * bs;
    int *di = to_device(std::vector<int>{0, -1, 0, 0, 0});
    unsigned *du = to_device(std::vector<unsigned>{0, 0, 0});
    unsigned long long *dl = to_device(std::vector<unsigned long long>{0});
    float *df = to_device(std::vector<float>{0});
    double *dd = to_device(std::vector<double>{0});
    CF_LAUNCH(k_atomics, blocks, bs, 0, di, du, dl, df, dd);
    CHECK(launch_ok());
    std::vector<int> i = to_host(di, 5);
    std::vector<unsigned> u = to_host(du, 3);
    CHECK(i[0] == n && i[1] == n - 1 && i[2] == -(n - 1) && i[3] >= 1 && i[4] == 1);
    CHECK(u[0] == 2u * n && u[1] == 3u * (n - 1) && u[2] == 7u);
    CHECK(to_host(dl, 1)[0] == (unsigned long long)n << 33);
    CHECK(to_host(df, 1)[0] == 0.5f * n);
    CHECK(to_host(dd, 1)[0] == 0.25 * n);
    cf_cuda_free(di);
    cf_cuda_free(du);
    cf_cuda_free(dl);
    cf_cuda_free(df);
    cf_cuda_free(dd);
}

/* ---- CUDA's device min/max overloads, int64_t (long) included; host threads sharing the device ---- */
__global__ void k_min_max(const int64_t *a, int64_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    __syncthreads(); /* fiber switches, so a second host thread inside the emulator at once would interleave */
    if (i < n) out[i] = max(min(a[i], (int64_t)10), (int64_t)-10) + (int64_t)min(1.5f, (float)i);
}

static void test_min_max_threads()
{
    const int n = 4096;
    std::vector<int64_t> a(n);
    for (int i = 0; i < n; i++) a[i] = (int64_t)(i % 41) - 20;
    const int64_t *da = to_device(a);
    /* two host threads launch over their own outputs at once: the emulator serialises them */
    int64_t *dout[2] = {dev_alloc<int64_t>(n), dev_alloc<int64_t>(n)};
    bool ok[2] = {true, true};
    auto work = [&](int t) {
        for (int rep = 0; rep < 20; rep++) {
            CF_LAUNCH(k_min_max, (n + 63) / 64, 64, 0, da, dout[t], n);
            ok[t] = ok[t] && CF_CUDA_CHECK_LAUNCH(err, sizeof err) == 0;
        }
    };
    std::thread other(work, 1);
    work(0);
    other.join();
    CHECK(ok[0] && ok[1], "a concurrent launch failed: %s", err);
    for (int t = 0; t < 2; t++) {
        std::vector<int64_t> h = to_host(dout[t], n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            int64_t want = (a[i] < -10 ? -10 : a[i] > 10 ? 10 : a[i]) + (i == 0 ? 0 : 1);
            bad += h[i] != want;
        }
        CHECK(bad == 0, "thread %d: %d elements wrong", t, bad);
        cf_cuda_free(dout[t]);
    }
    cf_cuda_free((void *)da);
}

/* ---- 16-bit floats against known bit patterns (IEEE binary16 and bfloat16, round to nearest even) ---- */
static void test_half_bf16()
{
    struct {
        float f;
        unsigned short h;
    } half_cases[] = {
        {1.0f, 0x3c00},          {-2.0f, 0xc000},        {65504.0f, 0x7bff},      {65520.0f, 0x7c00},
        {65519.0f, 0x7bff},      {1.0f / 3, 0x3555},     {0.0f, 0x0000},          {-0.0f, 0x8000},
        {ldexpf(1, -24), 0x0001}, {ldexpf(1, -25), 0x0000}, {ldexpf(3, -26), 0x0001}, {ldexpf(3, -25), 0x0002},
        {ldexpf(1, -14), 0x0400}, {1 + ldexpf(1, -11), 0x3c00}, {1 + ldexpf(3, -11), 0x3c02},
        {1 + ldexpf(1, -10), 0x3c01}, {INFINITY, 0x7c00}, {-INFINITY, 0xfc00}, {NAN, 0x7fff},
        {ldexpf(1023, -24), 0x03ff}, {ldexpf(2047, -25), 0x0400},
    };
    for (auto &c : half_cases) {
        unsigned short got = __half_as_ushort(__float2half(c.f));
        CHECK(got == c.h, "half(%a) = %#06x, expected %#06x", (double)c.f, got, c.h);
        if (c.f == c.f && fabsf(c.f) <= 65504.0f && (got & 0x7fff) != 0) {
            /* exactly representable cases come back unchanged */
            float back = __half2float(__ushort_as_half(got));
            if (__half_as_ushort(__float2half(back)) != got) CHECK(false, "half round trip of %#06x", got);
        }
    }
    CHECK(__half2float(__ushort_as_half(0x0001)) == ldexpf(1, -24));
    CHECK(__half2float(__ushort_as_half(0x7bff)) == 65504.0f);
    CHECK(__half2float(__ushort_as_half(0xc000)) == -2.0f);
    CHECK(isinf(__half2float(__ushort_as_half(0x7c00))));
    CHECK(isnan(__half2float(__ushort_as_half(0x7e00))));
    struct {
        float f;
        unsigned short b;
    } bf_cases[] = {
        {1.0f, 0x3f80},           {-1.0f, 0xbf80},          {3.14159265f, 0x4049},     {1 + ldexpf(1, -8), 0x3f80},
        {1 + ldexpf(3, -8), 0x3f82}, {1 + ldexpf(1, -7), 0x3f81}, {FLT_MAX, 0x7f80},        {INFINITY, 0x7f80},
        {NAN, 0x7fff},            {ldexpf(1, -133), 0x0001}, {0.1f, 0x3dcd},
    };
    for (auto &c : bf_cases) {
        unsigned short got = __bfloat16_as_ushort(__float2bfloat16(c.f));
        CHECK(got == c.b, "bf16(%a) = %#06x, expected %#06x", (double)c.f, got, c.b);
    }
    CHECK(__bfloat162float(__ushort_as_bfloat16(0x4049)) == 3.140625f);
    CHECK(__bfloat162float(__ushort_as_bfloat16(0xbf80)) == -1.0f);
}

/* ---- faults the emulator must report ---- */
__global__ void k_fill(float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = 1.0f;
}

__global__ void k_oob(float *out)
{
    CF_SHARED(float, s, 32);
    s[threadIdx.x] = 1.0f; /* launched with 40 threads */
    __syncthreads();
    out[0] = s[0];
}

__global__ void k_deadlock(int *out)
{
    if (threadIdx.x == 0)
        __syncthreads();
    else
        __syncwarp();
    out[threadIdx.x] = 1;
}

static void test_faults_reported()
{
    std::vector<float> host(64, 0.0f);
    CF_LAUNCH(k_fill, 1, 64, 0, host.data(), 64);
    CHECK(CF_CUDA_CHECK_LAUNCH(err, sizeof err) != 0, "a host pointer argument was not reported");
    CHECK(strstr(err, "argument 1 is a host pointer") && strstr(err, "k_fill"), "host pointer report: %s", err);
    printf("  reported: %s\n", err);
    CHECK(host[0] == 0.0f, "the refused kernel did not run");

    float *d = dev_alloc<float>(64);
    CF_LAUNCH(k_fill, 1, 64, 0, d, 64);
    CHECK(launch_ok());
    CHECK(to_host(d, 64)[63] == 1.0f);

    CF_LAUNCH(k_oob, 1, 40, 0, d);
    CHECK(CF_CUDA_CHECK_LAUNCH(err, sizeof err) != 0, "an out-of-bounds shared index was not reported");
    CHECK(strstr(err, "out of bounds: s[32] of 32"), "out-of-bounds report: %s", err);
    printf("  reported: %s\n", err);

    int *di = dev_alloc<int>(32);
    CF_LAUNCH(k_deadlock, 1, 32, 0, di);
    CHECK(cf_cuda_synchronize(err, sizeof err) != 0, "a barrier deadlock was not reported");
    CHECK(strstr(err, "deadlock"), "deadlock report: %s", err);
    printf("  reported: %s\n", err);
    /* the pool survives: a correct kernel runs again */
    CF_LAUNCH(k_fill, 2, 32, 0, d, 64);
    CHECK(launch_ok());
    cf_cuda_free(d);
    cf_cuda_free(di);
}

/* Runs fn in a child process; returns its stderr, and whether it died (by a signal or a nonzero exit). */
static std::string in_child(void (*fn)(void), bool *died)
{
    int fds[2];
    if (pipe(fds) != 0) return "";
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buf[512];
    ssize_t k;
    while ((k = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, (size_t)k);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    *died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    return text;
}

static void read_device_on_host(void)
{
    float *d = dev_alloc<float>(16);
    volatile float v = d[3]; /* the bug being caught */
    (void)v;
}

static void test_device_read_on_host()
{
    bool died = false;
    std::string text = in_child(read_device_on_host, &died);
    CHECK(died, "reading device memory on the host did not stop the program");
    CHECK(text.find("host code touched device memory") != std::string::npos, "child said: %s", text.c_str());
    size_t nl = text.find('\n');
    printf("  reported: %s\n", text.substr(0, nl).c_str());
}

/* ---- speed: what kernel authors need to size CI shapes ---- */
__global__ void k_axpy(const float *x, float *y, float a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}

__global__ void k_barriers(int *out, int rounds)
{
    int acc = 0;
    for (int r = 0; r < rounds; r++) {
        acc += r;
        __syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

/* CPU time of this process: the number that does not depend on what else the machine runs */
static double now()
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench()
{
    const int n = 1 << 20;
    float *x = to_device(std::vector<float>(n, 1.0f)), *y = to_device(std::vector<float>(n, 2.0f));
    CF_LAUNCH(k_axpy, n / 256, 256, 0, x, y, 0.5f, n);
    const int reps = 10;
    double t0 = now();
    for (int r = 0; r < reps; r++) CF_LAUNCH(k_axpy, n / 256, 256, 0, x, y, 0.5f, n);
    double t_axpy = (now() - t0) / reps;
    printf("axpy, 1M floats, 4096 blocks of 256 (no barrier): %.2f ms per launch, %.1f ns per thread\n",
           1e3 * t_axpy, 1e9 * t_axpy / n);
    const int bs = 256, rounds = 200;
    int *out = dev_alloc<int>(bs);
    cf_emu_set_racecheck(0);
    t0 = now();
    CF_LAUNCH(k_barriers, 1, bs, 0, out, rounds);
    double t_bar = now() - t0;
    /* each thread parks and is resumed once per barrier: two context switches */
    printf("__syncthreads, block of %d, %d rounds: %.2f ms, %.0f ns per fiber switch\n", bs, rounds, 1e3 * t_bar,
           1e9 * t_bar / (2.0 * bs * rounds));
    int ok = launch_ok();
    cf_cuda_free(x);
    cf_cuda_free(y);
    cf_cuda_free(out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench();
    cf_emu_set_racecheck(1);
    char desc[128];
    CHECK(cf_cuda_device_count() == 1 && cf_cuda_describe(0, desc, sizeof desc) == 0 &&
          strstr(desc, "cformer SIMT emulator"));
    RUN(test_barrier_order);
    RUN(test_shuffles);
    RUN(test_reduction);
    RUN(test_transpose);
    RUN(test_dynamic_shared);
    RUN(test_atomics);
    RUN(test_min_max_threads);
    RUN(test_half_bf16);
    RUN(test_faults_reported);
    RUN(test_device_read_on_host);
    TEST_MAIN_END();
}
