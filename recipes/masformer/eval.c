/* MASFormer's evaluation (`cformer eval`): the next-token loss of the split split into the tokens only a
 * long-range attention can predict (the second and later tokens of markov_copy's re-inserted span) and all
 * the others, beside the chain's bigram entropy (the loss of a model that cannot copy) and the layout's
 * attention FLOPs relative to all-full (Zhang et al., EMNLP 2023 Findings, Sec. 3: the cost the paper cuts). */
#include "data/text/markov_copy.h"
#include "recipes/masformer/model.h"

#include <math.h>
#include <string.h>

typedef struct {
    double sum[2], count[2]; /* [0] local, [1] long range */
} split_loss;

static cf_status score_batch(cf_ctx *ctx, const cf_masformer *m, const cf_batch *b, split_loss *acc)
{
    cf_ce_opts each = CF_CE_DEFAULTS;
    each.reduction = CF_REDUCTION_NONE;
    cf_tensor *tok = cf_batch_get(b, "tokens"), *tgt = cf_batch_get(b, "targets");
    if (!tok || !tgt) return cf_last_status();
    cf_tensor *lr = NULL;
    for (int f = 0; f < b->nfields; f++)
        if (strcmp(b->names[f], "long_range") == 0) lr = b->fields[f];
    cf_tensor *loss = cf_cross_entropy_last(ctx, cf_masformer_logits(ctx, m, tok), tgt, &each);
    if (!loss) return cf_last_status();
    for (int64_t i = 0; i < cf_numel(tgt); i++) {
        if (cf_get_flat(tgt, i) == -100) continue;
        int kind = lr && cf_get_flat(lr, i) != 0;
        acc->sum[kind] += cf_get_flat(loss, i), acc->count[kind] += 1;
    }
    return CF_OK;
}

cf_status cf_masformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    const cf_masformer *m = cf_masformer_of(mb);
    if (!m) return cf_set_error(CF_ERR_ARG, "masformer eval: not a masformer model");
    cf_dataset *ds = in->split;
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    split_loss acc = {{0, 0}, {0, 0}};
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st == CF_OK) st = score_batch(ctx, m, &b, &acc);
        cf_step_reset(ctx);
    }
    int64_t T = b.fields[0] ? b.fields[0]->shape[1] : m->gpt.cfg.seq;
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st != CF_OK) return st;
    double total = acc.sum[0] + acc.sum[1], count = acc.count[0] + acc.count[1];
    cf_metrics_set(out, "loss", total / count);
    cf_metrics_set(out, "perplexity", exp(total / count));
    cf_metrics_set(out, "loss_local", acc.sum[0] / acc.count[0]);
    if (acc.count[1] > 0) {
        cf_metrics_set(out, "loss_long_range", acc.sum[1] / acc.count[1]);
        cf_metrics_set(out, "long_range_tokens", acc.count[1]);
    }
    double h = cf_markov_copy_entropy(ds);
    if (!isnan(h)) cf_metrics_set(out, "bigram_entropy", h);
    cf_metrics_set(out, "tokens", count);
    cf_metrics_set(out, "attn_flops_frac", cf_masformer_attn_flops(&m->cfg, T) / cf_masformer_attn_flops_full(&m->cfg, T));
    cf_metrics_set(out, "attn_flops_per_row", cf_masformer_attn_flops(&m->cfg, T));
    return CF_OK;
}
