/* `model.type: searchformer` (the Searchformer / Dualformer encoder-decoder) and `data.type: mazes` as the
 * trainer sees them, and the Dualformer evaluation (recipes/dualformer/eval.c).
 *
 * model.* keys: size (cpu | s | m-s | l; default cpu), vocab (default: 48 + size^2 from
 * data.generate.size, else the maze file's header), dim / layers / heads / hidden (both stacks) and
 * enc_dim, enc_layers, enc_heads, enc_hidden, dec_dim, dec_layers, dec_heads, dec_hidden (one stack),
 * rope_base (10000), init_std (0: PyTorch's default init, as the official code), dropout (0),
 * encoder_padding_mask (true: the prompt's padding is masked in the encoder's self-attention too; false: as
 * the official code, where a prompt's encoding depends on how much padding its batch happened to have -- on
 * 7x7 mazes at 1200 steps the mask raised Solution-Only's 1-Optimal-8 from .108 to .358),
 * loss: sequence (each row's mean over its targets, then the rows' mean: the official code) | token,
 * length_groups (4: rows sorted by length and run in that many groups, each at its own longest length;
 * the same loss and gradient, 1.5-2x faster on traces that vary 3x in length).
 * A batch holds the maze dataset's fields src, src_pad, tgt_in, tgt_out (data/mazes/maze.h).
 *
 * data.* keys of `mazes`: path (required; relative to the recipe file), generate: {size, count, seed}
 * (when given and path does not exist, the file is generated deterministically -- cf_maze_generate_file,
 * written atomically -- and an existing file must match them), trace: full | random | none (Searchformer /
 * Dualformer / Solution-Only), level_p: [p0, p1, p2, p3, p4] (random; default cformer's small-run choice
 * (0.4, 0.15, 0.15, 0.1, 0.2)), level3: paper | code, level3_drop_p (0.3), draw_once (false), seed
 * (default train.seed), max_src / max_tgt (0: the split's longest), truncate (false), val_fraction (0.05).
 *
 * Evaluation keys (eval.*): tasks (100; tasks of the evaluated split, eval.split, in order), samples (k, 8),
 * modes ([slow, fast, auto]), temperature (1.0; a normal temperature, logits / T -- the official
 * code multiplies by its argument, the same at 1), max_len (0: 4 x the longest decoder sequence of
 * the maze file), rows (rows decoded together, 64), seed (0), ban_trace (false:
 * when true, create/close can not follow a plan token), loss (true: also the mean loss). */
#ifndef CF_DUALFORMER_MODEL_H
#define CF_DUALFORMER_MODEL_H

#include "data/mazes/maze.h"
#include "layers/dualformer.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_dualformer_model;

/* The model.* keys; the vocabulary (when model.vocab is absent) from the data's info (NULL: model.vocab only). */
cf_status cf_dualformer_config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_dualformer_config *c);
/* The model inside a cf_dualformer_model instance; NULL for other models. */
cf_dualformer *cf_dualformer_of(cf_model *m);
/* The `mazes` dataset factory (recipe_like is a cf_recipe *). */
cf_dataset *cf_mazes_factory(void *recipe_like, const char *split);

/* ---- evaluation (recipes/dualformer/eval.c) ---- */
typedef struct cf_dualformer_eval_config {
    int64_t tasks, max_len, rows, seed;
    int k;
    double temperature;
    bool modes[3]; /* indexed by cf_maze_mode */
    bool ban_trace, loss;
    bool sequence_mean; /* the training loss's reduction (model.loss), for auto mode's prior */
} cf_dualformer_eval_config;
/* Reads and checks the eval.* keys (the model's create does, so they are known keys). */
cf_status cf_dualformer_eval_config_from_recipe(cf_recipe *r, cf_dualformer_eval_config *c);

typedef struct cf_dualformer_mode_eval {
    bool done;
    cf_maze_mode mode;
    cf_maze_metrics all;            /* over every evaluated task */
    cf_maze_stat slow_short, slow_long; /* slow_fraction over tasks with optimal plans <= / > the median */
    int median_nodes;               /* the split point (optimal plan nodes) */
    cf_maze_stat trace_after_plan;  /* samples with a create/close token after their first plan token */
    cf_maze_stat eos;               /* samples that ended with eos within the cap */
    /* auto: the slow fraction of a model that learned the training data's first decoder token exactly, i.e.
     * the trace levels' mix weighted as the loss weighs rows (model.loss: sequence gives each row's tokens
     * 1/length each, so short plan-only rows count more; token weighs every row alike); over all tasks, and
     * those with short / long plans. The level is drawn independently of the maze, so any dependence on the
     * plan length here comes from the loss weighting alone. */
    double prior_slow, prior_short, prior_long;
} cf_dualformer_mode_eval;

typedef struct cf_dualformer_report {
    int64_t tasks;
    int k;
    double temperature, loss, seconds;
    int64_t max_len;
    cf_dualformer_mode_eval mode[3]; /* indexed by cf_maze_mode: AUTO, SLOW, FAST */
} cf_dualformer_report;

/* The model's evaluate: the sampled-plan metrics per mode (and the loss) over the first eval.tasks
 * tasks of ds (a maze dataset); prints a table with 95% confidence intervals; flat metrics in out:
 * loss, <mode>_{solved_1, optimal_1, optimal_3, swc, steps, diversity}, auto_slow_fraction,
 * auto_slow_frac_short / _long, auto_slow_prior (/ _short / _long: see cf_dualformer_mode_eval). The full report stays in the model for write_eval. */
cf_status cf_dualformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
/* Writes the last report as JSON (atomically): {"step":.., "tasks":.., "k":.., "slow": {"solved_1":..,
 * "solved_1_ci": [lo, hi], "optimal_1":.., "optimal_3":.., "swc":.., "steps":.., "diversity":.., ...},
 * "fast": {..}, "auto": {.., "slow_fraction":.., "slow_fraction_short":.., "slow_fraction_long":..,
 * "slow_fraction_prior":.., "slow_fraction_prior_short":.., "slow_fraction_prior_long":..},
 * then every flat metric}. */
cf_status cf_dualformer_write_eval(cf_model *m, const char *path, const cf_metrics *flat);
/* `cformer data mazes` (mazes_cmd.c) and `cformer data info FILE` for a maze file (see cf_data_generator). */
int cf_dualformer_mazes_cmd(int argc, char **argv);
/* Reasoning traces for language models (traces_cmd.c): the `math_traces` dataset factory (recipe_like is a
 * cf_recipe *) and `cformer data math-traces`. */
cf_dataset *cf_math_traces_factory(void *recipe_like, const char *split);
int cf_dualformer_traces_cmd(int argc, char **argv);
int cf_dualformer_mazes_describe(const char *path);

/* The report of the last evaluation of a searchformer model (NULL for other models). */
cf_dualformer_report *cf_dualformer_report_of(cf_model *m);
/* The evaluation settings of a searchformer model (NULL for other models). */
cf_dualformer_eval_config *cf_dualformer_eval_config_of(cf_model *m);

#endif
