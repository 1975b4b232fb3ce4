/* EcoFormer's kernelized hash and binary-code linear attention (Liu et al., NeurIPS 2022, Sec. 3.2-3.4):
 * the forward passes are composed from autograd ops (the gradient is theirs); the hash learning step and the
 * AUC work on plain arrays, without the tape. */
#include "layers/ecoformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_status cf_kernel_hash_init(cf_kernel_hash *kh, cf_params *ps, const char *name, int64_t heads, int64_t head_dim,
                              int64_t bits, int64_t anchors)
{
    memset(kh, 0, sizeof *kh);
    if (heads < 1 || head_dim < 1 || bits < 1 || anchors < 1)
        return cf_set_error(CF_ERR_ARG, "%s: kernel hash sizes must be positive (heads %lld, head_dim %lld, bits %lld, "
                            "anchors %lld)", name, (long long)heads, (long long)head_dim, (long long)bits,
                            (long long)anchors);
    kh->heads = heads, kh->head_dim = head_dim, kh->bits = bits, kh->anchors_n = anchors;
    cf_params_push(ps, "%s", name);
    kh->anchors = cf_params_add(ps, "anchors", CF_SHAPE(heads, anchors, head_dim), false);
    kh->mu = cf_params_add(ps, "mu", CF_SHAPE(heads, 1, anchors), false);
    kh->proj = cf_params_add(ps, "proj", CF_SHAPE(heads, bits, anchors), false);
    kh->learned = cf_params_add(ps, "learned", CF_SHAPE(1), false);
    cf_params_pop(ps);
    if (!kh->anchors || !kh->mu || !kh->proj || !kh->learned) return cf_last_status();
    cf_tensor *frozen[] = {kh->anchors, kh->mu, kh->proj, kh->learned};
    for (int i = 0; i < 4; i++) cf_requires_grad_(frozen[i], false);
    return cf_init_normal(ps, kh->proj, 0, 1);
}

bool cf_kernel_hash_learned(const cf_kernel_hash *kh) { return cf_get_flat(kh->learned, 0) != 0; }
void cf_kernel_hash_forget(cf_kernel_hash *kh) { cf_set_flat(kh->learned, 0, 0.0); }

/* phi [B, H, N, m] = exp(-d2 / (2 s2)) - mu, s2 the per-(row, head) mean of d2 (not detached). */
static cf_tensor *kernel_features(cf_ctx *ctx, const cf_kernel_hash *kh, cf_tensor *qk)
{
    if (!qk || qk->ndim != 4 || qk->shape[1] != kh->heads || qk->shape[3] != kh->head_dim) {
        cf_set_error(CF_ERR_SHAPE, "kernel hash: qk must be [B, %lld, N, %lld]", (long long)kh->heads,
                     (long long)kh->head_dim);
        return NULL;
    }
    static const int last[] = {3}, tok_anchor[] = {2, 3};
    cf_tensor *a = kh->anchors;
    cf_tensor *xa = cf_matmul(ctx, qk, cf_transpose(ctx, a, 1, 2));                    /* [B, H, N, m] */
    cf_tensor *xx = cf_sum(ctx, cf_mul(ctx, qk, qk), 1, last, true);                  /* [B, H, N, 1] */
    cf_tensor *aa = cf_transpose(ctx, cf_sum(ctx, cf_mul(ctx, a, a), 1, (int[]){2}, true), 1, 2); /* [H, 1, m] */
    cf_tensor *d2 = cf_add(ctx, cf_add(ctx, xx, aa), cf_mul_scalar(ctx, xa, -2.0));
    cf_tensor *s2 = cf_mean(ctx, d2, 2, tok_anchor, true);                            /* [B, H, 1, 1] */
    cf_tensor *k = cf_exp(ctx, cf_div(ctx, d2, cf_mul_scalar(ctx, s2, -2.0)));
    return cf_sub(ctx, k, kh->mu);
}

cf_tensor *cf_kernel_hash_project(cf_ctx *ctx, const cf_kernel_hash *kh, cf_tensor *qk)
{
    cf_tensor *phi = kernel_features(ctx, kh, qk);
    return phi ? cf_matmul(ctx, phi, cf_transpose(ctx, kh->proj, 1, 2)) : NULL;
}

cf_tensor *cf_kernel_hash_fwd(cf_ctx *ctx, const cf_kernel_hash *kh, cf_tensor *qk)
{
    cf_tensor *y = cf_kernel_hash_project(ctx, kh, qk);
    return y ? cf_sign(ctx, y, CF_SURROGATE_STE_CLIP, 1.0) : NULL;
}

/* ---- binary-code attention ---- */

static bool attn_shapes_ok(const cf_tensor *h, const cf_tensor *v)
{
    bool ok = h && v && h->ndim == 4 && v->ndim == 4 && h->shape[0] == v->shape[0] && h->shape[1] == v->shape[1] &&
              h->shape[2] == v->shape[2];
    if (!ok) cf_set_error(CF_ERR_SHAPE, "binary attention: h [B, H, N, b] and v [B, H, N, C] must share B, H, N");
    return ok;
}

cf_tensor *cf_binary_linear_attention(cf_ctx *ctx, cf_tensor *h, cf_tensor *v, bool code_compat)
{
    if (!attn_shapes_ok(h, v)) return NULL;
    static const int tokens[] = {2};
    double c = (double)h->shape[3] + 1, N = (double)h->shape[2];
    cf_tensor *kv = cf_matmul(ctx, cf_transpose(ctx, h, 2, 3), v);                    /* [B, H, b, C] */
    cf_tensor *hsum = cf_sum(ctx, h, 1, tokens, true);                                 /* [B, H, 1, b] */
    cf_tensor *cv = code_compat ? v : cf_sum(ctx, v, 1, tokens, true);                 /* v_i or sum_j v_j */
    cf_tensor *num = cf_add(ctx, cf_matmul(ctx, h, kv), cf_mul_scalar(ctx, cv, c));
    cf_tensor *den = cf_add_scalar(ctx, cf_matmul(ctx, h, cf_transpose(ctx, hsum, 2, 3)), N * c); /* [B, H, N, 1] */
    return cf_div(ctx, num, den);
}

cf_tensor *cf_binary_attention_explicit(cf_ctx *ctx, cf_tensor *h, cf_tensor *v, bool code_compat)
{
    if (!attn_shapes_ok(h, v)) return NULL;
    static const int keys[] = {3};
    double c = (double)h->shape[3] + 1, N = (double)h->shape[2];
    cf_tensor *hh = cf_matmul(ctx, h, cf_transpose(ctx, h, 2, 3));                    /* [B, H, N, N] */
    if (code_compat) {
        cf_tensor *num = cf_add(ctx, cf_matmul(ctx, hh, v), cf_mul_scalar(ctx, v, c));
        return cf_div(ctx, num, cf_add_scalar(ctx, cf_sum(ctx, hh, 1, keys, true), N * c));
    }
    cf_tensor *w = cf_add_scalar(ctx, hh, c);
    return cf_div(ctx, cf_matmul(ctx, w, v), cf_sum(ctx, w, 1, keys, true));
}

/* ---- hash learning (no tape) ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct ranked { double v; int64_t i; } ranked;
static int by_value_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : (x->i > y->i) - (x->i < y->i);
}

/* Ranks row i of the cosine affinity of x [N, C] (descending) into r [N]. */
static void rank_row(const double *x, int64_t N, int64_t C, int64_t i, ranked *r)
{
    for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += x[i * C + c] * x[j * C + c];
        r[j] = (ranked){s, j};
    }
    qsort(r, (size_t)N, sizeof *r, by_value_desc);
}

/* Mean over rows of -(1/(N b)) y^T S y for y = 2 sigmoid(phi a) - 1 (smooth) or sign(phi a); grad (may be
 * NULL) gets the mean gradient with respect to a. phi [R, N, m], S [R, N, N]. */
static double bit_loss(const double *phi, const double *S, const double *a, int64_t R, int64_t N, int64_t m,
                       int64_t bits, bool smooth, double *y, double *sy, double *grad)
{
    double loss = 0, scale = 1.0 / ((double)N * (double)bits * (double)R);
    if (grad) memset(grad, 0, sizeof(double) * (size_t)m);
    for (int64_t r = 0; r < R; r++) {
        const double *p = phi + r * N * m, *s = S + r * N * N;
        for (int64_t n = 0; n < N; n++) {
            double z = 0;
            for (int64_t j = 0; j < m; j++) z += p[n * m + j] * a[j];
            y[n] = smooth ? tanh(0.5 * z) : (z >= 0 ? 1.0 : -1.0); /* 2 sigmoid(z) - 1 = tanh(z / 2) */
        }
        for (int64_t n = 0; n < N; n++) {
            double t = 0;
            for (int64_t k = 0; k < N; k++) t += s[n * N + k] * y[k];
            sy[n] = t;
            loss -= scale * y[n] * t;
        }
        if (grad)
            for (int64_t n = 0; n < N; n++) {
                /* d/dz of -(1/(N b)) y^T S y with S symmetric: -(2/(N b)) (S y) dy/dz, dy/dz = (1 - y^2) / 2 */
                double dz = -scale * sy[n] * (1 - y[n] * y[n]);
                for (int64_t j = 0; j < m; j++) grad[j] += dz * p[n * m + j];
            }
    }
    return loss;
}

typedef struct learn_buf {
    double *x, *phi, *S, *y, *sy, *a, *best, *g, *vel;
    ranked *rank;
} learn_buf;

static void learn_buf_free(learn_buf *b)
{
    double *arrs[] = {b->x, b->phi, b->S, b->y, b->sy, b->a, b->best, b->g, b->vel};
    for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) free(arrs[i]);
    free(b->rank);
}

/* Anchors from row 0 (a random permutation per head), phi on rows < R with the batch's s2, mu = its mean. */
static void learn_kernel(cf_kernel_hash *kh, learn_buf *w, int64_t R, int64_t N, uint64_t seed)
{
    int64_t H = kh->heads, C = kh->head_dim, m = kh->anchors_n;
    double *anchors = calloc((size_t)(H * m * C), sizeof(double)), *mu = calloc((size_t)(H * m), sizeof(double));
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
    uint64_t st = seed;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t n = 0; n < N; n++) perm[n] = n;
        for (int64_t n = N - 1; n > 0; n--) {
            int64_t j = (int64_t)(splitmix(&st) % (uint64_t)(n + 1)), t = perm[n];
            perm[n] = perm[j], perm[j] = t;
        }
        for (int64_t j = 0; j < m; j++)
            memcpy(anchors + (h * m + j) * C, w->x + (h * N + perm[j]) * C, sizeof(double) * (size_t)C);
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t h = 0; h < H; h++) {
            const double *x = w->x + (r * H + h) * N * C;
            double *p = w->phi + (h * R + r) * N * m, s2 = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < m; j++) {
                    double d = 0;
                    for (int64_t c = 0; c < C; c++) {
                        double e = x[n * C + c] - anchors[(h * m + j) * C + c];
                        d += e * e;
                    }
                    p[n * m + j] = d, s2 += d;
                }
            s2 /= (double)(N * m);
            for (int64_t i = 0; i < N * m; i++) {
                p[i] = exp(-p[i] / (2 * s2));
                mu[h * m + i % m] += p[i] / (double)(R * N);
            }
        }
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < R * N * m; i++) w->phi[h * R * N * m + i] -= mu[h * m + i % m];
    for (int64_t i = 0; i < H * m * C; i++) cf_set_flat(kh->anchors, i, anchors[i]);
    for (int64_t i = 0; i < H * m; i++) cf_set_flat(kh->mu, i, mu[i]);
    free(anchors), free(mu), free(perm);
}

/* S = b S0 per (head, row): +b on each query's topk most similar tokens, -b on its topk least similar. */
static void learn_targets(const cf_kernel_hash *kh, learn_buf *w, int64_t R, int64_t N, int64_t topk)
{
    int64_t H = kh->heads, C = kh->head_dim;
    double b = (double)kh->bits;
    for (int64_t r = 0; r < R; r++)
        for (int64_t h = 0; h < H; h++) {
            double *S = w->S + (h * R + r) * N * N;
            for (int64_t i = 0; i < N; i++) {
                rank_row(w->x + (r * H + h) * N * C, N, C, i, w->rank);
                for (int64_t k = 0; k < topk; k++) {
                    S[i * N + w->rank[k].i] = b;
                    S[i * N + w->rank[N - 1 - k].i] = -b;
                }
            }
            /* S0 need not be symmetric (top-k is per query); the loss y^T S y sees its symmetric part */
            for (int64_t i = 0; i < N; i++)
                for (int64_t j = 0; j < i; j++) S[i * N + j] = S[j * N + i] = 0.5 * (S[i * N + j] + S[j * N + i]);
        }
}

static double residual_norm(const double *S, int64_t count, int64_t N)
{
    double s = 0;
    for (int64_t i = 0; i < count * N * N; i++) s += S[i] * S[i];
    return s / ((double)count * (double)N * (double)N);
}

/* One bit of one head: Nesterov SGD on the smooth loss, kept only if the binarised loss improves; then
 * the residual S <- S - y y^T with the binary codes. Returns the four trace values through t[4]. */
static void learn_bit(cf_kernel_hash *kh, learn_buf *w, int64_t h, int64_t bit, int64_t R, int64_t N,
                      const cf_hash_learn_opts *o, double t[4])
{
    int64_t m = kh->anchors_n, b = kh->bits;
    const double *phi = w->phi + h * R * N * m;
    double *S = w->S + h * R * N * N;
    for (int64_t j = 0; j < m; j++) w->a[j] = w->best[j] = cf_get_flat(kh->proj, (h * b + bit) * m + j), w->vel[j] = 0;
    t[2] = bit_loss(phi, S, w->a, R, N, m, b, false, w->y, w->sy, NULL);
    t[0] = bit_loss(phi, S, w->a, R, N, m, b, true, w->y, w->sy, w->g);
    for (int64_t it = 0; it < o->iters; it++) {
        if (it) bit_loss(phi, S, w->a, R, N, m, b, true, w->y, w->sy, w->g);
        for (int64_t j = 0; j < m; j++) {
            w->vel[j] = o->momentum * w->vel[j] + w->g[j];
            w->a[j] -= o->lr * (w->g[j] + o->momentum * w->vel[j]);
        }
    }
    t[1] = bit_loss(phi, S, w->a, R, N, m, b, true, w->y, w->sy, NULL);
    double fresh = bit_loss(phi, S, w->a, R, N, m, b, false, w->y, w->sy, NULL);
    if (fresh < t[2]) memcpy(w->best, w->a, sizeof(double) * (size_t)m);
    t[3] = bit_loss(phi, S, w->best, R, N, m, b, false, w->y, w->sy, NULL); /* of the projection kept */
    for (int64_t j = 0; j < m; j++) cf_set_flat(kh->proj, (h * b + bit) * m + j, w->best[j]);
    for (int64_t r = 0; r < R; r++) {
        const double *p = phi + r * N * m;
        double *s = S + r * N * N;
        for (int64_t n = 0; n < N; n++) {
            double z = 0;
            for (int64_t j = 0; j < m; j++) z += p[n * m + j] * w->best[j];
            w->y[n] = z >= 0 ? 1.0 : -1.0;
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < N; k++) s[i * N + k] -= w->y[i] * w->y[k];
    }
}

cf_status cf_kernel_hash_learn(cf_kernel_hash *kh, const cf_tensor *qk, const cf_hash_learn_opts *o,
                               cf_hash_learn_trace *trace)
{
    if (!qk || qk->ndim != 4 || qk->shape[1] != kh->heads || qk->shape[3] != kh->head_dim)
        return cf_set_error(CF_ERR_SHAPE, "hash learning: qk must be [B, %lld, N, %lld]", (long long)kh->heads,
                            (long long)kh->head_dim);
    int64_t B = qk->shape[0], H = kh->heads, N = qk->shape[2], C = kh->head_dim, m = kh->anchors_n;
    int64_t R = o->max_rows > 0 && o->max_rows < B ? o->max_rows : B;
    if (N < m || o->topk < 1 || 2 * o->topk > N || o->iters < 0 || !(o->lr >= 0) || !(o->momentum >= 0))
        return cf_set_error(CF_ERR_ARG, "hash learning: needs anchors %lld <= tokens %lld, 1 <= topk %lld <= "
                            "tokens / 2, iters >= 0, lr >= 0, momentum >= 0", (long long)m, (long long)N,
                            (long long)o->topk);
    learn_buf w = {0};
    w.x = malloc(sizeof(double) * (size_t)(B * H * N * C));
    w.phi = malloc(sizeof(double) * (size_t)(H * R * N * m));
    w.S = calloc((size_t)(H * R * N * N), sizeof(double));
    w.y = malloc(sizeof(double) * (size_t)N), w.sy = malloc(sizeof(double) * (size_t)N);
    w.a = malloc(sizeof(double) * (size_t)m), w.best = malloc(sizeof(double) * (size_t)m);
    w.g = malloc(sizeof(double) * (size_t)m), w.vel = malloc(sizeof(double) * (size_t)m);
    w.rank = malloc(sizeof(ranked) * (size_t)N);
    if (!w.x || !w.phi || !w.S || !w.y || !w.sy || !w.a || !w.best || !w.g || !w.vel || !w.rank) {
        learn_buf_free(&w);
        return cf_set_error(CF_ERR_OOM, "hash learning: out of memory for %lld rows x %lld heads x %lld^2 targets",
                            (long long)R, (long long)H, (long long)N);
    }
    cf_to_f64_array(qk, w.x);
    learn_kernel(kh, &w, R, N, o->seed);
    if (o->learn_proj) learn_targets(kh, &w, R, N, o->topk);
    if (trace && o->learn_proj) trace->residual[0] = residual_norm(w.S, H * R, N);
    for (int64_t bit = 0; o->learn_proj && bit < kh->bits; bit++) {
        double sum[4] = {0};
        for (int64_t h = 0; h < H; h++) {
            double t[4];
            learn_bit(kh, &w, h, bit, R, N, o, t);
            for (int k = 0; k < 4; k++) sum[k] += t[k] / (double)H;
        }
        if (trace) {
            trace->smooth_first[bit] = sum[0], trace->smooth_last[bit] = sum[1];
            trace->binary_old[bit] = sum[2], trace->binary_kept[bit] = sum[3];
            trace->residual[bit + 1] = residual_norm(w.S, H * R, N);
        }
    }
    learn_buf_free(&w);
    cf_set_flat(kh->learned, 0, 1.0);
    return CF_OK;
}

/* ---- evaluation helpers ---- */

/* Adds query i's pairs to both AUCs: its topk most similar other tokens (rank[0..topk), self excluded) against
 * every other token (vs_rest) and against its topk least similar (vs_bottom). Code scores h_i^T h_j are
 * integers in [-b, b], so the negatives are counted in a histogram of 2b + 1 bins. */
static void auc_query(const double *code, const ranked *rank, int64_t N, int64_t b, int64_t i, int64_t topk,
                      int64_t *hist, double acc[4])
{
    const double *ci = code + i * b;
    memset(hist, 0, sizeof(int64_t) * (size_t)(2 * b + 1));
    int64_t score[2][64], np = 0, nb = 0; /* the positives' and the bottom-k's scores (topk <= 64) */
    for (int64_t r = 0, seen = 0; r < N; r++) {
        int64_t j = rank[r].i;
        if (j == i) continue;
        double s = 0;
        for (int64_t k = 0; k < b; k++) s += ci[k] * code[j * b + k];
        int64_t bin = (int64_t)lround(s) + b;
        bin = bin < 0 ? 0 : bin > 2 * b ? 2 * b : bin;
        if (seen < topk) score[0][np++] = bin;
        else hist[bin]++;
        if (seen >= N - 1 - topk) score[1][nb++] = bin;
        seen++;
    }
    int64_t negatives = N - 1 - topk;
    for (int64_t p = 0; p < np; p++) {
        int64_t below = 0;
        for (int64_t v = 0; v < score[0][p]; v++) below += hist[v];
        acc[0] += (double)below + 0.5 * (double)hist[score[0][p]], acc[1] += (double)negatives;
        for (int64_t q = 0; q < nb; q++)
            acc[2] += score[0][p] > score[1][q] ? 1.0 : score[0][p] == score[1][q] ? 0.5 : 0.0, acc[3] += 1;
    }
}

/* ||Y Y^T - b S0||_F^2 / (b^2 N^2) of one (row, head) whose S holds b S0 row by row (not yet symmetrised). */
static double ksh_objective(const double *code, const double *S, int64_t N, int64_t b)
{
    double sum = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double t = 0.5 * (S[i * N + j] + S[j * N + i]), s = 0;
            for (int64_t k = 0; k < b; k++) s += code[i * b + k] * code[j * b + k];
            sum += (i == j ? 1.0 : 2.0) * (s - t) * (s - t);
        }
    return sum / ((double)b * (double)b * (double)N * (double)N);
}

cf_hash_auc_result cf_hash_auc(const cf_tensor *qk, const cf_tensor *h, int64_t topk)
{
    cf_hash_auc_result res = {NAN, NAN, NAN};
    int64_t B = qk->shape[0], H = qk->shape[1], N = qk->shape[2], C = qk->shape[3], b = h->shape[3];
    if (topk < 1 || topk > 64 || 2 * topk > N - 1) return res;
    double *x = malloc(sizeof(double) * (size_t)(B * H * N * C)), *code = malloc(sizeof(double) * (size_t)(B * H * N * b));
    double *S = malloc(sizeof(double) * (size_t)(N * N));
    ranked *rank = malloc(sizeof(ranked) * (size_t)N);
    int64_t *hist = malloc(sizeof(int64_t) * (size_t)(2 * b + 1));
    double acc[4] = {0}, ksh = 0;
    if (x && code && S && rank && hist) {
        cf_to_f64_array(qk, x);
        cf_to_f64_array(h, code);
        for (int64_t s = 0; s < B * H; s++) {
            memset(S, 0, sizeof(double) * (size_t)(N * N));
            for (int64_t i = 0; i < N; i++) {
                rank_row(x + s * N * C, N, C, i, rank);
                auc_query(code + s * N * b, rank, N, b, i, topk, hist, acc);
                for (int64_t k = 0; k < topk; k++)
                    S[i * N + rank[k].i] = (double)b, S[i * N + rank[N - 1 - k].i] = -(double)b;
            }
            ksh += ksh_objective(code + s * N * b, S, N, b) / (double)(B * H);
        }
    }
    free(x), free(code), free(S), free(rank), free(hist);
    if (acc[1] > 0) res.vs_rest = acc[0] / acc[1], res.vs_bottom = acc[2] / acc[3], res.ksh = ksh;
    return res;
}

static cf_attn_cost cost_of(double muls, double adds)
{
    return (cf_attn_cost){muls, adds, 3.7 * muls + 0.9 * adds};
}

cf_attn_cost cf_ecoformer_attn_cost(int64_t H, int64_t N, int64_t C, int64_t b, int64_t m)
{
    double h = (double)H, n = (double)N, c = (double)C, bb = (double)b, mm = (double)m;
    /* kernel distances (2HNmC adds), projection (HNmb), sign, context sum_j h_j v_j^T (adds only, h = +-1),
     * h_i^T context (HNbC + HNC adds), key sum and denominator (HNb) */
    double adds = 2 * h * n * mm * c + h * n * mm * bb + h * n * bb + h * n * bb * c + (h * n * bb * c + h * n * c) +
                  h * n * bb;
    double muls = 2 * h * n * mm + h * n * mm * bb + (h * n * bb + h * n) + h * n * c;
    return cost_of(muls, adds);
}

cf_attn_cost cf_softmax_attn_cost(int64_t H, int64_t N, int64_t C)
{
    double n = (double)N, d = (double)(H * C);
    return cost_of(2 * n * n * d + (double)H * n * n, 2 * n * n * d);
}
