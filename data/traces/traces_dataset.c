/* The randomized-trace dataset of traces_dataset.h. */
#include "data/traces/traces_dataset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_dataset base;
    cf_trace_set *set;   /* the whole file; the split is [lo, lo + base.len) */
    int64_t lo;
    cf_tokenizer *tk;
    int32_t *pool;       /* every piece's tokens */
    int64_t *piece;      /* per record: offsets of prompt, steps..., answer, end into pool */
    int64_t *first;      /* per record: index of its first entry in piece */
    int64_t seq, pad;
    const char *prompt;  /* the prompt template (borrowed from the options' lifetime: copied at open) */
    char *prompt_own;
    double p;
    uint64_t seed;
    int32_t *scratch;    /* seq + 1 tokens of one use */
    bool *keep;          /* CF_TRACE_MAX_STEPS */
} traces_ds;

static const cf_dataset_vtable traces_vt;

static traces_ds *as_traces(const cf_dataset *ds, const char *who)
{
    if (!ds || ds->vt != &traces_vt) {
        cf_set_error(CF_ERR_ARG, "%s: not a traces dataset", who);
        return NULL;
    }
    return (traces_ds *)ds;
}

static cf_status traces_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    traces_ds *d = (traces_ds *)ds;
    int64_t r = d->lo + index;
    const cf_trace *t = &d->set->items[r];
    const int64_t *off = d->piece + d->first[r]; /* prompt, steps, answer: n_steps + 2 pieces */
    cf_trace_draw(t, d->p, d->seed, r, b->epoch >= 0 ? b->epoch : 0, d->keep);
    int64_t L = 0, prompt = off[1] - off[0];
    for (int k = 0; k < t->n_steps + 2; k++) {
        if (k >= 1 && k <= t->n_steps && !d->keep[k - 1]) continue;
        memcpy(d->scratch + L, d->pool + off[k], (size_t)(off[k + 1] - off[k]) * sizeof *d->scratch);
        L += off[k + 1] - off[k];
    }
    int64_t *tok = (int64_t *)cf_data(b->fields[0]) + (int64_t)row * d->seq;
    int64_t *tgt = (int64_t *)cf_data(b->fields[1]) + (int64_t)row * d->seq;
    for (int64_t s = 0; s < d->seq; s++) {
        tok[s] = s < L ? d->scratch[s] : d->pad;
        tgt[s] = s + 1 < L && s + 1 >= prompt ? d->scratch[s + 1] : -100;
    }
    return CF_OK;
}

static cf_status traces_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    traces_ds *d = (traces_ds *)ds;
    int64_t shape[2] = {rows, d->seq};
    cf_status st = cf_batch_add(b, "tokens", CF_I64, 2, shape);
    if (st == CF_OK) st = cf_batch_add(b, "targets", CF_I64, 2, shape);
    return st;
}

static void traces_free(cf_dataset *ds)
{
    traces_ds *d = (traces_ds *)ds;
    cf_traces_free(d->set);
    cf_tokenizer_free(d->tk);
    free(d->pool);
    free(d->piece);
    free(d->first);
    free(d->scratch);
    free(d->keep);
    free(d->prompt_own);
    free(d);
}

static const cf_dataset_vtable traces_vt = {"traces", traces_get, traces_make_batch, traces_free};

/* Appends the tokens of fmt(arg) to the pool. */
static cf_status add_piece(traces_ds *d, const char *fmt, const char *arg, int64_t *n_pool, int64_t *cap_pool,
                           char **text, size_t *cap_text)
{
    int len = snprintf(*text, *cap_text, fmt, arg);
    if (len < 0) return cf_set_error(CF_ERR_FORMAT, "trace rendering failed");
    if ((size_t)len >= *cap_text) {
        char *t = realloc(*text, (size_t)len + 1);
        if (!t) return cf_set_error(CF_ERR_OOM, "out of memory");
        *text = t, *cap_text = (size_t)len + 1;
        snprintf(*text, *cap_text, fmt, arg);
    }
    size_t need = cf_tokenizer_max_tokens(d->tk, (size_t)len);
    if (*n_pool + (int64_t)need > *cap_pool) {
        int64_t cap = *cap_pool ? *cap_pool : 4096;
        while (cap < *n_pool + (int64_t)need) cap *= 2;
        int32_t *p = realloc(d->pool, (size_t)cap * sizeof *p);
        if (!p) return cf_set_error(CF_ERR_OOM, "out of memory tokenizing traces");
        d->pool = p, *cap_pool = cap;
    }
    size_t k = 0;
    CF_TRY(cf_tokenizer_encode(d->tk, (const uint8_t *)*text, (size_t)len, d->pool + *n_pool, &k));
    *n_pool += (int64_t)k;
    return CF_OK;
}

static cf_status tokenize(traces_ds *d, const char *path)
{
    int64_t n_piece = 0;
    for (int64_t r = 0; r < d->set->n; r++) n_piece += d->set->items[r].n_steps + 3;
    d->piece = malloc((size_t)n_piece * sizeof *d->piece);
    d->first = malloc((size_t)d->set->n * sizeof *d->first);
    size_t cap_text = 4096;
    char *text = malloc(cap_text);
    if (!d->piece || !d->first || !text) {
        free(text);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    }
    int64_t n_pool = 0, cap_pool = 0, at = 0;
    cf_status st = CF_OK;
    for (int64_t r = 0; r < d->set->n && st == CF_OK; r++) {
        const cf_trace *t = &d->set->items[r];
        d->first[r] = at;
        d->piece[at++] = n_pool;
        char *prompt = cf_trace_render_prompt(d->prompt, t->problem);
        st = prompt ? add_piece(d, "%s", prompt, &n_pool, &cap_pool, &text, &cap_text) : cf_last_status();
        free(prompt);
        for (int j = 0; j < t->n_steps && st == CF_OK; j++) {
            d->piece[at++] = n_pool;
            st = add_piece(d, CF_TRACE_STEP_FMT, t->steps[j], &n_pool, &cap_pool, &text, &cap_text);
        }
        d->piece[at++] = n_pool;
        if (st == CF_OK) st = add_piece(d, CF_TRACE_ANSWER_FMT, t->answer, &n_pool, &cap_pool, &text, &cap_text);
        d->piece[at++] = n_pool;
        int64_t full = n_pool - d->piece[d->first[r]];
        if (st == CF_OK && full > d->seq + 1) {
            st = cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": the full trace is %" PRId64 " tokens, longer than "
                              "data.seq + 1 = %" PRId64 " (raise data.seq)", path, t->line, full, d->seq + 1);
        }
    }
    free(text);
    return st;
}

cf_dataset *cf_traces_dataset_open(const cf_traces_options *o, const char *split)
{
    if (!o || !o->path || !split) {
        cf_set_error(CF_ERR_ARG, "cf_traces_dataset_open: NULL options, path or split");
        return NULL;
    }
    bool train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "val") != 0) {
        cf_set_error(CF_ERR_ARG, "%s: split '%s' (trace datasets have 'train' and 'val')", o->path, split);
        return NULL;
    }
    if (o->seq < 2 || !(o->drop_p >= 0 && o->drop_p <= 1)) {
        cf_set_error(CF_ERR_ARG, "%s: seq %" PRId64 " (>= 2) or drop probability %g (in [0, 1])", o->path, o->seq, o->drop_p);
        return NULL;
    }
    const char *path = !train && o->val_path ? o->val_path : o->path;
    traces_ds *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    d->base.vt = &traces_vt;
    d->seq = o->seq, d->pad = o->pad_id, d->p = o->drop_p, d->seed = o->seed;
    d->prompt = d->prompt_own = strdup(o->prompt_template ? o->prompt_template : CF_TRACE_PROMPT_TEMPLATE);
    snprintf(d->base.name, sizeof d->base.name, "traces %.200s [%s]", path, split);
    bool ok = d->prompt_own && cf_trace_template_ok(d->prompt, path) && (d->set = cf_traces_read(path, o->max_records)) != NULL;
    if (ok && !(d->tk = cf_tokenizer_open(o->tokenizer, o->vocab_path))) {
        cf_error_prefix("%s: ", path);
        ok = false;
    }
    if (ok) {
        int64_t n = d->set->n, cut = o->val_path ? n : n - n / 10;
        d->lo = train || o->val_path ? 0 : cut;
        d->base.len = train ? cut : n - cut;
        if (d->base.len < 1) {
            cf_set_error(CF_ERR_FORMAT, "%s: %" PRId64 " records leave the '%s' split empty (need at least 10)", path, n, split);
            ok = false;
        }
    }
    if (ok && o->pad_id >= cf_tokenizer_vocab_size(d->tk)) {
        cf_set_error(CF_ERR_ARG, "%s: pad id %" PRId64 " outside the tokenizer's %d tokens", path, o->pad_id,
                     cf_tokenizer_vocab_size(d->tk));
        ok = false;
    }
    ok = ok && tokenize(d, path) == CF_OK;
    if (ok) {
        d->scratch = malloc((size_t)(d->seq + 1) * sizeof *d->scratch);
        d->keep = malloc(CF_TRACE_MAX_STEPS * sizeof *d->keep);
        if (!d->scratch || !d->keep) {
            cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
            ok = false;
        }
    }
    if (!ok) {
        traces_free(&d->base);
        return NULL;
    }
    d->base.info.vocab = cf_tokenizer_vocab_size(d->tk);
    d->base.info.seq = d->seq;
    return &d->base;
}

const cf_trace *cf_traces_dataset_record(const cf_dataset *ds, int64_t i)
{
    traces_ds *d = as_traces(ds, "cf_traces_dataset_record");
    if (!d || i < 0 || i >= ds->len) {
        if (d) cf_set_error(CF_ERR_ARG, "%s: record %" PRId64 " of %" PRId64, ds->name, i, ds->len);
        return NULL;
    }
    return &d->set->items[d->lo + i];
}

const int32_t *cf_traces_dataset_prompt(const cf_dataset *ds, int64_t i, int64_t *len)
{
    traces_ds *d = as_traces(ds, "cf_traces_dataset_prompt");
    if (!d || i < 0 || i >= ds->len) {
        if (d) cf_set_error(CF_ERR_ARG, "%s: record %" PRId64 " of %" PRId64, ds->name, i, ds->len);
        return NULL;
    }
    const int64_t *off = d->piece + d->first[d->lo + i];
    if (len) *len = off[1] - off[0];
    return d->pool + off[0];
}

const cf_tokenizer *cf_traces_dataset_tokenizer(const cf_dataset *ds)
{
    traces_ds *d = as_traces(ds, "cf_traces_dataset_tokenizer");
    return d ? d->tk : NULL;
}
