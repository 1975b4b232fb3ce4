/* Next-token scores of a language model over a split (recipes/run/lm_eval.h). */
#include "recipes/run/lm_eval.h"

#include <math.h>
#include <string.h>

static void tally(const cf_tensor *logits, const cf_tensor *tgt, const cf_tensor *nll, cf_lm_scores *s)
{
    int64_t V = logits->shape[logits->ndim - 1];
    for (int64_t i = 0; i < cf_numel(tgt); i++) {
        int64_t want = (int64_t)cf_get_flat(tgt, i);
        if (want == -100) continue;
        int64_t best = 0;
        for (int64_t v = 1; v < V; v++)
            if (cf_get_flat(logits, i * V + v) > cf_get_flat(logits, i * V + best)) best = v;
        s->nll += cf_get_flat(nll, i), s->correct += best == want, s->tokens += 1;
    }
}

cf_status cf_lm_score_split(cf_ctx *ctx, const cf_eval_input *in, cf_lm_logits_fn logits, void *net, cf_lm_scores *out)
{
    memset(out, 0, sizeof *out);
    cf_dataset *ds = in->split;
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_ce_opts each = CF_CE_DEFAULTS;
    each.reduction = CF_REDUCTION_NONE;
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        cf_tensor *tgt = cf_batch_get(&b, "targets");
        cf_tensor *lg = st == CF_OK ? logits(ctx, net, cf_batch_get(&b, "tokens")) : NULL;
        cf_tensor *nll = lg ? cf_cross_entropy_last(ctx, lg, tgt, &each) : NULL;
        if (!nll) st = st == CF_OK ? cf_last_status() : st;
        else tally(lg, tgt, nll, out);
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st == CF_OK && out->tokens == 0)
        st = cf_set_error(CF_ERR_ARG, "evaluation: the %s split has no scored tokens", in->split_name ? in->split_name : "");
    return st;
}

cf_status cf_lm_evaluate(cf_ctx *ctx, const cf_eval_input *in, cf_lm_logits_fn logits, void *net, bool accuracy,
                         cf_metrics *out)
{
    cf_lm_scores s;
    CF_TRY(cf_lm_score_split(ctx, in, logits, net, &s));
    cf_metrics_set(out, "ce", s.nll / s.tokens);
    cf_metrics_set(out, "perplexity", exp(s.nll / s.tokens));
    if (accuracy) cf_metrics_set(out, "accuracy", s.correct / s.tokens);
    cf_metrics_set(out, "tokens", s.tokens);
    return CF_OK;
}

int64_t cf_lm_items(const cf_batch *b)
{
    cf_tensor *t = cf_batch_get(b, "tokens");
    return t ? cf_numel(t) : 0;
}
