/* In-context regression prompts drawn on the fly (Garg et al., "What Can Transformers Learn In-Context? A Case
 * Study of Simple Function Classes", NeurIPS 2022, Section 2; the representation task of Gao et al.,
 * "On the Expressive Power of a Variant of the Looped Transformer", 2024, Section 4).
 *
 * A prompt holds n examples and a query: points x_1 .. x_{n+1} ~ N(0, I_d), one task f per prompt, and
 *     linear:          y = w^T x                          w ~ N(0, I_d) per prompt
 *     representation:  y = w^T Phi(x), Phi(x) = ReLU(A x) / sqrt(d),  A ~ N(0, 1) [d, d] fixed per seed
 *                      (the same A for every prompt and split of a run; w ~ N(0, I_d) per prompt)
 * plus, in the noisy variants, y += noise * eps with eps ~ N(0, 1) per example.
 * Tokens (Garg et al.'s format): x_i -> [x_i] in R^d, y_i -> [y_i, 0, .., 0] in R^d, interleaved
 *     z = (x_1, y_1, x_2, y_2, .., x_n, y_n, x_{n+1})    [2 n + 1, d]
 * and targets y [n + 1]: the model's output at the token of x_i predicts y_i from the i - 1 examples before it.
 * Everything is a pure function of (seed, split, index): the same item on any machine, thread or rank.
 *
 * The curriculum of n (Garg et al., Section 3): the training split's item i belongs to step s = i / batch
 * (the loader, shuffle off, hands out items in index order, batch per step), and has
 *     n(s) = min(n_max, n_start + n_inc * floor(s / n_every))     (n_every 0: always n_max)
 * examples; validation and test items always have n_max. Rows are padded to n_max with zeros; the batch
 * field "n" says how many examples a row has.
 *
 * Batches: "z" f32 [B, 2 n_max + 1, d], "y" f32 [B, n_max + 1], "n" i64 [B].
 *     cf_icl_config c = cf_icl_defaults(); c.task = CF_ICL_REPRESENTATION;
 *     cf_dataset *ds = cf_icl_dataset_new(&c, "train", 1 << 30);
 *     // the loader (shuffle off) then yields fresh prompts, n following the curriculum */
#ifndef CF_ICL_H
#define CF_ICL_H

#include "data/dataset.h"

typedef enum cf_icl_task { CF_ICL_LINEAR, CF_ICL_REPRESENTATION } cf_icl_task;
/* "linear", "representation" */
bool cf_icl_task_parse(const char *s, cf_icl_task *out);

typedef struct cf_icl_config {
    cf_icl_task task;
    int64_t dim;            /* d >= 1 */
    int64_t n_max;          /* examples in a full prompt (>= 1) */
    int64_t n_start, n_inc, n_every; /* the curriculum (n_start in [1, n_max]); n_every 0: none */
    int64_t batch;          /* training items per step (>= 1), for the curriculum */
    double noise;           /* standard deviation of the label noise (>= 0) */
    uint64_t seed;
} cf_icl_config;

/* linear, d 5, n_max 20, curriculum 6 +2 every 400 steps of 64, no noise, seed 1 */
cf_icl_config cf_icl_defaults(void);
/* CF_ERR_ARG naming the field when a value is outside the ranges above. */
cf_status cf_icl_check(const cf_icl_config *c);

/* The examples of item index of a split ("train" follows the curriculum; others have n_max). */
int64_t cf_icl_examples(const cf_icl_config *c, bool train, int64_t index);
/* Writes item index with n examples: z [2 n + 1, d] and y [n + 1] (rows past them are the caller's). */
void cf_icl_sample(const cf_icl_config *c, uint64_t split_stream, int64_t index, int64_t n, float *z, float *y);
/* The zero predictor's expected squared error E[(w^T Phi(x))^2] without noise: d for linear,
 * ||A||_F^2 / (2 d) for the representation; the normaliser of the reported errors. */
double cf_icl_signal_power(const cf_icl_config *c);
/* Phi(x) of the task: x itself (linear) or ReLU(A x) / sqrt(d). phi and x hold d values. */
void cf_icl_features(const cf_icl_config *c, const float *x, double *phi);

/* A dataset of len items of the split ("train", "val", "test"); NULL with an error on a bad config. */
cf_dataset *cf_icl_dataset_new(const cf_icl_config *c, const char *split, int64_t len);
/* The config a dataset of cf_icl_dataset_new was made with; NULL (with an error) for any other dataset. */
const cf_icl_config *cf_icl_dataset_config(const cf_dataset *ds);

#endif
