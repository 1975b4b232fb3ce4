/* Hugging Face `tokenizer.json` byte-level BPE tokenizers (GPT-2 and Llama 3 families), encoding and
 * decoding exactly as the `tokenizers` library does for them.
 *
 * What a file must hold (anything else is refused with the file and the JSON path named):
 *   model:          {"type": "BPE", "vocab": {token: id}, "merges": ["a b", ...] or [["a", "b"], ...],
 *                    optional "ignore_merges" (Llama 3: a pre-split chunk that is itself a token is emitted
 *                    whole)}; no continuing_subword_prefix / end_of_word_suffix, dropout null
 *   pre_tokenizer:  {"type": "ByteLevel", "use_regex": true[, "add_prefix_space": b]} (GPT-2's split), or a
 *                    Sequence of a Split on one of the patterns of data/text/presplit.h (GPT-2's, Llama 3's)
 *                    and a ByteLevel with use_regex false
 *   normalizer:     null
 *   added_tokens:   [{"id", "content", "special", ...}] without lstrip / rstrip / single_word
 * Tokens are byte strings: a vocabulary key is decoded through GPT-2's byte-to-character table; merge k
 * joins two tokens into the token their concatenation names (rank k: lower ranks merge first, equal ranks
 * left to right); every byte must be a token. The post-processor (a BOS token a template adds) is not
 * applied: prompt templates are the recipe's, explicit.
 *
 * Encoding: with allow_special, added tokens that occur in the text (longest at the earliest position)
 * become their ids, as the library does; without it the text is plain bytes (training data whose text
 * happens to contain "<|end_of_text|>" stays text). The rest is pre-split, each chunk byte-level BPE'd.
 * Decoding concatenates the tokens' bytes (added tokens: their content), so decode(encode(x)) == x.
 *
 * Usage:
 *     cf_hf_tokenizer *t = cf_hf_tokenizer_load("llama3/tokenizer.json");
 *     int32_t *ids = malloc(cf_hf_tokenizer_max_tokens(t, n) * sizeof *ids);
 *     size_t k;
 *     CF_TRY(cf_hf_tokenizer_encode(t, text, n, false, ids, &k));
 *     int32_t eot = cf_hf_tokenizer_token_id(t, "<|eot_id|>", 10);
 *     cf_hf_tokenizer_free(t);
 */
#ifndef CF_HF_TOKENIZER_H
#define CF_HF_TOKENIZER_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cf_hf_tokenizer cf_hf_tokenizer;

cf_hf_tokenizer *cf_hf_tokenizer_load(const char *path);
/* From n bytes of tokenizer.json in memory; `what` names them in errors. */
cf_hf_tokenizer *cf_hf_tokenizer_load_mem(const char *json, size_t n, const char *what);
void cf_hf_tokenizer_free(cf_hf_tokenizer *t);
/* One more than the largest id of the vocabulary and the added tokens. */
int cf_hf_tokenizer_vocab_size(const cf_hf_tokenizer *t);
/* The id of the token whose bytes (added tokens: content) are token[0..len), -1 when none. */
int32_t cf_hf_tokenizer_token_id(const cf_hf_tokenizer *t, const char *token, size_t len);

/* out must hold cf_hf_tokenizer_max_tokens(t, n) entries; *n_out gets the token count. */
/* An upper bound on the tokens of n bytes: n (a token covers at least one byte), 2n + 1 with ByteLevel's
 * add_prefix_space (a space is added before every segment between added tokens). */
size_t cf_hf_tokenizer_max_tokens(const cf_hf_tokenizer *t, size_t n);
cf_status cf_hf_tokenizer_encode(const cf_hf_tokenizer *t, const uint8_t *text, size_t n, bool allow_special,
                                 int32_t *out, size_t *n_out);
/* Into out (capacity cap); CF_ERR_ARG with *n_out = the bytes needed when cap is too small, or for an id
 * outside the vocabulary (named). */
cf_status cf_hf_tokenizer_decode(const cf_hf_tokenizer *t, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                                 size_t *n_out);

#endif
