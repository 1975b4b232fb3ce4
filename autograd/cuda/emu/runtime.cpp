/* The emulator's device: the cf_cuda_* runtime (autograd/cuda/cuda_api.h) over host memory with a tag.
 *
 * Each cf_cuda_malloc is its own page-aligned mapping followed by an always-inaccessible guard page. The
 * mapping is PROT_NONE except while a kernel runs (emu.cpp opens every allocation for the launch) or while a copy
 * touches it, so host code that dereferences a device pointer faults; a SIGSEGV handler names the fault
 * ("host code read device memory ...", "a kernel ran past the end of a device allocation", "a fiber stack
 * overflowed") and then hands the signal on to the previous handler (the default, or ASan's). */
#include "autograd/cuda/cuda_api.h"
#include "autograd/cuda/emu/emu.h"
#include "autograd/cuda/emu/emu_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <vector>

namespace cf_emu {

std::recursive_mutex device_lock;

namespace {

struct allocation {
    size_t bytes, mapped; /* what was asked, and the readable pages (the guard page follows them) */
};
/* by base address; never destroyed, so a cf_cuda_free from another object's destructor at exit still works */
std::map<const char *, allocation> &allocations = *new std::map<const char *, allocation>();
bool device_open;
std::vector<std::pair<const char *, size_t>> &fiber_guards = *new std::vector<std::pair<const char *, size_t>>();
struct sigaction previous_segv;
bool handler_installed;

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

/* the allocation whose pages (guard included) hold p, or end() */
std::map<const char *, allocation>::iterator find_mapping(const void *p)
{
    const char *c = (const char *)p;
    auto it = allocations.upper_bound(c);
    if (it == allocations.begin()) return allocations.end();
    --it;
    return c < it->first + it->second.mapped + page_size() ? it : allocations.end();
}

void say(const char *msg)
{
    ssize_t ignored = write(2, msg, strlen(msg));
    (void)ignored;
}

void on_segv(int sig, siginfo_t *info, void *uctx)
{
    char msg[400];
    const char *addr = (const char *)info->si_addr;
    msg[0] = 0;
    for (auto &g : fiber_guards)
        if (addr >= g.first && addr < g.first + g.second)
            snprintf(msg, sizeof msg,
                     "cformer SIMT emulator: a kernel thread overflowed its fiber stack at %p (too much local memory "
                     "or recursion per thread)\n",
                     (const void *)addr);
    auto it = find_mapping(addr);
    if (!msg[0] && it != allocations.end()) {
        if (addr >= it->first + it->second.mapped)
            snprintf(msg, sizeof msg,
                     "cformer SIMT emulator: access at %p past the end of the device allocation %p of %zu bytes\n",
                     (const void *)addr, (const void *)it->first, it->second.bytes);
        else
            snprintf(msg, sizeof msg,
                     "cformer SIMT emulator: host code touched device memory at %p (device allocation %p of %zu "
                     "bytes) outside a kernel or a cf_cuda_copy_*: device memory is read on the host only through "
                     "cf_cuda_copy_d2h\n",
                     (const void *)addr, (const void *)it->first, it->second.bytes);
    }
    if (msg[0]) say(msg);
    /* the previous handler (default: die with SIGSEGV; ASan: its report) gets the fault when it recurs */
    sigaction(SIGSEGV, &previous_segv, NULL);
    (void)sig, (void)uctx;
}

void install_handler()
{
    if (handler_installed) return;
    handler_installed = true;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        /* a stack overflow in a fiber needs somewhere else to run the handler; kept for the process's life */
        static char alt[64 << 10];
        stack_t st = {};
        st.ss_sp = alt;
        st.ss_size = sizeof alt;
        sigaltstack(&st, NULL);
    }
    struct sigaction sa = {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
}

void protect(const char *base, const allocation &a, bool open)
{
    mprotect((void *)base, a.mapped, open ? PROT_READ | PROT_WRITE : PROT_NONE);
}

int fail(char *err, size_t errlen, const char *fmt, const void *p, size_t bytes)
{
    if (err && errlen) snprintf(err, errlen, fmt, p, bytes);
    return 1;
}

/* a copy's device side must lie inside one allocation */
bool inside(const void *p, size_t bytes)
{
    auto it = find_mapping(p);
    return it != allocations.end() && (const char *)p + bytes <= it->first + it->second.bytes;
}

} // namespace

bool emu_is_device_pointer(const void *p)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    auto it = find_mapping(p);
    return it != allocations.end() && (const char *)p < it->first + it->second.mapped;
}

void emu_device_access(bool on)
{
    install_handler();
    device_open = on;
    for (auto &a : allocations) protect(a.first, a.second, on);
}

void emu_note_fiber_stack(const void *guard, size_t bytes)
{
    install_handler();
    fiber_guards.emplace_back((const char *)guard, bytes);
}

} // namespace cf_emu

using namespace cf_emu;

extern "C" int cf_cuda_device_count(void) { return 1; }

/* For the NCCL shim (distributed/nccl_emu.h): whether [p, p + bytes) lies inside one device allocation. */
extern "C" int cf_emu_is_device_range(const void *p, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    return inside(p, bytes);
}

extern "C" int cf_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    install_handler();
    size_t pg = page_size(), mapped = (bytes + pg - 1) / pg * pg;
    if (mapped == 0) mapped = pg;
    void *m = mmap(NULL, mapped + pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return fail(err, errlen, "cf_cuda_malloc: out of memory (%p, %zu bytes)", NULL, bytes);
    allocations[(const char *)m] = allocation{bytes, mapped};
    if (device_open) protect((const char *)m, allocations[(const char *)m], true);
    *p = m;
    return 0;
}

extern "C" void cf_cuda_free(void *p)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    if (!p) return;
    auto it = allocations.find((const char *)p);
    if (it == allocations.end()) {
        fprintf(stderr, "cformer SIMT emulator: cf_cuda_free(%p): not a device allocation\n", p);
        return;
    }
    munmap(p, it->second.mapped + page_size());
    allocations.erase(it);
}

extern "C" int cf_cuda_copy_h2d(void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    if (!inside(dst, bytes))
        return fail(err, errlen, "cf_cuda_copy_h2d: destination %p is not %zu bytes of one device allocation", dst,
                    bytes);
    auto it = find_mapping(dst);
    protect(it->first, it->second, true);
    memcpy(dst, src, bytes);
    protect(it->first, it->second, device_open);
    return 0;
}

extern "C" int cf_cuda_copy_d2h(void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    std::lock_guard<std::recursive_mutex> hold(device_lock);
    if (!inside(src, bytes))
        return fail(err, errlen, "cf_cuda_copy_d2h: source %p is not %zu bytes of one device allocation", src,
                    bytes);
    auto it = find_mapping(src);
    protect(it->first, it->second, true);
    memcpy(dst, src, bytes);
    protect(it->first, it->second, device_open);
    return 0;
}

/* Kernels run synchronously; the first error since the last check is handed back here, as CUDA reports an
 * asynchronous kernel fault at the next synchronisation. */
extern "C" int cf_cuda_synchronize(char *err, size_t errlen) { return cf_emu_take_error(err, errlen); }

extern "C" int cf_cuda_describe(int device, char *buf, size_t len)
{
    if (device != 0) {
        snprintf(buf, len, "cf_cuda_describe: no device %d (the emulator has one)", device);
        return 1;
    }
    snprintf(buf, len, "cformer SIMT emulator (kernels run on the host CPU)");
    return 0;
}
