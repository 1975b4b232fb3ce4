/* `model.type: maformer` (Wang et al., arXiv 2209.01620; keys in recipes/maformer/README.md): the MAF
 * classifier and its two ablations (model.branches: maf, window, global). */
#include "recipes/maformer/model.h"
#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_image_classifier clf;
    cf_maformer net;
} maf_model;

static cf_tensor *logits(cf_model *m, cf_ctx *ctx, cf_tensor *images)
{
    return cf_maformer_logits(ctx, &((maf_model *)m)->net, images);
}

static cf_status config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_maformer_config *c)
{
    memset(c, 0, sizeof *c);
    const int64_t ddims[] = {32, 64, 128}, ddepths[] = {2, 2, 1}, dheads[] = {2, 4, 4};
    const char *branches = cf_recipe_str(r, "model.branches", "maf");
    int nd = cf_recipe_int_list_in(r, "model.dims", c->dims, CF_MAF_MAX_STAGES, ddims, 3, 1, CF_MAX_DIM);
    int ne = cf_recipe_int_list_in(r, "model.depths", c->depths, CF_MAF_MAX_STAGES, ddepths, 3, 0, CF_MAX_LAYERS);
    int nh = cf_recipe_int_list_in(r, "model.heads", c->heads, CF_MAF_MAX_STAGES, dheads, 3, 1, CF_MAX_DIM);
    c->window = cf_recipe_int_in(r, "model.window", 4, 1, CF_MAX_SEQ);
    c->ratio = cf_recipe_float_in(r, "model.gld_ratio", 0.25, 0, 1, CF_RANGE_OPEN_LO);
    c->mlp_ratio = cf_recipe_int_in(r, "model.mlp_ratio", 4, 1, 64);
    c->global_from = (int)cf_recipe_int_in(r, "model.global_from", 2, 0, CF_MAF_MAX_STAGES);
    c->drop_path = cf_recipe_float_in(r, "model.drop_path", 0, 0, 1, CF_RANGE_OPEN_HI);
    CF_TRY(cf_recipe_status(r));
    if (!cf_maf_variant_parse(branches, &c->variant))
        return cf_recipe_fail(r, "model.branches", CF_ERR_ARG, "unknown value '%s' (choose from maf, window, global)", branches);
    if (nd != ne || nd != nh)
        return cf_recipe_fail(r, "model.depths", CF_ERR_ARG, "model.dims, model.depths and model.heads need one entry per "
                              "stage (got %d, %d, %d)", nd, ne, nh);
    c->stages = nd;
    if (info->vocab < 2 || info->frame_h < 2 || info->frame_w < 2 || info->units < 1)
        return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "the data gives no labelled images (use data.type: images or glyphs)");
    c->in_ch = info->units, c->img_h = info->frame_h, c->img_w = info->frame_w, c->classes = info->vocab;
    return CF_OK;
}

static void free_model(cf_model *mb)
{
    maf_model *m = (maf_model *)mb;
    cf_image_classifier_release(&m->clf);
    cf_maformer_free(&m->net);
    free(m);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    maf_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "maformer: out of memory");
        return NULL;
    }
    m->clf.base.vt = &cf_maformer_model, m->clf.logits = logits, m->clf.classes = (int)info->vocab;
    cf_maformer_config c;
    cf_status st = config_from_recipe(r, info, &c);
    if (st == CF_OK && (st = cf_maformer_init(&m->net, ps, &c)) != CF_OK)
        st = cf_recipe_fail(r, "model.type", st, "%s", cf_last_error());
    if (st != CF_OK) {
        cf_maformer_free(&m->net);
        free(m);
        return NULL;
    }
    return &m->clf.base;
}

const cf_model_vtable cf_maformer_model = {
    .name = "maformer",
    .summary = "image classifier of MAF blocks: local window attention fused with a learned down-sampled global branch",
    .create = create,
    .loss = cf_image_classifier_loss,
    .items = cf_image_classifier_items,
    .evaluate = cf_image_classifier_evaluate,
    .free = free_model,
    .write_eval = cf_image_classifier_write_eval,
    .eval_split = "test",
};
