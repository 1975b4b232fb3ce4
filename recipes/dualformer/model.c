/* `model.type: searchformer` and `data.type: mazes` from a recipe (keys: recipes/dualformer/model.h). */
#include "recipes/dualformer/model.h"
#include "recipes/run/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    cf_model base;
    cf_dualformer sf;
    bool sequence_mean;
    int groups;
    cf_dualformer_report report;
    cf_dualformer_eval_config eval;
} df_model;

/* ---- the maze file: its path, generated on first use ---- */

typedef struct {
    int64_t size, count, seed;
    bool generate;
} gen_keys;

static gen_keys read_generate(cf_recipe *r)
{
    gen_keys g;
    g.size = cf_recipe_int_in(r, "data.generate.size", 0, 0, CF_MAZE_MAX_DIM); /* >= 2 when given (ensure_file) */
    g.count = cf_recipe_int_in(r, "data.generate.count", 20000, 1, CF_MAX_COUNT);
    g.seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    g.generate = cf_recipe_has(r, "data.generate.size");
    return g;
}

/* The data.path value resolved against the recipe's folder (buf holds it when needed). */
static const char *data_path(cf_recipe *r, char *buf, size_t n)
{
    return cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), buf, n);
}

/* Makes sure the maze file exists: generated when missing and data.generate is given; an existing file
 * must match data.generate (size, count, seed) so a stale file is never used by mistake. */
static cf_status ensure_file(cf_recipe *r, const char *path, const gen_keys *g)
{
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!g->generate) {
        if (!exists)
            return cf_recipe_fail(r, "data.path", CF_ERR_IO, "%s: %s (give data.generate: {size, count, seed} to "
                                  "generate it, or run `cformer data mazes`)", path, strerror(errno));
        return CF_OK;
    }
    if (g->size < 2)
        return cf_recipe_fail(r, "data.generate.size", CF_ERR_ARG, "%" PRId64 " is out of range [2, %d]", g->size,
                              CF_MAZE_MAX_DIM);
    if (exists) {
        cf_maze_file *f = cf_maze_file_open(path);
        if (!f) return cf_last_status();
        cf_maze_file_info in = cf_maze_file_get_info(f);
        cf_maze_file_close(f);
        if (in.width != g->size || in.height != g->size || in.count != g->count || in.seed != (uint64_t)g->seed)
            return cf_recipe_fail(r, "data.generate", CF_ERR_ARG, "%s holds %" PRId64 " %dx%d mazes of seed %" PRIu64
                                  ", not the %" PRId64 " %" PRId64 "x%" PRId64 " of seed %" PRId64 " asked for; "
                                  "delete it or change data.path", path, in.count, in.width, in.height, in.seed,
                                  g->count, g->size, g->size, g->seed);
        return CF_OK;
    }
    fprintf(stderr, "mazes: generating %s (%" PRId64 " %" PRId64 "x%" PRId64 " mazes, seed %" PRId64 ")\n", path,
            g->count, g->size, g->size, g->seed);
    /* written to a temporary name and renamed: concurrent runs each write the same bytes, one wins */
    return cf_maze_generate_file(path, (int)g->size, g->count, (uint64_t)g->seed, NULL);
}

static bool parse_choice(cf_recipe *r, const char *key, const char *dflt, const char *const *names, int n, int *out)
{
    const char *s = cf_recipe_str(r, key, dflt);
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) return *out = i, true;
    if (!s) return true;
    char list[128] = "";
    for (int i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    cf_recipe_fail(r, key, CF_ERR_ARG, "unknown value '%s' (choose from %s)", s, list);
    return false;
}

cf_dataset *cf_mazes_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048];
    const char *path = data_path(r, pbuf, sizeof pbuf);
    gen_keys g = read_generate(r);
    cf_maze_ds_config c = cf_maze_ds_defaults();
    static const char *const traces[] = {"full", "random", "none"}, *const l3[] = {"paper", "code"};
    int trace = 0, level3 = 0;
    parse_choice(r, "data.trace", "full", traces, 3, &trace);
    parse_choice(r, "data.level3", "paper", l3, 2, &level3);
    c.draw.trace = trace == 0 ? CF_MAZE_TRACE_FULL : trace == 1 ? CF_MAZE_TRACE_RANDOM : CF_MAZE_TRACE_NONE;
    c.draw.level3 = level3 == 0 ? CF_MAZE_L3_PAPER : CF_MAZE_L3_CODE;
    static const double small_run_p[5] = {0.4, 0.15, 0.15, 0.1, 0.2};
    int np = cf_recipe_float_list_in(r, "data.level_p", c.draw.level_p, 5, small_run_p, 5, 0, 1);
    c.draw.level3_drop_p = cf_recipe_float_in(r, "data.level3_drop_p", 0.3, 0, 1, CF_RANGE_CLOSED);
    c.draw.draw_once = cf_recipe_bool(r, "data.draw_once", false);
    int64_t train_seed = cf_recipe_int_in(r, "train.seed", 0, 0, CF_MAX_SEED);
    c.draw.seed = (uint64_t)cf_recipe_int_in(r, "data.seed", train_seed, 0, CF_MAX_SEED);
    c.max_src = cf_recipe_int_in(r, "data.max_src", 0, 0, CF_MAX_SEQ); /* 0: no limit */
    c.max_tgt = cf_recipe_int_in(r, "data.max_tgt", 0, 0, CF_MAX_SEQ);
    c.truncate = cf_recipe_bool(r, "data.truncate", false);
    c.val_fraction = cf_recipe_float_in(r, "data.val_fraction", 0.05, 0, 1, CF_RANGE_OPEN_HI);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (np != 5) {
        cf_recipe_fail(r, "data.level_p", CF_ERR_ARG, "needs 5 probabilities (levels 0..4), got %d", np);
        return NULL;
    }
    if (cf_maze_draw_config_check(&c.draw) != CF_OK) {
        cf_recipe_fail(r, "data.level_p", CF_ERR_ARG, "%s", cf_last_error());
        return NULL;
    }
    if (ensure_file(r, path, &g) != CF_OK) return NULL;
    cf_status st;
    return cf_maze_dataset_open(path, &c, split, &st);
}

/* ---- the model ---- */

cf_status cf_dualformer_config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_dualformer_config *c)
{
    const char *size = cf_recipe_str(r, "model.size", "cpu");
    int64_t vocab = cf_recipe_int_in(r, "model.vocab", 0, 0, CF_MAX_VOCAB); /* 0: the data's */
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (vocab <= 0) vocab = info ? info->vocab : 0;
    if (vocab <= 0)
        return cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "not given and the data has no vocabulary (a w x h maze "
                              "file needs 48 + w*h)");
    if (info && info->vocab > vocab)
        return cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "%lld is smaller than the maze file's vocabulary of %lld",
                              (long long)vocab, (long long)info->vocab);
    if (cf_dualformer_preset(size, vocab, c) != CF_OK) return cf_recipe_fail(r, "model.size", CF_ERR_ARG, "%s", cf_last_error());
    int64_t dim = cf_recipe_int_in(r, "model.dim", c->enc_dim, 1, CF_MAX_DIM);
    int64_t layers = cf_recipe_int_in(r, "model.layers", c->enc_layers, 1, CF_MAX_LAYERS);
    int64_t heads = cf_recipe_int_in(r, "model.heads", c->enc_heads, 1, CF_MAX_DIM);
    int64_t hidden = cf_recipe_int_in(r, "model.hidden", 0, 0, CF_MAX_HIDDEN); /* 0: the official rule */
    c->enc_dim = cf_recipe_int_in(r, "model.enc_dim", dim, 1, CF_MAX_DIM);
    c->dec_dim = cf_recipe_int_in(r, "model.dec_dim", dim, 1, CF_MAX_DIM);
    c->enc_layers = cf_recipe_int_in(r, "model.enc_layers", layers, 1, CF_MAX_LAYERS);
    c->dec_layers = cf_recipe_int_in(r, "model.dec_layers", layers, 1, CF_MAX_LAYERS);
    c->enc_heads = cf_recipe_int_in(r, "model.enc_heads", heads, 1, CF_MAX_DIM);
    c->dec_heads = cf_recipe_int_in(r, "model.dec_heads", heads, 1, CF_MAX_DIM);
    c->enc_hidden = cf_recipe_int_in(r, "model.enc_hidden", hidden > 0 ? hidden : cf_dualformer_ffn_hidden(c->enc_dim), 1,
                                     CF_MAX_HIDDEN);
    c->dec_hidden = cf_recipe_int_in(r, "model.dec_hidden", hidden > 0 ? hidden : cf_dualformer_ffn_hidden(c->dec_dim), 1,
                                     CF_MAX_HIDDEN);
    c->rope_base = cf_recipe_float_in(r, "model.rope_base", 10000.0, 0, INFINITY, CF_RANGE_OPEN);
    c->init_std = cf_recipe_float_in(r, "model.init_std", 0.0, 0, INFINITY, CF_RANGE_OPEN_HI); /* 0: the official */
    c->dropout = cf_recipe_float_in(r, "model.dropout", 0.0, 0, 1, CF_RANGE_OPEN_HI);
    c->encoder_padding_mask = cf_recipe_bool(r, "model.encoder_padding_mask", true);
    return cf_recipe_status(r);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    df_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "searchformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_dualformer_model;
    static const char *const losses[] = {"sequence", "token"};
    int loss = 0;
    parse_choice(r, "model.loss", "sequence", losses, 2, &loss);
    m->sequence_mean = loss == 0;
    m->groups = (int)cf_recipe_int_in(r, "model.length_groups", 4, 1, 1 << 16); /* 1: one pass over the padded batch */
    cf_dualformer_config c;
    cf_status st = cf_recipe_status(r) != CF_OK ? cf_recipe_status(r) : cf_dualformer_config_from_recipe(r, info, &c);
    if (st == CF_OK) st = cf_dualformer_eval_config_from_recipe(r, &m->eval);
    m->eval.sequence_mean = m->sequence_mean;
    if (st == CF_OK && cf_dualformer_init(&m->sf, ps, &c) != CF_OK)
        st = cf_recipe_fail(r, "model.dim", cf_last_status(), "%s", cf_last_error());
    if (st != CF_OK) {
        cf_dualformer_free(&m->sf);
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    df_model *m = (df_model *)mb;
    cf_tensor *src = cf_batch_get(b, "src"), *pad = cf_batch_get(b, "src_pad");
    cf_tensor *tin = cf_batch_get(b, "tgt_in"), *tout = cf_batch_get(b, "tgt_out");
    if (!src || !pad || !tin || !tout) return NULL;
    return cf_dualformer_loss(ctx, &m->sf, src, pad, tin, tout, m->sequence_mean, m->groups);
}

/* Target tokens (not ignored) in the batch. */
static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "tgt_out");
    if (!t) return 0;
    int64_t n = 0, N = cf_numel(t);
    const int64_t *p = cf_is_contiguous(t) && t->dtype == CF_I64 ? cf_data(t) : NULL;
    for (int64_t i = 0; i < N; i++) n += (p ? p[i] : (int64_t)cf_get_flat(t, i)) != CF_MAZE_IGNORE;
    return n;
}

static double flops(cf_model *mb)
{
    df_model *m = (df_model *)mb;
    return cf_dualformer_flops_per_token(&m->sf, 64, 160); /* a 7x7 maze's typical prompt and sequence */
}

static void free_model(cf_model *mb)
{
    df_model *m = (df_model *)mb;
    cf_dualformer_free(&m->sf);
    free(m);
}

cf_dualformer *cf_dualformer_of(cf_model *m)
{
    return m && m->vt == &cf_dualformer_model ? &((df_model *)m)->sf : NULL;
}

cf_dualformer_report *cf_dualformer_report_of(cf_model *m)
{
    return m && m->vt == &cf_dualformer_model ? &((df_model *)m)->report : NULL;
}

cf_dualformer_eval_config *cf_dualformer_eval_config_of(cf_model *m)
{
    return m && m->vt == &cf_dualformer_model ? &((df_model *)m)->eval : NULL;
}

const cf_model_vtable cf_dualformer_model = {
    .name = "searchformer",
    .summary = "Searchformer/Dualformer encoder-decoder on maze A* traces (src -> trace + plan)",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = cf_dualformer_evaluate,
    .free = free_model,
    .write_eval = cf_dualformer_write_eval,
};

