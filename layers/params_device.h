/* Internal to layers/params*.c: the device side of the flat buffers (ps->device != CF_CPU). */
#ifndef CF_PARAMS_DEVICE_H
#define CF_PARAMS_DEVICE_H

#include "layers/params.h"

/* ps->grads allocated in the device's memory, zeroed. */
cf_status cf_params_device_grads(cf_params *ps);
void cf_params_device_zero_grads(cf_params *ps);
/* Releases values, grads and the host mirror. */
void cf_params_device_release(cf_params *ps);

#endif
