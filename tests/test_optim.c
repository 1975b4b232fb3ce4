/* Optimizers against hand-computed updates, clipping, and the schedules' values. */
#include "tests/check.h"
#include "optim/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cf_params *one_param(double value, double grad, bool decay)
{
    cf_params *ps = cf_params_new(CF_F64, 1);
    cf_tensor *w = cf_params_add(ps, "w", CF_SHAPE(2), decay);
    cf_fill_(w, value);
    cf_params_grads(ps);
    cf_fill_(w->grad, grad);
    return ps;
}

static double val(cf_params *ps) { return cf_get_flat(ps->items[0].value, 0); }

static void test_sgd(void)
{
    cf_params *ps = one_param(1.0, 0.5, true);
    cf_optim_config c = cf_optim_defaults(CF_OPTIM_SGD);
    c.momentum = 0.9, c.weight_decay = 0.1;
    cf_optimizer *o = cf_optim_new(ps, &c);
    cf_optim_step(o, 0.1); /* d = 0.5 + 0.1 = 0.6; buf = 0.6; p = 1 - 0.06 */
    CHECK_NEAR(val(ps), 0.94, 1e-12);
    cf_optim_step(o, 0.1); /* d = 0.5 + 0.094 = 0.594; buf = 0.54 + 0.594 = 1.134; p = 0.94 - 0.1134 */
    CHECK_NEAR(val(ps), 0.8266, 1e-12);
    cf_optim_free(o);
    cf_params_free(ps);

    ps = one_param(1.0, 0.5, true);
    c = cf_optim_defaults(CF_OPTIM_SGD);
    c.momentum = 0.9, c.nesterov = true;
    o = cf_optim_new(ps, &c);
    cf_optim_step(o, 0.1); /* buf = 0.5; d = 0.5 + 0.45 = 0.95 */
    CHECK_NEAR(val(ps), 1 - 0.095, 1e-12);
    cf_optim_free(o);
    cf_params_free(ps);
}

static void test_adam_and_adamw(void)
{
    /* first Adam step moves by lr * sign(g) (bias-corrected m/sqrt(v) = g/|g|) */
    cf_params *ps = one_param(1.0, 0.5, true);
    cf_optim_config c = cf_optim_defaults(CF_OPTIM_ADAM);
    cf_optimizer *o = cf_optim_new(ps, &c);
    cf_optim_step(o, 0.01);
    CHECK_NEAR(val(ps), 1 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-12);
    /* second step, same gradient: m_hat = 0.5, v_hat = 0.25 */
    cf_optim_step(o, 0.01);
    CHECK_NEAR(val(ps), 1 - 0.01 * 0.5 / (0.5 + 1e-8) * 2, 1e-10);
    CHECK(cf_optim_slot_count(o) == 2 && strcmp(cf_optim_slot_name(o, 1), "exp_avg_sq") == 0);
    CHECK_NEAR(((double *)cf_optim_slot_data(o, 0))[0], 0.5 * (1 - 0.81), 1e-12);
    cf_optim_free(o);
    cf_params_free(ps);

    /* AdamW decays decoupled from the gradient: p <- p (1 - lr wd) - lr * 1 */
    ps = one_param(2.0, 0.3, true);
    c = cf_optim_defaults(CF_OPTIM_ADAMW);
    c.weight_decay = 0.1;
    o = cf_optim_new(ps, &c);
    cf_optim_step(o, 0.01);
    CHECK_NEAR(val(ps), 2.0 * (1 - 0.001) - 0.01 * 0.3 / (0.3 + 1e-8), 1e-12);
    cf_optim_free(o);
    cf_params_free(ps);

    /* a no-decay parameter (bias, norm) is not decayed unless decay_all */
    ps = one_param(2.0, 0.3, false);
    o = cf_optim_new(ps, &c);
    cf_optim_step(o, 0.01);
    CHECK_NEAR(val(ps), 2.0 - 0.01 * 0.3 / (0.3 + 1e-8), 1e-12);
    cf_optim_free(o);
    cf_params_free(ps);
}

static void test_clip(void)
{
    cf_params *ps = one_param(0, 3.0, true); /* grads (3, 3): norm sqrt(18) */
    double norm = cf_clip_grad_norm(ps, 1.0);
    CHECK_NEAR(norm, sqrt(18.0), 1e-12);
    CHECK_NEAR(cf_get_flat(ps->items[0].value->grad, 0), 3.0 / (sqrt(18.0) + 1e-6), 1e-9);
    CHECK_NEAR(cf_clip_grad_norm(ps, 0), 1.0, 1e-6);
    cf_params_free(ps);
}

static void test_schedules(void)
{
    cf_schedule s = {.kind = CF_SCHED_COSINE, .warmup_steps = 10, .total_steps = 110, .min_lr_ratio = 0.1};
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 0), 0.1, 1e-12);
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 9), 1.0, 1e-12);
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 60), 0.1 + 0.9 * 0.5, 1e-12);
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 110), 0.1, 1e-12);
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 500), 0.1, 1e-12);
    s.kind = CF_SCHED_LINEAR;
    CHECK_NEAR(cf_schedule_lr(&s, 2.0, 35), 0.2 + 1.8 * 0.75, 1e-12);
    s.kind = CF_SCHED_INV_SQRT;
    s.min_lr_ratio = 0;
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 9), 1.0, 1e-12);
    CHECK_NEAR(cf_schedule_lr(&s, 1.0, 39), 0.5, 1e-12);
    s.kind = CF_SCHED_CONSTANT;
    s.warmup_steps = 0;
    CHECK_NEAR(cf_schedule_lr(&s, 3.0, 1000), 3.0, 0);
    cf_schedule_kind k;
    CHECK(cf_schedule_kind_parse("cosine", &k) && k == CF_SCHED_COSINE && !cf_schedule_kind_parse("cosin", &k));
}

static void test_params_names(void)
{
    cf_params *ps = cf_params_new(CF_F32, 7);
    cf_params_push(ps, "blocks.%d", 3);
    cf_params_push(ps, "attn");
    cf_tensor *w = cf_params_add(ps, "qkv.weight", CF_SHAPE(6, 4), true);
    cf_params_pop(ps);
    cf_tensor *b = cf_params_add(ps, "ln.bias", CF_SHAPE(4), false);
    CHECK(w && b && cf_params_find(ps, "blocks.3.attn.qkv.weight") && cf_params_find(ps, "blocks.3.ln.bias"));

    CHECK(cf_params_add(ps, "ln.bias", CF_SHAPE(4), false) == NULL);
    CHECK_ERROR_HAS("added twice");
    /* growth re-points earlier tensors: values survive */
    cf_init_normal(ps, w, 0, 1);
    double w0 = cf_get_flat(w, 5);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "big%d", i);
        cf_params_add(ps, name, CF_SHAPE(1000), true);
    }
    CHECK(cf_get_flat(w, 5) == w0);
    /* initialisation depends on the name, not on build order */
    cf_params *qs = cf_params_new(CF_F32, 7);
    cf_params_add(qs, "other", CF_SHAPE(10), true);
    cf_tensor *w2 = cf_params_add(qs, "blocks.3.attn.qkv.weight", CF_SHAPE(6, 4), true);
    cf_init_normal(qs, w2, 0, 1);
    CHECK(cf_get_flat(w2, 5) == w0);
    CHECK(cf_params_numel(ps) == 24 + 4 + 50000);
    /* a scope pushed as one dotted part pops as a whole */
    cf_params_pop(ps);
    CHECK(ps->scope[0] == '\0');
    cf_params_push(ps, "blocks.%d", 4);
    cf_params_push(ps, "mlp");
    cf_params_pop(ps);
    cf_params_pop(ps);
    CHECK(ps->scope[0] == '\0');
    cf_params_free(ps);
    cf_params_free(qs);
}

/* Neighbouring trainable parameters with the same decay are updated by one backend call over their span
 * (padding included); the values and the state are bit for bit those of one call per parameter. */
static cf_params *mixed_params(void)
{
    /* decay, decay, no decay, frozen, no decay, decay; 3-, 5-, ... element parameters leave padding */
    static const int64_t n[6] = {3, 5, 2, 7, 4, 6};
    static const bool decay[6] = {true, true, false, false, false, true};
    cf_params *ps = cf_params_new(CF_F32, 1);
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        cf_params_add(ps, name, CF_SHAPE(n[i]), decay[i]);
    }
    ps->items[3].value->requires_grad = false;
    cf_params_grads(ps);
    float *v = ps->values, *g = ps->grads;
    for (int i = 0; i < ps->count; i++)
        for (int64_t j = 0; j < ps->items[i].numel; j++) {
            int64_t k = ps->items[i].offset + j;
            v[k] = 0.1f * (float)(k % 7) - 0.3f, g[k] = 0.05f * (float)(k % 5) - 0.1f;
        }
    return ps;
}

static void test_coalesced_update(void)
{
    cf_params *a = mixed_params(), *b = mixed_params();
    CHECK(a->items[1].offset > a->items[0].offset + 3); /* the layout has padding to cross */
    float *sa[2] = {calloc((size_t)a->total, 4), calloc((size_t)a->total, 4)};
    float *sb[2] = {calloc((size_t)b->total, 4), calloc((size_t)b->total, 4)};
    cf_optim_config c = cf_optim_defaults(CF_OPTIM_ADAMW);
    c.weight_decay = 0.1;
    int runs = 0, per_param = 0;
    for (int t = 1; t <= 3; t++) {
        runs = cf_optim_update_range(&c, a, (void *const *)sa, 0, 0, a->total, 1e-2, t);
        per_param = 0;
        for (int i = 0; i < b->count; i++)
            per_param += cf_optim_update_range(&c, b, (void *const *)sb, 0, b->items[i].offset,
                                               b->items[i].offset + b->items[i].numel, 1e-2, t);
    }
    CHECK(runs == 4 && per_param == 5); /* {p0 p1} {p2} (p3 frozen) {p4} {p5} */
    size_t bytes = (size_t)a->total * 4;
    CHECK(memcmp(a->values, b->values, bytes) == 0);
    CHECK(memcmp(sa[0], sb[0], bytes) == 0 && memcmp(sa[1], sb[1], bytes) == 0);
    /* the padding inside the first run stayed zero */
    const float *va = a->values;
    bool zero = true;
    for (int64_t k = a->items[0].offset + 3; k < a->items[1].offset; k++) zero = zero && va[k] == 0 && sa[1][k] == 0;
    CHECK(zero);
    int64_t f = a->items[3].offset; /* the frozen parameter kept its value */
    CHECK(va[f] == 0.1f * (float)(f % 7) - 0.3f);

    /* no weight decay anywhere: the frozen parameter is the only break; a ZeRO-style range cuts the runs */
    c = cf_optim_defaults(CF_OPTIM_ADAM);
    CHECK(cf_optim_update_range(&c, a, (void *const *)sa, 0, 0, a->total, 1e-2, 4) == 2);
    int64_t lo = a->items[1].offset + 2, hi = a->items[4].offset + 1;
    CHECK(cf_optim_update_range(&c, a, (void *const *)sa, 0, lo, hi, 1e-2, 5) == 2); /* {p1 p2} {p4} */
    for (int i = 0; i < 2; i++) free(sa[i]), free(sb[i]);
    cf_params_free(a);
    cf_params_free(b);
}

int main(void)
{
    RUN(test_sgd);
    RUN(test_adam_and_adamw);
    RUN(test_clip);
    RUN(test_schedules);
    RUN(test_params_names);
    RUN(test_coalesced_update);
    TEST_MAIN_END();
}
