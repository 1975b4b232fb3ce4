/* EcoFormer (Liu et al., NeurIPS 2022) on the LRA-"Image"-like shapes task: `model.type: ecoformer` and
 * `data.type: lra_shapes`.
 *
 * Model keys: model.attention (softmax | ecoformer), model.hash (ksh | random: the hash projection learned
 * on the first training batch, or left at its N(0, 1) initialisation), model.dim (64), model.heads (2),
 * model.layers (2), model.mlp_ratio (2), model.classes (4), model.bits (16), model.anchors (25),
 * model.topk (10), model.hash_iters (100), model.hash_lr (5e-4), model.hash_momentum (0.9), model.hash_rows
 * (rows of the first batch the hash learns from, 0: all, as the released code; 0), model.hash_seed (1),
 * model.code_compat (false), model.logit_bound (0; softmax only: > 0 squashes the logits into (0, logit_bound),
 * so a row's weights differ by less than a factor e^logit_bound), model.pos_init (normal: N(0, model.pos_std), pos_std 0.02 | sincos2d: the 2-D
 * sine-cosine table, rows in channels [0, dim/2), columns in [dim/2, dim); square images and dim % 4 == 0),
 * model.hash_every (0: the hash is learned once, on the first training forward, then frozen, as in the released
 * configs (the code relearns when epoch % k == 0, and k = 300 > the 30 epochs); k > 0: learned again, from its
 * current A, on every k-th training forward of the process, counted from 0 at start or resume).
 * Eval keys: eval.auc_rows (64: test rows whose codes give the hash AUC and the attention concentration).
 * Data keys: data.path (a directory), data.size (16: images are size x size, N = size^2 tokens),
 * data.generate: {train, val, test, noise, seed} (writes the missing split files <path>/shapes<size>_<split>.tsv).
 * Batches: "pixels" f32 [B, N] in [0, 1], "label" i64 [B]. */
#ifndef CF_RECIPES_ECOFORMER_MODEL_H
#define CF_RECIPES_ECOFORMER_MODEL_H

#include "layers/ecoformer.h"
#include "layers/nn.h"
#include "recipes/run/model.h"

typedef struct cf_eco_classifier_config {
    int64_t seq, dim, heads, layers, hidden, classes;
    cf_eco_attention_config attn;
    cf_hash_learn_opts learn;
    int64_t hash_every; /* model.hash_every: relearn the hash every this many training forwards; 0: once */
    int64_t auc_rows;   /* eval.auc_rows */
    double pos_std;     /* model.pos_std: std of the learned positions' N(0, std) initialisation */
    int64_t side;       /* image side (sqrt(seq)) for model.pos_init: sincos2d; 0 when seq is not a square */
    bool pos_sincos;    /* model.pos_init: sincos2d (rows in the first half of the channels, columns in the second) */
} cf_eco_classifier_config;

typedef struct cf_eco_classifier {
    cf_eco_classifier_config cfg;
    cf_linear_layer embed;   /* Linear(1, dim) of each pixel */
    cf_tensor *pos;          /* [seq, dim] learned */
    cf_norm_layer *ln1, *ln2;
    cf_eco_attention *attn;
    cf_mlp *mlp;
    cf_norm_layer ln_f;
    cf_linear_layer head;
    int64_t train_forwards; /* training-mode forwards of this process (the hash_every clock) */
} cf_eco_classifier;

/* pixels [B, seq] -> logits [B, classes]; probes (one per layer, may be NULL) receive qk and the codes. In
 * training mode the hashed layers learn their hash first when it is not learned or hash_every says so. */
cf_tensor *cf_eco_classifier_logits(cf_ctx *ctx, cf_eco_classifier *m, cf_tensor *pixels, cf_eco_probe *probes);
/* Counted multiplications and additions per image (Sec. 4's energy model: attention cores by
 * cf_*_attn_cost, every other linear map one mul and one add per MAC). */
cf_attn_cost cf_eco_classifier_cost(const cf_eco_classifier *m, bool attention_only);

extern const cf_model_vtable cf_ecoformer_model;
cf_eco_classifier *cf_eco_classifier_of(cf_model *m);
cf_dataset *cf_lra_shapes_factory(void *recipe_like, const char *split);
/* `cformer data lra-shapes` */
int cf_ecoformer_shapes_cmd(int argc, char **argv);
/* Rows of logits [B, K] whose argmax is label [B] (eval.c). */
int64_t cf_eco_correct(const cf_tensor *logits, const cf_tensor *label);
/* evaluate of the model (eval.c) */
cf_status cf_ecoformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

#endif
