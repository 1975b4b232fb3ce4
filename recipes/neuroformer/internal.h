/* Shared between recipes/neuroformer/model.c and eval.c: the model as the recipe built it. Not installed
 * (CMake installs no recipes/<paper>/internal.h); users include recipes/neuroformer/model.h. */
#ifndef CF_NEUROFORMER_INTERNAL_H
#define CF_NEUROFORMER_INTERNAL_H

#include "recipes/neuroformer/glm.h"
#include "recipes/neuroformer/model.h"

#define NF_MAX_BEH 64

typedef struct nf_eval_settings {
    int64_t batch, top_k, max_windows, xcorr_lag;
    double temperature, top_p, free_seconds, psth_bin;
    uint64_t seed;
    bool glm;            /* eval.glm: fit and report the GLM baselines */
    cf_glm_config glm_cfg; /* eval.glm_* */
    char ablation[2048]; /* eval.ablation_checkpoint: a model trained with data.shuffle_prev ("" none) */
} nf_eval_settings;

typedef struct nf_model {
    cf_model base;
    cf_neuroformer nf;
    cf_spike_source src;
    cf_spike_vocab vocab;
    int beh_total;             /* behaviour variables in the batches */
    int predict_col;           /* the regressed variable, -1: none */
    int n_in, in_cols[NF_MAX_BEH]; /* the input variables */
    nf_eval_settings ev;
} nf_model;

/* The model's inputs from a batch of the spikes dataset (arena tensors for the behaviour columns);
 * *beh_target gets the regressed column [B] or NULL. */
cf_status nf_inputs_from_batch(nf_model *m, cf_ctx *ctx, const cf_batch *b, cf_nf_inputs *in, cf_tensor **beh_target);

/* data.shuffle_prev: relabels the unit tokens of each previous window (rows of prev_id [rows, Tp]) by a random
 * permutation of the units keyed by the window's tokens (the same window always gets the same one). */
void nf_shuffle_prev(int64_t *prev_id, const int64_t *prev_dt, int64_t rows, int64_t Tp, int n_units, uint64_t seed);

/* The GLM baselines (recipes/neuroformer/baselines.c): Bernoulli GLMs fitted on the training ranges of the
 * recording s, scored on the windows of gen (its true spikes; k: the top-k decoding's size); metrics into out,
 * named after split. */
cf_status nf_glm_baselines(nf_model *nm, const cf_spikes *s, const cf_nf_generation *gen, int k, const char *split,
                           cf_metrics *out);

#endif
