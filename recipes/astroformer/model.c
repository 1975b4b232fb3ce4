/* `model.type: astroformer` (Dagli, arXiv 2304.05350; keys in recipes/astroformer/README.md): the C-C-C-T
 * hybrid, its C-C-T-T variant and the pure-ViT baseline, all from model.stages / model.patch. */
#include "recipes/astroformer/model.h"
#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_image_classifier clf;
    cf_astroformer net;
} astro_model;

static cf_tensor *logits(cf_model *m, cf_ctx *ctx, cf_tensor *images)
{
    return cf_astroformer_logits(ctx, &((astro_model *)m)->net, images);
}

static cf_status config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_astroformer_config *c)
{
    memset(c, 0, sizeof *c);
    const int64_t ddims[] = {24, 32, 48, 64}, ddepths[] = {1, 1, 1, 2}, dstrides[] = {2, 2, 1, 1};
    const char *types = cf_recipe_str(r, "model.stages", "CCCT");
    int nd = cf_recipe_int_list_in(r, "model.dims", c->dims, CF_ASTRO_MAX_STAGES, ddims, 4, 1, CF_MAX_DIM);
    int ne = cf_recipe_int_list_in(r, "model.depths", c->depths, CF_ASTRO_MAX_STAGES, ddepths, 4, 1, CF_MAX_LAYERS);
    int ns = cf_recipe_int_list_in(r, "model.strides", c->strides, CF_ASTRO_MAX_STAGES, dstrides, 4, 1, 2);
    c->stem = cf_recipe_int_in(r, "model.stem", 16, 1, CF_MAX_DIM);
    c->stem_stride = cf_recipe_int_in(r, "model.stem_stride", 2, 1, 2);
    c->stem_patch = cf_recipe_int_in(r, "model.patch", 0, 0, 1024);
    c->head_dim = cf_recipe_int_in(r, "model.head_dim", 32, 1, CF_MAX_DIM);
    c->expand = cf_recipe_int_in(r, "model.expand", 4, 1, 64);
    c->head_hidden = cf_recipe_int_in(r, "model.head_hidden", 64, 1, CF_MAX_HIDDEN);
    c->dropout = cf_recipe_float_in(r, "model.dropout", 0.1, 0, 1, CF_RANGE_OPEN_HI);
    c->drop_path = cf_recipe_float_in(r, "model.drop_path", 0, 0, 1, CF_RANGE_OPEN_HI);
    CF_TRY(cf_recipe_status(r));
    size_t nt = strlen(types);
    if (nt < 1 || nt > CF_ASTRO_MAX_STAGES || (int)nt != nd || nd != ne || nd != ns)
        return cf_recipe_fail(r, "model.stages", CF_ERR_ARG, "'%s': one letter (C or T) per stage, and model.dims, "
                              "model.depths and model.strides one entry per stage (got %d, %d, %d)", types, nd, ne, ns);
    memcpy(c->types, types, nt + 1);
    c->stages = nd;
    if (info->vocab < 2 || info->frame_h < 2 || info->frame_w < 2 || info->units < 1)
        return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "the data gives no labelled images (use data.type: images or galaxies)");
    c->in_ch = info->units, c->img_h = info->frame_h, c->img_w = info->frame_w, c->classes = info->vocab;
    return CF_OK;
}

static void free_model(cf_model *mb)
{
    astro_model *m = (astro_model *)mb;
    cf_image_classifier_release(&m->clf);
    cf_astroformer_free(&m->net);
    free(m);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    astro_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "astroformer: out of memory");
        return NULL;
    }
    m->clf.base.vt = &cf_astroformer_model, m->clf.logits = logits, m->clf.classes = (int)info->vocab;
    cf_astroformer_config c;
    cf_status st = config_from_recipe(r, info, &c);
    if (st == CF_OK && (st = cf_astroformer_init(&m->net, ps, &c)) != CF_OK)
        st = cf_recipe_fail(r, "model.type", st, "%s", cf_last_error());
    if (st != CF_OK) {
        cf_astroformer_free(&m->net);
        free(m);
        return NULL;
    }
    return &m->clf.base;
}

const cf_model_vtable cf_astroformer_model = {
    .name = "astroformer",
    .summary = "C-C-C-T hybrid image classifier: MBConv+SE stages, then relative-position self-attention",
    .create = create,
    .loss = cf_image_classifier_loss,
    .items = cf_image_classifier_items,
    .evaluate = cf_image_classifier_evaluate,
    .free = free_model,
    .write_eval = cf_image_classifier_write_eval,
    .eval_split = "test",
};
