/* Shared between recipes/neuroformer/model.c and eval.c: the model as the recipe built it. Not installed
 * (CMake installs no recipes/<paper>/internal.h); users include recipes/neuroformer/model.h. */
#ifndef CF_NEUROFORMER_INTERNAL_H
#define CF_NEUROFORMER_INTERNAL_H

#include "recipes/neuroformer/glm.h"
#include "recipes/neuroformer/model.h"

#define NF_MAX_BEH 64

enum { NF_F1_SAMPLE, NF_F1_TOPK, NF_F1_EXPECTED };
enum { NF_CONN_ATTENTION, NF_CONN_HEADMAX, NF_CONN_GRAD };

typedef struct nf_eval_settings {
    int64_t batch, top_k, max_windows, xcorr_lag;
    double temperature, top_p, free_seconds, psth_bin;
    uint64_t seed;
    bool glm;            /* eval.glm: fit and report the GLM baselines */
    int64_t f1_samples;  /* eval.f1_samples: sampled windows per window for the set decodings (0: none) */
    int f1_decoding;     /* eval.f1_decoding: what `f1` reports (NF_F1_*) */
    int64_t grad_windows; /* eval.grad_windows: windows of the gradient x input read-out (0: none) */
    int conn_readout;    /* eval.conn_readout: what conn_auc reports (NF_CONN_*) */
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
    cf_params *ps;             /* the model's parameters (their gradients are cleared after an attribution pass) */
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

/* Ridge regression of the decoded behaviour variable (model.predict; nothing without it) on binned counts,
 * fitted on train's windows (and on the whole training split when train is a subset of it), scored on the
 * split's first W windows: beh_r_ridge, beh_r2_ridge (and _full); see baselines.c. */
cf_status nf_ridge_baseline(nf_model *nm, cf_dataset *train, cf_dataset *split, int64_t W, cf_metrics *out);

/* The model's set decodings for window F1 (decoding.c): eval.f1_samples windows sampled from the model with the
 * true past per window of ref (the scored windows, generated from ds with base's batch), the k most likely
 * units and the expected-count set: f1_model_topk, f1_model_expected. */
cf_status nf_model_set_f1(cf_model *mb, cf_ctx *ctx, cf_dataset *ds, const cf_nf_gen_options *base, const cf_nf_generation *ref,
                          int k, cf_metrics *out);

/* Connectivity read-outs (readout.c): per head and layer attention maps and gradient x input attribution,
 * target-major [N * N] sums with the occurrence counts nt, ns (the model's past tokens and targets). */
typedef struct nf_readout {
    int N, L, H;
    double *heads;          /* [L * H][N * N] */
    double *grad, *grad_abs; /* [N * N] */
    double *nt, *ns;        /* [N] (followed by N of scratch) */
    int64_t grad_windows;   /* windows in grad */
} nf_readout;
/* Over the first W windows of ds (the gradient over the first grad_windows of them). */
cf_status nf_readout_compute(nf_model *nm, cf_ctx *ctx, cf_dataset *ds, int64_t W, int64_t grad_windows, nf_readout *r);
void nf_readout_free(nf_readout *r);
/* ROC-AUCs <prefix>_l<l>h<h>, <prefix>_layer<l>, <prefix>_headmax, <prefix>_grad, <prefix>_grad_abs against the
 * ground truth w (target-major maps, source-major w as cf_edge_auc takes it) and the hub direction accuracies
 * <dir_prefix>_headmax, <dir_prefix>_grad. */
void nf_readout_metrics(const nf_readout *r, const double *w, const int *hubs, int n_hubs, const char *prefix,
                        const char *dir_prefix, cf_metrics *out);

#endif
