/* Parameters on a device (layers/params.h): the flat buffers in the backend's memory, a host mirror for the
 * host's readers and writers (checkpoints, export, finiteness checks), and mixed precision's bf16 working
 * copies of the f32 master buffers. */
#include "layers/params_device.h"

#include "autograd/cf_node.h"

#include <stdlib.h>
#include <string.h>

/* A flat buffer of n elements seen as a 1-D tensor, on the stack (the step loop allocates nothing). */
static void flat_view(cf_tensor *t, cf_storage *s, cf_dtype dt, cf_device dev, void *data, int64_t n)
{
    *s = (cf_storage){.data = data, .nbytes = (size_t)n * cf_dtype_size(dt), .device = dev};
    memset(t, 0, sizeof *t);
    t->dtype = dt, t->ndim = 1, t->shape[0] = n, t->stride[0] = 1, t->storage = s;
}

/* A copy of n elements of host data in be's memory; NULL with the error set. */
static void *upload_new(const cf_backend *be, const void *host, size_t bytes)
{
    void *d = be->alloc(bytes ? bytes : 1);
    if (d && bytes && be->from_host(d, host, bytes) != CF_OK) {
        be->release(d);
        return NULL;
    }
    return d;
}

cf_status cf_params_to_device(cf_params *ps, cf_device dev)
{
    if (dev == ps->device) return CF_OK;
    if (ps->shapes_only) return cf_set_error(CF_ERR_STATE, "parameters: a shapes-only set cannot move to a device");
    if (ps->device != CF_CPU || dev == CF_CPU)
        return cf_set_error(CF_ERR_UNSUPPORTED, "parameters: already on device %d; they cannot move again", (int)ps->device);
    const cf_backend *be = cf_backend_for(dev);
    if (!be)
        return cf_set_error(CF_ERR_DEVICE, "parameters: device %d is not available (a build without its backend, or no "
                            "device present)", (int)dev);
    size_t es = cf_dtype_size(ps->dtype), bytes = (size_t)ps->total * es;
    void *values = upload_new(be, ps->values, bytes), *grads = NULL;
    if (!values) return cf_last_status();
    if (ps->grads && !(grads = upload_new(be, ps->grads, bytes))) {
        be->release(values);
        return cf_last_status();
    }
    free(ps->grads);
    ps->host = ps->values; /* the host buffer becomes the mirror */
    ps->values = values, ps->grads = grads, ps->device = dev;
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        p->value->storage->data = (char *)values + p->offset * (int64_t)es;
        p->value->storage->device = dev;
        if (p->value->grad) {
            p->value->grad->storage->data = (char *)grads + p->offset * (int64_t)es;
            p->value->grad->storage->device = dev;
        }
    }
    return CF_OK;
}

void *cf_params_values_host(cf_params *ps)
{
    if (ps->device == CF_CPU) return ps->values;
    const cf_backend *be = cf_backend_table(ps->device);
    if (be->to_host(ps->host, ps->values, (size_t)ps->total * cf_dtype_size(ps->dtype)) != CF_OK) return NULL;
    return ps->host;
}

cf_status cf_params_values_upload(cf_params *ps)
{
    if (ps->device == CF_CPU) return CF_OK;
    CF_TRY(cf_backend_table(ps->device)->from_host(ps->values, ps->host, (size_t)ps->total * cf_dtype_size(ps->dtype)));
    for (int i = 0; i < ps->count; i++) cf_bump_version(ps->items[i].value);
    return cf_params_refresh(ps);
}

/* ---- mixed precision ---- */

/* Points t (a parameter's tensor or gradient) at element `offset` of a flat buffer of dtype dt. */
static void repoint_as(cf_tensor *t, cf_dtype dt, void *flat, int64_t offset)
{
    t->dtype = dt;
    t->storage->data = (char *)flat + offset * (int64_t)cf_dtype_size(dt);
    t->storage->nbytes = (size_t)cf_numel(t) * cf_dtype_size(dt);
}

cf_status cf_params_set_compute(cf_params *ps, cf_dtype compute)
{
    if (compute == ps->compute) return CF_OK;
    if (compute != CF_BF16 || ps->dtype != CF_F32 || ps->compute != ps->dtype)
        return cf_set_error(CF_ERR_UNSUPPORTED, "mixed precision: %s working copies of %s parameters are not supported "
                            "(bf16 copies of f32 parameters are)", cf_dtype_name(compute), cf_dtype_name(ps->dtype));
    if (ps->device == CF_CPU)
        return cf_set_error(CF_ERR_UNSUPPORTED, "mixed precision: bf16 runs on the CUDA backend (the CPU kernels compute "
                            "in f32 and f64): move the parameters to the device first");
    if (!ps->grads) return cf_set_error(CF_ERR_STATE, "mixed precision: make the gradient buffer (cf_params_grads) first");
    const cf_backend *be = cf_backend_table(ps->device);
    size_t bytes = (size_t)(ps->total ? ps->total : 1) * cf_dtype_size(compute);
    if (!(ps->work = be->alloc(bytes)) || !(ps->work_grads = be->alloc(bytes))) return cf_last_status();
    ps->compute = compute;
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        repoint_as(p->value, compute, ps->work, p->offset);
        repoint_as(p->value->grad, compute, ps->work_grads, p->offset);
    }
    cf_params_device_zero_grads(ps);
    return cf_params_refresh(ps);
}

cf_status cf_params_collect_grads(cf_params *ps)
{
    if (ps->compute == ps->dtype || !ps->total) return CF_OK;
    const cf_backend *be = cf_backend_table(ps->device);
    cf_tensor master, work;
    cf_storage ms, ws;
    flat_view(&master, &ms, ps->dtype, ps->device, ps->grads, ps->total);
    flat_view(&work, &ws, ps->compute, ps->device, ps->work_grads, ps->total);
    CF_TRY(be->copy(&master, &work, true));
    return be->fill(&work, 0.0);
}

cf_status cf_params_refresh(cf_params *ps)
{
    if (ps->compute == ps->dtype || !ps->total) return CF_OK;
    cf_tensor master, work;
    cf_storage ms, ws;
    flat_view(&master, &ms, ps->dtype, ps->device, ps->values, ps->total);
    flat_view(&work, &ws, ps->compute, ps->device, ps->work, ps->total);
    CF_TRY(cf_backend_table(ps->device)->copy(&work, &master, false));
    for (int i = 0; i < ps->count; i++) cf_bump_version(ps->items[i].value);
    return CF_OK;
}

cf_status cf_params_device_grads(cf_params *ps)
{
    const cf_backend *be = cf_backend_table(ps->device);
    size_t bytes = (size_t)(ps->total ? ps->total : 1) * cf_dtype_size(ps->dtype);
    if (!(ps->grads = be->alloc(bytes))) return cf_last_status();
    cf_params_device_zero_grads(ps);
    return CF_OK;
}

void cf_params_device_zero_grads(cf_params *ps)
{
    cf_tensor t;
    cf_storage s;
    if (!ps->total) return;
    flat_view(&t, &s, ps->dtype, ps->device, ps->grads, ps->total);
    (void)cf_backend_table(ps->device)->fill(&t, 0.0);
    if (ps->work_grads) {
        flat_view(&t, &s, ps->compute, ps->device, ps->work_grads, ps->total);
        (void)cf_backend_table(ps->device)->fill(&t, 0.0);
    }
}

void cf_params_device_release(cf_params *ps)
{
    const cf_backend *be = cf_backend_table(ps->device);
    if (ps->values) be->release(ps->values);
    if (ps->grads) be->release(ps->grads);
    if (ps->work) be->release(ps->work);
    if (ps->work_grads) be->release(ps->work_grads);
    free(ps->host);
    ps->values = ps->grads = ps->host = ps->work = ps->work_grads = NULL;
}
