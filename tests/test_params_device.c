/* Parameters and optimizer state on the CUDA backend (layers/params.h, cf_params_to_device): the same
 * AdamW steps on the host and on the device give the same weights and moments, the host mirror reads and
 * writes the device values, gradients zero there, and nothing may be added after the move; with bf16
 * working copies (cf_params_set_compute) the f32 master follows the host's f32 steps to bf16 rounding and the
 * copies track it. Runs on the SIMT emulator (CF_CUDA_EMU) and on a GPU; skips (77) without a CUDA backend or
 * device. */
#include "autograd/cf_node.h"
#include "layers/params.h"
#include "optim/optim.h"
#include "tests/check.h"

#include <stdlib.h>

/* w (4 x 3, normal) and b (3, constant 0.5); seed fixed so two copies are equal. */

static cf_params *make_params(void)
{
    cf_params *ps = cf_params_new(CF_F32, 7);
    cf_tensor *w = cf_params_add(ps, "w", CF_SHAPE(4, 3), true);
    cf_tensor *b = cf_params_add(ps, "b", CF_SHAPE(3), false);
    cf_init_normal(ps, w, 0.0, 1.0);
    cf_init_constant(b, 0.5);
    return ps;
}

/* loss = sum((w + b)^2 * x) for a fixed x (in the parameters' compute dtype); backward into their gradients. */
static void loss_backward(cf_ctx *ctx, cf_params *ps)
{
    float xv[12];
    for (int i = 0; i < 12; i++) xv[i] = 0.25f * (float)(i % 5) - 0.4f;
    cf_tensor *x = cf_from_data(ctx, CF_F32, CF_SHAPE(4, 3), xv);
    if (ps->compute != CF_F32) {
        cf_tensor *xc = cf_empty(ctx, ps->compute, CF_SHAPE(4, 3));
        CHECK(xc && cf_copy_(xc, x) == CF_OK, "%s", cf_last_error());
        x = xc;
    }
    cf_tensor *s = cf_add(ctx, ps->items[0].value, ps->items[1].value);
    cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, cf_mul(ctx, s, s), x), 0, NULL, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK, "%s", cf_last_error());
    cf_step_reset(ctx);
}

/* bf16 working copies of f32 master weights: three AdamW steps against the host's f32 steps. */
static void test_mixed_precision(cf_ctx *host_ctx, cf_ctx *dev_ctx, const cf_optim_config *c)
{
    cf_params *hp = make_params(), *dp = make_params(), *init = make_params();
    CHECK(cf_params_set_compute(hp, CF_BF16) != CF_OK); /* the host computes in f32 and f64 */
    CHECK(cf_params_to_device(dp, CF_CUDA) == CF_OK);
    cf_optimizer *ho = cf_optim_new(hp, c), *dop = cf_optim_new(dp, c);
    CHECK(cf_params_set_compute(dp, CF_BF16) == CF_OK, "%s", cf_last_error());
    CHECK(dp->compute == CF_BF16 && dp->dtype == CF_F32);
    CHECK(dp->items[0].value->dtype == CF_BF16 && dp->items[0].value->grad->dtype == CF_BF16);
    /* the working copy is the master rounded to bf16 */
    CHECK_NEAR(cf_get_flat(dp->items[0].value, 4), cf_get_flat(hp->items[0].value, 4),
               1e-2 * fabs(cf_get_flat(hp->items[0].value, 4)));
    for (int step = 0; step < 3; step++) {
        cf_params_zero_grad(hp), cf_params_zero_grad(dp);
        loss_backward(host_ctx, hp);
        loss_backward(dev_ctx, dp);
        CHECK(cf_params_collect_grads(dp) == CF_OK, "%s", cf_last_error());
        CHECK(cf_get_flat(dp->items[0].value->grad, 1) == 0.0); /* collected: the working gradient is zero */
        CHECK(cf_optim_step(ho, 0.05) == CF_OK && cf_optim_step(dop, 0.05) == CF_OK);
        CHECK(cf_params_refresh(dp) == CF_OK, "%s", cf_last_error());
    }
    const float *master = cf_params_values_host(dp), *hv = hp->values, *v0 = init->values;
    double worst = 0, moved = 0, copy_err = 0;
    for (int i = 0; i < dp->count; i++) {
        const cf_param *p = &dp->items[i];
        for (int64_t k = 0; k < p->numel; k++) {
            double m = master[p->offset + k], h = hv[p->offset + k], w = cf_get_flat(p->value, k);
            worst = fmax(worst, fabs(m - h));
            moved = fmax(moved, fabs(h - v0[p->offset + k]));
            copy_err = fmax(copy_err, fabs(w - m) / fmax(fabs(m), 1e-6));
        }
    }
    /* Adam's steps are lr-sized whatever the gradient's rounding: the master agrees to a small share of them */
    CHECK(worst < 0.02 && moved > 0.1, "master differs by %g (the host moved %g)", worst, moved);
    CHECK(copy_err < 4e-3, "the working copy is %g (relative) off the master", copy_err);
    cf_optim_free(ho), cf_optim_free(dop);
    cf_params_free(hp), cf_params_free(dp), cf_params_free(init);
}

int main(void)
{
    if (!cf_backend_for(CF_CUDA)) {
        printf("no CUDA backend or device: skipped\n");
        return 77;
    }
    cf_ctx *host_ctx = cf_ctx_new(NULL), *dev_ctx = cf_ctx_new(&(cf_ctx_options){.device = CF_CUDA});
    CHECK(host_ctx && dev_ctx, "%s", cf_last_error());
    cf_params *hp = make_params(), *dp = make_params();
    CHECK(cf_params_to_device(dp, CF_CUDA) == CF_OK, "%s", cf_last_error());
    CHECK(dp->device == CF_CUDA && dp->items[0].value->storage->device == CF_CUDA);
    CHECK(cf_params_add(dp, "late", CF_SHAPE(2), true) == NULL); /* the flat buffer is fixed once moved */
    CHECK(cf_params_to_device(dp, CF_CPU) != CF_OK);               /* no way back */

    /* the mirror reads the device values */
    const float *mirror = cf_params_values_host(dp);
    CHECK(mirror && memcmp(mirror, hp->values, (size_t)hp->total * sizeof(float)) == 0);

    cf_optim_config c = cf_optim_defaults(CF_OPTIM_ADAMW);
    c.weight_decay = 0.1;
    cf_optimizer *ho = cf_optim_new(hp, &c), *dop = cf_optim_new(dp, &c);
    CHECK(ho && dop, "%s", cf_last_error());
    CHECK(dp->items[0].value->grad->storage->device == CF_CUDA);
    CHECK(cf_optim_slot_data(dop, 0) == NULL); /* device state is read through cf_optim_slot_read */
    for (int step = 0; step < 3; step++) {
        cf_params_zero_grad(hp), cf_params_zero_grad(dp);
        loss_backward(host_ctx, hp);
        loss_backward(dev_ctx, dp);
        double hn = 0, dn = 0;
        CHECK(cf_optim_clip_grad_norm(ho, 1.0, &hn) == CF_OK && cf_optim_clip_grad_norm(dop, 1.0, &dn) == CF_OK);
        CHECK_NEAR(dn, hn, 1e-5 * hn);
        CHECK(cf_optim_step(ho, 0.05) == CF_OK && cf_optim_step(dop, 0.05) == CF_OK);
    }
    mirror = cf_params_values_host(dp);
    const float *hv = hp->values;
    double worst = 0;
    for (int64_t i = 0; i < hp->total; i++) worst = fmax(worst, fabs((double)mirror[i] - hv[i]));
    CHECK(worst < 1e-5, "weights differ by %g after 3 AdamW steps", worst);
    size_t bytes = (size_t)hp->total * sizeof(float);
    float *hs = malloc(bytes), *ds = malloc(bytes);
    for (int s = 0; s < 2; s++) {
        CHECK(cf_optim_slot_read(ho, s, hs) == CF_OK && cf_optim_slot_read(dop, s, ds) == CF_OK);
        double d = 0;
        for (int64_t i = 0; i < hp->total; i++) d = fmax(d, fabs((double)hs[i] - ds[i]));
        CHECK(d < 1e-5, "slot %d differs by %g", s, d);
    }
    /* a slot written from the host reads back */
    for (int64_t i = 0; i < hp->total; i++) hs[i] = (float)i;
    CHECK(cf_optim_slot_write(dop, 1, hs) == CF_OK && cf_optim_slot_read(dop, 1, ds) == CF_OK);
    CHECK(memcmp(hs, ds, bytes) == 0);

    /* writes through the mirror reach the device; gradients zero there */
    float *w = cf_params_values_host(dp);
    w[0] = 42.0f;
    CHECK(cf_params_values_upload(dp) == CF_OK);
    CHECK(cf_get_flat(dp->items[0].value, 0) == 42.0);
    cf_params_zero_grad(dp);
    CHECK(cf_get_flat(dp->items[0].value->grad, 5) == 0.0 && cf_get_flat(dp->items[1].value->grad, 2) == 0.0);
    /* the finiteness check reads the device values */
    w[3] = NAN;
    CHECK(cf_params_values_upload(dp) == CF_OK);
    CHECK(cf_params_check_finite(dp, "device") != CF_OK && strstr(cf_last_error(), "parameter w holds 1 non-finite"));

    free(hs), free(ds);
    cf_optim_free(ho), cf_optim_free(dop);
    cf_params_free(hp), cf_params_free(dp);
    test_mixed_precision(host_ctx, dev_ctx, &c);
    cf_ctx_free(host_ctx), cf_ctx_free(dev_ctx);
    TEST_MAIN_END();
}
