/* CPU convolutions: im2col into arena scratch + CBLAS GEMM, col2im for the way back, over the geometry of
 * autograd/ops/conv_geom.h (which spells out the products each op is made of). Depthwise 2-D convolutions
 * skip the column matrix and run direct loops. */
#include "autograd/ops/conv_geom.h"
#include "autograd/cpu/cpu.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Output positions o in [lo, hi) whose input index o*s + off falls inside [0, in). */
static inline void out_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = in - 1 - off >= 0 ? (in - 1 - off) / s + 1 : 0;
    if (l > out) l = out;
    if (h > out) h = out;
    if (h < l) h = l;
    *lo = l, *hi = h;
}

#define T float
#define FN(name) name##_f32
#include "autograd/cpu/conv_loops.inc"
#undef T
#undef FN
#define T double
#define FN(name) name##_f64
#include "autograd/cpu/conv_loops.inc"
#undef T
#undef FN

/* C[M, N] = A B + beta C, each operand optionally transposed, row-major. */
static void gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    cf_cpu_gemm(dt, ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t)
{
    if (cf_is_contiguous(t)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (c) cf_cpu_copy_strided(c, t, false);
    return c;
}

/* Threads that each take whole samples (GEMMs then run single-threaded inside them). One thread, with
 * threaded GEMMs and column loops, when there are few samples for big products. */
static int batch_threads(const cf_ctx *ctx, const cgeom *g)
{
    int t = cf_ctx_threads(ctx);
    if (t <= 1 || g->N <= 1) return 1;
    double work = (double)g->OC * (double)g->K * (double)g->L; /* multiply-adds per sample */
    if (work * (double)g->N < 4.0 * CF_PAR_MIN) return 1;         /* a fork would cost more than it saves */
    if (g->N < t && work > 96.0 * 96 * 96) return 1;
    return g->N < t ? (int)g->N : t;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline void *at(const void *p, int64_t elems, size_t es) { return (char *)p + elems * (int64_t)es; }

/* The [K, L] column matrix of group gi of one sample's image: the image itself for unit kernels, else
 * im2col into buf. */
static const void *cols_of(const cgeom *g, cf_dtype dt, const void *img_n, int64_t gi, void *buf, bool par)
{
    size_t es = cf_dtype_size(dt);
    const void *img = at(img_n, gi * g->ICg * g->plane, es);
    if (g->unit) return img;
    if (dt == CF_F32) im2col_f32(g, img, buf, par);
    else im2col_f64(g, img, buf, par);
    return buf;
}

/* img_n (+)= col2im(W^T colside_n), group by group; buf holds one group's [K, L] columns. */
static void fold_back(const cgeom *g, cf_dtype dt, const void *w, const void *colside_n, void *img_n, void *buf,
                      bool accumulate, bool par)
{
    size_t es = cf_dtype_size(dt);
    if (!accumulate && !g->unit) memset(img_n, 0, es * (size_t)(g->IC * g->plane));
    for (int64_t gi = 0; gi < g->G; gi++) {
        const void *wg = at(w, gi * g->OCg * g->K, es), *yg = at(colside_n, gi * g->OCg * g->L, es);
        void *img = at(img_n, gi * g->ICg * g->plane, es);
        if (g->unit) {
            gemm(dt, true, false, g->K, g->L, g->OCg, wg, g->K, yg, g->L, accumulate ? 1.0 : 0.0, img, g->L);
            continue;
        }
        gemm(dt, true, false, g->K, g->L, g->OCg, wg, g->K, yg, g->L, 0.0, buf, g->L);
        if (dt == CF_F32) col2im_f32(g, buf, img, par);
        else col2im_f64(g, buf, img, par);
    }
}

/* ---- the batch loops ---- */

/* Column buffers live only as long as one loop: taken after a mark and handed back at its end, so a
 * network's many convolutions do not pile their scratch up in the step arena. */

/* The weight gradient sums over samples in chunks fixed by the shapes alone, never by the thread count:
 * chunk c takes samples [c N / P, (c + 1) N / P) in order into its own partial, and the partials are
 * added in chunk order, so dW is bit-identical for any train.threads (each GEMM is too: autograd/cpu/gemm.c
 * cuts products by shape). P is at most DW_CHUNKS and keeps the partials under DW_SCRATCH elements; with
 * P = 1 the samples accumulate straight into dW and the GEMMs themselves run threaded. */
enum { DW_CHUNKS = 8 };
#define DW_SCRATCH ((int64_t)1 << 24)

static int64_t dw_chunks(const cgeom *g)
{
    int64_t wn = g->OC * g->K, p = g->N < DW_CHUNKS ? g->N : DW_CHUNKS;
    if (p * wn > DW_SCRATCH) p = DW_SCRATCH / wn;
    return p < 1 ? 1 : p;
}

/* One sample n: out_n (beta)= W cols(img_n) when out is given, acc (+)= colside_n cols(img_n)^T when acc is
 * given (overwritten when first). */
static void unfold_sample(const cgeom *g, cf_dtype dt, int64_t n, const void *img, const void *w, void *out,
                          double beta, const void *colside, void *acc, bool first, void *buf, bool par)
{
    size_t es = cf_dtype_size(dt);
    const void *img_n = at(img, n * g->IC * g->plane, es);
    for (int64_t gi = 0; gi < g->G; gi++) {
        const void *c = cols_of(g, dt, img_n, gi, buf, par);
        int64_t row = n * g->OC + gi * g->OCg;
        if (out)
            gemm(dt, false, false, g->OCg, g->L, g->K, at(w, gi * g->OCg * g->K, es), g->K, c, g->L, beta,
                 at(out, row * g->L, es), g->L);
        if (acc)
            gemm(dt, false, true, g->OCg, g->K, g->L, at(colside, row * g->L, es), g->L, c, g->L, first ? 0.0 : 1.0,
                 at(acc, gi * g->OCg * g->K, es), g->K);
    }
}

/* One pass over the samples that unfolds each image once: out_n (beta)= W cols(img_n) when out is
 * given, and dW (+)= colside_n cols(img_n)^T when dw is given. Without dW the samples are shared among
 * threads; with it, the chunks above are. */
static cf_status unfold_pass(cf_ctx *ctx, const cgeom *g, cf_dtype dt, const void *img, const void *w, void *out,
                             double beta, const void *colside, void *dw, bool dw_overwrite)
{
    size_t es = cf_dtype_size(dt);
    int64_t wn = g->OC * g->K;
    if (dw && g->N == 0 && dw_overwrite) memset(dw, 0, es * (size_t)wn);
    int64_t chunks = dw ? dw_chunks(g) : g->N; /* without dW each sample is its own chunk */
    int nt = batch_threads(ctx, g);
    if (nt > chunks) nt = (int)chunks;
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    void *bufs = g->unit ? NULL : cf_scratch(ctx, es * (size_t)(g->K * g->L) * (size_t)nt);
    void *parts = dw && chunks > 1 ? cf_scratch(ctx, es * (size_t)wn * (size_t)chunks) : NULL;
    if ((!g->unit && !bufs) || (dw && chunks > 1 && !parts)) return cf_last_status();
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        void *buf = bufs ? at(bufs, thread_id() * g->K * g->L, es) : NULL;
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            void *acc = !dw ? NULL : (chunks > 1 ? at(parts, c * wn, es) : dw);
            int64_t lo = c * g->N / chunks, hi = (c + 1) * g->N / chunks;
            for (int64_t n = lo; n < hi; n++)
                unfold_sample(g, dt, n, img, w, out, beta, colside, acc, n == lo && (chunks > 1 || dw_overwrite),
                              buf, nt == 1);
        }
    }
    if (dw && chunks > 1) {
        if (dt == CF_F32) sum_partials_f32(dw, parts, (int)chunks, wn, dw_overwrite);
        else sum_partials_f64(dw, parts, (int)chunks, wn, dw_overwrite);
    }
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}

/* img (+)= col2im(W^T colside) for every sample (conv_transpose forward; conv's input gradient). */
static cf_status gemm_fold(cf_ctx *ctx, const cgeom *g, cf_dtype dt, const void *w, const void *colside, void *img,
                           bool accumulate)
{
    size_t es = cf_dtype_size(dt);
    int nt = batch_threads(ctx, g);
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    void *bufs = g->unit ? NULL : cf_scratch(ctx, es * (size_t)(g->K * g->L) * (size_t)nt);
    if (!g->unit && !bufs) return cf_last_status();
    #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t n = 0; n < g->N; n++) {
        void *buf = bufs ? at(bufs, thread_id() * g->K * g->L, es) : NULL;
        fold_back(g, dt, w, at(colside, n * g->OC * g->L, es), at(img, n * g->IC * g->plane, es), buf, accumulate,
                  nt == 1);
    }
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}

static void bias_add(cf_dtype dt, void *y, const void *b, int64_t N, int64_t C, int64_t L)
{
    if (dt == CF_F32) bias_add_f32(y, b, N, C, L);
    else bias_add_f64(y, b, N, C, L);
}

static cf_status bias_grad(cf_ctx *ctx, cf_node *n, const cf_tensor *dy, int64_t N, int64_t C, int64_t L)
{
    if (n->n_in < 3 || !cf_needs_grad(n, 2)) return CF_OK;
    bool overwrite;
    cf_tensor *gb = cf_grad_slot(ctx, n->in[2], &overwrite);
    if (!gb) return cf_last_status();
    if (dy->dtype == CF_F32) bias_grad_f32(cf_data(dy), cf_data(gb), N, C, L, overwrite);
    else bias_grad_f64(cf_data(dy), cf_data(gb), N, C, L, overwrite);
    return CF_OK;
}

/* The gradient buffers of x and w that backward writes (NULL where not needed), taken before any
 * scratch so that handing the scratch back leaves them alone. */
typedef struct grads {
    cf_tensor *x, *w;
    bool x_new, w_new; /* uninitialised: store instead of add */
} grads;

static cf_status take_grads(cf_ctx *ctx, cf_node *n, grads *gr)
{
    *gr = (grads){0};
    if (cf_needs_grad(n, 0) && !(gr->x = cf_grad_slot(ctx, n->in[0], &gr->x_new))) return cf_last_status();
    if (cf_needs_grad(n, 1) && !(gr->w = cf_grad_slot(ctx, n->in[1], &gr->w_new))) return cf_last_status();
    return CF_OK;
}

/* x, w and bias as contiguous tensors (copies in the arena where they are views). */
static cf_status operands(cf_ctx *ctx, cf_node *n, cf_tensor **x, cf_tensor **w, cf_tensor **b)
{
    *x = contiguous(ctx, n->in[0]);
    *w = contiguous(ctx, n->in[1]);
    if (b) *b = n->n_in == 3 ? contiguous(ctx, n->in[2]) : NULL;
    if (!*x || !*w || (b && n->n_in == 3 && !*b)) return cf_last_status();
    return CF_OK;
}

static bool depthwise(const cf_node *n, const cgeom *g)
{
    return n->op != CF_OP_conv_transpose2d && n->op != CF_OP_conv3d && g->G > 1 && g->ICg == 1;
}

/* ---- conv1d, conv2d, conv3d ---- */

static cf_status conv_fwd_body(cf_ctx *ctx, cf_node *n)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *b, *y = n->out;
    CF_TRY(operands(ctx, n, &x, &w, &b));
    cf_dtype dt = y->dtype;
    if (depthwise(n, &g)) {
        if (dt == CF_F32) dw_fwd_f32(&g, cf_data(x), cf_data(w), b ? cf_data(b) : NULL, cf_data(y));
        else dw_fwd_f64(&g, cf_data(x), cf_data(w), b ? cf_data(b) : NULL, cf_data(y));
        return CF_OK;
    }
    CF_TRY(unfold_pass(ctx, &g, dt, cf_data(x), cf_data(w), cf_data(y), 0.0, NULL, NULL, false));
    if (b) bias_add(dt, cf_data(y), cf_data(b), g.N, g.OC, g.L);
    return CF_OK;
}

static cf_status conv_bwd_body(cf_ctx *ctx, cf_node *n, const grads *gr)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *dy = n->out->grad;
    CF_TRY(operands(ctx, n, &x, &w, NULL));
    cf_dtype dt = dy->dtype;
    bool f32 = dt == CF_F32;
    if (depthwise(n, &g)) {
        if (gr->x && f32) dw_bwd_x_f32(&g, cf_data(dy), cf_data(w), cf_data(gr->x), gr->x_new);
        if (gr->x && !f32) dw_bwd_x_f64(&g, cf_data(dy), cf_data(w), cf_data(gr->x), gr->x_new);
        if (gr->w && f32) dw_bwd_w_f32(&g, cf_data(dy), cf_data(x), cf_data(gr->w), gr->w_new);
        if (gr->w && !f32) dw_bwd_w_f64(&g, cf_data(dy), cf_data(x), cf_data(gr->w), gr->w_new);
        return CF_OK;
    }
    if (gr->x) CF_TRY(gemm_fold(ctx, &g, dt, cf_data(w), cf_data(dy), cf_data(gr->x), !gr->x_new));
    if (gr->w) CF_TRY(unfold_pass(ctx, &g, dt, cf_data(x), NULL, NULL, 0.0, cf_data(dy), cf_data(gr->w), gr->w_new));
    return CF_OK;
}

/* The kernels below run their body and then hand back everything the body took from the arena. */
static cf_status conv_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_status st = conv_fwd_body(ctx, n);
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return st;
}

static cf_status conv_bwd(cf_ctx *ctx, cf_node *n)
{
    grads gr;
    CF_TRY(take_grads(ctx, n, &gr));
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_status st = conv_bwd_body(ctx, n, &gr);
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    cgeom g = conv_geometry(n);
    return st != CF_OK ? st : bias_grad(ctx, n, n->out->grad, g.N, g.OC, g.L);
}

cf_status cf_cpu_conv1d_fwd(cf_ctx *ctx, cf_node *n) { return conv_fwd(ctx, n); }
cf_status cf_cpu_conv1d_bwd(cf_ctx *ctx, cf_node *n) { return conv_bwd(ctx, n); }
cf_status cf_cpu_conv2d_fwd(cf_ctx *ctx, cf_node *n) { return conv_fwd(ctx, n); }
cf_status cf_cpu_conv2d_bwd(cf_ctx *ctx, cf_node *n) { return conv_bwd(ctx, n); }
cf_status cf_cpu_conv3d_fwd(cf_ctx *ctx, cf_node *n) { return conv_fwd(ctx, n); }

cf_status cf_cpu_conv3d_bwd(cf_ctx *ctx, cf_node *n)
{
    cgeom g = conv_geometry(n);
    bool covered = g.OT * g.KT == g.IT && g.OH * g.KH == g.IH && g.OW * g.KW == g.IW;
    /* trailing pixels that no patch reads get a zero gradient: start that buffer at zero */
    if (!covered && cf_needs_grad(n, 0) && !cf_grad_acc(ctx, n->in[0])) return cf_last_status();
    return conv_bwd(ctx, n);
}

/* ---- conv_transpose2d ---- */

static cf_status convt_fwd_body(cf_ctx *ctx, cf_node *n)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *b, *y = n->out;
    CF_TRY(operands(ctx, n, &x, &w, &b));
    CF_TRY(gemm_fold(ctx, &g, y->dtype, cf_data(w), cf_data(x), cf_data(y), false));
    if (b) bias_add(y->dtype, cf_data(y), cf_data(b), g.N, g.IC, g.plane);
    return CF_OK;
}

/* dx = W cols(dy) and dW = x cols(dy)^T share one unfolding of dy. */
static cf_status convt_bwd_body(cf_ctx *ctx, cf_node *n, const grads *gr)
{
    cgeom g = conv_geometry(n);
    cf_tensor *x, *w, *dy = n->out->grad;
    CF_TRY(operands(ctx, n, &x, &w, NULL));
    if (!gr->x && !gr->w) return CF_OK;
    return unfold_pass(ctx, &g, dy->dtype, cf_data(dy), cf_data(w), gr->x ? cf_data(gr->x) : NULL,
                       gr->x_new ? 0.0 : 1.0, cf_data(x), gr->w ? cf_data(gr->w) : NULL, gr->w_new);
}

cf_status cf_cpu_conv_transpose2d_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_status st = convt_fwd_body(ctx, n);
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return st;
}

cf_status cf_cpu_conv_transpose2d_bwd(cf_ctx *ctx, cf_node *n)
{
    grads gr;
    CF_TRY(take_grads(ctx, n, &gr));
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_status st = convt_bwd_body(ctx, n, &gr);
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    cgeom g = conv_geometry(n);
    return st != CF_OK ? st : bias_grad(ctx, n, n->out->grad, g.N, g.IC, g.plane);
}
