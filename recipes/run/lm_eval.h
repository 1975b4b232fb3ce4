/* Scoring a next-token language model over a whole split, for the evaluations of models whose batches hold
 * "tokens" and "targets" i64 [B, T] (targets -100 are not scored).
 *
 *     static cf_tensor *logits_of(cf_ctx *ctx, void *net, cf_tensor *tokens) { return my_logits(ctx, net, tokens); }
 *     cf_lm_scores s;
 *     CF_TRY(cf_lm_score_split(ctx, in, logits_of, &m->net, &s));
 *     cf_metrics_set(out, "ce", s.nll / s.tokens);
 *
 * Every window of in->split is scored once, in batches of in->batch_size rows, without gradients and in
 * evaluation mode (both restored). Token losses are summed in double, so the sums do not depend on the batch
 * size. CF_ERR_ARG when the split has no scored token. */
#ifndef CF_LM_EVAL_H
#define CF_LM_EVAL_H

#include "recipes/run/model.h"

typedef cf_tensor *(*cf_lm_logits_fn)(cf_ctx *ctx, void *net, cf_tensor *tokens); /* -> [B, T, vocab] */

typedef struct cf_lm_scores {
    double nll;     /* summed next-token cross-entropy (nats) */
    double correct; /* tokens whose most likely prediction (first maximum) is the target */
    double tokens;  /* tokens scored */
} cf_lm_scores;

cf_status cf_lm_score_split(cf_ctx *ctx, const cf_eval_input *in, cf_lm_logits_fn logits, void *net, cf_lm_scores *out);
/* The same, reported as the metrics "ce" (nats per token), "perplexity", "tokens" and, with accuracy, the
 * top-1 next-token "accuracy": a language model's whole evaluate. */
cf_status cf_lm_evaluate(cf_ctx *ctx, const cf_eval_input *in, cf_lm_logits_fn logits, void *net, bool accuracy,
                         cf_metrics *out);
/* Tokens in a batch's "tokens" (a language model's items, for throughput). */
int64_t cf_lm_items(const cf_batch *b);

#endif
