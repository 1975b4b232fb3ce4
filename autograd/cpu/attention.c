/* CPU kernels of cf_sdpa, tiled as FlashAttention-2: a block of queries meets one block of keys at a
 * time with an online (running max and sum) softmax, so only [BQ, BK] score tiles ever exist; forward
 * keeps each row's logsumexp and backward rebuilds the probabilities from it. Key blocks that the
 * structural mask hides entirely are never visited, so causal costs half of full attention and a
 * sliding window grows linearly in T. Dropout is regenerated from the counter-based RNG, never stored.
 *
 * The typed part (tile arithmetic and drivers) is written once below the `#else` and compiled twice, for
 * float and double, by including this file into itself with SDPA_T set: a body this size reads and
 * debugs better as plain C than as one macro. */
#ifndef SDPA_T

#include "autograd/ops/attention.h"
#include "autograd/ops/attention_attr.h"
#include "autograd/cpu/cpu.h"
#include "autograd/cpu/fastmath.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Tile sizes: a [64, 64] f32 tile and the matching q/k/v rows stay in L2 while GEMM works on them.
 * 128-row query tiles measured the same for causal and ~10% slower for a 256 window (more of each
 * tile falls outside the band). */
#define BQ 64
#define BK 64

/* Below this many multiply-adds a call runs on one thread: the fork would cost more than it saves. */
#define SDPA_PAR_MIN (1 << 18)

/* q, k or v as GEMM reads it: row t of head (b, h) starts at p + b*sb + h*sh + t*st, elements of a row
 * are adjacent. */
typedef struct {
    const void *p;
    int64_t sb, sh, st;
} rows_ref;

typedef struct {
    int64_t B, H, Hkv, G, Tq, Tk, D, Dv;
    int64_t off; /* absolute position of query 0 */
    double scale;
    int mask;
    int64_t window, block;
    rows_ref q, k, v;
    const uint8_t *am; /* attn_mask (true = keep), strides over [B, H, Tq, Tk] (0 where broadcast) */
    int64_t ams[4];
    const uint8_t *kp; /* key padding (true = pad), strides over [B, Tk] */
    int64_t kps[2];
    const void *bias;
    int64_t bs[4];
    double p; /* dropout probability; 0: none */
    uint32_t drop_below; /* an element is dropped when its 24-bit uniform is below this */
    cf_philox_key key;
    uint64_t step;
    int64_t nqb, nkb;
} geom;

/* What one backward pass writes: contiguous gradient buffers, NULL for what the pass leaves alone. */
typedef struct {
    void *dq, *dk, *dv, *dbias;
    int64_t dbs[4];
    const void *dout;  /* [B, H, Tq, Dv] contiguous */
    const void *lse;   /* [B, H, Tq] */
    const void *delta; /* [B, H, Tq]: rowsum(dO * O) */
} grads;

static inline int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The keys [*lo, *hi) that query row i may see under the structural mask. Both ends are
 * non-decreasing in i, which is what lets a tile be classified from its first and last rows. */
static inline void key_range(const geom *g, int64_t i, int64_t *lo, int64_t *hi)
{
    int64_t p = i + g->off, a = 0, b = g->Tk;
    switch (g->mask) {
    case CF_SDPA_CAUSAL: b = p + 1; break;
    case CF_SDPA_WINDOW: a = p - g->window + 1, b = p + 1; break;
    case CF_SDPA_BLOCK: a = floordiv(p, g->block) * g->block, b = a + g->block; break;
    default: break;
    }
    a = min64(max64(a, 0), g->Tk);
    *lo = a;
    *hi = max64(min64(b, g->Tk), a);
}

enum { TILE_EMPTY, TILE_PARTIAL, TILE_FULL };

/* Whether the structural mask hides all, some or none of the tile rows [i0, i0+nr) x keys [j0, j0+nc). */
static int tile_kind(const geom *g, int64_t i0, int64_t nr, int64_t j0, int64_t nc)
{
    int64_t lo0, hi0, lo1, hi1;
    key_range(g, i0, &lo0, &hi0);
    key_range(g, i0 + nr - 1, &lo1, &hi1);
    if (hi1 <= j0 || lo0 >= j0 + nc) return TILE_EMPTY;
    if (lo1 <= j0 && j0 + nc <= hi0) return TILE_FULL;
    return TILE_PARTIAL;
}

/* keep[c] for elements (b, h, i, j0 + c): the 24-bit uniform of element e is the one
 * cf_rng_uniform_f32 gives at index e (Philox block e/4 with bit 62 set, word e%4, top 24 bits). */
static void drop_keep(const geom *g, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t nc, uint8_t *keep)
{
    uint64_t e = (uint64_t)(((b * g->H + h) * g->Tq + i) * g->Tk + j0);
    uint32_t w[4] = {0};
    for (int64_t c = 0; c < nc; c++, e++) {
        if (c == 0 || (e & 3) == 0) {
            uint64_t blk = (e >> 2) | (1ull << 62);
            uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)g->step, (uint32_t)(g->step >> 32)};
            cf_philox4x32(g->key, ctr, w);
        }
        keep[c] = (w[e & 3] >> 8) >= g->drop_below;
    }
}

/* Strides of t over the 4-D shape it broadcasts to (dims aligned from the right; 0 where size 1). */
static void bcast_strides(const cf_tensor *t, int64_t s[4])
{
    for (int d = 0; d < 4; d++) s[d] = 0;
    for (int d = 0; d < t->ndim; d++) s[4 - t->ndim + d] = t->shape[d] == 1 ? 0 : t->stride[d];
}

/* The size t has along dim d of the 4-D shape it broadcasts to. */
static int64_t bcast_size(const cf_tensor *t, int d)
{
    int td = d - (4 - t->ndim);
    return td >= 0 ? t->shape[td] : 1;
}

/* t itself when each row (last dim) is contiguous and rows do not overlap, else a contiguous copy. */
static cf_tensor *rows_ready(cf_ctx *ctx, cf_tensor *t)
{
    int64_t T = t->shape[2], D = t->shape[3];
    if ((t->stride[3] == 1 || D <= 1) && (T <= 1 || t->stride[2] >= D)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (c) cf_cpu_copy_strided(c, t, false);
    return c;
}

static rows_ref rows_of(const cf_tensor *t)
{
    int64_t D = t->shape[3] > 1 ? t->shape[3] : 1;
    return (rows_ref){cf_data(t), t->stride[0], t->stride[1], t->shape[2] <= 1 ? D : max64(t->stride[2], D)};
}

static cf_status geom_init(cf_ctx *ctx, cf_node *n, geom *g)
{
    const struct sdpa_attr *a = CF_ATTR(n, struct sdpa_attr);
    cf_tensor *q = rows_ready(ctx, n->in[0]), *k = rows_ready(ctx, n->in[1]), *v = rows_ready(ctx, n->in[2]);
    if (!q || !k || !v) return cf_last_status();
    memset(g, 0, sizeof *g);
    g->B = q->shape[0], g->H = q->shape[1], g->Tq = q->shape[2], g->D = q->shape[3];
    g->Hkv = k->shape[1], g->Tk = k->shape[2], g->Dv = v->shape[3];
    g->G = g->H / g->Hkv;
    g->off = g->Tk - g->Tq;
    g->scale = a->scale;
    g->mask = a->mask, g->window = a->window, g->block = a->block;
    g->q = rows_of(q), g->k = rows_of(k), g->v = rows_of(v);
    if (a->i_mask >= 0) {
        g->am = cf_data(n->in[a->i_mask]);
        bcast_strides(n->in[a->i_mask], g->ams);
    }
    if (a->i_pad >= 0) {
        const cf_tensor *p = n->in[a->i_pad];
        g->kp = cf_data(p);
        g->kps[0] = p->stride[0], g->kps[1] = p->stride[1];
    }
    if (a->i_bias >= 0) {
        g->bias = cf_data(n->in[a->i_bias]);
        bcast_strides(n->in[a->i_bias], g->bs);
    }
    g->p = a->dropout;
    if (g->p > 0) {
        g->drop_below = (uint32_t)ceil(g->p * 16777216.0);
        g->key = cf_rng_key(a->seed, a->stream);
        g->step = a->step;
    }
    g->nqb = (g->Tq + BQ - 1) / BQ;
    g->nkb = (g->Tk + BK - 1) / BK;
    return CF_OK;
}

/* Multiply-adds of the visible tiles, to decide whether threads are worth starting. */
static double visible_work(const geom *g)
{
    int64_t tiles = 0;
    for (int64_t qb = 0; qb < g->nqb; qb++)
        for (int64_t kb = 0; kb < g->nkb; kb++)
            tiles += tile_kind(g, qb * BQ, min64(BQ, g->Tq - qb * BQ), kb * BK, min64(BK, g->Tk - kb * BK)) != TILE_EMPTY;
    return (double)tiles * BQ * BK * (double)(g->D + g->Dv) * (double)(g->B * g->H);
}


static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#define SDPA_T float
#define SDPA_SUF f32
#include "autograd/cpu/attention.c"
#undef SDPA_T
#undef SDPA_SUF
#define SDPA_T double
#define SDPA_SUF f64
#include "autograd/cpu/attention.c"
#undef SDPA_T
#undef SDPA_SUF

cf_status cf_cpu_sdpa_fwd(cf_ctx *ctx, cf_node *n)
{
    geom g;
    CF_TRY(geom_init(ctx, n, &g));
    cf_tensor *lse = cf_empty(ctx, n->out->dtype, CF_SHAPE(g.B, g.H, g.Tq));
    if (!lse) return cf_last_status();
    n->aux[0] = lse;
    int nt = cf_ctx_threads(ctx) > 0 ? cf_ctx_threads(ctx) : 1;
    if (n->out->dtype == CF_F32) return sdpa_fwd_f32(ctx, &g, cf_data(n->out), cf_data(lse), nt);
    if (n->out->dtype == CF_F64) return sdpa_fwd_f64(ctx, &g, cf_data(n->out), cf_data(lse), nt);
    return cf_set_error(CF_ERR_DTYPE, "sdpa: %s is not f32/f64", cf_dtype_name(n->out->dtype));
}

cf_status cf_cpu_sdpa_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct sdpa_attr *a = CF_ATTR(n, struct sdpa_attr);
    geom g;
    CF_TRY(geom_init(ctx, n, &g));
    grads gr;
    memset(&gr, 0, sizeof gr);
    cf_tensor *dq = NULL, *dk = NULL, *dv = NULL, *dbias = NULL, *bias_tmp = NULL;
    if (cf_needs_grad(n, 0) && !(dq = cf_grad_acc(ctx, n->in[0]))) return cf_last_status();
    if (cf_needs_grad(n, 1) && !(dk = cf_grad_acc(ctx, n->in[1]))) return cf_last_status();
    if (cf_needs_grad(n, 2) && !(dv = cf_grad_acc(ctx, n->in[2]))) return cf_last_status();
    bool bias_b_bcast = false, bias_h_bcast = false;
    if (a->i_bias >= 0 && cf_needs_grad(n, a->i_bias)) {
        cf_tensor *bias = n->in[a->i_bias];
        if (!(dbias = cf_grad_acc(ctx, bias))) return cf_last_status();
        int64_t Bb = bcast_size(bias, 0), Hb = bcast_size(bias, 1);
        bias_b_bcast = g.B > 1 && Bb == 1;
        bias_h_bcast = g.H > 1 && Hb == 1;
        cf_tensor *target = dbias;
        if (bcast_size(bias, 2) != g.Tq || bcast_size(bias, 3) != g.Tk) {
            /* rows or columns of the bias are shared: gather the full per-element gradient first, so
             * no two tiles add into one element, then reduce it to the bias's shape */
            bias_tmp = cf_zeros(ctx, bias->dtype, CF_SHAPE(Bb, Hb, g.Tq, g.Tk));
            if (!bias_tmp) return cf_last_status();
            target = bias_tmp;
        }
        gr.dbias = cf_data(target);
        bcast_strides(target, gr.dbs);
    }
    gr.dq = dq ? cf_data(dq) : NULL;
    gr.dk = dk ? cf_data(dk) : NULL;
    gr.dv = dv ? cf_data(dv) : NULL;
    gr.dout = cf_data(n->out->grad);
    gr.lse = cf_data(n->aux[0]);
    int nt = cf_ctx_threads(ctx) > 0 ? cf_ctx_threads(ctx) : 1;
    cf_status st;
    if (n->out->dtype == CF_F32)
        st = sdpa_bwd_f32(ctx, &g, &gr, cf_data(n->out), nt, bias_b_bcast, bias_h_bcast);
    else
        st = sdpa_bwd_f64(ctx, &g, &gr, cf_data(n->out), nt, bias_b_bcast, bias_h_bcast);
    if (st == CF_OK && bias_tmp) st = cf_cpu_sum_to(dbias, bias_tmp, false);
    return st;
}

#else /* ---- the typed body: SDPA_T is float or double ---- */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SDPA_SUF)
#define T SDPA_T

/* C[M, N] = alpha op(A) op(B) + beta C, row-major. K == 0 leaves beta C (and zeros for beta 0). */
static void FN(gemm)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A, int64_t lda,
                     const T *Bm, int64_t ldb, T beta, T *C, int64_t ldc)
{
    cf_cpu_gemm(_Generic((T)0, float: CF_F32, double: CF_F64), ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
}

static inline T FN(exp)(T x) { return _Generic(x, float: cf_fast_expf, double: exp)(x); }

static inline const T *FN(row)(const rows_ref *r, int64_t b, int64_t h, int64_t t)
{
    return (const T *)r->p + b * r->sb + h * r->sh + t * r->st;
}

/* S[nr, nc] (row stride BK) = scale q k^T + bias for query rows i0.. and keys j0.. of head (b, h),
 * with -inf wherever a mask hides the pair. */
static void FN(scores)(const geom *g, int64_t b, int64_t h, int64_t i0, int64_t nr, int64_t j0, int64_t nc, int kind,
                       T *S)
{
    int64_t kvh = h / g->G;
    FN(gemm)(false, true, nr, nc, g->D, (T)g->scale, FN(row)(&g->q, b, h, i0), g->q.st, FN(row)(&g->k, b, kvh, j0),
             g->k.st, 0, S, BK);
    if (g->bias) {
        const T *bp = (const T *)g->bias + b * g->bs[0] + h * g->bs[1] + j0 * g->bs[3];
        for (int64_t r = 0; r < nr; r++) {
            const T *br = bp + (i0 + r) * g->bs[2];
            T *s = S + r * BK;
            if (g->bs[3] == 1) {
                for (int64_t c = 0; c < nc; c++) s[c] += br[c];
            } else {
                for (int64_t c = 0; c < nc; c++) s[c] += br[c * g->bs[3]];
            }
        }
    }
    if (kind == TILE_PARTIAL) {
        for (int64_t r = 0; r < nr; r++) {
            int64_t lo, hi;
            key_range(g, i0 + r, &lo, &hi);
            T *s = S + r * BK;
            for (int64_t c = 0; c < nc; c++)
                if (j0 + c < lo || j0 + c >= hi) s[c] = (T)-INFINITY;
        }
    }
    if (g->am) {
        const uint8_t *mp = g->am + b * g->ams[0] + h * g->ams[1] + j0 * g->ams[3];
        for (int64_t r = 0; r < nr; r++) {
            const uint8_t *mr = mp + (i0 + r) * g->ams[2];
            T *s = S + r * BK;
            for (int64_t c = 0; c < nc; c++)
                if (!mr[c * g->ams[3]]) s[c] = (T)-INFINITY;
        }
    }
    if (g->kp) {
        const uint8_t *pp = g->kp + b * g->kps[0] + j0 * g->kps[1];
        for (int64_t c = 0; c < nc; c++)
            if (pp[c * g->kps[1]])
                for (int64_t r = 0; r < nr; r++) S[r * BK + c] = (T)-INFINITY;
    }
}

/* Scales P's row r of head (b, h) by the dropout multipliers (0 or 1 / (1 - p)). */
static void FN(drop_row)(const geom *g, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t nc, T *p)
{
    uint8_t keep[BK];
    drop_keep(g, b, h, i, j0, nc, keep);
    T s = (T)(1.0 / (1.0 - g->p));
    for (int64_t c = 0; c < nc; c++) p[c] = keep[c] ? p[c] * s : (T)0;
}

/* One query block of head (b, h): O rows and their logsumexp. */
static void FN(fwd_block)(const geom *g, int64_t b, int64_t h, int64_t qb, T *out, T *lse, T *S)
{
    int64_t i0 = qb * BQ, nr = min64(BQ, g->Tq - i0), kvh = h / g->G, Dv = g->Dv;
    T *O = out + ((b * g->H + h) * g->Tq + i0) * Dv;
    T m[BQ], l[BQ];
    for (int64_t r = 0; r < nr; r++) m[r] = (T)-INFINITY, l[r] = 0;
    memset(O, 0, sizeof(T) * (size_t)(nr * Dv));
    int64_t lo, hi, lo1, hi1;
    key_range(g, i0, &lo, &hi);
    key_range(g, i0 + nr - 1, &lo1, &hi1);
    for (int64_t kb = lo / BK; kb * BK < hi1; kb++) {
        int64_t j0 = kb * BK, nc = min64(BK, g->Tk - j0);
        int kind = tile_kind(g, i0, nr, j0, nc);
        if (kind == TILE_EMPTY) continue;
        FN(scores)(g, b, h, i0, nr, j0, nc, kind, S);
        for (int64_t r = 0; r < nr; r++) {
            T *s = S + r * BK, mx = (T)-INFINITY;
            #pragma omp simd reduction(max : mx)
            for (int64_t c = 0; c < nc; c++) mx = s[c] > mx ? s[c] : mx;
            T mnew = mx > m[r] ? mx : m[r];
            T mu = mnew == (T)-INFINITY ? (T)0 : mnew; /* a row with nothing visible yet stays all zero */
            T alpha = FN(exp)(m[r] - mu), sum = 0;
            #pragma omp simd reduction(+ : sum)
            for (int64_t c = 0; c < nc; c++) {
                s[c] = FN(exp)(s[c] - mu);
                sum += s[c];
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mnew;
            if (alpha != (T)1) {
                T *o = O + r * Dv;
                for (int64_t d = 0; d < Dv; d++) o[d] *= alpha;
            }
            if (g->p > 0) FN(drop_row)(g, b, h, i0 + r, j0, nc, s);
        }
        FN(gemm)(false, false, nr, Dv, nc, 1, S, BK, FN(row)(&g->v, b, kvh, j0), g->v.st, 1, O, Dv);
    }
    T *L = lse + (b * g->H + h) * g->Tq + i0;
    for (int64_t r = 0; r < nr; r++) {
        T *o = O + r * Dv;
        if (l[r] > 0) {
            T inv = (T)1 / l[r];
            for (int64_t d = 0; d < Dv; d++) o[d] *= inv;
            L[r] = m[r] + _Generic(l[r], float: logf, double: log)(l[r]);
        } else {
            for (int64_t d = 0; d < Dv; d++) o[d] = 0;
            L[r] = (T)INFINITY; /* backward's exp(s - lse) is then 0: no gradient through the row */
        }
    }
}

static cf_status FN(sdpa_fwd)(cf_ctx *ctx, const geom *g, T *out, T *lse, int nt)
{
    T *scr = cf_scratch(ctx, sizeof(T) * (size_t)nt * BQ * BK);
    if (!scr) return cf_last_status();
    int64_t BH = g->B * g->H, items = BH * g->nqb;
    bool par = nt > 1 && items > 1 && visible_work(g) > SDPA_PAR_MIN;
    #pragma omp parallel num_threads(nt) if (par)
    {
        T *S = scr + (size_t)thread_id() * BQ * BK;
        /* last query blocks first: under a causal mask they see the most keys, and dynamic scheduling
         * then fills in with the cheap ones */
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            int64_t qb = g->nqb - 1 - it / BH, bh = it % BH;
            FN(fwd_block)(g, bh / g->H, bh % g->H, qb, out, lse, S);
        }
    }
    return CF_OK;
}

/* One tile of backward: rebuilds P from the scores and lse, then adds this tile's share into whichever
 * of dV, dK, dQ and dbias gr carries. scr holds three [BQ, BK] tiles. */
static void FN(bwd_tile)(const geom *g, const grads *gr, int64_t b, int64_t h, int64_t qb, int64_t kb, T *scr)
{
    int64_t i0 = qb * BQ, nr = min64(BQ, g->Tq - i0), j0 = kb * BK, nc = min64(BK, g->Tk - j0);
    int kind = tile_kind(g, i0, nr, j0, nc);
    if (kind == TILE_EMPTY) return;
    int64_t kvh = h / g->G, D = g->D, Dv = g->Dv, row0 = (b * g->H + h) * g->Tq + i0;
    T *P = scr, *dS = scr + BQ * BK, *mul = scr + 2 * BQ * BK;
    const T *lse = (const T *)gr->lse + row0, *delta = (const T *)gr->delta + row0;
    const T *dO = (const T *)gr->dout + row0 * Dv;
    FN(scores)(g, b, h, i0, nr, j0, nc, kind, P);
    for (int64_t r = 0; r < nr; r++) {
        T *p = P + r * BK, L = lse[r];
        #pragma omp simd
        for (int64_t c = 0; c < nc; c++) p[c] = FN(exp)(p[c] - L);
    }
    /* the dropout multipliers (0 or 1 / (1 - p)) scale P for dV and dP for dS */
    if (g->p > 0) {
        T s = (T)(1.0 / (1.0 - g->p));
        for (int64_t r = 0; r < nr; r++) {
            uint8_t keep[BK];
            drop_keep(g, b, h, i0 + r, j0, nc, keep);
            T *m = mul + r * BK;
            for (int64_t c = 0; c < nc; c++) m[c] = keep[c] ? s : (T)0;
        }
    }
    if (gr->dv) { /* dV[j] += sum_i P[i, j] mul[i, j] dO[i] */
        T *X = P;
        if (g->p > 0) {
            X = dS; /* dS is free until dP is computed */
            for (int64_t r = 0; r < nr; r++)
                for (int64_t c = 0; c < nc; c++) X[r * BK + c] = P[r * BK + c] * mul[r * BK + c];
        }
        T *dv = (T *)gr->dv + ((b * g->Hkv + kvh) * g->Tk + j0) * Dv;
        FN(gemm)(true, false, nc, Dv, nr, 1, X, BK, dO, Dv, 1, dv, Dv);
    }
    if (!gr->dq && !gr->dk && !gr->dbias) return;
    /* dP = dO V^T (times the dropout multipliers); dS = P (dP - rowsum(dO * O)) */
    FN(gemm)(false, true, nr, nc, Dv, 1, dO, Dv, FN(row)(&g->v, b, kvh, j0), g->v.st, 0, dS, BK);
    for (int64_t r = 0; r < nr; r++) {
        T *ds = dS + r * BK, *p = P + r * BK, *m = mul + r * BK, dl = delta[r];
        if (g->p > 0) {
            for (int64_t c = 0; c < nc; c++) ds[c] = p[c] * (ds[c] * m[c] - dl);
        } else {
            for (int64_t c = 0; c < nc; c++) ds[c] = p[c] * (ds[c] - dl);
        }
    }
    if (gr->dbias) {
        T *bp = (T *)gr->dbias + b * gr->dbs[0] + h * gr->dbs[1] + j0 * gr->dbs[3];
        for (int64_t r = 0; r < nr; r++) {
            T *br = bp + (i0 + r) * gr->dbs[2];
            const T *ds = dS + r * BK;
            for (int64_t c = 0; c < nc; c++) br[c * gr->dbs[3]] += ds[c];
        }
    }
    if (gr->dq) { /* dQ += scale dS K */
        T *dq = (T *)gr->dq + row0 * D;
        FN(gemm)(false, false, nr, D, nc, (T)g->scale, dS, BK, FN(row)(&g->k, b, kvh, j0), g->k.st, 1, dq, D);
    }
    if (gr->dk) { /* dK += scale dS^T Q */
        T *dk = (T *)gr->dk + ((b * g->Hkv + kvh) * g->Tk + j0) * D;
        FN(gemm)(true, false, nc, D, nr, (T)g->scale, dS, BK, FN(row)(&g->q, b, h, i0), g->q.st, 1, dk, D);
    }
}

static cf_status FN(sdpa_bwd)(cf_ctx *ctx, const geom *g, grads *gr0, const T *out, int nt, bool bias_b_bcast,
                             bool bias_h_bcast)
{
    int64_t B = g->B, H = g->H, Hkv = g->Hkv, G = g->G, Tq = g->Tq, Dv = g->Dv;
    T *delta = cf_scratch(ctx, sizeof(T) * (size_t)(B * H * Tq + 1));
    T *scr = cf_scratch(ctx, sizeof(T) * (size_t)nt * 3 * BQ * BK);
    if (!delta || !scr) return cf_last_status();
    gr0->delta = delta;
    const T *dout = gr0->dout;
    double work = visible_work(g);
    bool par = nt > 1 && work > SDPA_PAR_MIN;
    #pragma omp parallel for if (par && B * H * Tq * Dv > CF_PAR_MIN) num_threads(nt)
    for (int64_t r = 0; r < B * H * Tq; r++) {
        T s = 0;
        for (int64_t d = 0; d < Dv; d++) s += dout[r * Dv + d] * out[r * Dv + d];
        delta[r] = s;
    }

    /* One pass per (b, kv head) computes every gradient with each P tile built once, but has only
     * B * Hkv independent items; when that leaves threads idle, split into a pass over key blocks (dK,
     * dV) and one over query blocks (dQ, dbias), which rebuilds P a second time. A bias shared across
     * batch or kv-head groups would be written by several items, so it forces the split too. */
    int64_t N = B * Hkv, rounds = (N + nt - 1) / nt;
    bool balanced = !par || (double)N / (double)(rounds * nt) >= 0.7;
    bool bias_ok = !gr0->dbias || (!bias_b_bcast && (!bias_h_bcast || Hkv == 1));
    if (balanced && bias_ok) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (par && N > 1)
        for (int64_t it = 0; it < N; it++) {
            T *s = scr + (size_t)thread_id() * 3 * BQ * BK;
            int64_t b = it / Hkv, kvh = it % Hkv;
            for (int64_t kb = 0; kb < g->nkb; kb++)
                for (int64_t h = kvh * G; h < (kvh + 1) * G; h++)
                    for (int64_t qb = 0; qb < g->nqb; qb++) FN(bwd_tile)(g, gr0, b, h, qb, kb, s);
        }
        return CF_OK;
    }
    if (gr0->dk || gr0->dv) {
        grads gk = *gr0;
        gk.dq = NULL, gk.dbias = NULL;
        int64_t items = N * g->nkb;
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (par)
        for (int64_t it = 0; it < items; it++) {
            T *s = scr + (size_t)thread_id() * 3 * BQ * BK;
            int64_t kb = it / N, b = (it % N) / Hkv, kvh = it % Hkv;
            for (int64_t h = kvh * G; h < (kvh + 1) * G; h++)
                for (int64_t qb = 0; qb < g->nqb; qb++) FN(bwd_tile)(g, &gk, b, h, qb, kb, s);
        }
    }
    if (gr0->dq || gr0->dbias) {
        grads gq = *gr0;
        gq.dk = NULL, gq.dv = NULL;
        /* items own disjoint dQ rows and, where the bias is shared across b or h, loop over the sharers
         * themselves so that no two threads add into one bias element */
        int64_t nb = bias_b_bcast ? 1 : B, nh = bias_h_bcast ? 1 : H, items = nb * nh * g->nqb;
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (par)
        for (int64_t it = 0; it < items; it++) {
            T *s = scr + (size_t)thread_id() * 3 * BQ * BK;
            int64_t qb = g->nqb - 1 - it / (nb * nh), ob = (it % (nb * nh)) / nh, oh = it % nh;
            for (int64_t b = ob; b < (bias_b_bcast ? B : ob + 1); b++)
                for (int64_t h = oh; h < (bias_h_bcast ? H : oh + 1); h++)
                    for (int64_t kb = 0; kb < g->nkb; kb++) FN(bwd_tile)(g, &gq, b, h, qb, kb, s);
        }
    }
    return CF_OK;
}

#undef CAT_
#undef CAT
#undef FN
#undef T

#endif
