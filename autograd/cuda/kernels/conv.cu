// CUDA kernels of conv1d, conv2d, conv3d and conv_transpose2d (autograd/ops/conv.def): im2col / col2im
// kernels around the backend's GEMM (autograd/cuda/blas.h), over the geometry of autograd/ops/conv_geom.h
// (which spells out each op's products), with the CPU's semantics (autograd/cpu/conv.c): groups, stride,
// padding, dilation; conv_transpose2d as conv's adjoint.
//
// Samples go in chunks whose column buffer [chunk, IC*KK, L] (KK = KT*KH*KW) stays under COLS_MAX elements;
// within a chunk each group is one strided-batched GEMM over the chunk's samples (the weight broadcast).
// col2im gathers: one thread per image element sums the columns that read it, in a fixed order, so no
// atomics; the weight gradient sums samples with one GEMM each, accumulating in sample order. A unit kernel
// (1x1x1, stride 1, no padding) skips im2col and col2im: an image is its own column matrix. Depthwise 2-D
// convolutions (one input channel per group) skip the GEMM: direct kernels, as the CPU's direct loops.
#include "autograd/arena.h"
#include "autograd/cuda/blas.h"
#include "autograd/cuda/kernels/contig.h"
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/conv_geom.h"

// Column scratch per call, in elements (a chunk still holds a whole sample); handed back to the device
// arena when the call returns, as the contiguous copies of the operands are.
#define COLS_MAX ((int64_t)1 << 24)

// cols[n][c*KK + k][l] for the chunk's nc samples from img (the chunk's first sample), zero where the window
// reads padding; k = (kt, kh, kw), l = (ot, oh, ow)
template <typename S> __global__ void im2col(cgeom g, const S *img, S *cols, int64_t nc)
{
    int64_t KK = g.KT * g.KH * g.KW, rows = g.IC * KK;
    CF_GRID_STRIDE(i, nc * rows * g.L)
    {
        int64_t l = i % g.L, r = (i / g.L) % rows, n = i / (g.L * rows);
        int64_t c = r / KK, k = r % KK, kw = k % g.KW, kh = (k / g.KW) % g.KH, kt = k / (g.KW * g.KH);
        int64_t ow = l % g.OW, oh = (l / g.OW) % g.OH, ot = l / (g.OW * g.OH);
        int64_t it = ot * g.st - g.pt + kt * g.dt, ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
        bool in = it >= 0 && it < g.IT && ih >= 0 && ih < g.IH && iw >= 0 && iw < g.IW;
        if (in) cols[i] = img[(n * g.IC + c) * g.plane + (it * g.IH + ih) * g.IW + iw];
        else cf_st(cols + i, (cf_acc_t<S>)0);
    }
}

// The output index o with o*s - p + k*d == i, or -1 when none is (o in [0, out))
__device__ __forceinline__ int64_t source_of(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d, int64_t out)
{
    int64_t num = i + p - k * d;
    if (num < 0 || num % s) return -1;
    return num / s < out ? num / s : -1;
}

// img (=, or += when acc) the columns folded back onto their pixels, for the chunk's nc samples
template <typename S> __global__ void col2im(cgeom g, const S *cols, S *img, int64_t nc, bool acc)
{
    typedef cf_acc_t<S> A;
    int64_t KK = g.KT * g.KH * g.KW;
    CF_GRID_STRIDE(i, nc * g.IC * g.plane)
    {
        int64_t iw = i % g.IW, ih = (i / g.IW) % g.IH, it = (i / (g.IW * g.IH)) % g.IT, nch = i / g.plane;
        const S *src = cols + nch * KK * g.L; // sample n, channel c: rows c*KK.. of sample n's matrix
        A s = 0;
        for (int64_t kt = 0; kt < g.KT; kt++) {
            int64_t ot = source_of(it, kt, g.st, g.pt, g.dt, g.OT);
            if (ot < 0) continue;
            for (int64_t kh = 0; kh < g.KH; kh++) {
                int64_t oh = source_of(ih, kh, g.sh, g.ph, g.dh, g.OH);
                if (oh < 0) continue;
                for (int64_t kw = 0; kw < g.KW; kw++) {
                    int64_t ow = source_of(iw, kw, g.sw, g.pw, g.dw, g.OW);
                    if (ow >= 0) s += cf_ld(src + ((kt * g.KH + kh) * g.KW + kw) * g.L + (ot * g.OH + oh) * g.OW + ow);
                }
            }
        }
        cf_st(img + i, acc ? cf_ld(img + i) + s : s);
    }
}

// y[n, c, :] += b[c] over planes of L elements
template <typename S> __global__ void bias_add(S *y, const S *b, int64_t N, int64_t C, int64_t L)
{
    CF_GRID_STRIDE(i, N * C * L) cf_st(y + i, cf_ld(y + i) + cf_ld(b + (i / L) % C));
}

#define SUM_THREADS 256 // a block's threads in the block-per-sum kernels below (a multiple of 32)

// The sum of s over the block's threads, valid in thread 0; every thread calls it. A fixed order: warp
// shuffles, then the warps' totals in warp order.
template <typename A> __device__ __forceinline__ A block_sum(A s)
{
    CF_SHARED(A, warp_total, SUM_THREADS / 32);
    for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
    if (threadIdx.x % 32 == 0) warp_total[threadIdx.x / 32] = s;
    __syncthreads();
    A t = 0;
    if (threadIdx.x == 0)
        for (unsigned w = 0; w < blockDim.x / 32; w++) t += warp_total[w];
    __syncthreads(); // warp_total is reused by the block's next sum
    return t;
}

// gb[c] (=, or += when acc) the sum of dy[n, c, :] over n: a block per channel
template <typename S> __global__ void bias_grad(const S *dy, S *gb, int64_t N, int64_t C, int64_t L, bool acc)
{
    typedef cf_acc_t<S> A;
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        A s = 0;
        for (int64_t j = threadIdx.x; j < N * L; j += blockDim.x) s += cf_ld(dy + ((j / L) * C + c) * L + j % L);
        s = block_sum(s);
        if (threadIdx.x == 0) cf_st(gb + c, acc ? cf_ld(gb + c) + s : s);
    }
}

// ---- depthwise 2-D convolutions (one input channel per group): direct kernels, no column matrix ----

// y[n, oc] = bias[oc] + the window of x[n, oc / OCg] weighted by w[oc], one thread per output element
template <typename S> __global__ void dw_fwd(cgeom g, const S *x, const S *w, const S *b, S *y)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, g.N * g.OC * g.L)
    {
        int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, oc = (i / g.L) % g.OC, n = i / (g.L * g.OC);
        const S *xp = x + (n * g.IC + oc / g.OCg) * g.plane, *wp = w + oc * g.KH * g.KW;
        A s = b ? cf_ld(b + oc) : (A)0;
        for (int64_t kh = 0; kh < g.KH; kh++) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.IH) continue;
            for (int64_t kw = 0; kw < g.KW; kw++) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw >= 0 && iw < g.IW) s += cf_ld(wp + kh * g.KW + kw) * cf_ld(xp + ih * g.IW + iw);
            }
        }
        cf_st(y + i, s);
    }
}

// dx[n, c] (=, or += when acc) the OCg outputs of channel c weighted back onto their window pixels, one
// thread per input element (a gather: no atomics)
template <typename S> __global__ void dw_bwd_x(cgeom g, const S *dy, const S *w, S *dx, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, g.N * g.IC * g.plane)
    {
        int64_t iw = i % g.IW, ih = (i / g.IW) % g.IH, c = (i / g.plane) % g.IC, n = i / (g.plane * g.IC);
        A s = 0;
        for (int64_t m = 0; m < g.OCg; m++) {
            int64_t oc = c * g.OCg + m;
            const S *dyp = dy + (n * g.OC + oc) * g.L, *wp = w + oc * g.KH * g.KW;
            for (int64_t kh = 0; kh < g.KH; kh++) {
                int64_t oh = source_of(ih, kh, g.sh, g.ph, g.dh, g.OH);
                if (oh < 0) continue;
                for (int64_t kw = 0; kw < g.KW; kw++) {
                    int64_t ow = source_of(iw, kw, g.sw, g.pw, g.dw, g.OW);
                    if (ow >= 0) s += cf_ld(wp + kh * g.KW + kw) * cf_ld(dyp + oh * g.OW + ow);
                }
            }
        }
        cf_st(dx + i, acc ? cf_ld(dx + i) + s : s);
    }
}

// dw[oc, kh, kw] (=, or += when acc) the sum over samples and output pixels of dy[n, oc] times the x under
// that tap: a block per weight element
template <typename S> __global__ void dw_bwd_w(cgeom g, const S *dy, const S *x, S *dw, bool acc)
{
    typedef cf_acc_t<S> A;
    int64_t KK = g.KH * g.KW;
    for (int64_t e = blockIdx.x; e < g.OC * KK; e += gridDim.x) {
        int64_t oc = e / KK, kh = (e % KK) / g.KW, kw = e % g.KW, c = oc / g.OCg;
        A s = 0;
        for (int64_t j = threadIdx.x; j < g.N * g.L; j += blockDim.x) {
            int64_t n = j / g.L, l = j % g.L, oh = l / g.OW, ow = l % g.OW;
            int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
            if (ih >= 0 && ih < g.IH && iw >= 0 && iw < g.IW)
                s += cf_ld(dy + (n * g.OC + oc) * g.L + l) * cf_ld(x + (n * g.IC + c) * g.plane + ih * g.IW + iw);
        }
        s = block_sum(s);
        if (threadIdx.x == 0) cf_st(dw + e, acc ? cf_ld(dw + e) + s : s);
    }
}

static bool depthwise(const cf_node *n, const cgeom *g)
{
    return n->op != CF_OP_conv_transpose2d && n->op != CF_OP_conv3d && g->G > 1 && g->ICg == 1;
}

static unsigned blocks_for_sums(int64_t n) { return (unsigned)(n < CF_MAX_BLOCKS ? (n > 0 ? n : 1) : CF_MAX_BLOCKS); }

// Samples per chunk: the column buffer [chunk, IC*KK, L] under COLS_MAX elements (at least one sample)
static int64_t chunk_of(const cgeom *g)
{
    int64_t per = g->IC * g->KT * g->KH * g->KW * g->L, c = per > 0 ? COLS_MAX / per : g->N;
    c = c < 1 ? 1 : c;
    return c < g->N ? c : g->N;
}

static void *at(const void *p, int64_t elems, cf_dtype dt) { return (char *)p + elems * (int64_t)cf_dtype_size(dt); }

static cf_status run_im2col(const cgeom *g, cf_dtype dt, const void *img, void *cols, int64_t nc)
{
    int64_t n = nc * g->IC * g->KT * g->KH * g->KW * g->L;
    CF_FLOAT_SWITCH("im2col", dt, CF_KERNEL_RUN("im2col", n, im2col<S>, *g, (const S *)img, (S *)cols, nc));
    return CF_OK;
}

// One pass over the samples that unfolds each image once: out_n (beta)= W cols(img_n) when out is given, and
// dW (=, or += unless dw_overwrite) sum_n colside_n cols(img_n)^T when dw is given (N > 0 when it is to be
// overwritten: see take_grads).
static cf_status unfold_pass(cf_ctx *ctx, const cgeom *g, cf_dtype dt, const void *img, const void *w, void *out,
                             double beta, const void *colside, void *dw, bool dw_overwrite)
{
    int64_t chunk = chunk_of(g), rows = g->IC * g->KT * g->KH * g->KW, cs = rows * g->L; // cs: a sample's columns
    void *cols = NULL;
    if (!g->unit && g->N > 0 && !(cols = cf_device_scratch(ctx, (size_t)(chunk * cs) * cf_dtype_size(dt))))
        return cf_last_status();
    for (int64_t n0 = 0; n0 < g->N; n0 += chunk) {
        int64_t nc = g->N - n0 < chunk ? g->N - n0 : chunk;
        const void *src = at(img, n0 * g->IC * g->plane, dt), *c = g->unit ? src : cols;
        if (!g->unit) CF_TRY(run_im2col(g, dt, src, cols, nc));
        for (int64_t gi = 0; gi < g->G; gi++) {
            const void *cg = at(c, gi * g->K * g->L, dt);
            if (out)
                CF_TRY(cf_cuda_gemm_batched(dt, false, false, g->OCg, g->L, g->K, 1.0, at(w, gi * g->OCg * g->K, dt),
                                            g->K, 0, cg, g->L, cs, beta, at(out, (n0 * g->OC + gi * g->OCg) * g->L, dt),
                                            g->L, g->OC * g->L, nc));
            if (dw)
                for (int64_t n = 0; n < nc; n++)
                    CF_TRY(cf_cuda_gemm(dt, false, true, g->OCg, g->K, g->L, 1.0,
                                        at(colside, ((n0 + n) * g->OC + gi * g->OCg) * g->L, dt), g->L,
                                        at(cg, n * cs, dt), g->L, n0 + n == 0 && dw_overwrite ? 0.0 : 1.0,
                                        at(dw, gi * g->OCg * g->K, dt), g->K));
        }
    }
    return CF_OK;
}

// img (=, or += when accumulate) col2im(W^T colside) for every sample (conv_transpose forward; conv's input
// gradient)
static cf_status fold_pass(cf_ctx *ctx, const cgeom *g, cf_dtype dt, const void *w, const void *colside, void *img,
                           bool accumulate)
{
    int64_t chunk = chunk_of(g), rows = g->IC * g->KT * g->KH * g->KW, cs = rows * g->L;
    void *cols = NULL;
    if (!g->unit && g->N > 0 && !(cols = cf_device_scratch(ctx, (size_t)(chunk * cs) * cf_dtype_size(dt))))
        return cf_last_status();
    for (int64_t n0 = 0; n0 < g->N; n0 += chunk) {
        int64_t nc = g->N - n0 < chunk ? g->N - n0 : chunk;
        void *dst = at(img, n0 * g->IC * g->plane, dt), *c = g->unit ? dst : cols;
        double beta = g->unit && accumulate ? 1.0 : 0.0;
        for (int64_t gi = 0; gi < g->G; gi++)
            CF_TRY(cf_cuda_gemm_batched(dt, true, false, g->K, g->L, g->OCg, 1.0, at(w, gi * g->OCg * g->K, dt), g->K,
                                        0, at(colside, (n0 * g->OC + gi * g->OCg) * g->L, dt), g->L, g->OC * g->L,
                                        beta, at(c, gi * g->K * g->L, dt), g->L, cs, nc));
        if (!g->unit)
            CF_FLOAT_SWITCH("col2im", dt,
                            CF_KERNEL_RUN("col2im", nc * g->IC * g->plane, col2im<S>, *g, (const S *)cols, (S *)dst,
                                          nc, accumulate));
    }
    return CF_OK;
}

// x, w and (when b) the bias, contiguous
static cf_status operands(cf_ctx *ctx, cf_node *n, cf_tensor **x, cf_tensor **w, cf_tensor **b)
{
    CF_TRY(cf_cuda_contig(ctx, n->in[0], x));
    CF_TRY(cf_cuda_contig(ctx, n->in[1], w));
    return b ? cf_cuda_contig(ctx, n->n_in == 3 ? n->in[2] : NULL, b) : CF_OK;
}

static cf_status add_bias(const char *name, cf_tensor *y, const cf_tensor *b, int64_t N, int64_t C, int64_t L)
{
    if (!b) return CF_OK;
    CF_FLOAT_SWITCH(name, y->dtype,
                    CF_KERNEL_RUN(name, N * C * L, bias_add<S>, (S *)cf_data(y), (const S *)cf_data(b), N, C, L));
    return CF_OK;
}

static cf_status grad_bias(cf_ctx *ctx, cf_node *n, int64_t N, int64_t C, int64_t L)
{
    if (n->n_in < 3 || !cf_needs_grad(n, 2)) return CF_OK;
    bool overwrite = false;
    cf_tensor *gb = cf_grad_slot(ctx, n->in[2], &overwrite), *dy = n->out->grad;
    if (!gb) return cf_last_status();
    CF_FLOAT_SWITCH("conv bias backward", dy->dtype,
                    CF_KERNEL_RUN_GRID("conv bias backward", blocks_for_sums(C), SUM_THREADS, bias_grad<S>,
                                       (const S *)cf_data(dy), (S *)cf_data(gb), N, C, L, !overwrite));
    return CF_OK;
}

// The gradient buffers of x and w that backward writes (NULL where not needed); *_new: store, not add
struct grads {
    cf_tensor *x, *w;
    bool x_new, w_new;
};

// (an empty batch adds nothing to the weight gradient: a new one then starts, and stays, at zero)
static cf_status take_grads(cf_ctx *ctx, cf_node *n, const cgeom *g, grads *gr)
{
    gr->x = gr->w = NULL, gr->x_new = gr->w_new = false;
    if (cf_needs_grad(n, 0) && !(gr->x = cf_grad_slot(ctx, n->in[0], &gr->x_new))) return cf_last_status();
    if (cf_needs_grad(n, 1) &&
        !(gr->w = g->N > 0 ? cf_grad_slot(ctx, n->in[1], &gr->w_new) : cf_grad_acc(ctx, n->in[1])))
        return cf_last_status();
    return CF_OK;
}

static void *data_or_null(cf_tensor *t) { return t ? cf_data(t) : NULL; }

// ---- conv1d, conv2d, conv3d ----

static cf_status conv_fwd_body(cf_ctx *ctx, cf_node *n)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *b, *y = n->out;
    const char *name = cf_op_name(n->op);
    CF_TRY(operands(ctx, n, &x, &w, &b));
    if (depthwise(n, &g)) {
        CF_FLOAT_SWITCH(name, y->dtype,
                        CF_KERNEL_RUN(name, g.N * g.OC * g.L, dw_fwd<S>, g, (const S *)cf_data(x),
                                      (const S *)cf_data(w), b ? (const S *)cf_data(b) : (const S *)NULL,
                                      (S *)cf_data(y)));
        return CF_OK;
    }
    CF_TRY(unfold_pass(ctx, &g, y->dtype, cf_data(x), cf_data(w), cf_data(y), 0.0, NULL, NULL, false));
    return add_bias(name, y, b, g.N, g.OC, g.L);
}

// dx (+)= col2im(W^T dy) writes every pixel (a pixel no window reads gets 0), dW (+)= dy cols(x)^T
static cf_status conv_bwd_body(cf_ctx *ctx, cf_node *n, const grads &gr)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *dy = n->out->grad;
    CF_TRY(operands(ctx, n, &x, &w, NULL));
    if (depthwise(n, &g)) {
        const char *name = cf_op_name(n->op);
        CF_FLOAT_SWITCH(name, dy->dtype, {
            if (gr.x)
                CF_KERNEL_RUN(name, g.N * g.IC * g.plane, dw_bwd_x<S>, g, (const S *)cf_data(dy),
                              (const S *)cf_data(w), (S *)cf_data(gr.x), !gr.x_new);
            if (gr.w)
                CF_KERNEL_RUN_GRID(name, blocks_for_sums(g.OC * g.KH * g.KW), SUM_THREADS, dw_bwd_w<S>, g,
                                   (const S *)cf_data(dy), (const S *)cf_data(x), (S *)cf_data(gr.w), !gr.w_new);
        });
        return CF_OK;
    }
    if (gr.x) CF_TRY(fold_pass(ctx, &g, dy->dtype, cf_data(w), cf_data(dy), cf_data(gr.x), !gr.x_new));
    if (gr.w)
        CF_TRY(unfold_pass(ctx, &g, dy->dtype, cf_data(x), NULL, NULL, 0.0, cf_data(dy), cf_data(gr.w), gr.w_new));
    return CF_OK;
}

// ---- conv_transpose2d: the image side is the output ----

static cf_status convt_fwd_body(cf_ctx *ctx, cf_node *n)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *b, *y = n->out;
    CF_TRY(operands(ctx, n, &x, &w, &b));
    CF_TRY(fold_pass(ctx, &g, y->dtype, cf_data(w), cf_data(x), cf_data(y), false));
    return add_bias("conv_transpose2d", y, b, g.N, g.IC, g.plane);
}

// dx = W cols(dy) and dW = x cols(dy)^T share one unfolding of dy
static cf_status convt_bwd_body(cf_ctx *ctx, cf_node *n, const grads &gr)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *dy = n->out->grad;
    CF_TRY(operands(ctx, n, &x, &w, NULL));
    if (gr.x || gr.w)
        CF_TRY(unfold_pass(ctx, &g, dy->dtype, cf_data(dy), cf_data(w), data_or_null(gr.x), gr.x_new ? 0.0 : 1.0,
                           cf_data(x), data_or_null(gr.w), gr.w_new));
    return CF_OK;
}

// ---- the entries: a body's scratch and operand copies go back to the device arena when it returns; the
// gradient buffers are taken before the mark, the bias gradient after the rewind ----

static cf_status with_scratch_fwd(cf_ctx *ctx, cf_node *n, cf_status (*body)(cf_ctx *, cf_node *))
{
    cf_arena *a = cf_ctx_device_arena(ctx);
    cf_arena_mark m = cf_arena_get_mark(a);
    cf_status st = body(ctx, n);
    cf_arena_rewind(a, m);
    return st;
}

static cf_status with_scratch_bwd(cf_ctx *ctx, cf_node *n, cf_status (*body)(cf_ctx *, cf_node *, const grads &))
{
    cgeom g = conv_geometry(n);
    grads gr;
    CF_TRY(take_grads(ctx, n, &g, &gr));
    cf_arena *a = cf_ctx_device_arena(ctx);
    cf_arena_mark m = cf_arena_get_mark(a);
    cf_status st = body(ctx, n, gr);
    cf_arena_rewind(a, m);
    CF_TRY(st);
    bool tr = n->op == CF_OP_conv_transpose2d;
    return grad_bias(ctx, n, g.N, tr ? g.IC : g.OC, tr ? g.plane : g.L);
}

static cf_status conv_fwd(cf_ctx *ctx, cf_node *n) { return with_scratch_fwd(ctx, n, conv_fwd_body); }
static cf_status conv_bwd(cf_ctx *ctx, cf_node *n) { return with_scratch_bwd(ctx, n, conv_bwd_body); }
static cf_status convt_fwd(cf_ctx *ctx, cf_node *n) { return with_scratch_fwd(ctx, n, convt_fwd_body); }
static cf_status convt_bwd(cf_ctx *ctx, cf_node *n) { return with_scratch_bwd(ctx, n, convt_bwd_body); }

#define CONV_ENTRIES(NAME, FWD, BWD) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return FWD(ctx, n); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return BWD(ctx, n); }
CONV_ENTRIES(conv1d, conv_fwd, conv_bwd)
CONV_ENTRIES(conv2d, conv_fwd, conv_bwd)
CONV_ENTRIES(conv3d, conv_fwd, conv_bwd)
CONV_ENTRIES(conv_transpose2d, convt_fwd, convt_bwd)
