/* The randomized-trace dataset for language models (traces.h): each item is one problem rendered as
 * prompt + kept steps + answer, tokenized, with the prompt masked out of the loss.
 *
 * Split: the trace file's first 90% of records is "train", the last 10% "val" (or, with val_path, the
 * whole of that file is "val"). Every record is tokenized once at open, piecewise (the prompt, each
 * "\n<step>", the "\nAnswer: ..." line), so get() only concatenates the pieces one use keeps: it allocates
 * nothing. A use is (record, the loader's epoch), so the steps dropped change every epoch and are the same
 * on every thread count and after a resume.
 *
 * Batch fields (i64 [rows, seq]): "tokens" (the sequence, padded with pad_id) and "targets" (the next
 * token where the response is predicted, -100 (cross-entropy's ignore index) on the prompt and the padding),
 * so a decoder LM's loss is the response's only. A record whose full trace (nothing dropped) is longer than
 * seq + 1 tokens is an error at open naming the file, line and length.
 *
 * The prompt is the options' template with the problem in place of {problem} (a recipe's data.prompt, e.g. a
 * chat template); the steps and the answer line are rendered as traces.h says.
 *
 * Usage:
 *     cf_traces_options o = {.path = "math.jsonl", .tokenizer = "byte", .seq = 256, .drop_p = 0.3, .seed = 1};
 *     cf_dataset *train = cf_traces_dataset_open(&o, "train");       // NULL with the error set
 */
#ifndef CF_TRACES_DATASET_H
#define CF_TRACES_DATASET_H

#include "data/dataset.h"
#include "data/text/text.h"
#include "data/traces/traces.h"

typedef struct cf_traces_options {
    const char *path;       /* the trace file (JSON Lines) */
    const char *val_path;   /* NULL: the last 10% of path is "val" */
    const char *tokenizer;  /* "byte" (default), "bpe" or "hf" (data/text/text.h) */
    const char *vocab_path;
    int64_t seq;            /* tokens per row */
    double drop_p;          /* each step dropped with this probability per use (0: full traces) */
    uint64_t seed;          /* the drop draws' seed */
    int64_t pad_id;         /* the token padding rows (0) */
    int64_t max_records;    /* 0: no limit */
    const char *prompt_template; /* NULL: CF_TRACE_PROMPT_TEMPLATE; must hold {problem} once (traces.h) */
} cf_traces_options;

cf_dataset *cf_traces_dataset_open(const cf_traces_options *o, const char *split);

/* For evaluation: the split's records and their prompt tokens (borrowed, valid while ds lives), and the
 * tokenizer. NULL with an error when ds is not a traces dataset or i is out of range. */
const cf_trace *cf_traces_dataset_record(const cf_dataset *ds, int64_t i);
const int32_t *cf_traces_dataset_prompt(const cf_dataset *ds, int64_t i, int64_t *len);
const cf_tokenizer *cf_traces_dataset_tokenizer(const cf_dataset *ds);

#endif
