/* Between the emulator's scheduler (emu.cpp) and its device-memory runtime (runtime.cpp); not for kernels. */
#ifndef CF_CUDA_EMU_INTERNAL_H
#define CF_CUDA_EMU_INTERNAL_H

#include <stddef.h>

#include <mutex>

namespace cf_emu {
/* held by a launch and by every cf_cuda_* memory call: one host thread at a time uses the emulated device */
extern std::recursive_mutex device_lock;
/* true when p lies inside a live allocation from cf_cuda_malloc */
bool emu_is_device_pointer(const void *p);
/* device pages readable and writable (during a launch) or PROT_NONE (outside kernels and copies) */
void emu_device_access(bool on);
/* a fiber stack's guard page, so a fault there is reported as a stack overflow */
void emu_note_fiber_stack(const void *guard, size_t bytes);
} // namespace cf_emu

#endif
