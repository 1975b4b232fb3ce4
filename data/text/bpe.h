/* Byte-level BPE tokenizer (GPT-2 style merges over bytes).
 *
 * The base vocabulary is the 256 byte values (token b = byte b); merge k creates token 256 + k from two
 * earlier tokens. Decoding concatenates the tokens' bytes, so decode(encode(x)) == x for ANY byte string
 * (invalid UTF-8, NUL bytes included).
 *
 * Pre-split: before merging, text is cut into chunks that merges never cross, GPT-2 style but on bytes:
 * a chunk is an optional single leading space followed by a run of one class -- letters (A-Z, a-z and
 * every byte >= 0x80, which keeps UTF-8 multibyte characters with their word), digits, or other bytes --
 * or a run of whitespace (a whitespace run followed by a word leaves its last space to that word). The
 * same split is used by training and encoding, and it is part of the format version.
 *
 * Training counts adjacent token pairs within chunks (weighted by how often each distinct chunk occurs),
 * merges the most frequent pair (ties: the smallest (left, right) ids), and repeats until vocab_size
 * tokens exist or no pair occurs twice. It is deterministic. Encoding applies the merges in the order
 * they were learned (lowest rank first, left to right), which reproduces the training segmentation. */
#ifndef CF_BPE_H
#define CF_BPE_H

#include "autograd/cf_base.h"

typedef struct cf_bpe cf_bpe;

/* Learns up to vocab_size - 256 merges from text (vocab_size >= 256). NULL with an error on failure. */
cf_bpe *cf_bpe_train(const uint8_t *text, size_t n, int vocab_size);
/* A tokenizer with the given merges (pairs[2k], pairs[2k+1] -> token 256+k), checked for validity. */
cf_bpe *cf_bpe_from_merges(const int32_t *pairs, int n_merges);
void cf_bpe_free(cf_bpe *bpe);

/* Writes the vocabulary atomically (temporary file in the same directory, fsync, rename). The format
 * is text: a line "cformer-bpe 1", a line "merges N", then N lines "left right". */
cf_status cf_bpe_save(const cf_bpe *bpe, const char *path);
/* Reads a vocabulary; a malformed file is an error naming the path and line. */
cf_bpe *cf_bpe_load(const char *path);
/* The same from the n bytes of a vocabulary file in memory; `what` names them in messages. */
cf_bpe *cf_bpe_load_mem(const void *buf, size_t n, const char *what);

int cf_bpe_vocab_size(const cf_bpe *bpe);
int cf_bpe_merge_count(const cf_bpe *bpe);
/* The two tokens merge k joins (k < cf_bpe_merge_count). */
cf_status cf_bpe_merge(const cf_bpe *bpe, int k, int32_t *left, int32_t *right);
/* The bytes of token id (pointer into the tokenizer, valid until cf_bpe_free). */
cf_status cf_bpe_token_bytes(const cf_bpe *bpe, int32_t id, const uint8_t **bytes, size_t *len);

/* Encodes n bytes into out, which must hold n entries (a token covers at least one byte); *n_out gets
 * the token count. */
cf_status cf_bpe_encode(const cf_bpe *bpe, const uint8_t *bytes, size_t n, int32_t *out, size_t *n_out);
/* Decodes n tokens into out (capacity cap bytes); *n_out gets the byte count. If cap is too small,
 * CF_ERR_ARG with *n_out = the bytes needed (call with out NULL and cap 0 to size the buffer). */
cf_status cf_bpe_decode(const cf_bpe *bpe, const int32_t *ids, size_t n, uint8_t *out, size_t cap, size_t *n_out);

/* The pre-split used by training and encoding: the length of the chunk starting at text[0] (n > 0). */
size_t cf_bpe_chunk_len(const uint8_t *text, size_t n);

#endif
