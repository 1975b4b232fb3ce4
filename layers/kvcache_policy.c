/* KV-cache eviction policies (full, window, streaming, h2o, keyformer): scores, selection and compaction. */
#include "layers/kvcache_policy.h"

#include "autograd/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_status after(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q);

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

void cf_kv_score_row(const double *x, const double *g, int64_t n, double tau, double *f)
{
    double mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        f[j] = (x[j] + (g ? g[j] : 0.0)) / tau;
        if (f[j] > mx) mx = f[j];
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += f[j] = exp(f[j] - mx);
    for (int64_t j = 0; j < n; j++) f[j] /= sum;
}

typedef struct {
    double score;
    int64_t row;
} ranked;

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row; /* ties: the earlier position first */
}

/* Marks the `need` rows of [0, n) with the largest scores (ties: earlier first). */
static void keep_top(const double *score, int64_t n, int64_t need, uint8_t *keep, ranked *r)
{
    if (need <= 0) return;
    for (int64_t i = 0; i < n; i++) r[i] = (ranked){score[i], i};
    qsort(r, (size_t)n, sizeof *r, by_score);
    for (int64_t i = 0; i < need && i < n; i++) keep[r[i].row] = 1;
}

static void select_rows(const cf_kv_policy_config *cfg, const double *score, int64_t n, uint8_t *keep, ranked *r)
{
    int64_t k = cfg->budget;
    if (cfg->kind == CF_KV_FULL || n <= k) {
        memset(keep, 1, (size_t)n);
        return;
    }
    memset(keep, 0, (size_t)n);
    int64_t head = 0, tail = k; /* window: the last k */
    if (cfg->kind == CF_KV_STREAMING) head = cfg->sinks < k ? cfg->sinks : k, tail = k - head;
    if (cfg->kind == CF_KV_H2O || cfg->kind == CF_KV_KEYFORMER) {
        tail = (int64_t)floor((double)k * cfg->recent + 1e-9);
        if (tail > k) tail = k;
    }
    for (int64_t i = 0; i < head; i++) keep[i] = 1;
    for (int64_t i = n - tail; i < n; i++) keep[i] = 1;
    if (r && (cfg->kind == CF_KV_H2O || cfg->kind == CF_KV_KEYFORMER)) keep_top(score, n - tail, k - tail, keep, r);
}

void cf_kv_select(const cf_kv_policy_config *cfg, const int64_t *pos, const double *score, int64_t n, uint8_t *keep)
{
    (void)pos; /* rows are in position order: "first" and "last" are row order */
    ranked stack[256], *r = n <= 256 ? stack : malloc(sizeof *r * (size_t)n);
    if (!r) { /* out of memory: the scored policies fall back to the recent window */
        cf_kv_policy_config w = *cfg;
        w.kind = CF_KV_WINDOW;
        select_rows(&w, score, n, keep, NULL);
        return;
    }
    select_rows(cfg, score, n, keep, r);
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
    p->scratch = malloc(sizeof *p->scratch * 2 * (size_t)p->cap);
    p->keep = malloc((size_t)p->cap);
    if (!p->pos || !p->score || !p->scratch || !p->keep) {
        cf_kv_policy_free(p);
        return cf_set_error(CF_ERR_OOM, "kv policy: out of memory");
    }
    p->hook.after = after;
    return CF_OK;
}

void cf_kv_policy_free(cf_kv_policy *p)
{
    free(p->pos), free(p->score), free(p->scratch), free(p->keep);
    p->pos = NULL, p->score = NULL, p->scratch = NULL, p->keep = NULL;
}

static bool scored(cf_kv_policy_kind k) { return k == CF_KV_H2O || k == CF_KV_KEYFORMER; }

/* Adds each query row's score f to the rows it sees: q [B, Hq, T, Dh] as doubles; rows [0, n) of the cache, the
 * last T of them new (query i sees rows [0, n - T + i]). */
static void accumulate(cf_kv_policy *p, const cf_kv_cache *c, const double *q, int64_t Hq, int64_t T, int64_t Dh)
{
    int64_t n = c->len, group = Hq / p->heads, first = cf_kv_cache_pos(c) - T;
    double scale = 1.0 / sqrt((double)Dh), tau = p->cfg.kind == CF_KV_KEYFORMER ? cf_kv_tau(&p->cfg, p->step) : 1.0;
    bool noise = p->cfg.kind == CF_KV_KEYFORMER;
    cf_philox_key key = cf_rng_key(p->cfg.seed, 0x6b657900u + (uint64_t)p->layer);
    double *x = p->scratch, *g = p->scratch + p->cap;
    const float *k32 = c->k->dtype == CF_F32 ? cf_data(c->k) : NULL;
    const double *k64 = c->k->dtype == CF_F64 ? cf_data(c->k) : NULL;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t hq = 0; hq < Hq; hq++) {
            int64_t hk = hq / group, base = (b * p->heads + hk) * p->cap;
            for (int64_t i = 0; i < T; i++) {
                const double *qi = q + ((b * Hq + hq) * T + i) * Dh;
                int64_t m = n - T + i + 1;
                for (int64_t j = 0; j < m; j++) {
                    int64_t at = (base + j) * Dh;
                    double s = 0;
                    if (k32)
                        for (int64_t d = 0; d < Dh; d++) s += qi[d] * (double)k32[at + d];
                    else
                        for (int64_t d = 0; d < Dh; d++) s += qi[d] * k64[at + d];
                    x[j] = s * scale;
                    if (noise) {
                        /* g = -log(-log U), U clamped away from 0 and 1; one draw per (sequence, query head,
                         * query position, key position) */
                        double u = cf_rng_uniform(key, (uint64_t)(first + i),
                                                  ((uint64_t)(b * Hq + hq) << 32) | (uint64_t)p->pos[base + j]);
                        u = fmin(fmax(u, 1e-12), 1.0 - 1e-12);
                        g[j] = -log(-log(u));
                    }
                }
                cf_kv_score_row(x, noise ? g : NULL, m, tau, x);
                for (int64_t j = 0; j < m; j++) p->score[base + j] += x[j];
            }
        }
}

/* Moves the kept rows of every (sequence, KV head) to the front, in order; every one keeps the same count. */
static int64_t compact(cf_kv_policy *p, cf_kv_cache *c)
{
    int64_t n = c->len, Dh = c->k->shape[3], kept = 0;
    size_t row = (size_t)Dh * (c->k->dtype == CF_F32 ? sizeof(float) : sizeof(double));
    char *kd = cf_data(c->k), *vd = cf_data(c->v);
    for (int64_t bh = 0; bh < p->batch * p->heads; bh++) {
        int64_t base = bh * p->cap;
        cf_kv_select(&p->cfg, p->pos + base, p->score + base, n, p->keep);
        kept = 0;
        for (int64_t j = 0; j < n; j++) {
            if (!p->keep[j]) continue;
            if (kept != j) {
                memcpy(kd + (size_t)(base + kept) * row, kd + (size_t)(base + j) * row, row);
                memcpy(vd + (size_t)(base + kept) * row, vd + (size_t)(base + j) * row, row);
                p->pos[base + kept] = p->pos[base + j];
                p->score[base + kept] = p->score[base + j];
            }
            kept++;
        }
    }
    cf_bump_version(c->k);
    cf_bump_version(c->v);
    return kept;
}

static cf_status after(cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q)
{
    (void)ctx;
    cf_kv_policy *p = (cf_kv_policy *)h;
    const cf_tensor *k = c->k;
    if (!k || k->ndim != 4 || k->shape[0] != p->batch || k->shape[1] != p->heads || k->shape[2] != p->cap ||
        (k->dtype != CF_F32 && k->dtype != CF_F64) || k->dtype != c->v->dtype || !cf_is_contiguous(k) ||
        !cf_is_contiguous(c->v))
        return cf_set_error(CF_ERR_SHAPE, "kv policy: made for a contiguous f32/f64 cache of %lld x %lld x %lld "
                            "positions, used on another", (long long)p->batch, (long long)p->heads, (long long)p->cap);
    if (!q || q->ndim != 4 || q->shape[0] != p->batch || q->shape[1] % p->heads || q->shape[3] != k->shape[3])
        return cf_set_error(CF_ERR_SHAPE, "kv policy: queries of %lld sequences x %lld heads for a cache of %lld x %lld",
                            q ? (long long)q->shape[0] : 0LL, q ? (long long)q->shape[1] : 0LL, (long long)p->batch,
                            (long long)p->heads);
    int64_t Hq = q->shape[1], T = q->shape[2], Dh = q->shape[3], first = cf_kv_cache_pos(c) - T;
    if (c->len > p->cap || (p->step == 0 && (c->len != T || c->evicted != 0)))
        return cf_set_error(CF_ERR_ARG, "kv policy: its first forward must fill an empty cache (%lld rows held before "
                            "%lld new)", (long long)(c->len - T + c->evicted), (long long)T);
    for (int64_t bh = 0; bh < p->batch * p->heads; bh++)
        for (int64_t i = 0; i < T; i++) {
            p->pos[bh * p->cap + c->len - T + i] = first + i;
            p->score[bh * p->cap + c->len - T + i] = 0;
        }
    if (scored(p->cfg.kind)) {
        double *qd = malloc(sizeof *qd * (size_t)cf_numel(q));
        if (!qd) return cf_set_error(CF_ERR_OOM, "kv policy: out of memory");
        cf_to_f64_array(q, qd);
        accumulate(p, c, qd, Hq, T, Dh);
        free(qd);
    }
    p->step++;
    if (p->cfg.kind != CF_KV_FULL && c->len > p->cfg.budget) {
        int64_t kept = compact(p, c);
        c->evicted += c->len - kept;
        c->len = kept;
    }
    return CF_OK;
}
