/* Gradient checks of the losses: each reduction, ignore_index, label smoothing, soft targets (with
 * their own gradient), the [N, C, d] and class-last layouts, non-contiguous logits, pos_weight, and the
 * focal loss's alpha/gamma variants.
 * Every case gets fresh inputs: backward walks the whole tape of the step, so an input shared with an
 * earlier case would collect that case's gradient again. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

typedef struct loss_case {
    int kind; /* 0: cross_entropy, 1: cross_entropy_last, 2: nll_loss */
    cf_ce_opts o;
} loss_case;

static cf_tensor *fn_class(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const loss_case *p = u;
    if (p->kind == 1) return cf_cross_entropy_last(c, x[0], x[1], &p->o);
    if (p->kind == 2) return cf_nll_loss(c, x[0], x[1], &p->o);
    return cf_cross_entropy(c, x[0], x[1], &p->o);
}

static loss_case lc(int kind, cf_reduction r, int64_t ignore, double eps)
{
    return (loss_case){kind, {.reduction = r, .ignore_index = ignore, .label_smoothing = eps}};
}

/* One hard-target case on fresh [4, 5] logits. */
static cf_status hard45(cf_gc *g, const char *label, loss_case c, const double *targets)
{
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(4, 5)), *t = cf_gc_const(g, CF_I64, CF_SHAPE(4), targets);
    return cf_gc_check(g, label, fn_class, &c, 2, (cf_tensor *[]){x, t});
}

static const double t4[] = {1, 0, 4, 2}, t4i[] = {1, -100, 4, 2}, t4z[] = {1, 0, 4, 0};
static const double t23[] = {0, 2, 1, -100, 1, 1};

static cf_status class_cases(cf_gc *g, int kind)
{
    hard45(g, "[4, 5] mean", lc(kind, CF_REDUCTION_MEAN, -100, 0), t4);
    hard45(g, "[4, 5] sum", lc(kind, CF_REDUCTION_SUM, -100, 0), t4);
    hard45(g, "[4, 5] none", lc(kind, CF_REDUCTION_NONE, -100, 0), t4);
    hard45(g, "ignore_index -100, mean", lc(kind, CF_REDUCTION_MEAN, -100, 0), t4i);
    hard45(g, "ignore_index -100, none", lc(kind, CF_REDUCTION_NONE, -100, 0), t4i);
    hard45(g, "ignore_index 0 (two ignored), mean", lc(kind, CF_REDUCTION_MEAN, 0, 0), t4z);
    /* [N, C, d]: class dim 1 with a trailing spatial dim */
    loss_case mean = lc(kind, CF_REDUCTION_MEAN, -100, 0), none = lc(kind, CF_REDUCTION_NONE, -100, 0);
    cf_tensor *x3 = cf_gc_randn(g, CF_SHAPE(2, 3, 3)), *t3 = cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), t23);
    cf_gc_check(g, "[2, 3, 3] class dim 1, mean", fn_class, &mean, 2, (cf_tensor *[]){x3, t3});
    cf_tensor *y3 = cf_gc_randn(g, CF_SHAPE(2, 3, 3));
    cf_gc_check(g, "[2, 3, 3] class dim 1, none", fn_class, &none, 2, (cf_tensor *[]){y3, t3});
    /* non-contiguous logits: the transpose of a [5, 4] leaf */
    cf_ctx *ctx = cf_gc_ctx(g);
    cf_tensor *xt = cf_detach(ctx, cf_transpose(ctx, cf_gc_randn(g, CF_SHAPE(5, 4)), 0, 1));
    if (xt) xt->requires_grad = true;
    cf_tensor *t = cf_gc_const(g, CF_I64, CF_SHAPE(4), t4);
    return cf_gc_check(g, "transposed logits", fn_class, &mean, 2, (cf_tensor *[]){xt, t});
}

static cf_status soft_case(cf_gc *g, const char *label, loss_case c, int ndim, const int64_t *shape)
{
    cf_tensor *x = cf_gc_randn(g, ndim, shape), *p = cf_gc_rand(g, ndim, shape, 0.0, 1.0);
    return cf_gc_check(g, label, fn_class, &c, 2, (cf_tensor *[]){x, p});
}

CF_GRADCHECK(cross_entropy)
{
    class_cases(g, 0);
    hard45(g, "label smoothing 0.1 with an ignored target", lc(0, CF_REDUCTION_MEAN, -100, 0.1), t4i);
    hard45(g, "label smoothing 0.25, none", lc(0, CF_REDUCTION_NONE, -100, 0.25), t4i);
    hard45(g, "label smoothing 0.1, sum", lc(0, CF_REDUCTION_SUM, -100, 0.1), t4);
    /* soft targets: both the logits and the probabilities get gradients */
    soft_case(g, "soft targets, mean", lc(0, CF_REDUCTION_MEAN, -100, 0), CF_SHAPE(4, 5));
    soft_case(g, "soft targets, 70 classes (more than a warp's lanes)", lc(0, CF_REDUCTION_MEAN, -100, 0.1), CF_SHAPE(2, 70));
    soft_case(g, "soft targets, none", lc(0, CF_REDUCTION_NONE, -100, 0), CF_SHAPE(4, 5));
    soft_case(g, "soft targets, label smoothing 0.1", lc(0, CF_REDUCTION_SUM, -100, 0.1), CF_SHAPE(4, 5));
    soft_case(g, "soft targets [2, 3, 2] class dim 1", lc(0, CF_REDUCTION_MEAN, -100, 0.1), CF_SHAPE(2, 3, 2));
    soft_case(g, "class last soft targets", lc(1, CF_REDUCTION_MEAN, -100, 0.1), CF_SHAPE(2, 3, 5));
    /* class-last layout [B, T, C] with [B, T] targets */
    static const double tl[] = {0, 4, 1, 3, 3, 2};
    cf_tensor *xl = cf_gc_randn(g, CF_SHAPE(2, 3, 5)), *t = cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), tl);
    loss_case last = lc(1, CF_REDUCTION_MEAN, 3, 0.1);
    return cf_gc_check(g, "class last [2, 3, 5], ignore_index 3, smoothing", fn_class, &last, 2,
                       (cf_tensor *[]){xl, t});
}

CF_GRADCHECK(nll_loss) { return class_cases(g, 2); }

typedef struct pw_case {
    int op;
    cf_reduction r;
    double alpha, gamma;
    bool transpose; /* feed the transposes of the [4, 3] inputs */
    bool hard;      /* 0/1 targets that need no gradient */
} pw_case;

static cf_tensor *fn_pw(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pw_case *p = u;
    cf_tensor *a = x[0], *b = x[1];
    if (p->transpose) a = cf_transpose(c, a, 0, 1), b = cf_transpose(c, b, 0, 1);
    switch (p->op) {
    case CF_OP_mse_loss: return cf_mse_loss(c, a, b, p->r);
    case CF_OP_l1_loss: return cf_l1_loss(c, a, b, p->r);
    case CF_OP_bce_with_logits: return cf_bce_with_logits(c, a, b, NULL, p->r);
    default: return cf_sigmoid_focal_loss(c, a, b, p->alpha, p->gamma, p->r);
    }
}

/* Fresh inputs for one case of op: shape [3, 4] ([4, 3] when transposed, so fn_pw sees [3, 4]). */
static cf_status pw_check(cf_gc *g, const char *label, pw_case c)
{
    int64_t r = c.transpose ? 4 : 3, k = c.transpose ? 3 : 4;
    cf_tensor *x, *y;
    switch (c.op) {
    case CF_OP_mse_loss:
        x = cf_gc_randn(g, CF_SHAPE(r, k)), y = cf_gc_randn(g, CF_SHAPE(r, k));
        break;
    case CF_OP_l1_loss: { /* x - y kept away from 0, where |x - y| has its kink */
        y = cf_gc_randn(g, CF_SHAPE(r, k)), x = cf_gc_randn_away(g, CF_SHAPE(r, k), 0.05);
        if (x && y)
            for (int64_t i = 0; i < r * k; i++) cf_set_flat(x, i, cf_get_flat(x, i) + cf_get_flat(y, i));
        break;
    }
    default:
        x = cf_gc_rand(g, CF_SHAPE(r, k), -4, 4), y = cf_gc_rand(g, CF_SHAPE(r, k), 0, 1);
        if (c.hard && y) {
            y->requires_grad = false;
            for (int64_t i = 0; i < r * k; i++) cf_set_flat(y, i, (i * 7 % 5) < 2 ? 1.0 : 0.0);
        }
        break;
    }
    return cf_gc_check(g, label, fn_pw, &c, 2, (cf_tensor *[]){x, y});
}

/* Each reduction, plus transposed inputs. */
static cf_status pw_cases(cf_gc *g, int op, double alpha, double gamma)
{
    pw_check(g, "mean", (pw_case){op, CF_REDUCTION_MEAN, alpha, gamma, false, false});
    pw_check(g, "sum", (pw_case){op, CF_REDUCTION_SUM, alpha, gamma, false, false});
    pw_check(g, "none", (pw_case){op, CF_REDUCTION_NONE, alpha, gamma, false, false});
    return pw_check(g, "transposed inputs, none", (pw_case){op, CF_REDUCTION_NONE, alpha, gamma, true, false});
}

CF_GRADCHECK(mse_loss) { return pw_cases(g, CF_OP_mse_loss, 0, 0); }
CF_GRADCHECK(l1_loss) { return pw_cases(g, CF_OP_l1_loss, 0, 0); }

static cf_tensor *fn_bce_pw(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_bce_with_logits(c, x[0], x[1], x[2], *(const cf_reduction *)u);
}

CF_GRADCHECK(bce_with_logits)
{
    pw_cases(g, CF_OP_bce_with_logits, 0, 0);
    pw_check(g, "hard targets", (pw_case){CF_OP_bce_with_logits, CF_REDUCTION_MEAN, 0, 0, false, true});
    static const cf_reduction mean = CF_REDUCTION_MEAN, none = CF_REDUCTION_NONE;
    cf_tensor *x = cf_gc_rand(g, CF_SHAPE(3, 4), -4, 4), *y = cf_gc_rand(g, CF_SHAPE(3, 4), 0, 1);
    cf_tensor *w = cf_gc_rand(g, CF_SHAPE(4), 0.5, 3);
    cf_gc_check(g, "pos_weight [4], mean", fn_bce_pw, &mean, 3, (cf_tensor *[]){x, y, w});
    cf_tensor *x2 = cf_gc_rand(g, CF_SHAPE(3, 4), -4, 4), *y2 = cf_gc_rand(g, CF_SHAPE(3, 4), 0, 1);
    cf_tensor *w2 = cf_gc_rand(g, CF_SHAPE(3, 1), 0.5, 3);
    return cf_gc_check(g, "pos_weight [3, 1], none", fn_bce_pw, &none, 3, (cf_tensor *[]){x2, y2, w2});
}

CF_GRADCHECK(sigmoid_focal_loss)
{
    int op = CF_OP_sigmoid_focal_loss;
    pw_cases(g, op, 0.25, 2.0); /* torchvision's defaults */
    pw_check(g, "alpha -1 (off), gamma 1.5", (pw_case){op, CF_REDUCTION_SUM, -1, 1.5, false, false});
    pw_check(g, "alpha 0.75, gamma 0 (weighted bce)", (pw_case){op, CF_REDUCTION_MEAN, 0.75, 0, false, false});
    pw_check(g, "gamma 0.5", (pw_case){op, CF_REDUCTION_MEAN, 0.25, 0.5, false, false});
    return pw_check(g, "hard targets", (pw_case){op, CF_REDUCTION_MEAN, 0.25, 2.0, false, true});
}
