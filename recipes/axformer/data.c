/* `data.type: synlang` (data/synlang/synlang.h as batches, with BERT's masking for pre-training) and
 * `cformer data synlang`. */
#include "autograd/rng.h"
#include "data/synlang/synlang.h"
#include "recipes/axformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_dataset base;
    cf_synlang_set *set;
    double mask_prob;
    uint64_t seed;
} synlang_ds;

/* Row `row`: [CLS] + the words. With mask_prob > 0 each word is chosen with that probability (BERT Sec. 3.1:
 * of the chosen, 80% become [MASK], 10% a random word, 10% stay) and its target is the original token. The
 * choice is a function of (seed, index), so an item is the same every time it is read. */
static cf_status synlang_get(cf_dataset *d, int64_t index, cf_batch *b, int row)
{
    synlang_ds *s = (synlang_ds *)d;
    int64_t L = s->set->len, T = L + 1, vocab = s->base.info.vocab;
    int64_t *ids = (int64_t *)cf_data(b->fields[0]) + row * T, *tg = (int64_t *)cf_data(b->fields[1]) + row * T;
    const int32_t *src = s->set->ids + index * L;
    cf_philox_key key = cf_rng_key(s->seed, 3);
    ids[0] = CF_SYNLANG_CLS, tg[0] = -100;
    for (int64_t t = 0; t < L; t++) {
        ids[t + 1] = src[t], tg[t + 1] = -100;
        if (s->mask_prob <= 0 || cf_rng_uniform(key, (uint64_t)index, (uint64_t)(3 * t)) >= s->mask_prob) continue;
        tg[t + 1] = src[t];
        double u = cf_rng_uniform(key, (uint64_t)index, (uint64_t)(3 * t + 1));
        int64_t word = CF_SYNLANG_FIRST_WORD +
                       (int64_t)(cf_rng_uniform(key, (uint64_t)index, (uint64_t)(3 * t + 2)) * (double)(vocab - CF_SYNLANG_FIRST_WORD));
        ids[t + 1] = u < 0.8 ? CF_SYNLANG_MASK : u < 0.9 ? (word < vocab ? word : vocab - 1) : src[t];
    }
    ((int64_t *)cf_data(b->fields[2]))[row] = s->set->labels ? s->set->labels[index] : -1;
    return CF_OK;
}

static cf_status synlang_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    int64_t T = ((synlang_ds *)d)->set->len + 1;
    CF_TRY(cf_batch_add(b, "ids", CF_I64, CF_SHAPE(rows, T)));
    CF_TRY(cf_batch_add(b, "targets", CF_I64, CF_SHAPE(rows, T)));
    return cf_batch_add(b, "label", CF_I64, CF_SHAPE(rows));
}

static void synlang_free(cf_dataset *d)
{
    cf_synlang_free(((synlang_ds *)d)->set);
    free(d);
}

static const cf_dataset_vtable synlang_vt = {"synlang", synlang_get, synlang_make_batch, synlang_free};

cf_dataset *cf_synlang_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char dbuf[2048], path[4096];
    const char *dir = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), dbuf, sizeof dbuf);
    int64_t vocab = cf_recipe_int_in(r, "data.vocab", 200, CF_SYNLANG_WORD_B + 2, CF_SYNLANG_MAX_VOCAB);
    int64_t len = cf_recipe_int_in(r, "data.len", 63, CF_SYNLANG_WINDOW + 1, CF_SYNLANG_MAX_LEN);
    bool pretrain = cf_recipe_bool(r, "data.pretrain", false);
    double mask_prob = cf_recipe_float_in(r, "data.mask_prob", pretrain ? 0.15 : 0, 0, 1, CF_RANGE_CLOSED);
    int64_t counts[4] = {cf_recipe_int_in(r, "data.generate.corpus", 20000, 1, CF_MAX_COUNT),
                         cf_recipe_int_in(r, "data.generate.train", 1000, 1, CF_MAX_COUNT),
                         cf_recipe_int_in(r, "data.generate.val", 500, 1, CF_MAX_COUNT),
                         cf_recipe_int_in(r, "data.generate.test", 1000, 1, CF_MAX_COUNT)};
    int64_t seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    bool generate = cf_recipe_has(r, "data.generate");
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (generate && cf_synlang_write_dir(dir, vocab, len, counts, (uint64_t)seed, true) != CF_OK) {
        cf_recipe_fail(r, "data.generate", cf_last_status(), "%s", cf_last_error());
        return NULL;
    }
    bool corpus = pretrain && strcmp(split, "train") == 0;
    snprintf(path, sizeof path, "%s/%s%s", dir, corpus ? "corpus" : split, corpus ? ".txt" : ".tsv");
    synlang_ds *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "synlang: out of memory");
        return NULL;
    }
    d->set = cf_synlang_read(path, vocab, len, !corpus);
    if (!d->set) {
        bool missing = cf_last_status() == CF_ERR_IO; /* not a malformed file: one to generate */
        cf_recipe_fail(r, "data.path", cf_last_status(), "%s%s", cf_last_error(), generate || !missing ? "" :
                       " (give data.generate: {corpus, train, val, test, seed} or run `cformer data synlang`)");
        free(d);
        return NULL;
    }
    d->base.vt = &synlang_vt;
    d->base.len = d->set->count;
    d->mask_prob = mask_prob, d->seed = (uint64_t)seed + (strcmp(split, "train") == 0 ? 0 : 7919);
    snprintf(d->base.name, sizeof d->base.name, "synlang %.200s [%s]", path, split);
    d->base.info.vocab = CF_SYNLANG_FIRST_WORD + vocab;
    d->base.info.seq = len + 1;
    return &d->base;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data synlang -o DIR [--vocab V] [--len L] [--corpus N] [--train N] [--val N] [--test N] [--seed S]\n\n"
               "Writes the synthetic bigram language (V = 200 words w0..w199, 6 successors each; sentences of L = 63 words)\n"
               "as a pre-training corpus DIR/corpus.txt (one sentence per line, default 20000) and the labelled task\n"
               "(label 1 iff w2 is followed within 3 words by w1; half positive) as GLUE-style TSV files\n"
               "DIR/{train,val,test}.tsv (header sentence<TAB>label; defaults 1000 / 500 / 1000), seed 1.\n\n"
               "  cformer data synlang -o data/synlang\n");
}

int cf_synlang_cmd(int argc, char **argv)
{
    const char *cmd = "data synlang", *out = NULL;
    int64_t vocab = 200, len = 63, counts[4] = {20000, 1000, 500, 1000}, seed = 1;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--corpus", &counts[0], 1, CF_MAX_COUNT), CF_CLI_OPT_INT("--train", &counts[1], 1, CF_MAX_COUNT),
        CF_CLI_OPT_INT("--val", &counts[2], 1, CF_MAX_COUNT),     CF_CLI_OPT_INT("--test", &counts[3], 1, CF_MAX_COUNT),
        CF_CLI_OPT_INT("--vocab", &vocab, CF_SYNLANG_WORD_B + 2, CF_SYNLANG_MAX_VOCAB),
        CF_CLI_OPT_INT("--len", &len, CF_SYNLANG_WINDOW + 1, CF_SYNLANG_MAX_LEN),
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED),          CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (cf_synlang_write_dir(out, vocab, len, counts, (uint64_t)seed, false) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s/corpus.txt and %s/{train,val,test}.tsv: %lld / %lld / %lld / %lld sentences of %lld words, seed %lld\n",
           out, out, (long long)counts[0], (long long)counts[1], (long long)counts[2], (long long)counts[3], (long long)len,
           (long long)seed);
    return 0;
}
