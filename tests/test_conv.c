/* Forward values of the conv family against hand-computed cases and a naive reference, the batch-
 * parallel path against one sample at a time, and the error messages for bad shapes. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define S CF_SHAPE

static cf_tensor *from(cf_ctx *ctx, cf_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(ctx, dt, nd, shape);
    for (int64_t i = 0; t && i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

/* t has shape (nd, shape) and values close to want (relative to the largest of want). */
static bool close_to(const char *what, const cf_tensor *t, int nd, const int64_t *shape, const double *want, double tol)
{
    if (!t) {
        printf("  %s: NULL (%s)\n", what, cf_last_error());
        return false;
    }
    bool ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char b[128];
        printf("  %s: shape %s\n", what, cf_shape_str(t, b, sizeof b));
        return false;
    }
    int64_t n = cf_numel(t);
    double scale = 1;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        if (!(fabs(v - want[i]) <= tol * scale)) {
            printf("  %s: element %lld is %.9g, want %.9g\n", what, (long long)i, v, want[i]);
            return false;
        }
    }
    return true;
}

static bool has_shape(const cf_tensor *t, int nd, const int64_t *shape)
{
    if (!t || t->ndim != nd) return false;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

static bool error_has(const char *a, const char *b)
{
    const char *m = cf_last_error();
    bool ok = strstr(m, a) && (!b || strstr(m, b));
    if (!ok) printf("  message: \"%s\"\n", m);
    return ok;
}

/* ---- hand-computed cases ---- */

static void test_conv2d_hand(cf_ctx *ctx)
{
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        cf_tensor *x = from(ctx, dt, S(1, 1, 3, 3), (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
        cf_tensor *w = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 0, 0, -1});
        cf_tensor *b = from(ctx, dt, S(1), (double[]){0.5});
        cf_tensor *y = cf_conv2d(ctx, x, w, b, NULL);
        CHECK(close_to("conv2d 3x3 * 2x2 diagonal difference", y, S(1, 1, 2, 2), (double[]){-3.5, -3.5, -3.5, -3.5},
                       1e-6),
              "conv2d x - x[+1,+1] + 0.5 (%s)", cf_dtype_name(dt));

        x = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 2, 3, 4});
        w = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 2, 3, 4});
        y = cf_conv2d(ctx, x, w, NULL, &(cf_conv2d_opts){.padding = {1, 1}});
        CHECK(close_to("conv2d padding 1", y, S(1, 1, 3, 3), (double[]){4, 11, 6, 14, 30, 14, 6, 11, 4}, 1e-6),
              "conv2d with padding 1 is the full correlation (%s)", cf_dtype_name(dt));

        /* two input channels, two groups of one: each output sees only its own channel */
        x = from(ctx, dt, S(1, 2, 1, 3), (double[]){1, 2, 3, 10, 20, 30});
        w = from(ctx, dt, S(2, 1, 1, 2), (double[]){1, 1, 1, -1});
        y = cf_conv2d(ctx, x, w, NULL, &(cf_conv2d_opts){.groups = 2});
        CHECK(close_to("conv2d depthwise", y, S(1, 2, 1, 2), (double[]){3, 5, -10, -10}, 1e-6), "depthwise by hand");

        /* stride 2 and dilation 2 on a ramp */
        x = from(ctx, dt, S(1, 1, 1, 7), (double[]){0, 1, 2, 3, 4, 5, 6});
        w = from(ctx, dt, S(1, 1, 2), (double[]){1, 10});
        y = cf_conv1d(ctx, cf_reshape(ctx, x, S(1, 1, 7)), w, NULL, 2, 0, 2, 1);
        CHECK(close_to("conv1d s2 d2", y, S(1, 1, 3), (double[]){20, 42, 64}, 1e-6), "conv1d x[2i] + 10 x[2i+2]");

        /* transposed: stride 2 spreads each pixel into a 2x2 block; stride 1 overlaps them */
        x = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 2, 3, 4});
        w = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 1, 1, 1});
        y = cf_conv_transpose2d(ctx, x, w, NULL, &(cf_conv_transpose2d_opts){.stride = {2, 2}});
        CHECK(close_to("conv_transpose2d s2", y, S(1, 1, 4, 4),
                       (double[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 1e-6),
              "conv_transpose2d stride 2 blocks");
        y = cf_conv_transpose2d(ctx, x, w, from(ctx, dt, S(1), (double[]){1}), NULL);
        CHECK(close_to("conv_transpose2d s1", y, S(1, 1, 3, 3), (double[]){2, 4, 3, 5, 11, 7, 4, 8, 5}, 1e-6),
              "conv_transpose2d stride 1 with bias");

        /* conv3d patches: the sum of each 1x2x2 patch */
        double xv[16];
        for (int i = 0; i < 16; i++) xv[i] = i;
        x = from(ctx, dt, S(1, 1, 1, 4, 4), xv);
        w = from(ctx, dt, S(1, 1, 1, 2, 2), (double[]){1, 1, 1, 1});
        y = cf_conv3d(ctx, x, w, NULL, (int64_t[]){1, 2, 2});
        CHECK(close_to("conv3d patch sums", y, S(1, 1, 1, 2, 2), (double[]){10, 18, 42, 50}, 1e-6), "conv3d patches");
    }
}

static void test_output_sizes(cf_ctx *ctx)
{
    cf_tensor *x = cf_zeros(ctx, CF_F32, S(2, 3, 10, 9)), *w = cf_zeros(ctx, CF_F32, S(4, 3, 3, 2));
    cf_tensor *y =
        cf_conv2d(ctx, x, w, NULL, &(cf_conv2d_opts){.stride = {2, 3}, .padding = {1, 2}, .dilation = {2, 1}});
    CHECK(has_shape(y, S(2, 4, 4, 4)), "conv2d stride (2,3) padding (1,2) dilation (2,1): 10x9 -> 4x4");
    y = cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(6, 1, 3, 3)), NULL,
                  &(cf_conv2d_opts){.groups = 3, .padding = {1, 1}});
    CHECK(has_shape(y, S(2, 6, 10, 9)), "depthwise 'same' conv keeps the size");
    y = cf_conv1d(ctx, cf_zeros(ctx, CF_F32, S(1, 2, 11)), cf_zeros(ctx, CF_F32, S(5, 2, 3)), NULL, 2, 1, 2, 1);
    CHECK(has_shape(y, S(1, 5, 5)), "conv1d L 11, k 3, s 2, p 1, d 2 -> 5");
    y = cf_conv_transpose2d(ctx, cf_zeros(ctx, CF_F32, S(1, 4, 3, 5)), cf_zeros(ctx, CF_F32, S(4, 2, 3, 3)), NULL,
                            &(cf_conv_transpose2d_opts){.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 0}});
    CHECK(has_shape(y, S(1, 2, 6, 9)), "conv_transpose2d 3x5, k3 s2 p1 op(1,0) -> 6x9");
    y = cf_conv_transpose2d(ctx, cf_zeros(ctx, CF_F32, S(1, 4, 3, 3)), cf_zeros(ctx, CF_F32, S(4, 3, 2, 2)), NULL,
                            &(cf_conv_transpose2d_opts){.groups = 2, .dilation = {3, 3}});
    CHECK(has_shape(y, S(1, 6, 6, 6)), "conv_transpose2d groups 2 dilation 3: 3x3 -> 6x6, 6 channels");
    y = cf_conv3d(ctx, cf_zeros(ctx, CF_F32, S(1, 3, 9, 16, 17)), cf_zeros(ctx, CF_F32, S(8, 3, 2, 4, 4)), NULL, NULL);
    CHECK(has_shape(y, S(1, 8, 4, 4, 4)), "conv3d 9x16x17 / 2x4x4 -> 4x4x4 (floored)");
    y = cf_max_pool2d(ctx, x, &(cf_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    CHECK(has_shape(y, S(2, 3, 5, 5)), "max_pool2d k3 s2 p1: 10x9 -> 5x5");
    y = cf_avg_pool1d(ctx, cf_zeros(ctx, CF_F32, S(1, 1, 10)), 4, 0, 0, true);
    CHECK(has_shape(y, S(1, 1, 2)), "avg_pool1d k4 default stride: 10 -> 2");
}

static void test_pools(cf_ctx *ctx)
{
    cf_tensor *x = from(ctx, CF_F64, S(1, 1, 4, 4), (double[]){1, 5, 2, 0, 3, 4, 8, 1, 0, 9, 6, 7, 2, 1, 3, 5});
    cf_requires_grad_(x, true);
    cf_tensor *idx = NULL;
    cf_tensor *y = cf_max_pool2d_with_indices(ctx, x, &(cf_pool2d_opts){.kernel = {2, 2}}, &idx);
    CHECK(close_to("max_pool2d 2x2", y, S(1, 1, 2, 2), (double[]){5, 8, 9, 7}, 0), "max_pool2d values");
    CHECK(idx && idx->dtype == CF_I64 && close_to("max_pool2d indices", idx, S(1, 1, 2, 2), (double[]){1, 6, 9, 11}, 0),
          "max_pool2d indices are flat offsets in the plane");
    cf_backward(ctx, y, cf_full(ctx, CF_F64, S(1, 1, 2, 2), 1.0));
    CHECK(close_to("max_pool2d grad", x->grad, S(1, 1, 4, 4),
                   (double[]){0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0}, 0),
          "max_pool2d gradient goes to the argmax");

    y = cf_max_pool2d_with_indices(ctx, x, &(cf_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
                                   &idx);
    CHECK(close_to("max_pool2d k3 s2 p1", y, S(1, 1, 2, 2), (double[]){5, 8, 9, 9}, 0) &&
              close_to("its indices", idx, S(1, 1, 2, 2), (double[]){1, 6, 9, 9}, 0),
          "max_pool2d with padding");

    cf_tensor *r = from(ctx, CF_F32, S(1, 1, 5), (double[]){3, 1, 4, 1, 5});
    y = cf_max_pool1d_with_indices(ctx, r, 2, 1, 0, &idx);
    CHECK(close_to("max_pool1d", y, S(1, 1, 4), (double[]){3, 4, 4, 5}, 0) &&
              close_to("max_pool1d indices", idx, S(1, 1, 4), (double[]){0, 2, 2, 4}, 0),
          "max_pool1d k2 s1");
    y = cf_max_pool1d_with_indices(ctx, from(ctx, CF_F32, S(1, 1, 3), (double[]){2, 2, 1}), 2, 1, 0, &idx);
    CHECK(close_to("max_pool1d ties", idx, S(1, 1, 2), (double[]){0, 1}, 0), "ties go to the first maximum");

    cf_tensor *ramp = from(ctx, CF_F64, S(1, 1, 4), (double[]){1, 2, 3, 4});
    y = cf_avg_pool1d(ctx, ramp, 3, 1, 1, true);
    CHECK(close_to("avg_pool1d count_include_pad", y, S(1, 1, 4), (double[]){1, 2, 3, 7.0 / 3}, 1e-12),
          "avg_pool1d divides by the kernel size with padding counted");
    y = cf_avg_pool1d(ctx, ramp, 3, 1, 1, false);
    CHECK(close_to("avg_pool1d exclude pad", y, S(1, 1, 4), (double[]){1.5, 2, 3, 3.5}, 1e-12),
          "avg_pool1d divides by the in-bounds count");
    y = cf_avg_pool2d(ctx, x, &(cf_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    CHECK(close_to("avg_pool2d p1", y, S(1, 1, 2, 2), (double[]){13.0 / 9, 20.0 / 9, 19.0 / 9, 44.0 / 9}, 1e-12),
          "avg_pool2d k3 s2 p1 counts padding");
    y = cf_avg_pool2d(ctx, x,
                      &(cf_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .exclude_pad = true});
    CHECK(
        close_to("avg_pool2d p1 exclude", y, S(1, 1, 2, 2), (double[]){13.0 / 4, 20.0 / 6, 19.0 / 6, 44.0 / 9}, 1e-12),
        "avg_pool2d k3 s2 p1 without padding in the divisor");

    /* adaptive bins over 5 -> 3: [0,2), [1,4), [3,5) */
    cf_tensor *five = from(ctx, CF_F64, S(1, 1, 1, 5), (double[]){1, 2, 3, 4, 5});
    y = cf_adaptive_avg_pool2d(ctx, five, 1, 3);
    CHECK(close_to("adaptive_avg_pool2d 5 -> 3", y, S(1, 1, 1, 3), (double[]){1.5, 3, 4.5}, 1e-12),
          "adaptive avg bins floor(i*5/3) .. ceil((i+1)*5/3)");
    y = cf_adaptive_max_pool2d_with_indices(ctx, from(ctx, CF_F64, S(1, 1, 1, 5), (double[]){5, 1, 4, 2, 3}), 1, 3,
                                            &idx);
    CHECK(close_to("adaptive_max_pool2d 5 -> 3", y, S(1, 1, 1, 3), (double[]){5, 4, 3}, 0) &&
              close_to("adaptive max indices", idx, S(1, 1, 1, 3), (double[]){0, 2, 4}, 0),
          "adaptive max bins and indices");
    /* 2-D: 3x2 -> 2x2 has row bins [0,2), [1,3) and column bins {0}, {1} */
    y = cf_adaptive_avg_pool2d(ctx, from(ctx, CF_F64, S(1, 1, 3, 2), (double[]){1, 2, 3, 4, 5, 6}), 2, 2);
    CHECK(close_to("adaptive_avg_pool2d 3x2 -> 2x2", y, S(1, 1, 2, 2), (double[]){2, 3, 4, 5}, 1e-12),
          "2-D adaptive bins");
    y = cf_adaptive_avg_pool2d(ctx, x, 1, 1);
    CHECK(close_to("global average", y, S(1, 1, 1, 1), (double[]){57.0 / 16}, 1e-12), "adaptive 1x1 is the mean");
}

static void test_bilinear(cf_ctx *ctx)
{
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        cf_tensor *x = from(ctx, dt, S(1, 1, 2, 2), (double[]){1, 2, 3, 4});
        double want3[] = {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4};
        /* 2 -> 3 lands on the same points either way: align_corners samples 0, 0.5, 1; the area rule
         * samples -1/6 (clamped to 0), 0.5 and 7/6 (past the last pixel, so the last pixel) */
        CHECK(close_to("bilinear 2x2 -> 3x3 align_corners", cf_interpolate_bilinear(ctx, x, 3, 3, true), S(1, 1, 3, 3),
                       want3, 1e-6),
              "bilinear align_corners=True (%s)", cf_dtype_name(dt));
        CHECK(close_to("bilinear 2x2 -> 3x3", cf_interpolate_bilinear(ctx, x, 3, 3, false), S(1, 1, 3, 3), want3, 1e-6),
              "bilinear align_corners=False (%s)", cf_dtype_name(dt));
        /* 2 -> 4 tells them apart: sources 0, 1/3, 2/3, 1 versus 0 (clamped), 0.25, 0.75, 1 (clamped) */
        cf_tensor *row = from(ctx, dt, S(1, 1, 1, 2), (double[]){1, 2});
        CHECK(close_to("bilinear 1x2 -> 1x4 align_corners", cf_interpolate_bilinear(ctx, row, 1, 4, true),
                       S(1, 1, 1, 4), (double[]){1, 4.0 / 3, 5.0 / 3, 2}, 1e-6),
              "bilinear upsample align_corners=True");
        CHECK(close_to("bilinear 1x2 -> 1x4", cf_interpolate_bilinear(ctx, row, 1, 4, false), S(1, 1, 1, 4),
                       (double[]){1, 1.25, 1.75, 2}, 1e-6),
              "bilinear upsample align_corners=False");
        /* downsampling a ramp reads the source coordinate itself */
        cf_tensor *ramp = from(ctx, dt, S(1, 1, 1, 4), (double[]){0, 1, 2, 3});
        CHECK(close_to("bilinear 4 -> 3", cf_interpolate_bilinear(ctx, ramp, 1, 3, false), S(1, 1, 1, 3),
                       (double[]){1.0 / 6, 1.5, 17.0 / 6}, 1e-6),
              "bilinear downsample align_corners=False");
        CHECK(close_to("bilinear 4 -> 3 align_corners", cf_interpolate_bilinear(ctx, ramp, 1, 3, true), S(1, 1, 1, 3),
                       (double[]){0, 1.5, 3}, 1e-6),
              "bilinear downsample align_corners=True");
    }
}

/* ---- against a naive reference ---- */

typedef struct ref_conv {
    int64_t N, C, H, W, OC, KH, KW, s[2], p[2], d[2], op[2], G;
    bool transpose;
} ref_conv;

/* y = conv2d(x, w) + b directly from the definition (or its transpose, as a scatter). */
static void naive(const ref_conv *r, const double *x, const double *w, const double *b, double *y, int64_t OH,
                  int64_t OW)
{
    int64_t ICg = r->C / r->G, OCg = r->OC / r->G;
    for (int64_t i = 0; i < r->N * r->OC * OH * OW; i++) y[i] = b ? b[(i / (OH * OW)) % r->OC] : 0;
    for (int64_t n = 0; n < r->N; n++)
        for (int64_t g = 0; g < r->G; g++)
            for (int64_t oc = 0; oc < OCg; oc++)
                for (int64_t ic = 0; ic < ICg; ic++)
                    for (int64_t kh = 0; kh < r->KH; kh++)
                        for (int64_t kw = 0; kw < r->KW; kw++) {
                            int64_t co = g * OCg + oc, ci = g * ICg + ic;
                            if (!r->transpose) {
                                double wv = w[((co * ICg + ic) * r->KH + kh) * r->KW + kw];
                                for (int64_t oh = 0; oh < OH; oh++)
                                    for (int64_t ow = 0; ow < OW; ow++) {
                                        int64_t ih = oh * r->s[0] - r->p[0] + kh * r->d[0];
                                        int64_t iw = ow * r->s[1] - r->p[1] + kw * r->d[1];
                                        if (ih < 0 || ih >= r->H || iw < 0 || iw >= r->W) continue;
                                        y[((n * r->OC + co) * OH + oh) * OW + ow] +=
                                            wv * x[((n * r->C + ci) * r->H + ih) * r->W + iw];
                                    }
                            } else {
                                double wv = w[((ci * OCg + oc) * r->KH + kh) * r->KW + kw];
                                for (int64_t ih = 0; ih < r->H; ih++)
                                    for (int64_t iw = 0; iw < r->W; iw++) {
                                        int64_t oh = ih * r->s[0] - r->p[0] + kh * r->d[0];
                                        int64_t ow = iw * r->s[1] - r->p[1] + kw * r->d[1];
                                        if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                        y[((n * r->OC + co) * OH + oh) * OW + ow] +=
                                            wv * x[((n * r->C + ci) * r->H + ih) * r->W + iw];
                                    }
                            }
                        }
}

static void compare_naive(cf_ctx *ctx, const char *label, ref_conv r, bool bias)
{
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        int64_t ICg = r.C / r.G, OCg = r.OC / r.G;
        cf_tensor *x = cf_randn(ctx, dt, S(r.N, r.C, r.H, r.W), 7, 1);
        cf_tensor *w = r.transpose ? cf_randn(ctx, dt, S(r.C, OCg, r.KH, r.KW), 7, 2)
                                   : cf_randn(ctx, dt, S(r.OC, ICg, r.KH, r.KW), 7, 2);
        cf_tensor *b = bias ? cf_randn(ctx, dt, S(r.OC), 7, 3) : NULL, *y;
        if (r.transpose)
            y = cf_conv_transpose2d(ctx, x, w, b,
                                    &(cf_conv_transpose2d_opts){.stride = {r.s[0], r.s[1]},
                                                                .padding = {r.p[0], r.p[1]},
                                                                .dilation = {r.d[0], r.d[1]},
                                                                .output_padding = {r.op[0], r.op[1]},
                                                                .groups = r.G});
        else
            y = cf_conv2d(ctx, x, w, b,
                          &(cf_conv2d_opts){.stride = {r.s[0], r.s[1]},
                                            .padding = {r.p[0], r.p[1]},
                                            .dilation = {r.d[0], r.d[1]},
                                            .groups = r.G});
        if (!y) {
            CHECK(false, "%s: %s", label, cf_last_error());
            return;
        }
        int64_t OH = y->shape[2], OW = y->shape[3];
        double *xv = malloc(sizeof(double) * (size_t)cf_numel(x)), *wv = malloc(sizeof(double) * (size_t)cf_numel(w));
        double *bv = malloc(sizeof(double) * (size_t)r.OC), *want = malloc(sizeof(double) * (size_t)cf_numel(y));
        cf_to_f64_array(x, xv);
        cf_to_f64_array(w, wv);
        if (b) cf_to_f64_array(b, bv);
        naive(&r, xv, wv, b ? bv : NULL, want, OH, OW);
        CHECK(close_to(label, y, S(r.N, r.OC, OH, OW), want, d ? 1e-12 : 1e-5), "%s matches the naive loop (%s)", label,
              cf_dtype_name(dt));
        free(xv), free(wv), free(bv), free(want);
    }
}

static void test_against_naive(cf_ctx *ctx)
{
    compare_naive(ctx, "conv2d 3x3", (ref_conv){2, 3, 7, 6, 4, 3, 3, {1, 1}, {0, 0}, {1, 1}, {0, 0}, 1, false}, true);
    compare_naive(ctx, "conv2d s(2,1) p(1,2) d(1,2)",
                  (ref_conv){2, 3, 8, 9, 5, 3, 2, {2, 1}, {1, 2}, {1, 2}, {0, 0}, 1, false}, false);
    compare_naive(ctx, "conv2d groups 3", (ref_conv){3, 6, 6, 6, 9, 2, 3, {1, 2}, {1, 1}, {2, 1}, {0, 0}, 3, false},
                  true);
    compare_naive(ctx, "conv2d depthwise", (ref_conv){2, 4, 9, 8, 8, 3, 3, {2, 2}, {1, 1}, {1, 1}, {0, 0}, 4, false},
                  true);
    compare_naive(ctx, "conv2d 1x1", (ref_conv){3, 5, 4, 4, 2, 1, 1, {1, 1}, {0, 0}, {1, 1}, {0, 0}, 1, false}, true);
    compare_naive(ctx, "conv_transpose2d s2 p1 op1",
                  (ref_conv){2, 3, 4, 5, 2, 3, 3, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, true}, true);
    compare_naive(ctx, "conv_transpose2d groups 2 d2",
                  (ref_conv){2, 4, 3, 3, 6, 2, 3, {1, 2}, {0, 1}, {2, 1}, {0, 1}, 2, true}, false);
    compare_naive(ctx, "conv_transpose2d 1x1", (ref_conv){2, 3, 3, 4, 2, 1, 1, {1, 1}, {0, 0}, {1, 1}, {0, 0}, 1, true},
                  true);
}

/* ---- the batch-parallel path equals one sample at a time ---- */

static double max_diff(const cf_tensor *a, const cf_tensor *b, int64_t off)
{
    double m = 0;
    for (int64_t i = 0; i < cf_numel(b); i++) m = fmax(m, fabs(cf_get_flat(a, off + i) - cf_get_flat(b, i)));
    return m;
}

static void batch_vs_single(cf_ctx *ctx, const char *label, bool transpose, int64_t groups, cf_dtype dt)
{
    int64_t N = 4, C = 8, H = 12, W = 11, OC = 16;
    cf_tensor *x = cf_randn(ctx, dt, S(N, C, H, W), 11, 1);
    cf_tensor *w = transpose ? cf_randn(ctx, dt, S(C, OC / groups, 3, 3), 11, 2)
                             : cf_randn(ctx, dt, S(OC, C / groups, 3, 3), 11, 2);
    cf_tensor *b = cf_randn(ctx, dt, S(OC), 11, 3);
    cf_requires_grad_(x, true), cf_requires_grad_(w, true), cf_requires_grad_(b, true);
    cf_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 1}, .groups = groups};
    cf_conv_transpose2d_opts t = {.stride = {2, 1}, .padding = {1, 1}, .groups = groups};
    cf_tensor *y = transpose ? cf_conv_transpose2d(ctx, x, w, b, &t) : cf_conv2d(ctx, x, w, b, &o);
    if (!y) {
        CHECK(false, "%s: %s", label, cf_last_error());
        return;
    }
    cf_tensor *seed = cf_randn(ctx, dt, y->ndim, y->shape, 11, 4);
    cf_backward(ctx, y, seed);
    cf_tensor *gx = x->grad, *gw = w->grad, *gb = b->grad;

    /* the same, sample by sample, each its own leaf; w and b accumulate over the N calls */
    w->grad = b->grad = NULL;
    y->grad = NULL; /* so the second backward, which walks the whole tape, skips the first graph */
    double dy = 0, dx = 0;
    cf_tensor *xs[4], *ys[4];
    for (int64_t n = 0; n < N; n++) {
        xs[n] = cf_contiguous(ctx, cf_narrow(ctx, cf_detach(ctx, x), 0, n, 1));
        cf_requires_grad_(xs[n], true);
        ys[n] = transpose ? cf_conv_transpose2d(ctx, xs[n], w, b, &t) : cf_conv2d(ctx, xs[n], w, b, &o);
    }
    cf_tensor *yc = cf_concat(ctx, (int)N, ys, 0);
    cf_backward(ctx, yc, seed);
    int64_t per = cf_numel(ys[0]), perx = cf_numel(xs[0]);
    for (int64_t n = 0; n < N; n++) {
        dy = fmax(dy, max_diff(y, ys[n], n * per));
        dx = fmax(dx, max_diff(gx, xs[n]->grad, n * perx));
    }
    double tol = dt == CF_F32 ? 1e-4 : 1e-11;
    CHECK(dy < tol && dx < tol && max_diff(gw, w->grad, 0) < tol * 10 && max_diff(gb, b->grad, 0) < tol * 10,
          "%s (%s): batch of 4 vs one at a time: y %.3g, dx %.3g, dw %.3g, db %.3g", label, cf_dtype_name(dt), dy, dx,
          max_diff(gw, w->grad, 0), max_diff(gb, b->grad, 0));
}

/* ---- the weight gradient does not depend on the thread count ---- */

/* dW sums 11 samples: with 1, 2 and 3 threads (and chunking that must not follow them) it is the same bits. */
static void weight_grad_threads(cf_ctx *ctx, bool transpose)
{
    int64_t N = 11, C = 8, H = 24, W = 24, OC = 16;
    int threads = cf_get_threads(ctx);
    float ref[16 * 8 * 9];
    for (int t = 1; t <= 3; t++) {
        cf_step_reset(ctx);
        cf_set_threads(ctx, t);
        cf_tensor *x = cf_randn(ctx, CF_F32, S(N, C, H, W), 17, 1);
        cf_tensor *w = transpose ? cf_randn(ctx, CF_F32, S(C, OC, 3, 3), 17, 2) : cf_randn(ctx, CF_F32, S(OC, C, 3, 3), 17, 2);
        cf_requires_grad_(w, true);
        cf_conv2d_opts o = {.stride = {1, 1}, .padding = {1, 1}, .groups = 1};
        cf_conv_transpose2d_opts to = {.stride = {1, 1}, .padding = {1, 1}, .groups = 1};
        cf_tensor *y = transpose ? cf_conv_transpose2d(ctx, x, w, NULL, &to) : cf_conv2d(ctx, x, w, NULL, &o);
        if (!y) {
            CHECK(false, "weight_grad_threads: %s", cf_last_error());
            break;
        }
        cf_backward(ctx, y, cf_randn(ctx, CF_F32, y->ndim, y->shape, 17, 3));
        const float *g = cf_data(cf_contiguous(ctx, w->grad));
        if (t == 1) memcpy(ref, g, sizeof ref);
        else
            CHECK(memcmp(ref, g, sizeof ref) == 0, "%s weight gradient with %d threads differs from 1 thread's",
                  transpose ? "conv_transpose2d" : "conv2d", t);
    }
    cf_set_threads(ctx, threads);
}

/* ---- scratch is handed back ---- */

/* Column buffers (here 295 KB a thread) and strided-input copies must not stay in the step arena:
 * only the output, and in backward the gradients, may remain. */
static void test_arena(cf_ctx *ctx)
{
    cf_step_reset(ctx);
    cf_tensor *x = cf_transpose(ctx, cf_randn(ctx, CF_F32, S(2, 8, 32, 32), 5, 1), 2, 3);
    cf_tensor *w = cf_randn(ctx, CF_F32, S(8, 8, 3, 3), 5, 2);
    cf_requires_grad_(w, true);
    cf_tensor *seed = cf_randn(ctx, CF_F32, S(2, 8, 32, 32), 5, 3);
    size_t before = cf_ctx_arena_used(ctx);
    cf_tensor *y = cf_conv2d(ctx, x, w, NULL, &(cf_conv2d_opts){.padding = {1, 1}});
    size_t fwd = cf_ctx_arena_used(ctx) - before; /* the 64 KB output and its node */
    CHECK(y && fwd < 100000, "conv2d forward keeps %zu arena bytes (want the 65536-byte output and little more)", fwd);
    before = cf_ctx_arena_used(ctx);
    cf_backward(ctx, y, seed);
    size_t bwd = cf_ctx_arena_used(ctx) - before; /* the output's 64 KB gradient and w's 2.3 KB */
    CHECK(w->grad && bwd < 100000, "conv2d backward keeps %zu arena bytes (want about 68000)", bwd);
    cf_step_reset(ctx);
}

/* ---- errors ---- */

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_zeros(ctx, CF_F32, S(1, 3, 5, 5));
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(4, 1, 3, 3)), NULL, &(cf_conv2d_opts){.groups = 2}) &&
              cf_last_status() == CF_ERR_SHAPE &&
              error_has("conv2d", "input channels 3 of x [1, 3, 5, 5] f32 are not divisible by groups 2"),
          "channels not divisible by groups");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(4, 2, 3, 3)), NULL, NULL) &&
              error_has("conv2d: weight [4, 2, 3, 3] f32 wants 2 input channels", "x [1, 3, 5, 5] f32 has 3"),
          "weight channels do not match");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 3, 6, 3)), NULL, NULL) &&
              error_has("conv2d: kernel 6x3 (dilated 6x3) is larger than the padded input 5x5", "[1, 3, 5, 5]"),
          "kernel larger than the input");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 3, 3, 3)), NULL, &(cf_conv2d_opts){.dilation = {3, 1}}) &&
              error_has("kernel 3x3 (dilated 7x3) is larger than the padded input 5x5", NULL),
          "dilated kernel larger than the input");
    CHECK(cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 3, 3, 3)), NULL,
                    &(cf_conv2d_opts){.dilation = {3, 1}, .padding = {1, 0}}),
          "padding makes the dilated kernel fit");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 3, 3, 3)), cf_zeros(ctx, CF_F32, S(4)), NULL) &&
              error_has("conv2d: bias [4] f32 does not match 3 output channels", NULL),
          "bias size");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F64, S(3, 3, 3, 3)), NULL, NULL) && cf_last_status() == CF_ERR_DTYPE &&
              error_has("conv2d: dtypes differ", NULL),
          "dtype mismatch");
    CHECK(!cf_conv2d(ctx, cf_zeros(ctx, CF_F32, S(3, 5, 5)), cf_zeros(ctx, CF_F32, S(3, 3, 3, 3)), NULL, NULL) &&
              error_has("conv2d: expected 4 dims, got [3, 5, 5] f32", NULL),
          "conv2d wants 4-D input");
    CHECK(!cf_conv2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 3, 3, 3)), NULL, &(cf_conv2d_opts){.padding = {-1, 0}}) &&
              cf_last_status() == CF_ERR_ARG && error_has("conv2d", "padding -1"),
          "negative padding");
    CHECK(!cf_conv1d(ctx, cf_zeros(ctx, CF_F32, S(1, 2, 4)), cf_zeros(ctx, CF_F32, S(2, 2, 7)), NULL, 1, 1, 1, 1) &&
              error_has("conv1d: kernel 7 (dilated 7) is larger than the padded input 6", NULL),
          "conv1d kernel too large");
    CHECK(!cf_conv1d(ctx, cf_zeros(ctx, CF_F32, S(1, 2, 4)), cf_zeros(ctx, CF_F32, S(3, 1, 1)), NULL, 1, 0, 1, 2) &&
              error_has("conv1d: output channels 3 of weight [3, 1, 1] f32 are not divisible by groups 2", NULL),
          "conv1d output channels vs groups");
    CHECK(!cf_conv_transpose2d(ctx, x, cf_zeros(ctx, CF_F32, S(3, 2, 3, 3)), NULL,
                               &(cf_conv_transpose2d_opts){.stride = {2, 2}, .output_padding = {2, 0}}) &&
              error_has("conv_transpose2d: output_padding 2 must be smaller than stride 2 or dilation 1", NULL),
          "output_padding too large");
    CHECK(
        !cf_conv_transpose2d(ctx, x, cf_zeros(ctx, CF_F32, S(4, 2, 3, 3)), NULL, NULL) &&
            error_has("conv_transpose2d: weight [4, 2, 3, 3] f32", "wants 4 input channels, x [1, 3, 5, 5] f32 has 3"),
        "conv_transpose2d weight layout");
    CHECK(!cf_conv3d(ctx, cf_zeros(ctx, CF_F32, S(1, 3, 4, 8, 8)), cf_zeros(ctx, CF_F32, S(2, 3, 2, 4, 4)), NULL,
                     (int64_t[]){1, 4, 4}) &&
              cf_last_status() == CF_ERR_UNSUPPORTED && error_has("conv3d", "must equal the kernel size"),
          "conv3d with overlapping windows");
    CHECK(
        !cf_conv3d(ctx, cf_zeros(ctx, CF_F32, S(1, 3, 1, 8, 8)), cf_zeros(ctx, CF_F32, S(2, 3, 2, 4, 4)), NULL, NULL) &&
            error_has("conv3d: kernel of weight [2, 3, 2, 4, 4] f32 is larger than the input x [1, 3, 1, 8, 8] f32",
                      NULL),
        "conv3d kernel larger than the input");
    CHECK(!cf_max_pool2d(ctx, x, &(cf_pool2d_opts){.kernel = {3, 3}, .padding = {2, 2}}) &&
              error_has("max_pool2d: padding 2x2 must be at most half the kernel 3x3", NULL),
          "pool padding more than half the kernel");
    CHECK(!cf_max_pool2d(ctx, x, &(cf_pool2d_opts){.kernel = {6, 2}}) &&
              error_has("max_pool2d: kernel 6x2 is larger than the padded input 5x5", "[1, 3, 5, 5]"),
          "pool kernel larger than the input");
    CHECK(!cf_avg_pool1d(ctx, cf_zeros(ctx, CF_F32, S(1, 1, 3)), 0, 1, 0, true) &&
              error_has("avg_pool1d: kernel 0", NULL),
          "pool kernel 0");
    CHECK(!cf_max_pool2d(ctx, x, NULL) && error_has("max_pool2d", "kernel size are required"), "pool opts required");
    CHECK(!cf_adaptive_avg_pool2d(ctx, x, 0, 2) &&
              error_has("adaptive_avg_pool2d: output size 0x2 must be positive", NULL),
          "adaptive output size");
    CHECK(!cf_interpolate_bilinear(ctx, cf_zeros(ctx, CF_F32, S(3, 5, 5)), 2, 2, false) &&
              error_has("interpolate_bilinear: expected 4 dims, got [3, 5, 5] f32", NULL),
          "interpolate wants 4-D input");
    CHECK(!cf_max_pool2d(ctx, cf_zeros(ctx, CF_I64, S(1, 1, 2, 2)), &(cf_pool2d_opts){.kernel = {2, 2}}) &&
              cf_last_status() == CF_ERR_DTYPE,
          "pools want floats");
    cf_clear_error();
    CHECK(!cf_conv2d(ctx, NULL, x, NULL, NULL) && cf_last_status() != CF_OK, "a NULL input propagates");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("no context: %s\n", cf_last_error());
        return 1;
    }
    test_conv2d_hand(ctx);
    test_output_sizes(ctx);
    test_pools(ctx);
    test_bilinear(ctx);
    test_against_naive(ctx);
    cf_step_reset(ctx);
    int threads = cf_get_threads(ctx);
    cf_set_threads(ctx, 2); /* so the batch is split across threads even on one core */
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        batch_vs_single(ctx, "conv2d", false, 1, dt);
        batch_vs_single(ctx, "conv2d groups 2", false, 2, dt);
        batch_vs_single(ctx, "conv2d depthwise", false, 8, dt);
        batch_vs_single(ctx, "conv_transpose2d", true, 1, dt);
        cf_step_reset(ctx);
    }
    cf_set_threads(ctx, threads);
    weight_grad_threads(ctx, false);
    weight_grad_threads(ctx, true);
    test_arena(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
