/* The SIMT emulator's kernel-facing surface: what a CUDA C++ `.cu` file sees when the host C++ compiler builds it
 * with CF_CUDA_EMU (included only through autograd/cuda/simt.h, never directly).
 *
 * Model (docs/cuda.md has the full story):
 *  - A launch runs the grid's blocks one after another on the calling OS thread. The threads of a block are
 *    cooperative fibers: a fiber runs threads to completion one after another, and only a thread that reaches a
 *    barrier (__syncthreads, a warp collective) is parked, so a kernel that never synchronises costs one fiber
 *    switch per block, not per thread. Fiber stacks are allocated once and reused across launches.
 *  - `__shared__` is `static thread_local`: one OS thread runs one block at a time, so that is per-block shared
 *    memory. CF_SHARED(T, name, n) declares a CHECKED shared array (index bounds always checked; reads and writes
 *    recorded for the race check); CF_DYNAMIC_SHARED(T, name) gives the launch's dynamic shared memory, checked
 *    the same way. A plain `__shared__` array works but is not checked.
 *  - Warp collectives (__shfl_*_sync, __ballot_sync, __any_sync, __all_sync, __syncwarp) are barriers over the
 *    warp's live threads; values are exchanged through the parked fibers' slots.
 *  - Atomics are real atomics (__atomic builtins).
 *  - Device memory comes from cf_cuda_malloc (emu/runtime.cpp): page-aligned mappings that are PROT_NONE except
 *    during a launch or a copy, so a host read of device memory faults and is reported by name. A pointer argument
 *    of a launch must be NULL or inside a device allocation, else the launch is refused with an error.
 *  - Errors (a host pointer argument, a race, an out-of-bounds shared index, a barrier deadlock) are sticky: the
 *    first one is kept and handed back by CF_CUDA_CHECK_LAUNCH / cf_cuda_synchronize, as CUDA does.
 *
 * Limits: one device; kernels are synchronous and the emulator serialises its callers (one lock around a launch
 * and each memory call), so host threads may share it but never run kernels at once; at most 1024 threads per
 * block; per-thread stack (local memory) of 256 KiB (1 MiB under ASan); shared arrays declared with CF_SHARED are
 * 1-D and indexed only with [] (`&s[i]` gives the raw address, e.g. for a shared atomic, and is not race-checked). */
#ifndef CF_CUDA_EMU_H
#define CF_CUDA_EMU_H

#ifndef CF_CUDA_EMU
#error "emu.h is the CF_CUDA_EMU build's half of autograd/cuda/simt.h: include that instead"
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

/* ---- qualifiers: meaningless on the host ---- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __shared__ static thread_local
#define __constant__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

/* ---- built-in variables ---- */
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 u) : x(u.x), y(u.y), z(u.z) {}
};
extern uint3 threadIdx, blockIdx; /* plain globals: one OS thread runs every block */
extern dim3 blockDim, gridDim;
static constexpr int warpSize = 32;

/* ---- the emulator's internals that the inline parts below call (emu/emu.cpp) ---- */
namespace cf_emu {

enum collective { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR, BALLOT, ANY, ALL, SYNCWARP };

void sync_block();
/* One warp collective: parks the calling fiber until the warp's live threads arrive, returns its result
 * (the shuffled value's bits, or the ballot mask / predicate). */
uint64_t warp_collective(collective kind, unsigned mask, uint64_t value, int arg, int width);

/* the race check's bookkeeping for checked shared memory; racecheck is read on every access */
extern bool racecheck;
void note_access(const void *word, const char *label, long long index, bool write);
void shared_out_of_bounds(const char *label, long long index, long long n);

void *dynamic_shared_base();
size_t dynamic_shared_bytes();

typedef void (*body_fn)(void *ctx);
void launch_raw(const char *kernel, dim3 grid, dim3 block, size_t shmem, body_fn body, void *ctx);
/* false (and the sticky error set) unless p is NULL or points into a device allocation */
bool check_pointer_arg(const char *kernel, int index, const void *p);

template <class T> inline bool check_arg(const char *kernel, int index, const T &v)
{
    if constexpr (std::is_pointer<T>::value)
        return check_pointer_arg(kernel, index, (const void *)v);
    else
        return (void)kernel, (void)index, (void)v, true;
}

template <class K, class... A> void launch(const char *name, K kernel, dim3 grid, dim3 block, size_t shmem, A... args)
{
    int i = 0;
    bool ok = true;
    ((ok = check_arg(name, ++i, args) && ok), ...);
    (void)i;
    if (!ok) return;
    auto body = [&]() { kernel(args...); };
    launch_raw(name, grid, block, shmem, [](void *c) { (*static_cast<decltype(body) *>(c))(); }, &body);
}

/* A reference to one checked shared-memory word: reads and writes are recorded for the race check. */
template <class T> struct shared_ref {
    T *p;
    const char *label;
    long long index;
    operator T() const
    {
        if (racecheck) note_access(p, label, index, false);
        return *p;
    }
    shared_ref &operator=(const T &v)
    {
        if (racecheck) note_access(p, label, index, true);
        *p = v;
        return *this;
    }
    shared_ref &operator=(const shared_ref &o) { return *this = (T)o; }
    shared_ref &operator+=(const T &v) { return *this = (T) * this + v; }
    shared_ref &operator-=(const T &v) { return *this = (T) * this - v; }
    shared_ref &operator*=(const T &v) { return *this = (T) * this * v; }
    shared_ref &operator/=(const T &v) { return *this = (T) * this / v; }
    T *operator&() const { return p; } /* raw address (shared atomics): not race-checked */
};

template <class T> inline shared_ref<T> shared_at(T *base, long long i, long long n, const char *label)
{
    static T dummy; /* an out-of-bounds access lands here after being reported */
    if (i < 0 || i >= n) {
        shared_out_of_bounds(label, i, n);
        return shared_ref<T>{&dummy, label, i};
    }
    return shared_ref<T>{base + i, label, i};
}

template <class T, long long N> struct shared_array {
    T data[N];
    const char *label;
    shared_ref<T> operator[](long long i) { return shared_at(data, i, N, label); }
};

template <class T> struct dynamic_shared {
    T *base;
    long long n;
    const char *label;
    shared_ref<T> operator[](long long i) const { return shared_at(base, i, n, label); }
};

template <class T> inline uint64_t to_bits(T v)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "a warp shuffle moves up to 8 bytes");
    uint64_t b = 0;
    memcpy(&b, &v, sizeof v);
    return b;
}
template <class T> inline T from_bits(uint64_t b)
{
    T v;
    memcpy(&v, &b, sizeof v);
    return v;
}

} // namespace cf_emu

/* ---- launching, shared memory, errors (the same names exist in the nvcc build: simt.h) ---- */
#define CF_LAUNCH(kernel, grid, block, shmem, ...) \
    cf_emu::launch(#kernel, kernel, dim3(grid), dim3(block), (size_t)(shmem), ##__VA_ARGS__)
#define CF_SHARED(T, name, n) \
    static thread_local cf_emu::shared_array<T, (n)> name; \
    name.label = #name
#define CF_DYNAMIC_SHARED(T, name) \
    cf_emu::dynamic_shared<T> name { \
        (T *)cf_emu::dynamic_shared_base(), (long long)(cf_emu::dynamic_shared_bytes() / sizeof(T)), #name \
    }
extern "C" int cf_emu_take_error(char *err, size_t errlen);
#define CF_CUDA_CHECK_LAUNCH(err, errlen) cf_emu_take_error((err), (errlen))
/* The race check is on unless CF_EMU_RACECHECK=0 is in the environment; a test may switch it. */
extern "C" void cf_emu_set_racecheck(int on);

/* ---- synchronisation and warp collectives ---- */
inline void __syncthreads() { cf_emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { cf_emu::warp_collective(cf_emu::SYNCWARP, mask, 0, 0, 32); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32)
{
    return cf_emu::from_bits<T>(cf_emu::warp_collective(cf_emu::SHFL_IDX, mask, cf_emu::to_bits(v), src, width));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32)
{
    return cf_emu::from_bits<T>(
        cf_emu::warp_collective(cf_emu::SHFL_UP, mask, cf_emu::to_bits(v), (int)delta, width));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32)
{
    return cf_emu::from_bits<T>(
        cf_emu::warp_collective(cf_emu::SHFL_DOWN, mask, cf_emu::to_bits(v), (int)delta, width));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32)
{
    return cf_emu::from_bits<T>(
        cf_emu::warp_collective(cf_emu::SHFL_XOR, mask, cf_emu::to_bits(v), lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int pred)
{
    return (unsigned)cf_emu::warp_collective(cf_emu::BALLOT, mask, pred != 0, 0, 32);
}
inline int __any_sync(unsigned mask, int pred) { return (int)cf_emu::warp_collective(cf_emu::ANY, mask, pred != 0, 0, 32); }
inline int __all_sync(unsigned mask, int pred) { return (int)cf_emu::warp_collective(cf_emu::ALL, mask, pred != 0, 0, 32); }

/* ---- atomics: real ones, so blocks may later run on several OS threads ---- */
template <class T> inline T cf_emu_atomic_cas_(T *p, T expected, T desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected; /* the old value, whether or not the exchange happened */
}
template <class F, class T> inline T cf_emu_atomic_update_(T *p, F f)
{
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (!__atomic_compare_exchange_n(p, &old, f(old), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float *p, float v)
{
    uint32_t *w = (uint32_t *)p;
    return cf_emu::from_bits<float>(cf_emu_atomic_update_(
        w, [v](uint32_t o) { return (uint32_t)cf_emu::to_bits(cf_emu::from_bits<float>(o) + v); }));
}
inline double atomicAdd(double *p, double v)
{
    uint64_t *w = (uint64_t *)p;
    return cf_emu::from_bits<double>(
        cf_emu_atomic_update_(w, [v](uint64_t o) { return cf_emu::to_bits(cf_emu::from_bits<double>(o) + v); }));
}
inline int atomicSub(int *p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned *p, unsigned v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline int atomicMax(int *p, int v) { return cf_emu_atomic_update_(p, [v](int o) { return o > v ? o : v; }); }
inline unsigned atomicMax(unsigned *p, unsigned v)
{
    return cf_emu_atomic_update_(p, [v](unsigned o) { return o > v ? o : v; });
}
inline int atomicMin(int *p, int v) { return cf_emu_atomic_update_(p, [v](int o) { return o < v ? o : v; }); }
inline unsigned atomicMin(unsigned *p, unsigned v)
{
    return cf_emu_atomic_update_(p, [v](unsigned o) { return o < v ? o : v; });
}
inline int atomicCAS(int *p, int cmp, int v) { return cf_emu_atomic_cas_(p, cmp, v); }
inline unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v) { return cf_emu_atomic_cas_(p, cmp, v); }
inline unsigned long long atomicCAS(unsigned long long *p, unsigned long long cmp, unsigned long long v)
{
    return cf_emu_atomic_cas_(p, cmp, v);
}
inline int atomicExch(int *p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned *p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline float atomicExch(float *p, float v)
{
    return cf_emu::from_bits<float>(__atomic_exchange_n((uint32_t *)p, (uint32_t)cf_emu::to_bits(v), __ATOMIC_SEQ_CST));
}

/* ---- fast math and device helpers ---- */
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <class T> inline T __ldg(const T *p) { return *p; }
/* CUDA's device min/max overloads (the host has only std::min/std::max); long too, as int64_t is long here */
#define CF_EMU_MINMAX_(T) \
    inline T min(T a, T b) { return b < a ? b : a; } \
    inline T max(T a, T b) { return a < b ? b : a; }
CF_EMU_MINMAX_(int)
CF_EMU_MINMAX_(unsigned)
CF_EMU_MINMAX_(long)
CF_EMU_MINMAX_(unsigned long)
CF_EMU_MINMAX_(long long)
CF_EMU_MINMAX_(unsigned long long)
CF_EMU_MINMAX_(float)
CF_EMU_MINMAX_(double)
#undef CF_EMU_MINMAX_
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }

/* ---- 16-bit floats: storage structs, conversions rounding to nearest even as CUDA's do ---- */
struct __half {
    unsigned short x;
};
struct __nv_bfloat16 {
    unsigned short x;
};
typedef __half half;

extern "C" unsigned short cf_emu_float_to_half_bits(float f);
extern "C" float cf_emu_half_bits_to_float(unsigned short h);
extern "C" unsigned short cf_emu_float_to_bf16_bits(float f);

inline __half __float2half(float f) { return __half{cf_emu_float_to_half_bits(f)}; }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline float __half2float(__half h) { return cf_emu_half_bits_to_float(h.x); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16{cf_emu_float_to_bf16_bits(f)}; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b)
{
    uint32_t u = (uint32_t)b.x << 16;
    return cf_emu::from_bits<float>(u);
}
inline unsigned short __half_as_ushort(__half h) { return h.x; }
inline __half __ushort_as_half(unsigned short x) { return __half{x}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short x) { return __nv_bfloat16{x}; }

#endif
