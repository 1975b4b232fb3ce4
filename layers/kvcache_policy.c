/* KV-cache eviction policies (full, window, streaming, h2o, keyformer): scores, selection and compaction. */
#include "layers/kvcache_policy.h"

#include "autograd/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_status after(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q);
static cf_status attend(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q, cf_tensor **y);

static const char *const names[] = {"full", "window", "streaming", "h2o", "keyformer"};

bool cf_kv_policy_parse(const char *s, cf_kv_policy_kind *out)
{
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) return *out = (cf_kv_policy_kind)i, true;
    return false;
}

const char *cf_kv_policy_name(cf_kv_policy_kind k)
{
    return (size_t)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

cf_kv_policy_config cf_kv_policy_defaults(void)
{
    return (cf_kv_policy_config){.kind = CF_KV_FULL, .budget = 1, .recent = 0.3, .sinks = 4, .tau_init = 1.0,
                                 .tau_end = 2.0, .steps = 128, .seed = 0};
}

int64_t cf_kv_budget(int64_t n_prompt, double frac)
{
    int64_t k = (int64_t)floor((double)n_prompt * frac + 1e-9); /* 0.6 * 10 is 6, not 5.999... */
    return k < 1 ? 1 : k;
}

double cf_kv_tau(const cf_kv_policy_config *cfg, int64_t t)
{
    double steps = cfg->steps > 0 ? (double)cfg->steps : 1.0;
    return cfg->tau_init + (double)t * (cfg->tau_end - cfg->tau_init) / steps;
}

/* e^x for x <= 0, in a form the compiler vectorises (libm's exp is a call per element): x = n ln 2 + r, |r| <=
 * ln 2 / 2, Taylor through r^13 (within a few ulp of libm); 0 below -708 (where libm's result is subnormal, a
 * share no sum of probabilities can tell from 0), by an integer AND rather than a branch. */
static inline double exp_neg(double x)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer in the low bits */
    double t = x * 1.4426950408889634 + magic;
    uint64_t tb, mb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    int64_t n = (int64_t)(tb - mb);
    n = n < -1022 ? -1022 : n; /* an integer clamp: a conditional on doubles stops the vectoriser */
    double nf = (double)n, r = x - nf * 6.93147180369123816490e-01 - nf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0), p = fma(p, r, 1.0 / 39916800.0), p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0), p = fma(p, r, 1.0 / 40320.0), p = fma(p, r, 1.0 / 5040.0), p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0), p = fma(p, r, 1.0 / 24.0), p = fma(p, r, 1.0 / 6.0), p = fma(p, r, 0.5), p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    uint64_t sb = (uint64_t)(n + 1023) << 52, vb;
    double sc, v;
    memcpy(&sc, &sb, sizeof sc);
    v = p * sc;
    memcpy(&vb, &v, sizeof vb);
    vb &= (uint64_t)-(int64_t)(x >= -708.0); /* 0 below -708, -inf included (whose p is NaN) */
    memcpy(&v, &vb, sizeof v);
    return v;
}

void cf_kv_score_row(const double *x, const double *g, int64_t n, double tau, double *f)
{
    double mx = -INFINITY, inv = 1.0 / tau;
    if (g)
        for (int64_t j = 0; j < n; j++) f[j] = (x[j] + g[j]) * inv;
    else
        for (int64_t j = 0; j < n; j++) f[j] = x[j] * inv;
    #pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = f[j] > mx ? f[j] : mx;
    for (int64_t j = 0; j < n; j++) f[j] = exp_neg(f[j] - mx);
    double a[8] = {0}, sum = 0;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int u = 0; u < 8; u++) a[u] += f[j + u];
    for (; j < n; j++) sum += f[j];
    sum += ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    double is = 1.0 / sum;
    for (j = 0; j < n; j++) f[j] *= is;
}

typedef struct cf_kv_ranked {
    double score;
    int64_t pos, row;
} ranked;

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos; /* ties: the earlier position first */
}

static void select_rows(const cf_kv_policy_config *cfg, const int64_t *pos, const double *score, int64_t n,
                        uint8_t *keep, ranked *r)
{
    int64_t k = cfg->budget;
    if (cfg->kind == CF_KV_FULL || n <= k) {
        memset(keep, 1, (size_t)n);
        return;
    }
    int64_t head = 0, tail = k; /* window: the last k */
    if (cfg->kind == CF_KV_STREAMING) head = cfg->sinks < k ? cfg->sinks : k, tail = k - head;
    bool top = cfg->kind == CF_KV_H2O || cfg->kind == CF_KV_KEYFORMER;
    if (top) {
        tail = (int64_t)floor((double)k * cfg->recent + 1e-9);
        if (tail > k) tail = k;
    }
    int64_t oldest = INT64_MAX, newest = INT64_MIN, nc = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = pos ? pos[i] : i;
        oldest = at < oldest ? at : oldest, newest = at > newest ? at : newest;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t at = pos ? pos[i] : i;
        keep[i] = at - oldest < head || at > newest - tail; /* the sinks, the recent positions */
        nc += !keep[i];
    }
    if (!top || !r || k - tail <= 0) return;
    if (k - tail == nc - 1) { /* one row goes (every decode step): the lowest score, of tied lowest the latest
                               * position (the last in by_score's order); a scan, not a sort */
        int64_t drop = -1;
        for (int64_t i = 0; i < n; i++) {
            if (keep[i]) continue;
            bool later = pos ? drop < 0 || pos[i] > pos[drop] : true;
            if (drop < 0 || score[i] < score[drop] || (score[i] == score[drop] && later)) drop = i;
        }
        for (int64_t i = 0; i < n; i++) keep[i] = i != drop;
        return;
    }
    nc = 0;
    for (int64_t i = 0; i < n; i++)
        if (!keep[i]) r[nc++] = (ranked){score[i], pos ? pos[i] : i, i};
    qsort(r, (size_t)nc, sizeof *r, by_score);
    for (int64_t i = 0; i < k - tail && i < nc; i++) keep[r[i].row] = 1;
}

void cf_kv_select(const cf_kv_policy_config *cfg, const int64_t *pos, const double *score, int64_t n, uint8_t *keep)
{
    ranked stack[256], *r = n <= 256 ? stack : malloc(sizeof *r * (size_t)n);
    if (!r) { /* out of memory: the scored policies fall back to the recent window */
        cf_kv_policy_config w = *cfg;
        w.kind = CF_KV_WINDOW;
        select_rows(&w, pos, score, n, keep, NULL);
        return;
    }
    select_rows(cfg, pos, score, n, keep, r);
    if (r != stack) free(r);
}

cf_status cf_kv_policy_init(cf_kv_policy *p, const cf_kv_policy_config *cfg, int64_t layer, int64_t batch,
                           int64_t heads, int64_t cap)
{
    memset(p, 0, sizeof *p);
    if (cfg->budget < 1 || cfg->recent < 0 || cfg->recent > 1 || cfg->sinks < 0 || cfg->steps < 1 ||
        !(cfg->tau_init > 0) || !(cfg->tau_end > 0))
        return cf_set_error(CF_ERR_ARG, "kv policy %s: budget %lld must be >= 1, recent %g in [0, 1], sinks %lld >= 0, "
                            "steps %lld >= 1, temperatures %g, %g > 0", cf_kv_policy_name(cfg->kind),
                            (long long)cfg->budget, cfg->recent, (long long)cfg->sinks, (long long)cfg->steps,
                            cfg->tau_init, cfg->tau_end);
    if (batch < 1 || heads < 1 || cap < 1)
        return cf_set_error(CF_ERR_ARG, "kv policy: a cache of %lld sequences x %lld heads x %lld positions",
                            (long long)batch, (long long)heads, (long long)cap);
    p->cfg = *cfg, p->layer = layer;
    p->batch = batch, p->heads = heads, p->cap = cap;
    size_t rows = (size_t)(p->batch * p->heads * p->cap);
    p->pos = malloc(sizeof *p->pos * rows);
    p->score = calloc(rows, sizeof *p->score);
    p->scratch = malloc(sizeof *p->scratch * 4 * (size_t)p->cap);
    p->keep = malloc((size_t)p->cap);
    p->rank = malloc(sizeof *p->rank * (size_t)p->cap);
    if (!p->pos || !p->score || !p->scratch || !p->keep || !p->rank) {
        cf_kv_policy_free(p);
        return cf_set_error(CF_ERR_OOM, "kv policy: out of memory");
    }
    p->hook.after = after;
    p->hook.attend = attend;
    p->key = cf_rng_key(cfg->seed, 0x6b657900u + (uint64_t)layer);
    return CF_OK;
}

void cf_kv_policy_free(cf_kv_policy *p)
{
    free(p->pos), free(p->score), free(p->scratch), free(p->keep), free(p->rank);
    p->pos = NULL, p->score = NULL, p->scratch = NULL, p->keep = NULL, p->rank = NULL;
}


static bool scored(cf_kv_policy_kind k) { return k == CF_KV_H2O || k == CF_KV_KEYFORMER; }

/* ln x for a positive normal double, in a form the compiler vectorises (libm's log is a call per element): x =
 * 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1),
 * |s| < 0.172, through s^17 (the rest below s^19 / 19 < 2e-16 relative): within a few ulp of libm. */
static inline double log_pos(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int64_t e = (int64_t)(bits >> 52) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
    double m;
    memcpy(&m, &bits, sizeof m);
    int64_t big = m > 1.4142135623730951; /* m in [sqrt 2, 2): halve it */
    m *= big ? 0.5 : 1.0;
    e += big;
    double s = (m - 1) / (m + 1), z = s * s;
    double p = 1.0 / 17;
    p = fma(p, z, 1.0 / 15), p = fma(p, z, 1.0 / 13), p = fma(p, z, 1.0 / 11), p = fma(p, z, 1.0 / 9);
    p = fma(p, z, 1.0 / 7), p = fma(p, z, 1.0 / 5), p = fma(p, z, 1.0 / 3), p = fma(p, z, 1.0);
    return (double)e * 0.6931471805599453 + 2 * s * p;
}

#define LANES 32
void cf_kv_gumbel_row(cf_philox_key key, uint64_t qpos, uint64_t bhq, const int64_t *pos, int64_t m, double *g)
{
    /* cf_rng_uniform(key, qpos, i) is half of Philox block i / 2 at counter step qpos: LANES blocks at a time, lane
     * by lane (cf_philox4x32's rounds, which the compiler vectorises; several vectors in flight hide the latency) */
    for (int64_t j0 = 0; j0 < m; j0 += LANES) {
        int64_t w = m - j0 < LANES ? m - j0 : LANES;
        uint64_t c0[LANES], c1[LANES], c2[LANES], c3[LANES], idx[LANES]; /* 32-bit words in 64-bit lanes */
        for (int l = 0; l < LANES; l++) {
            idx[l] = (bhq << 32) | (uint64_t)pos[j0 + (l < w ? l : w - 1)];
            uint64_t blk = idx[l] / 2;
            c0[l] = blk & 0xffffffffu, c1[l] = blk >> 32, c2[l] = qpos & 0xffffffffu, c3[l] = qpos >> 32;
        }
        uint64_t k0 = key.k[0], k1 = key.k[1];
        for (int r = 0; r < 10; r++) {
            for (int l = 0; l < LANES; l++) {
                uint64_t p0 = 0xD2511F53ull * c0[l], p1 = 0xCD9E8D57ull * c2[l];
                c0[l] = (p1 >> 32) ^ c1[l] ^ k0, c1[l] = p1 & 0xffffffffu;
                c2[l] = (p0 >> 32) ^ c3[l] ^ k1, c3[l] = p0 & 0xffffffffu;
            }
            k0 = (k0 + 0x9E3779B9u) & 0xffffffffu, k1 = (k1 + 0xBB67AE85u) & 0xffffffffu;
        }
        double u[LANES];
        for (int l = 0; l < LANES; l++) {
            bool odd = idx[l] & 1;
            uint64_t a = odd ? c2[l] : c0[l], b = odd ? c3[l] : c1[l];
            uint64_t v = ((a << 21) ^ (b >> 11)) & ((1ull << 53) - 1); /* 53 bits -> [0, 1), as cf_rng_uniform */
            double x = (double)v * (1.0 / 9007199254740992.0);
            u[l] = x < 1e-12 ? 1e-12 : x > 1.0 - 1e-12 ? 1.0 - 1e-12 : x;
        }
        for (int l = 0; l < LANES; l++) u[l] = -log_pos(-log_pos(u[l]));
        memcpy(g + j0, u, sizeof *g * (size_t)w);
    }
}
#undef LANES

/* Adds one query row's score to the m rows it sees (rows base .. base + m - 1 of the score array), from its logits
 * x; returns the score row (p->scratch's third quarter, valid until the next call). */
static const double *score_query(cf_kv_policy *p, int64_t bhq, int64_t qpos, int64_t base, const double *x, int64_t m)
{
    double *g = NULL, *f = p->scratch + 2 * p->cap, tau = 1.0;
    if (p->cfg.kind == CF_KV_KEYFORMER) {
        g = p->scratch + p->cap, tau = cf_kv_tau(&p->cfg, p->step);
        cf_kv_gumbel_row(p->key, (uint64_t)qpos, (uint64_t)bhq, p->pos + base, m, g);
    }
    cf_kv_score_row(x, g, m, tau, f);
    double *s = p->score + base;
    for (int64_t j = 0; j < m; j++) s[j] += f[j];
    return f;
}

/* q . k over Dh elements in eight interleaved partial sums: a fixed order that the compiler vectorises (one running
 * sum is a chain of dependent adds). */
#define DOT8_BODY                                                                                                      \
    double a[8] = {0}, s = 0;                                                                                          \
    int64_t d = 0;                                                                                                     \
    for (; d + 8 <= Dh; d += 8)                                                                                        \
        for (int u = 0; u < 8; u++) a[u] += q[d + u] * (double)k[d + u];                                               \
    for (; d < Dh; d++) s += q[d] * (double)k[d];                                                                      \
    return s + (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])));
static inline double dot_f32(const double *q, const float *k, int64_t Dh) { DOT8_BODY }
static inline double dot_f64(const double *q, const double *k, int64_t Dh) { DOT8_BODY }
#undef DOT8_BODY

/* x_j = q . k_j / sqrt(Dh) for rows [0, m) of the cache from `base`, q as doubles. */
static void logits(const cf_kv_cache *c, int64_t base, const double *q, int64_t m, int64_t Dh, double *x)
{
    double scale = 1.0 / sqrt((double)Dh);
    if (c->k->dtype == CF_F32) {
        const float *k = (const float *)cf_data(c->k) + base * Dh;
        for (int64_t j = 0; j < m; j++, k += Dh) x[j] = dot_f32(q, k, Dh) * scale;
    } else {
        const double *k = (const double *)cf_data(c->k) + base * Dh;
        for (int64_t j = 0; j < m; j++, k += Dh) x[j] = dot_f64(q, k, Dh) * scale;
    }
}

/* Row i of query head hq of sequence b as doubles (q of any strides). */
static void query_row(const cf_tensor *q, int64_t b, int64_t hq, int64_t i, double *out)
{
    const int64_t *st = q->stride;
    int64_t at = b * st[0] + hq * st[1] + i * st[2];
    if (q->dtype == CF_F32)
        for (int64_t d = 0; d < q->shape[3]; d++) out[d] = ((const float *)cf_data(q))[at + d * st[3]];
    else
        for (int64_t d = 0; d < q->shape[3]; d++) out[d] = ((const double *)cf_data(q))[at + d * st[3]];
}

/* The attention pass over the cache, scoring as it goes: for every query row, the logits once, its score row, the
 * softmax (for h2o the score row itself: tau 1, no noise) and the weighted sum of values into y [B, Hq, T, Dh]
 * (contiguous, q's dtype). qd, acc: Dh doubles each. The rows [0, len) of the cache, the last T new. */
static void attend_rows(cf_kv_policy *p, const cf_kv_cache *c, const cf_tensor *q, cf_tensor *y, double *qd,
                        double *acc)
{
    int64_t n = c->len, Hq = q->shape[1], T = q->shape[2], Dh = q->shape[3], group = Hq / p->heads;
    int64_t first = cf_kv_cache_pos(c) - T;
    double *x = p->scratch, *w = p->scratch + 3 * p->cap;
    bool f32 = c->v->dtype == CF_F32;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t hq = 0; hq < Hq; hq++) {
            int64_t base = (b * p->heads + hq / group) * p->cap;
            for (int64_t i = 0; i < T; i++) {
                int64_t m = n - T + i + 1;
                query_row(q, b, hq, i, qd);
                logits(c, base, qd, m, Dh, x);
                const double *f = score_query(p, b * Hq + hq, first + i, base, x, m);
                if (p->cfg.kind != CF_KV_H2O) cf_kv_score_row(x, NULL, m, 1.0, w), f = w;
                int64_t at = ((b * Hq + hq) * T + i) * Dh;
                if (f32) { /* the weighted sum in f32, as the sdpa op's (twice the lanes of f64) */
                    float *o = (float *)cf_data(y) + at;
                    const float *v = (const float *)cf_data(c->v) + base * Dh;
                    for (int64_t d = 0; d < Dh; d++) o[d] = 0;
                    for (int64_t j = 0; j < m; j++, v += Dh) {
                        float fj = (float)f[j];
                        for (int64_t d = 0; d < Dh; d++) o[d] += fj * v[d];
                    }
                    continue;
                }
                const double *v = (const double *)cf_data(c->v) + base * Dh;
                for (int64_t d = 0; d < Dh; d++) acc[d] = 0;
                for (int64_t j = 0; j < m; j++, v += Dh)
                    for (int64_t d = 0; d < Dh; d++) acc[d] += f[j] * v[d];
                memcpy((double *)cf_data(y) + at, acc, sizeof *acc * (size_t)Dh);
            }
        }
}

/* Packs the kept rows of every (sequence, KV head) into [0, kept): each evicted row's slot takes a kept row from
 * the end (one row moved per eviction, where shifting the rows after it down would move half the cache every decode
 * step); every one keeps the same count. */
static int64_t compact(cf_kv_policy *p, cf_kv_cache *c)
{
    int64_t n = c->len, Dh = c->k->shape[3], kept = 0;
    size_t row = (size_t)Dh * (c->k->dtype == CF_F32 ? sizeof(float) : sizeof(double));
    char *kd = cf_data(c->k), *vd = cf_data(c->v);
    for (int64_t bh = 0; bh < p->batch * p->heads; bh++) {
        int64_t base = bh * p->cap, lo = 0, hi = n - 1;
        uint8_t *keep = p->keep;
        select_rows(&p->cfg, p->pos + base, p->score + base, n, keep, p->rank);
        for (;;) {
            while (lo < hi && keep[lo]) lo++;
            while (hi > lo && !keep[hi]) hi--;
            if (lo >= hi) break;
            memcpy(kd + (size_t)(base + lo) * row, kd + (size_t)(base + hi) * row, row);
            memcpy(vd + (size_t)(base + lo) * row, vd + (size_t)(base + hi) * row, row);
            p->pos[base + lo] = p->pos[base + hi], p->score[base + lo] = p->score[base + hi];
            keep[lo] = 1, keep[hi] = 0;
        }
        kept = 0;
        for (int64_t j = 0; j < n; j++) kept += keep[j];
    }
    cf_bump_version(c->k);
    cf_bump_version(c->v);
    return kept;
}

/* The cache and queries the policy was made for; the first forward fills an empty cache. */
static cf_status check(const cf_kv_policy *p, const cf_kv_cache *c, const cf_tensor *q)
{
    const cf_tensor *k = c->k;
    if (!k || k->ndim != 4 || k->shape[0] != p->batch || k->shape[1] != p->heads || k->shape[2] != p->cap ||
        (k->dtype != CF_F32 && k->dtype != CF_F64) || k->dtype != c->v->dtype || !cf_is_contiguous(k) ||
        !cf_is_contiguous(c->v) || k->storage->device != CF_CPU || c->v->storage->device != CF_CPU)
        return cf_set_error(CF_ERR_SHAPE, "kv policy: made for a contiguous f32/f64 host cache of %lld x %lld x %lld "
                            "positions, used on another", (long long)p->batch, (long long)p->heads, (long long)p->cap);
    if (!q || q->ndim != 4 || q->shape[0] != p->batch || q->shape[1] % p->heads || q->shape[3] != k->shape[3] ||
        q->storage->device != CF_CPU)
        return cf_set_error(CF_ERR_SHAPE, "kv policy: queries of %lld sequences x %lld heads for a cache of %lld x %lld",
                            q ? (long long)q->shape[0] : 0LL, q ? (long long)q->shape[1] : 0LL, (long long)p->batch,
                            (long long)p->heads);
    int64_t T = q->shape[2];
    if (c->len > p->cap || (p->step == 0 && (c->len != T || c->evicted != 0)))
        return cf_set_error(CF_ERR_ARG, "kv policy: its first forward must fill an empty cache (%lld rows held before "
                            "%lld new)", (long long)(c->len - T + c->evicted), (long long)T);
    return CF_OK;
}

/* Records the forward's T new rows: their positions, a zero score. */
static void admit(cf_kv_policy *p, const cf_kv_cache *c, int64_t T)
{
    int64_t first = cf_kv_cache_pos(c) - T;
    for (int64_t bh = 0; bh < p->batch * p->heads; bh++)
        for (int64_t i = 0; i < T; i++) {
            p->pos[bh * p->cap + c->len - T + i] = first + i;
            p->score[bh * p->cap + c->len - T + i] = 0;
        }
}

static cf_status attend(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q, cf_tensor **y)
{
    cf_kv_policy *p = (cf_kv_policy *)h;
    *y = NULL;
    if (!scored(p->cfg.kind)) return CF_OK; /* nothing to read from the pass: the sdpa op runs */
    CF_TRY(check(p, c, q));
    if (q->dtype != c->k->dtype) return CF_OK;
    int64_t Dh = q->shape[3];
    cf_tensor *out = cf_empty(ctx, q->dtype, 4, q->shape), *tmp = cf_empty(ctx, CF_F64, CF_SHAPE(2, Dh));
    if (!out || !tmp) return cf_last_status();
    admit(p, c, q->shape[2]);
    attend_rows(p, c, q, out, cf_data(tmp), (double *)cf_data(tmp) + Dh);
    p->attended = true;
    *y = out;
    return CF_OK;
}

static cf_status after(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q)
{
    cf_kv_policy *p = (cf_kv_policy *)h;
    CF_TRY(check(p, c, q));
    int64_t Hq = q->shape[1], T = q->shape[2], Dh = q->shape[3], group = Hq / p->heads;
    if (!p->attended) { /* the sdpa op ran: the logits again, from q and the cache */
        admit(p, c, T);
        int64_t first = cf_kv_cache_pos(c) - T;
        cf_tensor *qt = scored(p->cfg.kind) ? cf_empty(ctx, CF_F64, CF_SHAPE(Dh)) : NULL;
        if (scored(p->cfg.kind) && !qt) return cf_last_status();
        double *qd = qt ? cf_data(qt) : NULL;
        for (int64_t b = 0; qd && b < p->batch; b++)
            for (int64_t hq = 0; hq < Hq; hq++) {
                int64_t base = (b * p->heads + hq / group) * p->cap;
                for (int64_t i = 0; i < T; i++) {
                    int64_t m = c->len - T + i + 1;
                    query_row(q, b, hq, i, qd);
                    logits(c, base, qd, m, Dh, p->scratch);
                    score_query(p, b * Hq + hq, first + i, base, p->scratch, m);
                }
            }
    }
    p->attended = false;
    p->step++;
    if (p->cfg.kind != CF_KV_FULL && c->len > p->cfg.budget) {
        int64_t kept = compact(p, c);
        c->evicted += c->len - kept;
        c->len = kept;
    }
    return CF_OK;
}
