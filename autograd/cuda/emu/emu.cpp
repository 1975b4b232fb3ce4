/* The SIMT emulator's scheduler: a launch's blocks one after another, a block's threads as cooperative fibers
 * (a dozen instructions of context switch on x86-64, ucontext elsewhere), barriers and warp collectives, the shared-memory race check, sticky errors, 16-bit float
 * conversions. The contract is in emu.h; device memory and the cf_cuda_* runtime are in runtime.cpp. */
#include "autograd/cuda/emu/emu.h"
#include "autograd/cuda/emu/emu_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define CF_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CF_EMU_ASAN 1
#endif
#endif
#ifdef CF_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace cf_emu {

bool racecheck = true;

namespace {

/* ---- context switch: on x86-64 our own (callee-saved registers, the SSE and x87 control words, the stack
 * pointer: no signal-mask system call, unlike swapcontext); ucontext elsewhere ---- */
#if defined(__x86_64__) && !defined(CF_EMU_UCONTEXT)
extern "C" void cf_emu_switch(void **save_sp, void *new_sp);
asm(R"(
    .text
    .globl cf_emu_switch
    .hidden cf_emu_switch
    .type cf_emu_switch, @function
cf_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cf_emu_switch, .-cf_emu_switch
)");

struct context {
    void *sp;
};

/* a fresh stack laid out as cf_emu_switch leaves one: control words, six zeroed registers, then `ret` enters
 * entry with the stack aligned as after a call (entry never returns) */
void context_init(context *c, char *stack, size_t bytes, void (*entry)())
{
    uint64_t *top = (uint64_t *)((uintptr_t)(stack + bytes) & ~(uintptr_t)15);
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    top[-1] = 0;
    top[-2] = (uint64_t)(uintptr_t)entry;
    for (int i = 3; i <= 8; i++) top[-i] = 0;
    top[-9] = mxcsr | (uint64_t)fpucw << 32;
    c->sp = &top[-9];
}
void context_switch(context *from, context *to) { cf_emu_switch(&from->sp, to->sp); }
#else
struct context {
    ucontext_t uc;
};
void context_init(context *c, char *stack, size_t bytes, void (*entry)())
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = bytes;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, entry, 0);
}
void context_switch(context *from, context *to) { swapcontext(&from->uc, &to->uc); }
#endif

#ifdef CF_EMU_ASAN
constexpr size_t stack_bytes = 1 << 20;
#else
constexpr size_t stack_bytes = 256 << 10;
#endif
constexpr int max_threads = 1024;

enum fiber_state { IDLE, RUNNING, WAIT_BLOCK, WAIT_WARP };

struct fiber {
    context ctx;
    char *stack; /* guard page first, then stack_bytes */
    fiber_state state;
    int tid; /* the linear thread id it runs, -1 when idle */
    /* a parked warp collective: what this thread brought and what it gets back */
    collective kind;
    uint64_t value, result;
    int arg, width;
    void *asan_fake;
};

/* One launch's block being run, and the pool of fibers (never freed: reused by every later launch). */
struct scheduler {
    context main_ctx;
    void *main_asan_fake;
    const void *main_stack_bottom;
    size_t main_stack_size;
    std::vector<fiber *> pool;
    fiber *current;

    const char *kernel;
    body_fn body;
    void *body_ctx;
    int nthreads, next_thread, exited;
    std::vector<fiber *> ready, block_waiting;
    size_t ready_head;
    int warp_exited[max_threads / 32];
    std::vector<fiber *> warp_waiting[max_threads / 32];
    unsigned warp_epoch[max_threads / 32];

    std::vector<unsigned char> dyn_shared;
    size_t dyn_bytes;
    bool failed; /* an error was raised in this launch: stop running further blocks */
};
scheduler &S = *new scheduler(); /* never destroyed: the fiber pool lives as long as the process */

char sticky_error[512];

/* race check: per checked shared word, the last writer and reader since the last __syncthreads */
struct word_shadow {
    int writer = -1, reader = -1; /* thread ids; reader -2: several */
    unsigned writer_warp_epoch = 0, reader_warp_epoch = 0;
};
std::unordered_map<const void *, word_shadow> shadow;

void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void set_error(const char *fmt, ...)
{
    S.failed = true;
    if (sticky_error[0]) return; /* the first error is the one reported, as CUDA's sticky errors */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sticky_error, sizeof sticky_error, fmt, ap);
    va_end(ap);
}

void set_thread_idx(int tid)
{
    if (blockDim.y == 1 && blockDim.z == 1) { /* the common 1-D block: no divisions */
        threadIdx = uint3{(unsigned)tid, 0, 0};
        return;
    }
    threadIdx.x = (unsigned)tid % blockDim.x;
    threadIdx.y = ((unsigned)tid / blockDim.x) % blockDim.y;
    threadIdx.z = (unsigned)tid / (blockDim.x * blockDim.y);
}

void fiber_main();

fiber *new_fiber()
{
    long page = sysconf(_SC_PAGESIZE);
    fiber *f = new fiber();
    void *m = mmap(NULL, stack_bytes + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "cformer SIMT emulator: cannot map a %zu KiB fiber stack\n", stack_bytes >> 10);
        abort();
    }
    mprotect(m, (size_t)page, PROT_NONE); /* overflow faults instead of corrupting the next stack */
    f->stack = (char *)m;
    emu_note_fiber_stack(f->stack, (size_t)page);
    context_init(&f->ctx, f->stack + page, stack_bytes, fiber_main);
    f->state = IDLE;
    f->tid = -1;
    return f;
}

/* scheduler -> fiber */
void resume(fiber *f)
{
    S.current = f;
    if (f->tid >= 0) set_thread_idx(f->tid);
    f->state = RUNNING;
#ifdef CF_EMU_ASAN
    __sanitizer_start_switch_fiber(&S.main_asan_fake, f->stack + sysconf(_SC_PAGESIZE), stack_bytes);
#endif
    context_switch(&S.main_ctx, &f->ctx);
#ifdef CF_EMU_ASAN
    __sanitizer_finish_switch_fiber(S.main_asan_fake, NULL, NULL);
#endif
    S.current = NULL;
}

/* fiber -> scheduler; returns when the scheduler resumes this fiber */
void park(fiber *f)
{
#ifdef CF_EMU_ASAN
    __sanitizer_start_switch_fiber(&f->asan_fake, S.main_stack_bottom, S.main_stack_size);
#endif
    context_switch(&f->ctx, &S.main_ctx);
#ifdef CF_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake, NULL, NULL);
#endif
}

void release_block_barrier()
{
    for (fiber *f : S.block_waiting) S.ready.push_back(f);
    S.block_waiting.clear();
    shadow.clear(); /* everything before the barrier is ordered before everything after it */
}

void release_warp(int w)
{
    std::vector<fiber *> &ws = S.warp_waiting[w];
    fiber *lane_fiber[32] = {};
    for (fiber *f : ws) lane_fiber[f->tid % 32] = f;
    collective kind = ws[0]->kind;
    uint64_t ballot = 0, arrived = 0;
    for (fiber *f : ws) {
        arrived |= 1ull << (f->tid % 32);
        if (f->kind != kind)
            set_error("kernel '%s': threads %d and %d of one warp are in different warp collectives", S.kernel,
                      ws[0]->tid, f->tid);
        if (f->value) ballot |= 1ull << (f->tid % 32);
    }
    for (fiber *f : ws) {
        int lane = f->tid % 32, width = f->width > 0 && f->width <= 32 ? f->width : 32;
        int seg = lane & ~(width - 1), src = lane;
        switch (f->kind) {
        case SHFL_IDX: src = seg + (f->arg % width + width) % width; break;
        case SHFL_UP: src = lane - seg >= f->arg ? lane - f->arg : lane; break;
        case SHFL_DOWN: src = lane - seg + f->arg < width ? lane + f->arg : lane; break;
        case SHFL_XOR: src = ((lane ^ f->arg) & ~(width - 1)) == seg ? lane ^ f->arg : lane; break;
        default: break;
        }
        switch (f->kind) {
        case BALLOT: f->result = ballot; break;
        case ANY: f->result = ballot != 0; break;
        case ALL: f->result = ballot == arrived; break;
        case SYNCWARP: f->result = 0; break;
        default: /* a shuffle from an exited or absent lane returns the caller's own value */
            f->result = src < 32 && lane_fiber[src] ? lane_fiber[src]->value : f->value;
        }
        S.ready.push_back(f);
    }
    ws.clear();
    S.warp_epoch[w]++;
}

int warp_size(int w) { return S.nthreads - w * 32 < 32 ? S.nthreads - w * 32 : 32; }

/* after a thread parks or exits: release whatever barrier it completed */
void maybe_release(int w)
{
    if (!S.warp_waiting[w].empty() && (int)S.warp_waiting[w].size() + S.warp_exited[w] == warp_size(w))
        release_warp(w);
    if (!S.block_waiting.empty() && (int)S.block_waiting.size() + S.exited == S.nthreads) release_block_barrier();
}

/* A fiber's life: start threads of the current block while any are left, run each to completion unless it
 * parks; when none are left, go idle until the scheduler needs a fiber again (next block, next launch). */
void fiber_main()
{
    fiber *f = S.current;
#ifdef CF_EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, &S.main_stack_bottom, &S.main_stack_size);
#endif
    for (;;) {
        while (S.next_thread < S.nthreads && !S.failed) {
            int t = S.next_thread++;
            f->tid = t;
            set_thread_idx(t);
            S.body(S.body_ctx);
            S.exited++;
            S.warp_exited[t / 32]++;
            maybe_release(t / 32);
        }
        f->tid = -1;
        f->state = IDLE;
        park(f);
    }
}

fiber *idle_fiber()
{
    for (fiber *f : S.pool)
        if (f->state == IDLE) return f;
    S.pool.push_back(new_fiber());
    return S.pool.back();
}

/* A block whose threads wait at barriers that can never complete: reported, and the stuck fibers reset
 * (their stacks abandoned, nothing on them unwound) so the pool stays usable. */
void abandon_block()
{
    int stuck = -1;
    for (fiber *f : S.pool)
        if (f->state == WAIT_BLOCK || f->state == WAIT_WARP) stuck = stuck < 0 ? f->tid : stuck;
    set_error("kernel '%s': deadlock in block (%u,%u,%u): thread %d waits at a barrier (__syncthreads or a warp "
              "collective) that the block's other live threads never reach",
              S.kernel, blockIdx.x, blockIdx.y, blockIdx.z, stuck);
    for (fiber *f : S.pool) {
        if (f->state != WAIT_BLOCK && f->state != WAIT_WARP) continue;
#ifdef CF_EMU_ASAN
        __asan_unpoison_memory_region(f->stack + sysconf(_SC_PAGESIZE), stack_bytes);
#endif
        context_init(&f->ctx, f->stack + sysconf(_SC_PAGESIZE), stack_bytes, fiber_main);
        f->state = IDLE;
        f->tid = -1;
    }
}

void run_block()
{
    S.next_thread = 0;
    S.exited = 0;
    S.ready.clear();
    S.ready_head = 0;
    S.block_waiting.clear();
    for (int w = 0; w < (S.nthreads + 31) / 32; w++) {
        S.warp_exited[w] = 0;
        S.warp_waiting[w].clear();
        S.warp_epoch[w] = 0;
    }
    shadow.clear();
    if (S.dyn_bytes) memset(S.dyn_shared.data(), 0xff, S.dyn_bytes); /* NaN-filled: stale reads show */
    for (;;) {
        if (S.ready_head < S.ready.size()) {
            resume(S.ready[S.ready_head++]);
        } else if (S.next_thread < S.nthreads && !S.failed) {
            S.ready.clear();
            S.ready_head = 0;
            resume(idle_fiber());
        } else if (S.exited == S.nthreads) {
            return;
        } else {
            bool parked = false;
            for (fiber *f : S.pool) parked = parked || f->state == WAIT_BLOCK || f->state == WAIT_WARP;
            if (parked) abandon_block();
            return;
        }
    }
}

} // namespace

void sync_block()
{
    fiber *f = S.current;
    f->state = WAIT_BLOCK;
    S.block_waiting.push_back(f);
    maybe_release(f->tid / 32);
    park(f);
}

uint64_t warp_collective(collective kind, unsigned mask, uint64_t value, int arg, int width)
{
    (void)mask; /* every live lane of the warp takes part; a partial mask is not modelled */
    fiber *f = S.current;
    f->state = WAIT_WARP;
    f->kind = kind;
    f->value = value;
    f->arg = arg;
    f->width = width;
    S.warp_waiting[f->tid / 32].push_back(f);
    maybe_release(f->tid / 32);
    park(f);
    return f->result;
}

void note_access(const void *word, const char *label, long long index, bool write)
{
    fiber *f = S.current;
    if (!f) return;
    int me = f->tid, w = me / 32;
    unsigned ep = S.warp_epoch[w];
    word_shadow &s = shadow[word];
    /* another thread's access since the last __syncthreads conflicts, unless it is a lane of the same warp and a
     * warp barrier (shuffle, __syncwarp) came between */
    auto conflicts = [&](int other, unsigned other_ep) {
        if (other == -1 || other == me) return false;
        if (other == -2) return true;
        return other / 32 != w || other_ep == ep;
    };
    const char *name = label ? label : "(unnamed)";
    if (conflicts(s.writer, s.writer_warp_epoch))
        set_error("kernel '%s': race on shared %s[%lld] in block (%u,%u,%u): thread %d %s it after thread %d wrote "
                  "it, with no __syncthreads() between",
                  S.kernel, name, index, blockIdx.x, blockIdx.y, blockIdx.z, me, write ? "writes" : "reads",
                  s.writer);
    else if (write && conflicts(s.reader, s.reader_warp_epoch))
        set_error("kernel '%s': race on shared %s[%lld] in block (%u,%u,%u): thread %d writes it after thread %d "
                  "read it, with no __syncthreads() between",
                  S.kernel, name, index, blockIdx.x, blockIdx.y, blockIdx.z, me,
                  s.reader == -2 ? -1 : s.reader);
    if (write) {
        s.writer = me;
        s.writer_warp_epoch = ep;
        s.reader = -1;
    } else if (s.reader == -1 || s.reader == me || (s.reader / 32 == w && s.reader_warp_epoch != ep)) {
        s.reader = me;
        s.reader_warp_epoch = ep;
    } else {
        s.reader = -2;
    }
}

void shared_out_of_bounds(const char *label, long long index, long long n)
{
    set_error("kernel '%s': shared memory index out of bounds: %s[%lld] of %lld elements, thread %d of block "
              "(%u,%u,%u)",
              S.kernel, label ? label : "(unnamed)", index, n, S.current ? S.current->tid : -1, blockIdx.x,
              blockIdx.y, blockIdx.z);
}

void *dynamic_shared_base() { return S.dyn_shared.data(); }
size_t dynamic_shared_bytes() { return S.dyn_bytes; }

bool check_pointer_arg(const char *kernel, int index, const void *p)
{
    if (!p || emu_is_device_pointer(p)) return true;
    set_error("kernel '%s': argument %d is a host pointer (%p), not device memory from cf_cuda_malloc", kernel,
              index, p);
    return false;
}

void launch_raw(const char *kernel, dim3 grid, dim3 block, size_t shmem, body_fn body, void *ctx)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (nt == 0 || nt > max_threads || grid.x == 0 || grid.y == 0 || grid.z == 0) {
        set_error("kernel '%s': invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u) (a block holds 1 "
                  "to %d threads)",
                  kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z, max_threads);
        return;
    }
    if (S.current) {
        set_error("kernel '%s': launched from inside a kernel (dynamic parallelism is not emulated)", kernel);
        return;
    }
    S.kernel = kernel;
    S.body = body;
    S.body_ctx = ctx;
    S.nthreads = (int)nt;
    S.failed = false;
    if (S.dyn_shared.size() < shmem) S.dyn_shared.resize(shmem);
    S.dyn_bytes = shmem;
    gridDim = grid;
    blockDim = block;
    emu_device_access(true);
    for (unsigned z = 0; z < grid.z && !S.failed; z++)
        for (unsigned y = 0; y < grid.y && !S.failed; y++)
            for (unsigned x = 0; x < grid.x && !S.failed; x++) {
                blockIdx = uint3{x, y, z};
                run_block();
            }
    emu_device_access(false);
}

} // namespace cf_emu

extern "C" int cf_emu_take_error(char *err, size_t errlen)
{
    if (!cf_emu::sticky_error[0]) return 0;
    if (err && errlen) snprintf(err, errlen, "%s", cf_emu::sticky_error);
    cf_emu::sticky_error[0] = 0;
    return 1;
}

extern "C" void cf_emu_set_racecheck(int on) { cf_emu::racecheck = on != 0; }

__attribute__((constructor)) static void cf_emu_read_env(void)
{
    const char *r = getenv("CF_EMU_RACECHECK");
    if (r && r[0] == '0') cf_emu::racecheck = false;
}

/* ---- 16-bit floats (round to nearest even; NaN becomes 0x7fff, as CUDA's conversions give) ---- */
extern "C" unsigned short cf_emu_float_to_half_bits(float f)
{
    uint32_t u = cf_emu::to_bits(f) & 0xffffffffu, sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return 0x7fff;
    if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u); /* >= 65520 rounds to infinity */
    if (a < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
        if (a < 0x33000000u) return (unsigned short)sign; /* <= 2^-25 rounds to zero (2^-25 is a tie to 0) */
        /* value = mant * 2^(e-150), so in units of the smallest subnormal 2^-24 it is mant >> (126 - e) */
        uint32_t mant = (a & 0x7fffffu) | 0x800000u, shift = 126 - (a >> 23);
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (unsigned short)(sign | q);
    }
    uint32_t r = a - 0x38000000u; /* rebias the exponent: 127 - 15 = 112 */
    uint32_t q = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) q++;
    return (unsigned short)(sign | q);
}

extern "C" float cf_emu_half_bits_to_float(unsigned short h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) {
        u = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    } else {
        u = sign | ((e + 112) << 23) | (m << 13);
    }
    return cf_emu::from_bits<float>(u);
}

extern "C" unsigned short cf_emu_float_to_bf16_bits(float f)
{
    uint32_t u = (uint32_t)cf_emu::to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}
