/* Models that are the GPT plus a paper's evaluation (cf_gpt_wrap in model.h): creation and the vtable
 * entries that delegate to the GPT. */
#include "recipes/gpt/model.h"

#include <stdlib.h>

cf_model *cf_gpt_wrap_create(cf_recipe *r, cf_params *ps, const cf_data_info *info, size_t size,
                             const cf_model_vtable *vt, cf_gpt_wrap_read_fn read)
{
    cf_model *gpt = cf_gpt_model.create(r, ps, info);
    cf_gpt_wrap *w = gpt && size >= sizeof *w ? calloc(1, size) : NULL;
    if (gpt && !w) cf_set_error(CF_ERR_OOM, "%s: out of memory", vt->name);
    if (w) {
        w->base.vt = vt, w->gpt = gpt;
        if (!read || read(r, info, w) == CF_OK) return &w->base;
    }
    if (gpt) cf_gpt_model.free(gpt);
    free(w);
    return NULL;
}

cf_tensor *cf_gpt_wrap_loss(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    return cf_gpt_model.loss(((cf_gpt_wrap *)m)->gpt, ctx, b, out);
}

int64_t cf_gpt_wrap_items(cf_model *m, const cf_batch *b) { return cf_gpt_model.items(((cf_gpt_wrap *)m)->gpt, b); }

double cf_gpt_wrap_flops(cf_model *m) { return cf_gpt_model.flops_per_item(((cf_gpt_wrap *)m)->gpt); }

void cf_gpt_wrap_free(cf_model *m)
{
    if (!m) return;
    cf_gpt_model.free(((cf_gpt_wrap *)m)->gpt);
    free(m);
}

cf_gpt *cf_gpt_wrap_gpt(cf_model *m) { return m ? cf_gpt_of(((cf_gpt_wrap *)m)->gpt) : NULL; }
