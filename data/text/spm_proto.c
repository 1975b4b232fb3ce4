/* A minimal reader of the protobuf wire format, for the SentencePiece ModelProto (sentencepiece_model.proto,
 * proto2): varints, 64-bit, length-delimited and 32-bit fields; unknown fields are skipped, a scalar given
 * twice keeps its last value and a sub-message given twice is merged, as protobuf does. Every read is
 * bounded by the enclosing message: a truncated or overlong field is an error naming the byte offset. */
#include "data/text/spm_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pb {
    const uint8_t *buf;
    size_t pos, end; /* the current message is buf[pos..end) */
    const char *what;
    const char *ctx; /* the message's name, for errors: "ModelProto", "pieces[3]", ... */
} pb;

typedef struct pb_field {
    uint32_t num;
    int wt;
    size_t at;       /* the offset of the field's key */
    uint64_t v;      /* varint, 32- and 64-bit values */
    size_t off, len; /* the payload of a length-delimited field */
} pb_field;

static bool fail(const pb *p, size_t at, const char *fmt, ...) CF_PRINTF(3, 4);
static bool fail(const pb *p, size_t at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cf_set_error(CF_ERR_FORMAT, "%s: byte %zu: %s: %s", p->what, at, p->ctx, msg);
    return false;
}

static bool varint(pb *p, uint64_t *v)
{
    size_t at = p->pos;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p->pos >= p->end) return fail(p, at, "truncated varint (the message ends at byte %zu)", p->end);
        uint8_t b = p->buf[p->pos++];
        if (i == 9 && b > 1) return fail(p, at, "varint overflows 64 bits");
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return fail(p, at, "varint longer than 10 bytes");
}

/* The next field of the message into f; *done at its end. */
static bool next_field(pb *p, pb_field *f, bool *done)
{
    *done = p->pos >= p->end;
    if (*done) return true;
    f->at = p->pos;
    uint64_t key;
    if (!varint(p, &key)) return false;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff) return fail(p, f->at, "invalid field number %" PRIu64, key >> 3);
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    size_t need = 0;
    switch (f->wt) {
    case WT_VARINT: return varint(p, &f->v);
    case WT_I64: need = 8; break;
    case WT_I32: need = 4; break;
    case WT_LEN: {
        uint64_t len;
        if (!varint(p, &len)) return false;
        if (len > p->end - p->pos)
            return fail(p, f->at, "length %" PRIu64 " runs past the end of the message at byte %zu", len, p->end);
        f->off = p->pos;
        f->len = (size_t)len;
        p->pos += (size_t)len;
        return true;
    }
    case 3:
    case 4: return fail(p, f->at, "groups (wire type %d) are not supported", f->wt);
    default: return fail(p, f->at, "invalid wire type %d", f->wt);
    }
    if (need > p->end - p->pos) return fail(p, f->at, "truncated %zu-byte field", need);
    f->v = 0;
    for (size_t i = 0; i < need; i++) f->v |= (uint64_t)p->buf[p->pos + i] << (8 * i);
    p->pos += need;
    return true;
}

/* The field has the wire type its schema gives it. */
static bool want(const pb *p, const pb_field *f, int wt, const char *name)
{
    static const char *const wt_names[] = {"a varint", "a 64-bit value", "length-delimited bytes", "", "", "a 32-bit value"};
    if (f->wt == wt) return true;
    return fail(p, f->at, "%s: expected %s, found wire type %d", name, wt_names[wt], f->wt);
}

static bool get_bool(const pb *p, const pb_field *f, const char *name, bool *out)
{
    if (!want(p, f, WT_VARINT, name)) return false;
    *out = f->v != 0;
    return true;
}

static bool get_str(const pb *p, const pb_field *f, const char *name, spm_opt_str *out)
{
    if (!want(p, f, WT_LEN, name)) return false;
    out->s = (spm_span){f->off, f->len};
    out->has = true;
    return true;
}

/* An enum field whose value must lie in lo..hi (proto2 would keep an unknown value as an unknown field;
 * a tokenizer that guesses its model type would encode wrongly, so it is an error here). */
static bool get_enum(const pb *p, const pb_field *f, const char *name, int lo, int hi, int *out)
{
    if (!want(p, f, WT_VARINT, name)) return false;
    if ((int64_t)f->v < lo || (int64_t)f->v > hi) {
        return fail(p, f->at, "%s: unknown value %" PRId64 " (known: %d..%d)", name, (int64_t)f->v, lo, hi);
    }
    *out = (int)f->v;
    return true;
}

/* The sub-message in field f, as a reader of its own named ctx. */
static pb sub(const pb *p, const pb_field *f, const char *ctx)
{
    return (pb){p->buf, f->off, f->off + f->len, p->what, ctx};
}

/* Calls on(p, f, ctx) for each field of the message p; stops at the first failure. */
typedef bool (*field_fn)(const pb *p, const pb_field *f, void *ctx);

static bool walk(pb p, field_fn on, void *ctx)
{
    pb_field f;
    bool done;
    for (;;) {
        if (!next_field(&p, &f, &done)) return false;
        if (done) return true;
        if (!on(&p, &f, ctx)) return false;
    }
}

static bool piece_field(const pb *p, const pb_field *f, void *ctx)
{
    spm_raw_piece *sp = ctx;
    if (f->num == 1) {
        if (!want(p, f, WT_LEN, "piece")) return false;
        if (f->len > UINT32_MAX) return fail(p, f->at, "piece of %zu bytes", f->len);
        sp->piece = (spm_span){f->off, f->len};
    } else if (f->num == 2) {
        if (!want(p, f, WT_I32, "score")) return false;
        uint32_t bits = (uint32_t)f->v;
        memcpy(&sp->score, &bits, sizeof bits);
        if (isnan(sp->score)) return fail(p, f->at, "score is NaN");
    } else if (f->num == 3) {
        return get_enum(p, f, "type", CF_SPM_NORMAL, CF_SPM_BYTE, &sp->type);
    }
    return true;
}

static bool trainer_field(const pb *p, const pb_field *f, void *ctx)
{
    spm_raw *r = ctx;
    switch (f->num) {
    case 3: return get_enum(p, f, "model_type", 1, 4, &r->model_type);
    case 24: return get_bool(p, f, "treat_whitespace_as_suffix", &r->treat_ws_as_suffix);
    case 35: return get_bool(p, f, "byte_fallback", &r->byte_fallback);
    case 44: return get_str(p, f, "unk_surface", &r->unk_surface);
    case 45: return get_str(p, f, "unk_piece", &r->unk_piece);
    case 46: return get_str(p, f, "bos_piece", &r->bos_piece);
    case 47: return get_str(p, f, "eos_piece", &r->eos_piece);
    case 48: return get_str(p, f, "pad_piece", &r->pad_piece);
    default: return true;
    }
}

static bool normalizer_field(const pb *p, const pb_field *f, void *ctx)
{
    spm_raw *r = ctx;
    switch (f->num) {
    case 1: return get_str(p, f, "name", &r->norm_name);
    case 2:
        if (!want(p, f, WT_LEN, "precompiled_charsmap")) return false;
        r->charsmap_len = f->len;
        return true;
    case 3: return get_bool(p, f, "add_dummy_prefix", &r->add_dummy_prefix);
    case 4: return get_bool(p, f, "remove_extra_whitespaces", &r->remove_extra_ws);
    case 5: return get_bool(p, f, "escape_whitespaces", &r->escape_ws);
    default: return true;
    }
}

/* The denormalizer_spec: only whether it has a charsmap matters. */
static bool denormalizer_field(const pb *p, const pb_field *f, void *ctx)
{
    spm_raw *r = ctx;
    if (f->num != 2) return true;
    if (!want(p, f, WT_LEN, "precompiled_charsmap")) return false;
    r->denorm_charsmap_len = f->len;
    return true;
}

static bool add_piece(const pb *p, const pb_field *f, spm_raw *r, int *cap)
{
    if (r->n_pieces == *cap) {
        if (*cap >= INT32_MAX / 2) return fail(p, f->at, "more than %d pieces", *cap);
        int nc = *cap ? 2 * *cap : 1024;
        spm_raw_piece *np = realloc(r->pieces, (size_t)nc * sizeof *np);
        if (!np) {
            cf_set_error(CF_ERR_OOM, "%s: out of memory for %d pieces", p->what, nc);
            return false;
        }
        r->pieces = np;
        *cap = nc;
    }
    char ctx[48];
    snprintf(ctx, sizeof ctx, "pieces[%d]", r->n_pieces);
    spm_raw_piece *sp = &r->pieces[r->n_pieces];
    *sp = (spm_raw_piece){.piece = {f->off, 0}, .at = f->at, .score = 0.0f, .type = CF_SPM_NORMAL};
    if (!walk(sub(p, f, ctx), piece_field, sp)) return false;
    r->n_pieces++;
    return true;
}

/* The pieces[] and the specs of the ModelProto. */
typedef struct model_ctx {
    spm_raw *r;
    int cap;
} model_ctx;

static bool model_field(const pb *p, const pb_field *f, void *ctx)
{
    model_ctx *m = ctx;
    switch (f->num) {
    case 1: return want(p, f, WT_LEN, "pieces") && add_piece(p, f, m->r, &m->cap);
    case 2: return want(p, f, WT_LEN, "trainer_spec") && walk(sub(p, f, "trainer_spec"), trainer_field, m->r);
    case 3: return want(p, f, WT_LEN, "normalizer_spec") && walk(sub(p, f, "normalizer_spec"), normalizer_field, m->r);
    case 5:
        return want(p, f, WT_LEN, "denormalizer_spec") &&
               walk(sub(p, f, "denormalizer_spec"), denormalizer_field, m->r);
    default: return true;
    }
}

bool cf_spm_parse(const uint8_t *buf, size_t n, const char *what, spm_raw *r)
{
    *r = (spm_raw){.model_type = 1, .add_dummy_prefix = true, .remove_extra_ws = true, .escape_ws = true};
    model_ctx m = {r, 0};
    if (walk((pb){buf, 0, n, what, "ModelProto"}, model_field, &m)) return true;
    free(r->pieces);
    r->pieces = NULL;
    r->n_pieces = 0;
    return false;
}
