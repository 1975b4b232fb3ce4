/* Internals of the AlgoFormer folder shared by model.c (create, loss) and eval.c (the error against the
 * number of in-context examples, at the trained and at further loop counts). */
#ifndef CF_ALGOFORMER_INTERNAL_H
#define CF_ALGOFORMER_INTERNAL_H

#include "layers/algoformer.h"
#include "recipes/algoformer/model.h"

#define CF_ALGOF_EVAL_LOOPS 4 /* eval.loops: further loop counts scored by cformer eval */
#define CF_ALGOF_MAX_N 64     /* the longest mse_by_n curve kept for eval.json */

/* The last evaluation, for eval.json: normalised query MSE after k = 0 .. n examples. */
typedef struct cf_algof_report {
    int64_t n, items, loops;
    double signal_power;                   /* the normaliser: the zero predictor's expected error */
    double mse[CF_ALGOF_MAX_N + 1];        /* the model at model.loops */
    double mse_ls[CF_ALGOF_MAX_N + 1];     /* least squares on the task's features (the reference) */
    int extra;                             /* eval.loops */
    int64_t extra_loops[CF_ALGOF_EVAL_LOOPS];
    double extra_mse[CF_ALGOF_EVAL_LOOPS][CF_ALGOF_MAX_N + 1];
} cf_algof_report;

typedef struct cf_algof_model {
    cf_model base;
    cf_algoformer net;
    bool mean_window;                      /* model.window_loss: mean (over the window's iterates) or last */
    int n_eval_loops;
    int64_t eval_loops[CF_ALGOF_EVAL_LOOPS];
    cf_algof_report report;
} cf_algof_model;

/* The batch's tokens cut to the longest prompt of the batch, in the model's dtype: z [B, 2 n + 1, d],
 * targets y [B, n + 1] and the mask [B, n + 1] (1 where row b has a prediction p: p <= n_b). */
cf_status cf_algof_inputs(cf_ctx *ctx, const cf_algoformer *m, const cf_batch *b, cf_tensor **z, cf_tensor **y,
                          cf_tensor **mask);
/* The predictions at the x tokens: y_tok [B, 2 n + 1] -> [B, n + 1]. */
cf_tensor *cf_algof_at_queries(cf_ctx *ctx, cf_tensor *y_tok);

cf_status cf_algoformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
cf_status cf_algoformer_write_eval(cf_model *m, const char *path, const cf_metrics *flat);

#endif
