/* The SentencePiece tokenizer's internals shared by its files (spm_proto.c: the protobuf reader; spm.c:
 * the checked model, its piece maps and accessors; spm_encode.c: normalising and BPE; spm_decode.c:
 * decoding). Not part of the API: data/text/spm.h is. */
#ifndef CF_SPM_INTERNAL_H
#define CF_SPM_INTERNAL_H

#include "data/text/spm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte range of the model buffer. */
typedef struct spm_span {
    size_t off, len;
} spm_span;

typedef struct spm_raw_piece {
    spm_span piece;
    size_t at; /* the byte offset of the piece's message, for messages */
    float score;
    int type;
} spm_raw_piece;

/* An optional string field: present or not. */
typedef struct spm_opt_str {
    spm_span s;
    bool has;
} spm_opt_str;

/* What the reader takes from a ModelProto, every field with the protobuf default when absent. */
typedef struct spm_raw {
    spm_raw_piece *pieces;
    int n_pieces;
    int model_type; /* 1 UNIGRAM (the default), 2 BPE, 3 WORD, 4 CHAR */
    bool byte_fallback, treat_ws_as_suffix;
    spm_opt_str unk_piece, bos_piece, eos_piece, pad_piece, unk_surface;
    spm_opt_str norm_name;
    size_t charsmap_len, denorm_charsmap_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
} spm_raw;

/* Parses the ModelProto in buf[0..n) into raw (spans point into buf). false with a CF_ERR_FORMAT error
 * naming `what`, the byte offset and the field on a malformed or truncated message. Free raw->pieces. */
bool cf_spm_parse(const uint8_t *buf, size_t n, const char *what, spm_raw *raw);

#define SPM_EMPTY (-1)

struct cf_spm {
    uint8_t *buf; /* the model file; piece bytes point into it */
    int n;
    const uint8_t **piece; /* [n] */
    uint32_t *piece_len;   /* [n] */
    float *score;          /* [n] */
    uint8_t *type;         /* [n] cf_spm_type */
    int32_t *canon;        /* [n] what sentencepiece's PieceToId answers for the piece's own bytes */
    /* piece bytes -> id, open addressing (SPM_EMPTY marks a free slot): normal holds NORMAL, USER_DEFINED
     * and UNUSED pieces (those BPE may form), reserved the others */
    int32_t *normal, *reserved;
    size_t map_cap;
    int32_t unk;                             /* the UNKNOWN piece */
    int32_t unk_special, bos, eos, pad;      /* cf_spm_unk_id and the others */
    bool byte_fallback, has_unused;
    int32_t byte_id[256];
    /* distinct lengths of the user-defined pieces, longest first */
    uint32_t *user_len;
    int n_user_len;
    const uint8_t *unk_surface;
    size_t unk_surface_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
};

/* The id in map (s->normal or s->reserved) of the len bytes at p, -1 when absent. */
int32_t cf_spm_map_find(const cf_spm *s, const int32_t *map, const uint8_t *p, size_t len);
/* sentencepiece's PieceToId: the reserved piece, else the normal one, else the unknown id. */
int32_t cf_spm_lookup(const cf_spm *s, const uint8_t *p, size_t len);
/* The length of the valid UTF-8 character at p (n > 0 bytes left), 0 when it is invalid (sentencepiece's
 * DecodeUTF8: no overlong forms, surrogates or code points above U+10FFFF). */
size_t cf_spm_utf8_len(const uint8_t *p, size_t n);

/* The byte of a "<0xXX>" piece (upper-case hex, as sentencepiece writes and requires them), -1 otherwise. */
int cf_spm_byte_of_piece(const uint8_t *p, size_t len);

#define SPM_WS "\xE2\x96\x81" /* U+2581, the escaped space */
#define SPM_WS_LEN 3

#endif
