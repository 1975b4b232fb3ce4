/* SentencePiece tokenizer models (`tokenizer.model`, the Llama-2 / Mistral family), encoded and decoded
 * exactly as the sentencepiece library does (checked against version 0.1.97 on the fixtures of
 * tests/data/tokenizers/, which tests/data/tokenizers/make-spm-fixtures.py writes).
 *
 * The file is the serialized ModelProto protobuf: the pieces (string, score, type) in id order, the trainer
 * spec (model_type, byte_fallback, the unk/bos/eos/pad piece names, unk_surface) and the normalizer spec
 * (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, precompiled_charsmap). Implemented:
 * BPE models with the identity normaliser (an empty precompiled_charsmap), with or without byte fallback.
 * Refused by name with CF_ERR_UNSUPPORTED: unigram, word and char models, a non-empty precompiled_charsmap
 * (nmt_nfkc and other normalisers) or denormaliser, treat_whitespace_as_suffix. A malformed or truncated
 * file is CF_ERR_FORMAT naming the file, the byte offset and the field; so is a model sentencepiece itself
 * refuses (an empty or repeated piece, no or two unknown pieces, byte pieces without byte_fallback or
 * byte_fallback without all 256 "<0xXX>" pieces).
 *
 * Encoding (ids only; no bos/eos is added: prepend cf_spm_bos_id yourself):
 *   1. normalise: invalid UTF-8 bytes become U+FFFD one byte at a time; with remove_extra_whitespaces,
 *      leading, trailing and repeated spaces (' ' only: tabs and newlines are ordinary characters) go;
 *      with add_dummy_prefix a space is put in front of non-empty text; with escape_whitespaces every
 *      space becomes U+2581 '▁' (bytes E2 96 81).
 *   2. split into characters, except that user-defined pieces are matched first (longest match) and are
 *      never merged with their neighbours;
 *   3. BPE: repeatedly join the adjacent pair whose concatenation is a piece with the highest score
 *      (ties: the leftmost pair); a joined piece of type UNUSED is split back into the two it came from;
 *   4. a symbol that is no piece is the unknown piece: with byte fallback it becomes the ids of its UTF-8
 *      bytes' "<0xXX>" pieces, without it a run of unknown symbols becomes ONE unknown id.
 * Decoding: control pieces vanish; the unknown piece decodes as unk_surface (default " ⁇ "); runs of byte
 * pieces are joined into bytes and read as UTF-8, an invalid byte becoming U+FFFD (so the output is always
 * valid UTF-8); in other pieces '▁' becomes ' ', and the first such piece loses a leading '▁' (the dummy
 * prefix) when add_dummy_prefix or remove_extra_whitespaces is set -- with remove_extra_whitespaces every
 * piece at the start loses it while nothing has been written. Hence decode(encode(x)) == x for valid UTF-8
 * x without unknown characters, when remove_extra_whitespaces is off or x has no extra spaces.
 *
 * Usage:
 *     cf_spm *sp = cf_spm_load("tokenizer.model");      // NULL: cf_last_error() names file and offset
 *     size_t n;
 *     cf_spm_encode(sp, text, len, NULL, 0, &n);         // CF_ERR_ARG, n = ids needed (or size it 3*len+3)
 *     int32_t *ids = malloc(n * sizeof *ids);
 *     cf_spm_encode(sp, text, len, ids, n, &n);
 *     ... cf_spm_decode(sp, ids, n, out, cap, &bytes) the same way ...
 *     cf_spm_free(sp);
 * A loaded model is read-only: several threads may encode and decode with it at once. */
#ifndef CF_SPM_H
#define CF_SPM_H

#include "autograd/cf_base.h"

typedef struct cf_spm cf_spm;

/* The piece types of the ModelProto (their protobuf enum values). */
typedef enum cf_spm_type {
    CF_SPM_NORMAL = 1,
    CF_SPM_UNKNOWN = 2,
    CF_SPM_CONTROL = 3,
    CF_SPM_USER_DEFINED = 4,
    CF_SPM_UNUSED = 5,
    CF_SPM_BYTE = 6
} cf_spm_type;

/* Reads a tokenizer.model file. NULL with an error on failure. */
cf_spm *cf_spm_load(const char *path);
/* The same from the n bytes of a model in memory (copied: buf may go away); `what` names them in messages. */
cf_spm *cf_spm_load_mem(const void *buf, size_t n, const char *what);
void cf_spm_free(cf_spm *sp);

/* The number of pieces; ids are 0 .. vocab_size-1. */
int cf_spm_vocab_size(const cf_spm *sp);
/* The id of the piece with exactly these len bytes, -1 when no piece has them (sentencepiece's PieceToId
 * answers the unknown id there instead). */
int32_t cf_spm_piece_id(const cf_spm *sp, const char *piece, size_t len);
/* The piece of id: its bytes (not NUL-terminated; valid until cf_spm_free), score and type. Any of the
 * outputs may be NULL. CF_ERR_ARG for an id out of range. */
cf_status cf_spm_piece(const cf_spm *sp, int32_t id, const char **bytes, size_t *len, float *score,
                       cf_spm_type *type);
/* The special ids, as sentencepiece answers them: the id of the trainer spec's unk_piece ("<unk>") if it is
 * the unknown piece, of bos_piece ("<s>"), eos_piece ("</s>"), pad_piece ("<pad>") if it is a control
 * piece; -1 otherwise. */
int32_t cf_spm_unk_id(const cf_spm *sp);
int32_t cf_spm_bos_id(const cf_spm *sp);
int32_t cf_spm_eos_id(const cf_spm *sp);
int32_t cf_spm_pad_id(const cf_spm *sp);

/* Encodes n bytes of text (any bytes: NUL and invalid UTF-8 included) into at most cap ids; *n_out gets
 * the id count, which is at most 3 * n + 3. If cap is too small, CF_ERR_ARG with *n_out = the ids needed
 * (call with out NULL and cap 0 to size the buffer). CF_ERR_OOM when scratch memory runs out. */
cf_status cf_spm_encode(const cf_spm *sp, const uint8_t *text, size_t n, int32_t *out, size_t cap, size_t *n_out);
/* Decodes n ids into at most cap bytes; *n_out gets the byte count. An id out of range is CF_ERR_ARG naming
 * it; a cap too small is CF_ERR_ARG with *n_out = the bytes needed (out NULL and cap 0 to size it). */
cf_status cf_spm_decode(const cf_spm *sp, const int32_t *ids, size_t n, uint8_t *out, size_t cap, size_t *n_out);

#endif
