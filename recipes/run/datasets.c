/* The datasets every paper may use (random_tokens, text): each reads its data.* keys and opens the format's
 * reader. Papers register their own datasets (recipes/run/paper.h). */
#include "data/text/text.h"
#include "recipes/run/limits.h"
#include "recipes/run/registry_internal.h"

#include <stdlib.h>
#include <string.h>

/* The rows' length: data.seq, by default model.seq (both in [1, CF_MAX_SEQ]). */
static int64_t model_seq(cf_recipe *r) { return cf_recipe_int_in(r, "model.seq", 128, 1, CF_MAX_SEQ); }

/* ---- random tokens: uniform ids, for benchmarks and smoke tests ---- */
typedef struct {
    cf_dataset base;
    int64_t vocab, seq;
    uint64_t seed;
} random_tokens;

static cf_status rt_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    random_tokens *d = (random_tokens *)ds;
    cf_tensor *tok = cf_batch_get(b, "tokens"), *tgt = cf_batch_get(b, "targets");
    if (!tok || !tgt) return cf_last_status();
    int64_t *tp = (int64_t *)cf_data(tok) + (int64_t)row * d->seq, *gp = (int64_t *)cf_data(tgt) + (int64_t)row * d->seq;
    cf_philox_key key = cf_rng_key(d->seed, (uint64_t)index);
    int64_t prev = (int64_t)(cf_rng_uniform(key, 0, 0) * (double)d->vocab);
    for (int64_t t = 0; t < d->seq; t++) {
        int64_t next = (int64_t)(cf_rng_uniform(key, 0, (uint64_t)t + 1) * (double)d->vocab);
        tp[t] = prev, gp[t] = next, prev = next;
    }
    return CF_OK;
}

static cf_status rt_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    random_tokens *d = (random_tokens *)ds;
    CF_TRY(cf_batch_add(b, "tokens", CF_I64, CF_SHAPE(rows, d->seq)));
    return cf_batch_add(b, "targets", CF_I64, CF_SHAPE(rows, d->seq));
}

static void rt_free(cf_dataset *ds) { free(ds); }

static const cf_dataset_vtable random_tokens_vt = {"random_tokens", rt_get, rt_make_batch, rt_free};

static cf_dataset *random_tokens_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    random_tokens *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "random_tokens: out of memory");
        return NULL;
    }
    d->base.vt = &random_tokens_vt;
    d->vocab = cf_recipe_int_in(r, "data.vocab", cf_recipe_int_in(r, "model.vocab", 256, 1, CF_MAX_VOCAB), 1, CF_MAX_VOCAB);
    d->seq = cf_recipe_int_in(r, "data.seq", model_seq(r), 1, CF_MAX_SEQ);
    d->base.len = cf_recipe_int_in(r, "data.size", 4096, 1, CF_MAX_COUNT);
    d->seed = (uint64_t)cf_recipe_int_in(r, "data.seed", 0, 0, CF_MAX_SEED) + (strcmp(split, "train") == 0 ? 0 : 0x9e37);
    snprintf(d->base.name, sizeof d->base.name, "random_tokens [%s]", split);
    d->base.info.vocab = d->vocab, d->base.info.seq = d->seq;
    if (cf_recipe_status(r) != CF_OK) {
        free(d);
        return NULL;
    }
    return &d->base;
}

/* ---- text files ---- */
static cf_dataset *text_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048], vbuf[2048];
    const char *path = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), pbuf, sizeof pbuf);
    const char *tok = cf_recipe_str(r, "data.tokenizer", "byte");
    const char *vocab = cf_recipe_path(r, "data.vocab_file", cf_recipe_str(r, "data.vocab_file", NULL), vbuf, sizeof vbuf);
    int64_t seq = cf_recipe_int_in(r, "data.seq", model_seq(r), 1, CF_MAX_SEQ);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (strcmp(tok, "byte") != 0 && !vocab) {
        cf_recipe_fail(r, "data.tokenizer", CF_ERR_ARG, "the %s tokenizer needs data.vocab_file", tok);
        return NULL;
    }
    cf_status st = CF_OK;
    return cf_text_dataset_open(path, tok, vocab, split, seq, &st);
}

void cf_register_builtin_datasets(void)
{
    cf_dataset_register("random_tokens", random_tokens_factory);
    cf_dataset_register("text", text_factory);
    cf_register_image_datasets();
}
