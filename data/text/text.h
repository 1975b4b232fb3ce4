/* Text: tokenizers (bytes, our BPE, Hugging Face tokenizer.json, SentencePiece) and the next-token dataset over
 * one text file.
 *
 * The dataset reads the whole file (any bytes; UTF-8 is not required) and tokenizes it once. Split: the
 * first 90% of the file's TOKENS (bytes for the byte tokenizer) is "train", the last 10% is "val". Both
 * splits are tiled by non-overlapping windows of seq+1 tokens at stride seq (window i starts at token
 * i*seq, consecutive windows share one boundary token), so item i gives
 *     tokens[s]  = split[i*seq + s],   targets[s] = split[i*seq + s + 1],   s = 0..seq-1,
 * and len = (split tokens - 1) / seq. Every token of a split but the short tail is predicted exactly once
 * per pass: for "train" the loader's shuffle randomises the window order; "val" is what `cformer eval`
 * reports perplexity over, read in order. Batch fields: "tokens" and "targets", i64 [rows, seq]. */
#ifndef CF_TEXT_H
#define CF_TEXT_H

#include "data/text/bpe.h"
#include "data/text/hf_tokenizer.h"
#include "data/text/spm.h"
#include "data/dataset.h"

/* ---- tokenizers ---- */

typedef struct cf_tokenizer cf_tokenizer;

/* kind "byte" (vocab 256, token = byte value; vocab_path unused), "bpe" (vocab_path: a cf_bpe_save file),
 * "hf" (vocab_path: a Hugging Face tokenizer.json, data/text/hf_tokenizer.h; text is encoded without added
 * tokens, so a literal "<|eot_id|>" in data stays text) or "spm" (vocab_path: a SentencePiece
 * tokenizer.model, data/text/spm.h; no bos is added: prompt templates are explicit). NULL with an error naming the kind or the
 * vocabulary path on failure. */
cf_tokenizer *cf_tokenizer_open(const char *kind, const char *vocab_path);
void cf_tokenizer_free(cf_tokenizer *tk);
const char *cf_tokenizer_kind(const cf_tokenizer *tk);
int cf_tokenizer_vocab_size(const cf_tokenizer *tk);
/* The BPE tables behind a "bpe" tokenizer, NULL for "byte". */
const cf_bpe *cf_tokenizer_bpe(const cf_tokenizer *tk);
/* An upper bound on the tokens of n bytes (n; more for an "hf" tokenizer that adds prefix spaces, 3n + 3 for
 * "spm", whose byte fallback and dummy prefix can exceed one token per byte). */
size_t cf_tokenizer_max_tokens(const cf_tokenizer *tk, size_t n);
/* out must hold cf_tokenizer_max_tokens(tk, n) entries. */
cf_status cf_tokenizer_encode(const cf_tokenizer *tk, const uint8_t *bytes, size_t n, int32_t *out, size_t *n_out);
/* As cf_bpe_decode: CF_ERR_ARG with *n_out = bytes needed when cap is too small. */
cf_status cf_tokenizer_decode(const cf_tokenizer *tk, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                              size_t *n_out);

/* ---- the dataset ---- */

/* Opens split ("train" or "val") of the text file at path with windows of seq tokens. tokenizer is
 * "byte", "bpe", "hf" or "spm" (then vocab_path is required). NULL on failure, with the status in *st (when st is not
 * NULL) and an error naming the path: missing or unreadable file, a split too short for one window. */
cf_dataset *cf_text_dataset_open(const char *path, const char *tokenizer, const char *vocab_path, const char *split,
                                 int64_t seq, cf_status *st);
/* The dataset's tokenizer (to size the model's vocabulary, or to decode samples); NULL with an error when
 * ds is not a text dataset. */
const cf_tokenizer *cf_text_dataset_tokenizer(const cf_dataset *ds);
/* Tokens in the dataset's split, and the window length. */
int64_t cf_text_dataset_split_tokens(const cf_dataset *ds);
int64_t cf_text_dataset_seq(const cf_dataset *ds);

/* data/'s own "text" factory, registered when the registry starts, for programs without recipes: options is
 * a `const cf_text_options *`. A run replaces it (cf_register_builtins) with the recipes' adapter, which reads
 * data.path, data.tokenizer, data.vocab_file and data.seq (default model.seq) and calls
 * cf_text_dataset_open. */
typedef struct cf_text_options {
    const char *path;
    const char *tokenizer; /* "byte" (default when NULL), "bpe", "hf" or "spm" */
    const char *vocab_path;
    int64_t seq;
} cf_text_options;
cf_dataset *cf_text_factory(void *options, const char *split);

#endif
