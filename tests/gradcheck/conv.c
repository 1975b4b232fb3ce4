/* Gradient checks of the conv family: every stride/padding/dilation/groups option, depthwise and 1x1
 * kernels, bias or none, non-contiguous inputs, gradients accumulated from two uses, and every pooling
 * and resizing mode. Sizes stay tiny: the numeric check runs two forwards per input element. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

#define S CF_SHAPE

/* ---- convolutions ---- */

typedef struct conv_case {
    cf_conv2d_opts o;
    cf_conv_transpose2d_opts t;
    int64_t s1, p1, d1, g1; /* conv1d */
    bool bias, tview;       /* tview: x and w arrive as transposed views of the last two dims */
    bool twice;             /* the op is applied twice to the same inputs and summed */
} conv_case;

static cf_tensor *tv(cf_ctx *c, cf_tensor *t, bool on) { return on ? cf_transpose(c, t, -1, -2) : t; }

static cf_tensor *fn_conv2d(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const conv_case *k = u;
    cf_tensor *in = tv(c, x[0], k->tview), *w = tv(c, x[1], k->tview), *b = k->bias ? x[2] : NULL;
    cf_tensor *y = cf_conv2d(c, in, w, b, &k->o);
    return k->twice ? cf_add(c, y, cf_conv2d(c, in, w, b, &k->o)) : y;
}

static cf_status conv2d_case(cf_gc *g, const char *label, conv_case k, int64_t N, int64_t C, int64_t H, int64_t W,
                             int64_t Cout, int64_t KH, int64_t KW)
{
    int64_t G = k.o.groups ? k.o.groups : 1;
    cf_tensor *x = k.tview ? cf_gc_randn(g, S(N, C, W, H)) : cf_gc_randn(g, S(N, C, H, W));
    cf_tensor *w = k.tview ? cf_gc_randn(g, S(Cout, C / G, KW, KH)) : cf_gc_randn(g, S(Cout, C / G, KH, KW));
    cf_tensor *in[3] = {x, w, cf_gc_randn(g, S(Cout))};
    return cf_gc_check(g, label, fn_conv2d, &k, k.bias ? 3 : 2, in);
}

CF_GRADCHECK(conv2d)
{
    conv2d_case(g, "3x3, bias", (conv_case){.bias = true}, 2, 3, 5, 5, 4, 3, 3);
    conv2d_case(g, "stride (2,1), padding (1,0), 3x2 kernel", (conv_case){.o = {.stride = {2, 1}, .padding = {1, 0}}},
                1, 2, 5, 6, 3, 3, 2);
    conv2d_case(g, "stride 2, batch 3 (threads over the batch)", (conv_case){.o = {.stride = {2, 2}}, .bias = true}, 3,
                2, 5, 5, 2, 2, 2);
    conv2d_case(g, "dilation (2,1), padding (1,2)", (conv_case){.o = {.dilation = {2, 1}, .padding = {1, 2}}}, 1, 2, 6,
                5, 2, 2, 3);
    conv2d_case(g, "groups 2", (conv_case){.o = {.groups = 2, .padding = {1, 1}}, .bias = true}, 2, 4, 4, 4, 6, 3, 3);
    conv2d_case(g, "depthwise, stride 2, padding 1",
                (conv_case){.o = {.groups = 3, .stride = {2, 2}, .padding = {1, 1}}, .bias = true}, 2, 3, 5, 5, 3, 3,
                3);
    conv2d_case(g, "depthwise x2 multiplier, dilation 2, padding 2",
                (conv_case){.o = {.groups = 2, .dilation = {2, 2}, .padding = {2, 2}}}, 1, 2, 5, 5, 4, 3, 3);
    conv2d_case(g, "1x1 kernel, bias", (conv_case){.bias = true}, 2, 3, 3, 3, 4, 1, 1);
    conv2d_case(g, "1x1 kernel, stride 2", (conv_case){.o = {.stride = {2, 2}}}, 1, 3, 4, 4, 2, 1, 1);
    conv2d_case(g, "non-contiguous x and w", (conv_case){.tview = true, .o = {.padding = {1, 0}}}, 2, 2, 4, 5, 3, 2, 3);
    conv2d_case(g, "used twice (accumulated grads)", (conv_case){.twice = true, .bias = true, .o = {.padding = {1, 1}}},
                2, 2, 4, 4, 2, 3, 3);
    return conv2d_case(g, "depthwise used twice", (conv_case){.twice = true, .o = {.groups = 2}}, 2, 2, 4, 4, 2, 2, 2);
}

static cf_tensor *fn_conv1d(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const conv_case *k = u;
    return cf_conv1d(c, tv(c, x[0], k->tview), x[1], k->bias ? x[2] : NULL, k->s1, k->p1, k->d1, k->g1);
}

static cf_status conv1d_case(cf_gc *g, const char *label, conv_case k, int64_t N, int64_t C, int64_t L, int64_t Cout,
                             int64_t K)
{
    int64_t G = k.g1 ? k.g1 : 1;
    cf_tensor *x = k.tview ? cf_gc_randn(g, S(N, L, C)) : cf_gc_randn(g, S(N, C, L));
    cf_tensor *in[3] = {x, cf_gc_randn(g, S(Cout, C / G, K)), cf_gc_randn(g, S(Cout))};
    return cf_gc_check(g, label, fn_conv1d, &k, k.bias ? 3 : 2, in);
}

CF_GRADCHECK(conv1d)
{
    conv1d_case(g, "k3, bias", (conv_case){.bias = true}, 2, 3, 7, 4, 3);
    conv1d_case(g, "stride 2, padding 1, dilation 2", (conv_case){.s1 = 2, .p1 = 1, .d1 = 2}, 2, 2, 9, 3, 3);
    conv1d_case(g, "groups 2", (conv_case){.g1 = 2, .p1 = 1, .bias = true}, 1, 4, 6, 2, 3);
    conv1d_case(g, "depthwise", (conv_case){.g1 = 3, .p1 = 2, .s1 = 2}, 2, 3, 6, 3, 4);
    return conv1d_case(g, "non-contiguous x", (conv_case){.tview = true}, 2, 2, 5, 2, 2);
}

static cf_tensor *fn_conv3d(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const conv_case *k = u;
    return cf_conv3d(c, x[0], x[1], k->bias ? x[2] : NULL, NULL);
}

CF_GRADCHECK(conv3d)
{
    conv_case b = {.bias = true}, nb = {0};
    cf_gc_check(
        g, "2x2x3 patches, bias", fn_conv3d, &b, 3,
        (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 4, 4, 6)), cf_gc_randn(g, S(3, 2, 2, 2, 3)), cf_gc_randn(g, S(3))});
    cf_gc_check(g, "1x2x2 patches, batch 1", fn_conv3d, &nb, 2,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 3, 2, 4, 2)), cf_gc_randn(g, S(2, 3, 1, 2, 2))});
    return cf_gc_check(g, "uncovered trailing pixels", fn_conv3d, &nb, 2,
                       (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 3, 5, 4)), cf_gc_randn(g, S(2, 2, 2, 2, 2))});
}

static cf_tensor *fn_convt(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const conv_case *k = u;
    cf_tensor *y = cf_conv_transpose2d(c, tv(c, x[0], k->tview), x[1], k->bias ? x[2] : NULL, &k->t);
    return k->twice ? cf_add(c, y, cf_conv_transpose2d(c, x[0], x[1], NULL, &k->t)) : y;
}

static cf_status convt_case(cf_gc *g, const char *label, conv_case k, int64_t N, int64_t C, int64_t H, int64_t W,
                            int64_t Cout, int64_t KH, int64_t KW)
{
    int64_t G = k.t.groups ? k.t.groups : 1;
    cf_tensor *x = k.tview ? cf_gc_randn(g, S(N, C, W, H)) : cf_gc_randn(g, S(N, C, H, W));
    cf_tensor *in[3] = {x, cf_gc_randn(g, S(C, Cout / G, KH, KW)), cf_gc_randn(g, S(Cout))};
    return cf_gc_check(g, label, fn_convt, &k, k.bias ? 3 : 2, in);
}

CF_GRADCHECK(conv_transpose2d)
{
    convt_case(g, "3x3, bias", (conv_case){.bias = true}, 2, 3, 3, 3, 2, 3, 3);
    convt_case(g, "stride 2, padding 1, output_padding 1",
               (conv_case){.t = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}}}, 1, 2, 3, 3, 2, 3, 3);
    convt_case(g, "stride (2,3), padding (0,1), output_padding (1,2), 2x3 kernel",
               (conv_case){.t = {.stride = {2, 3}, .padding = {0, 1}, .output_padding = {1, 2}}, .bias = true}, 2, 2, 2,
               3, 3, 2, 3);
    convt_case(g, "dilation 2, output_padding 1", (conv_case){.t = {.dilation = {2, 2}, .output_padding = {1, 0}}}, 1,
               2, 3, 3, 2, 2, 2);
    convt_case(g, "groups 2", (conv_case){.t = {.groups = 2, .stride = {2, 2}}, .bias = true}, 2, 4, 2, 3, 4, 2, 2);
    convt_case(g, "1x1 kernel", (conv_case){.bias = true}, 2, 3, 2, 3, 2, 1, 1);
    convt_case(g, "non-contiguous x", (conv_case){.tview = true, .t = {.stride = {2, 2}}}, 1, 2, 3, 2, 2, 2, 2);
    return convt_case(g, "used twice", (conv_case){.twice = true, .t = {.stride = {2, 1}}}, 2, 2, 2, 2, 2, 2, 2);
}

/* ---- pools ---- */

typedef struct pool_case {
    cf_pool2d_opts o;
    int64_t k1, s1, p1;
    bool include_pad, tview;
    int64_t oh, ow; /* adaptive pools and interpolate */
    bool align;
} pool_case;

static cf_tensor *fn_max1(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_max_pool1d(c, tv(c, x[0], k->tview), k->k1, k->s1, k->p1);
}

/* Values spread apart so no two in a window are within the finite-difference step of each other. */
static cf_tensor *spread(cf_gc *g, int ndim, const int64_t *shape)
{
    cf_tensor *t = cf_gc_randn(g, ndim, shape);
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, 0.01 * cf_get_flat(t, i) + 0.1 * (double)((i * 7919) % n));
    return t;
}

CF_GRADCHECK(max_pool1d)
{
    cf_gc_check(g, "k3 s2 p1", fn_max1, &(pool_case){.k1 = 3, .s1 = 2, .p1 = 1}, 1,
                (cf_tensor *[]){spread(g, S(2, 3, 8))});
    cf_gc_check(g, "k2, default stride", fn_max1, &(pool_case){.k1 = 2}, 1, (cf_tensor *[]){spread(g, S(2, 2, 7))});
    return cf_gc_check(g, "overlapping k3 s1, non-contiguous", fn_max1, &(pool_case){.k1 = 3, .s1 = 1, .tview = true},
                       1, (cf_tensor *[]){spread(g, S(1, 6, 2))});
}

static cf_tensor *fn_max2(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_max_pool2d(c, tv(c, x[0], k->tview), &k->o);
}

CF_GRADCHECK(max_pool2d)
{
    cf_gc_check(g, "2x2", fn_max2, &(pool_case){.o = {.kernel = {2, 2}}}, 1, (cf_tensor *[]){spread(g, S(2, 2, 4, 5))});
    cf_gc_check(g, "3x2 kernel, stride (1,2), padding (1,1)", fn_max2,
                &(pool_case){.o = {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1}}}, 1,
                (cf_tensor *[]){spread(g, S(1, 2, 4, 5))});
    return cf_gc_check(g, "3x3 s2 p1, non-contiguous", fn_max2,
                       &(pool_case){.o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, .tview = true}, 1,
                       (cf_tensor *[]){spread(g, S(2, 1, 5, 6))});
}

static cf_tensor *fn_avg1(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_avg_pool1d(c, tv(c, x[0], k->tview), k->k1, k->s1, k->p1, k->include_pad);
}

CF_GRADCHECK(avg_pool1d)
{
    cf_gc_check(g, "k3 s2 p1, padding counted", fn_avg1, &(pool_case){.k1 = 3, .s1 = 2, .p1 = 1, .include_pad = true},
                1, (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 7))});
    cf_gc_check(g, "k3 s2 p1, padding not counted", fn_avg1, &(pool_case){.k1 = 3, .s1 = 2, .p1 = 1}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 7))});
    return cf_gc_check(g, "k2, default stride, non-contiguous", fn_avg1, &(pool_case){.k1 = 2, .tview = true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, S(1, 5, 3))});
}

static cf_tensor *fn_avg2(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_avg_pool2d(c, tv(c, x[0], k->tview), &k->o);
}

CF_GRADCHECK(avg_pool2d)
{
    cf_gc_check(g, "2x2", fn_avg2, &(pool_case){.o = {.kernel = {2, 2}}}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 4, 5))});
    cf_gc_check(g, "3x3 s2 p1, padding counted", fn_avg2,
                &(pool_case){.o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 5, 6))});
    cf_gc_check(g, "3x2 s(1,2) p(1,1), padding not counted", fn_avg2,
                &(pool_case){.o = {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1}, .exclude_pad = true}}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 4, 5))});
    cf_gc_check(g, "6x6 s3 p3, padding not counted (long windows: a warp per output on CUDA)", fn_avg2,
                &(pool_case){.o = {.kernel = {6, 6}, .stride = {3, 3}, .padding = {3, 3}, .exclude_pad = true}}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 7, 8))});
    return cf_gc_check(g, "non-contiguous", fn_avg2,
                       &(pool_case){.o = {.kernel = {2, 3}, .stride = {1, 1}}, .tview = true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 5, 4))});
}

static cf_tensor *fn_aavg(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_adaptive_avg_pool2d(c, tv(c, x[0], k->tview), k->oh, k->ow);
}

CF_GRADCHECK(adaptive_avg_pool2d)
{
    cf_gc_check(g, "5x7 -> 3x4 (overlapping bins)", fn_aavg, &(pool_case){.oh = 3, .ow = 4}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 5, 7))});
    cf_gc_check(g, "4x4 -> 1x1 (global)", fn_aavg, &(pool_case){.oh = 1, .ow = 1}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 3, 4, 4))});
    cf_gc_check(g, "8x9 -> 1x1 (global, a warp per output on CUDA)", fn_aavg, &(pool_case){.oh = 1, .ow = 1}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 8, 9))});
    return cf_gc_check(g, "3x2 -> 4x5 (upsampling), non-contiguous", fn_aavg,
                       &(pool_case){.oh = 4, .ow = 5, .tview = true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 2, 3))});
}

static cf_tensor *fn_amax(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_adaptive_max_pool2d(c, tv(c, x[0], k->tview), k->oh, k->ow);
}

CF_GRADCHECK(adaptive_max_pool2d)
{
    cf_gc_check(g, "5x7 -> 3x4", fn_amax, &(pool_case){.oh = 3, .ow = 4}, 1, (cf_tensor *[]){spread(g, S(2, 2, 5, 7))});
    cf_gc_check(g, "4x6 -> 2x3", fn_amax, &(pool_case){.oh = 2, .ow = 3}, 1, (cf_tensor *[]){spread(g, S(1, 2, 4, 6))});
    cf_gc_check(g, "8x9 -> 2x1 (long bins: a warp per output on CUDA)", fn_amax, &(pool_case){.oh = 2, .ow = 1}, 1,
                (cf_tensor *[]){spread(g, S(1, 2, 8, 9))});
    return cf_gc_check(g, "2x3 -> 3x4, non-contiguous", fn_amax, &(pool_case){.oh = 3, .ow = 4, .tview = true}, 1,
                       (cf_tensor *[]){spread(g, S(1, 2, 3, 2))});
}

static cf_tensor *fn_interp(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const pool_case *k = u;
    return cf_interpolate_bilinear(c, tv(c, x[0], k->tview), k->oh, k->ow, k->align);
}

CF_GRADCHECK(interpolate_bilinear)
{
    cf_gc_check(g, "3x4 -> 5x7, align_corners", fn_interp, &(pool_case){.oh = 5, .ow = 7, .align = true}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 3, 4))});
    cf_gc_check(g, "3x4 -> 5x7", fn_interp, &(pool_case){.oh = 5, .ow = 7}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(2, 2, 3, 4))});
    cf_gc_check(g, "5x6 -> 3x4 (down)", fn_interp, &(pool_case){.oh = 3, .ow = 4}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 5, 6))});
    cf_gc_check(g, "5x6 -> 3x4 (down), align_corners", fn_interp, &(pool_case){.oh = 3, .ow = 4, .align = true}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 5, 6))});
    cf_gc_check(g, "-> 1x1, align_corners", fn_interp, &(pool_case){.oh = 1, .ow = 1, .align = true}, 1,
                (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 3, 3))});
    return cf_gc_check(g, "non-contiguous", fn_interp, &(pool_case){.oh = 4, .ow = 3, .tview = true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, S(1, 2, 3, 2))});
}
