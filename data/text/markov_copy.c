/* The markov_copy language: a seeded sparse bigram chain with one span copied far ahead (markov_copy.h). */
#include "data/text/markov_copy.h"

#include "autograd/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_dataset base;
    cf_markov_copy_config c;
    uint64_t split_salt;
    int64_t *next; /* [vocab, branching] successor ids */
    double *cum;   /* [vocab, branching] cumulative probabilities (last = 1) */
    int64_t *row;  /* [seq + 1] scratch for get (one call at a time, markov_copy.h) */
} markov_copy;

static const cf_dataset_vtable markov_copy_vt;

cf_markov_copy_config cf_markov_copy_defaults(void)
{
    return (cf_markov_copy_config){.vocab = 64, .seq = 256, .size = 4096, .branching = 4, .span = 24,
                                   .source_end = 96, .insert_from = 160, .seed = 0};
}

static cf_status check(const cf_markov_copy_config *c)
{
    const char *bad = NULL;
    if (c->vocab < 2) bad = "vocab must be >= 2";
    else if (c->branching < 1 || c->branching > c->vocab) bad = "branching must lie in [1, vocab]";
    else if (c->size < 1) bad = "size must be >= 1";
    else if (c->span < 2) bad = "span must be >= 2 (the first copied token cannot be predicted)";
    else if (c->source_end < c->span) bad = "source_end must be >= span (the copy is taken from [0, source_end))";
    else if (c->insert_from < c->source_end) bad = "insert_from must be >= source_end";
    else if (c->insert_from + c->span > c->seq + 1) bad = "insert_from + span must be <= seq + 1 (the copy must fit in a row)";
    if (bad)
        return cf_set_error(CF_ERR_ARG, "markov_copy: %s (vocab %lld, branching %lld, seq %lld, span %lld, source_end "
                            "%lld, insert_from %lld)", bad, (long long)c->vocab, (long long)c->branching,
                            (long long)c->seq, (long long)c->span, (long long)c->source_end, (long long)c->insert_from);
    return CF_OK;
}

/* successors: a partial Fisher-Yates draw of `branching` distinct ids; weights in [0.1, 1) normalised */
static cf_status build_chain(markov_copy *d)
{
    int64_t V = d->c.vocab, K = d->c.branching;
    int64_t *ids = malloc((size_t)V * sizeof *ids);
    if (!ids) return cf_set_error(CF_ERR_OOM, "markov_copy: out of memory");
    cf_philox_key key = cf_rng_key(d->c.seed, 0x6d61726b6f76ULL);
    uint64_t ctr = 0;
    for (int64_t a = 0; a < V; a++) {
        for (int64_t i = 0; i < V; i++) ids[i] = i;
        double total = 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t j = k + (int64_t)(cf_rng_uniform(key, 0, ctr++) * (double)(V - k));
            if (j >= V) j = V - 1;
            int64_t t = ids[k];
            ids[k] = ids[j], ids[j] = t;
            d->next[a * K + k] = ids[k];
            total += d->cum[a * K + k] = 0.1 + 0.9 * cf_rng_uniform(key, 0, ctr++);
        }
        double run = 0;
        for (int64_t k = 0; k < K; k++) run += d->cum[a * K + k] / total, d->cum[a * K + k] = run;
        d->cum[a * K + K - 1] = 1.0;
    }
    free(ids);
    return CF_OK;
}

static int64_t step_chain(const markov_copy *d, int64_t a, double u)
{
    int64_t K = d->c.branching, k = 0;
    while (k < K - 1 && u >= d->cum[a * K + k]) k++;
    return d->next[a * K + k];
}

cf_status cf_markov_copy_row(const cf_dataset *ds, int64_t index, int64_t *x, int64_t *src, int64_t *dst)
{
    if (!ds || ds->vt != &markov_copy_vt) return cf_set_error(CF_ERR_ARG, "markov_copy: not a markov_copy dataset");
    const markov_copy *d = (const markov_copy *)ds;
    const cf_markov_copy_config *c = &d->c;
    cf_philox_key key = cf_rng_key(c->seed ^ d->split_salt, (uint64_t)index);
    int64_t s = (int64_t)(cf_rng_uniform(key, 1, 0) * (double)(c->source_end - c->span + 1));
    int64_t p = c->insert_from + (int64_t)(cf_rng_uniform(key, 1, 1) * (double)(c->seq + 2 - c->span - c->insert_from));
    if (s > c->source_end - c->span) s = c->source_end - c->span;
    if (p > c->seq + 1 - c->span) p = c->seq + 1 - c->span;
    for (int64_t t = 0; t <= c->seq; t++) {
        double u = cf_rng_uniform(key, 0, (uint64_t)t);
        if (t >= p && t < p + c->span) x[t] = x[s + t - p];
        else if (t == 0) x[t] = (int64_t)(u * (double)c->vocab) % c->vocab;
        else x[t] = step_chain(d, x[t - 1], u);
    }
    if (src) *src = s;
    if (dst) *dst = p;
    return CF_OK;
}

static cf_status mc_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    markov_copy *d = (markov_copy *)ds;
    int64_t T = d->c.seq, p;
    cf_tensor *tok = cf_batch_get(b, "tokens"), *tgt = cf_batch_get(b, "targets"), *lr = cf_batch_get(b, "long_range");
    if (!tok || !tgt || !lr) return cf_last_status();
    CF_TRY(cf_markov_copy_row(ds, index, d->row, NULL, &p));
    int64_t *tp = (int64_t *)cf_data(tok) + (int64_t)row * T, *gp = (int64_t *)cf_data(tgt) + (int64_t)row * T;
    bool *lp = (bool *)cf_data(lr) + (int64_t)row * T;
    for (int64_t t = 0; t < T; t++) {
        tp[t] = d->row[t], gp[t] = d->row[t + 1];
        lp[t] = t >= p && t <= p + d->c.span - 2;
    }
    return CF_OK;
}

static cf_status mc_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    markov_copy *d = (markov_copy *)ds;
    CF_TRY(cf_batch_add(b, "tokens", CF_I64, CF_SHAPE(rows, d->c.seq)));
    CF_TRY(cf_batch_add(b, "targets", CF_I64, CF_SHAPE(rows, d->c.seq)));
    return cf_batch_add(b, "long_range", CF_BOOL, CF_SHAPE(rows, d->c.seq));
}

static void mc_free(cf_dataset *ds)
{
    markov_copy *d = (markov_copy *)ds;
    if (!d) return;
    free(d->next);
    free(d->cum);
    free(d->row);
    free(d);
}

static const cf_dataset_vtable markov_copy_vt = {"markov_copy", mc_get, mc_make_batch, mc_free};

cf_dataset *cf_markov_copy_open(const cf_markov_copy_config *c, const char *split)
{
    if (check(c) != CF_OK) return NULL;
    markov_copy *d = calloc(1, sizeof *d);
    if (d) {
        d->c = *c;
        d->next = malloc((size_t)(c->vocab * c->branching) * sizeof *d->next);
        d->cum = malloc((size_t)(c->vocab * c->branching) * sizeof *d->cum);
        d->row = malloc((size_t)(c->seq + 1) * sizeof *d->row);
    }
    if (!d || !d->next || !d->cum || !d->row) {
        mc_free(d ? &d->base : NULL);
        cf_set_error(CF_ERR_OOM, "markov_copy: out of memory");
        return NULL;
    }
    d->base.vt = &markov_copy_vt;
    d->base.len = c->size;
    /* the splits draw different rows of the same language */
    d->split_salt = strcmp(split, "train") == 0 ? 0 : strcmp(split, "val") == 0 ? 0x9e3779b97f4a7c15ULL : 0xc2b2ae3d27d4eb4fULL;
    snprintf(d->base.name, sizeof d->base.name, "markov_copy [%s]", split);
    d->base.info.vocab = c->vocab, d->base.info.seq = c->seq;
    if (build_chain(d) != CF_OK) {
        mc_free(&d->base);
        return NULL;
    }
    return &d->base;
}

double cf_markov_copy_entropy(const cf_dataset *ds)
{
    if (!ds || ds->vt != &markov_copy_vt) return NAN;
    const markov_copy *d = (const markov_copy *)ds;
    int64_t V = d->c.vocab, K = d->c.branching;
    double *pi = malloc((size_t)V * sizeof *pi), *nx = malloc((size_t)V * sizeof *nx);
    double *avg = calloc((size_t)V, sizeof *avg), h = NAN;
    const int iters = 2000;
    if (pi && nx && avg) {
        /* power iteration from uniform (as rows start), averaged over the iterates so that a periodic chain
         * converges too (Cesaro mean) */
        for (int64_t a = 0; a < V; a++) pi[a] = 1.0 / (double)V;
        for (int it = 0; it < iters; it++) {
            memset(nx, 0, (size_t)V * sizeof *nx);
            for (int64_t a = 0; a < V; a++)
                for (int64_t k = 0; k < K; k++)
                    nx[d->next[a * K + k]] += pi[a] * (d->cum[a * K + k] - (k ? d->cum[a * K + k - 1] : 0));
            memcpy(pi, nx, (size_t)V * sizeof *pi);
            for (int64_t a = 0; a < V; a++) avg[a] += pi[a] / iters;
        }
        h = 0;
        for (int64_t a = 0; a < V; a++)
            for (int64_t k = 0; k < K; k++) {
                double w = d->cum[a * K + k] - (k ? d->cum[a * K + k - 1] : 0);
                if (w > 0) h -= avg[a] * w * log(w);
            }
    }
    free(pi);
    free(nx);
    free(avg);
    return h;
}
