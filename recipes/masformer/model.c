/* `model.type: masformer` and `data.type: markov_copy` from a recipe (model.h). */
#include "recipes/masformer/model.h"

#include "data/text/markov_copy.h"
#include "recipes/gpt/model.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_masformer mas;
} mas_model;

/* model.full_layers: 1-based, each in [1, layers], no repeats */
static cf_status read_layout(cf_recipe *r, cf_masformer_config *c)
{
    int64_t list[CF_MAS_MAX_LAYERS];
    int n = cf_recipe_int_list_in(r, "model.full_layers", list, CF_MAS_MAX_LAYERS, NULL, 0, 1, CF_MAS_MAX_LAYERS);
    c->local_span = cf_recipe_int_in(r, "model.local_span", 16, 1, CF_MAX_SEQ);
    const char *kind = cf_recipe_str(r, "model.local_attention", "block_prev");
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (!cf_mas_local_parse(kind, &c->local))
        return cf_recipe_fail(r, "model.local_attention", CF_ERR_ARG, "unknown value '%s' (choose from block, "
                              "block_prev, window)", kind);
    if (c->gpt.layers > CF_MAS_MAX_LAYERS)
        return cf_recipe_fail(r, "model.layers", CF_ERR_ARG, "MASFormer stacks at most %d layers", CF_MAS_MAX_LAYERS);
    if (!c->gpt.prenorm)
        return cf_recipe_fail(r, "model.prenorm", CF_ERR_ARG, "MASFormer's local layers are pre-LN blocks: set true");
    for (int i = 0; i < n; i++) {
        if (list[i] > c->gpt.layers)
            return cf_recipe_fail(r, "model.full_layers", CF_ERR_ARG, "layer %lld does not exist (model.layers is %lld; "
                                  "layers count from 1)", (long long)list[i], (long long)c->gpt.layers);
        if (c->full[list[i] - 1])
            return cf_recipe_fail(r, "model.full_layers", CF_ERR_ARG, "layer %lld is listed twice", (long long)list[i]);
        c->full[list[i] - 1] = true;
    }
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    mas_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "masformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_masformer_model;
    cf_masformer_config c;
    memset(&c, 0, sizeof c);
    cf_status st = cf_gpt_config_from_recipe(r, &c.gpt);
    if (st == CF_OK) st = read_layout(r, &c);
    if (st == CF_OK && info->vocab > c.gpt.vocab)
        st = cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "%lld is smaller than the data's vocabulary of %lld tokens",
                            (long long)c.gpt.vocab, (long long)info->vocab);
    if (st == CF_OK && c.gpt.pos == CF_POS_LEARNED && info->seq > c.gpt.seq)
        st = cf_recipe_fail(r, "model.seq", CF_ERR_ARG, "%lld learned positions, but the data's rows have %lld tokens",
                            (long long)c.gpt.seq, (long long)info->seq);
    if (st == CF_OK && c.local != CF_MAS_WINDOW && info->seq > 0 && info->seq % c.local_span)
        st = cf_recipe_fail(r, "model.local_span", CF_ERR_ARG, "%lld does not divide the data's rows of %lld tokens "
                            "(block-local attention cuts a row into blocks)", (long long)c.local_span, (long long)info->seq);
    if (st != CF_OK || cf_masformer_init(&m->mas, ps, &c) != CF_OK) {
        cf_masformer_free(&m->mas);
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    mas_model *m = (mas_model *)mb;
    cf_tensor *logits = cf_masformer_logits(ctx, &m->mas, cf_batch_get(b, "tokens"));
    return cf_cross_entropy_last(ctx, logits, cf_batch_get(b, "targets"), NULL);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "tokens");
    return t ? cf_numel(t) : 0;
}

/* the GPT's 6N + full attention, with the attention term scaled by the layout's attention FLOP fraction */
static double flops(cf_model *mb)
{
    mas_model *m = (mas_model *)mb;
    const cf_gpt_config *g = &m->mas.gpt.cfg;
    double attn_full = 6.0 * (double)g->layers * (double)g->seq * (double)g->dim;
    double frac = cf_masformer_attn_flops(&m->mas.cfg, g->seq) / cf_masformer_attn_flops_full(&m->mas.cfg, g->seq);
    return cf_gpt_flops_per_token(&m->mas.gpt, g->seq) - attn_full * (1.0 - frac);
}

static void free_model(cf_model *mb)
{
    mas_model *m = (mas_model *)mb;
    cf_masformer_free(&m->mas);
    free(m);
}

cf_masformer *cf_masformer_of(cf_model *m)
{
    return m && m->vt == &cf_masformer_model ? &((mas_model *)m)->mas : NULL;
}

const cf_model_vtable cf_masformer_model = {
    .name = "masformer",
    .summary = "MASFormer: GPT with full causal attention in a few layers and block-local attention elsewhere",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = cf_masformer_evaluate,
    .free = free_model,
};

cf_dataset *cf_markov_copy_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    cf_markov_copy_config c = cf_markov_copy_defaults();
    int64_t model_seq = cf_recipe_int_in(r, "model.seq", c.seq, 1, CF_MAX_SEQ);
    c.vocab = cf_recipe_int_in(r, "data.vocab", cf_recipe_int_in(r, "model.vocab", c.vocab, 1, CF_MAX_VOCAB), 2, CF_MAX_VOCAB);
    c.seq = cf_recipe_int_in(r, "data.seq", model_seq, 1, CF_MAX_SEQ);
    int64_t train = cf_recipe_int_in(r, "data.size", c.size, 1, CF_MAX_COUNT);
    int64_t held_out = cf_recipe_int_in(r, "data.eval_size", 256, 1, CF_MAX_COUNT);
    c.size = strcmp(split, "train") == 0 ? train : held_out;
    c.branching = cf_recipe_int_in(r, "data.branching", c.branching, 1, CF_MAX_VOCAB);
    c.span = cf_recipe_int_in(r, "data.span", c.span, 2, CF_MAX_SEQ);
    c.source_end = cf_recipe_int_in(r, "data.source_end", c.source_end, 2, CF_MAX_SEQ);
    c.insert_from = cf_recipe_int_in(r, "data.insert_from", c.insert_from, 2, CF_MAX_SEQ);
    c.seed = (uint64_t)cf_recipe_int_in(r, "data.seed", 0, 0, CF_MAX_SEED);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    cf_dataset *ds = cf_markov_copy_open(&c, split);
    if (!ds) { /* name the recipe's file and line (the message is copied before the error is replaced) */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cf_last_error());
        cf_recipe_fail(r, "data.type", CF_ERR_ARG, "%s", msg);
    }
    return ds;
}
