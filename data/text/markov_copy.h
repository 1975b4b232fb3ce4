/* `markov_copy`: the synthetic long-range copy language of the MASFormer experiment (Zhang et al.,
 * "Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at Every Layer", EMNLP
 * 2023 Findings; our CPU stand-in for its long-document corpora). Generated on the fly, seeded, in the
 * format text data has: rows of token ids.
 *
 * The language. A sparse bigram chain over `vocab` tokens: token a is followed by one of `branching`
 * distinct successors, successor k with probability w_ak (w drawn once from the seed, so every split speaks
 * the same language). A row is a chain x_0 .. x_seq (x_0 uniform) in which a span of `span` tokens taken
 * from positions [0, source_end) is re-inserted verbatim at a position p >= insert_from, after which the
 * chain continues from the span's last token:
 *
 *     x_0 .. x_{s+span-1} .. | chain | x_p .. x_{p+span-1} = x_s .. x_{s+span-1} | chain .. x_seq
 *     s uniform in [0, source_end - span],  p uniform in [insert_from, seq + 1 - span]
 *
 * A bigram model predicts the copied tokens no better than the chain's conditional entropy; a model that
 * attends from p back to s (distance >= insert_from - source_end + span) predicts x_{p+1} .. x_{p+span-1}
 * exactly. Each item is a pure function of (seed, split, index).
 *
 * Batch fields (i64 [B, seq] unless said): "tokens" = x_0 .. x_{seq-1}, "targets" = x_1 .. x_seq, and
 * "long_range" (bool [B, seq]) true where the target is the second or a later token of the copy
 * (targets t in [p, p + span - 2]); every other target is "local".
 *
 *     cf_markov_copy_config c = cf_markov_copy_defaults();      // vocab 64, seq 256, span 24, ...
 *     c.seq = 256, c.seed = 1;
 *     cf_dataset *ds = cf_markov_copy_open(&c, "train");         // NULL + error on bad sizes
 *     double h = cf_markov_copy_entropy(ds);                     // nats per local token, stationary */
#ifndef CF_MARKOV_COPY_H
#define CF_MARKOV_COPY_H

#include "data/dataset.h"

typedef struct cf_markov_copy_config {
    int64_t vocab;       /* tokens, >= 2 */
    int64_t seq;         /* tokens per row */
    int64_t size;        /* items in the split */
    int64_t branching;   /* successors per token, in [1, vocab] */
    int64_t span;        /* copied tokens, >= 2 */
    int64_t source_end;  /* the copy is taken from [0, source_end), source_end >= span */
    int64_t insert_from; /* and re-inserted at p >= insert_from >= source_end, p + span <= seq + 1 */
    uint64_t seed;       /* the language (transition table) and, with the split, the rows */
} cf_markov_copy_config;

/* vocab 64, seq 256, size 4096, branching 4, span 24, source_end 96, insert_from 160, seed 0 (our CPU plan). */
cf_markov_copy_config cf_markov_copy_defaults(void);

/* Checks the sizes (an error naming the offending field and the rule) and opens the split ("train",
 * "val", "test": each its own rows). */
cf_dataset *cf_markov_copy_open(const cf_markov_copy_config *c, const char *split);

/* The chain's conditional entropy H(x_{t+1} | x_t) under its stationary distribution, in nats: the loss
 * of the best model that cannot copy. ds must come from cf_markov_copy_open. */
double cf_markov_copy_entropy(const cf_dataset *ds);

/* Row `index` as the dataset fills it: x [seq + 1] and the copy's source s and destination p. */
cf_status cf_markov_copy_row(const cf_dataset *ds, int64_t index, int64_t *x, int64_t *src, int64_t *dst);

#endif
