/* The SentencePiece model: loading (the checks sentencepiece's ModelInterface::InitializePieces makes, and
 * refusals of what is not implemented), the piece maps and the accessors. */
#include "data/text/spm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SPM_MAX_FILE ((size_t)1 << 30)

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static bool same_piece(const cf_spm *s, int32_t id, const uint8_t *p, size_t len)
{
    return s->piece_len[id] == len && memcmp(s->piece[id], p, len) == 0;
}

int32_t cf_spm_map_find(const cf_spm *s, const int32_t *map, const uint8_t *p, size_t len)
{
    size_t mask = s->map_cap - 1;
    for (size_t i = hash_bytes(p, len) & mask;; i = (i + 1) & mask) {
        if (map[i] == SPM_EMPTY) return -1;
        if (same_piece(s, map[i], p, len)) return map[i];
    }
}

/* Inserts id; the id already there when its bytes are taken. */
static int32_t map_insert(cf_spm *s, int32_t *map, int32_t id)
{
    size_t mask = s->map_cap - 1;
    for (size_t i = hash_bytes(s->piece[id], s->piece_len[id]) & mask;; i = (i + 1) & mask) {
        if (map[i] == SPM_EMPTY) {
            map[i] = id;
            return id;
        }
        if (same_piece(s, map[i], s->piece[id], s->piece_len[id])) return map[i];
    }
}

int32_t cf_spm_lookup(const cf_spm *s, const uint8_t *p, size_t len)
{
    int32_t id = cf_spm_map_find(s, s->reserved, p, len);
    if (id < 0) id = cf_spm_map_find(s, s->normal, p, len);
    return id < 0 ? s->unk : id;
}

size_t cf_spm_utf8_len(const uint8_t *p, size_t n)
{
    uint32_t c0 = p[0];
    if (c0 < 0x80) return 1;
    size_t len = c0 >= 0xC0 && c0 < 0xE0 ? 2 : c0 >= 0xE0 && c0 < 0xF0 ? 3 : c0 >= 0xF0 && c0 < 0xF8 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    uint32_t cp = c0 & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || (cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF) return 0;
    return len;
}

void cf_spm_free(cf_spm *s)
{
    if (!s) return;
    free(s->buf);
    free(s->piece);
    free(s->piece_len);
    free(s->score);
    free(s->type);
    free(s->canon);
    free(s->normal);
    free(s->reserved);
    free(s->user_len);
    free(s);
}

int cf_spm_byte_of_piece(const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    const char *hi = p[3] ? strchr(hex, p[3]) : NULL, *lo = p[4] ? strchr(hex, p[4]) : NULL;
    return hi && lo ? (int)((hi - hex) * 16 + (lo - hex)) : -1;
}

/* Refuses by name what this reader does not implement. */
static bool supported(const spm_raw *r, const uint8_t *buf, const char *what)
{
    static const char *const model_types[] = {"", "unigram", "BPE", "word", "char"};
    if (r->model_type != 2) {
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: a %s model (trainer_spec.model_type %d); only BPE models are implemented "
                     "(a unigram model needs Viterbi decoding)", what, model_types[r->model_type], r->model_type);
        return false;
    }
    if (r->charsmap_len) {
        int nl = r->norm_name.has ? (int)r->norm_name.s.len : 7;
        const char *name = r->norm_name.has ? (const char *)buf + r->norm_name.s.off : "unnamed";
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: normalizer_spec \"%.*s\" has a %zu-byte precompiled_charsmap; only the "
                     "identity normaliser (an empty charsmap) is implemented", what, nl, name, r->charsmap_len);
        return false;
    }
    if (r->denorm_charsmap_len) {
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: denormalizer_spec has a %zu-byte precompiled_charsmap; denormalisation "
                     "is not implemented", what, r->denorm_charsmap_len);
        return false;
    }
    if (r->treat_ws_as_suffix) {
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: trainer_spec.treat_whitespace_as_suffix is not implemented", what);
        return false;
    }
    return true;
}

static bool alloc_tables(cf_spm *s)
{
    size_t n = (size_t)s->n;
    s->map_cap = 16;
    while (s->map_cap < 2 * n) s->map_cap *= 2;
    s->piece = malloc(n * sizeof *s->piece);
    s->piece_len = malloc(n * sizeof *s->piece_len);
    s->score = malloc(n * sizeof *s->score);
    s->type = malloc(n);
    s->canon = malloc(n * sizeof *s->canon);
    s->normal = malloc(s->map_cap * sizeof *s->normal);
    s->reserved = malloc(s->map_cap * sizeof *s->reserved);
    s->user_len = malloc(n * sizeof *s->user_len);
    if (!s->piece || !s->piece_len || !s->score || !s->type || !s->canon || !s->normal || !s->reserved || !s->user_len)
        return false;
    for (size_t i = 0; i < s->map_cap; i++) s->normal[i] = s->reserved[i] = SPM_EMPTY;
    return true;
}

/* Fills the tables from the parsed pieces, with sentencepiece's checks. */
static bool build(cf_spm *s, const spm_raw *r, const char *what)
{
    s->unk = -1;
    for (int b = 0; b < 256; b++) s->byte_id[b] = -1;
    for (int i = 0; i < s->n; i++) {
        const spm_raw_piece *rp = &r->pieces[i];
        s->piece[i] = s->buf + rp->piece.off;
        s->piece_len[i] = (uint32_t)rp->piece.len;
        s->score[i] = rp->score;
        s->type[i] = (uint8_t)rp->type;
    }
    for (int i = 0; i < s->n; i++) {
        const spm_raw_piece *rp = &r->pieces[i];
        int t = rp->type, len = (int)(rp->piece.len < 64 ? rp->piece.len : 64);
        const char *text = (const char *)s->piece[i];
        if (rp->piece.len == 0) {
            cf_set_error(CF_ERR_FORMAT, "%s: byte %zu: pieces[%d]: empty piece", what, rp->at, i);
            return false;
        }
        bool normal = t == CF_SPM_NORMAL || t == CF_SPM_USER_DEFINED || t == CF_SPM_UNUSED;
        int32_t had = map_insert(s, normal ? s->normal : s->reserved, i);
        if (had != i) {
            cf_set_error(CF_ERR_FORMAT, "%s: byte %zu: pieces[%d]: \"%.*s\" is already defined (pieces[%d])", what,
                         rp->at, i, len, text, had);
            return false;
        }
        if (t == CF_SPM_USER_DEFINED) {
            int k = 0;
            while (k < s->n_user_len && s->user_len[k] != s->piece_len[i]) k++;
            if (k == s->n_user_len) s->user_len[s->n_user_len++] = s->piece_len[i];
        }
        if (t == CF_SPM_UNUSED) s->has_unused = true;
        if (t == CF_SPM_UNKNOWN) {
            if (s->unk >= 0) {
                cf_set_error(CF_ERR_FORMAT, "%s: byte %zu: pieces[%d]: a second unknown piece (the first is pieces[%d])",
                             what, rp->at, i, s->unk);
                return false;
            }
            s->unk = i;
        }
        if (t == CF_SPM_BYTE) {
            int b = cf_spm_byte_of_piece(s->piece[i], s->piece_len[i]);
            if (!r->byte_fallback || b < 0) {
                cf_set_error(CF_ERR_FORMAT, "%s: byte %zu: pieces[%d]: byte piece \"%.*s\" %s", what, rp->at, i, len, text,
                             b < 0 ? "is not of the form <0xXX>" : "although trainer_spec.byte_fallback is false");
                return false;
            }
            s->byte_id[b] = i;
        }
    }
    if (s->unk < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no piece of type UNKNOWN among the %d pieces", what, s->n);
        return false;
    }
    for (int b = 0; b < 256 && r->byte_fallback; b++)
        if (s->byte_id[b] < 0) {
            cf_set_error(CF_ERR_FORMAT, "%s: trainer_spec.byte_fallback is set but there is no byte piece <0x%02X>",
                         what, b);
            return false;
        }
    /* longest first, for the user-defined pieces' longest match */
    for (int a = 1; a < s->n_user_len; a++)
        for (int b = a; b > 0 && s->user_len[b] > s->user_len[b - 1]; b--) {
            uint32_t t = s->user_len[b];
            s->user_len[b] = s->user_len[b - 1];
            s->user_len[b - 1] = t;
        }
    for (int i = 0; i < s->n; i++) s->canon[i] = cf_spm_lookup(s, s->piece[i], s->piece_len[i]);
    return true;
}

/* sentencepiece's special ids: the id of the named piece (or its default name) when it has the type. */
static int32_t special(const cf_spm *s, const spm_opt_str *name, const char *def, int type)
{
    const uint8_t *p = name->has ? s->buf + name->s.off : (const uint8_t *)def;
    size_t len = name->has ? name->s.len : strlen(def);
    int32_t id = cf_spm_lookup(s, p, len);
    return s->type[id] == type ? id : -1;
}

/* Loads the model in buf[0..n), which the result takes over (freed on failure too). */
static cf_spm *load_owned(uint8_t *buf, size_t n, const char *what)
{
    cf_spm *s = calloc(1, sizeof *s);
    if (!s) {
        free(buf);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", what);
        return NULL;
    }
    s->buf = buf;
    spm_raw r = {0};
    if (!cf_spm_parse(s->buf, n, what, &r)) goto fail;
    if (r.n_pieces == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no pieces (%zu bytes): not a SentencePiece model", what, n);
        goto fail;
    }
    if (!supported(&r, s->buf, what)) goto fail;
    s->n = r.n_pieces;
    if (!alloc_tables(s)) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %d pieces", what, s->n);
        goto fail;
    }
    s->byte_fallback = r.byte_fallback;
    if (!build(s, &r, what)) goto fail;
    s->add_dummy_prefix = r.add_dummy_prefix;
    s->remove_extra_ws = r.remove_extra_ws;
    s->escape_ws = r.escape_ws;
    s->unk_surface = r.unk_surface.has ? s->buf + r.unk_surface.s.off : (const uint8_t *)" \xE2\x81\x87 ";
    s->unk_surface_len = r.unk_surface.has ? r.unk_surface.s.len : 5;
    s->unk_special = special(s, &r.unk_piece, "<unk>", CF_SPM_UNKNOWN);
    s->bos = special(s, &r.bos_piece, "<s>", CF_SPM_CONTROL);
    s->eos = special(s, &r.eos_piece, "</s>", CF_SPM_CONTROL);
    s->pad = special(s, &r.pad_piece, "<pad>", CF_SPM_CONTROL);
    free(r.pieces);
    return s;
fail:
    free(r.pieces);
    cf_spm_free(s);
    return NULL;
}

cf_spm *cf_spm_load_mem(const void *buf, size_t n, const char *what)
{
    if (!what) what = "SentencePiece model";
    uint8_t *copy = malloc(n ? n : 1);
    if ((!buf && n) || !copy) {
        free(copy);
        cf_set_error(copy ? CF_ERR_ARG : CF_ERR_OOM, "cf_spm_load_mem: %s for %s",
                     copy ? "NULL buffer" : "out of memory", what);
        return NULL;
    }
    if (n) memcpy(copy, buf, n);
    return load_owned(copy, n, what);
}

cf_spm *cf_spm_load(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_spm_load: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open SentencePiece model: %s", path, strerror(errno));
        return NULL;
    }
    /* a model is one protobuf message: read it whole, its size from the file system */
    struct stat st;
    cf_spm *s = NULL;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        cf_set_error(CF_ERR_IO, "%s: not a regular file", path);
    } else if ((uint64_t)st.st_size > SPM_MAX_FILE) {
        cf_set_error(CF_ERR_FORMAT, "%s: %lld bytes, larger than %zu: not a tokenizer model", path,
                     (long long)st.st_size, SPM_MAX_FILE);
    } else if (!(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld bytes", path, (long long)st.st_size);
    } else if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        cf_set_error(CF_ERR_IO, "%s: read error: %s", path, ferror(f) ? strerror(errno) : "file shrank while read");
    } else {
        s = load_owned(buf, (size_t)st.st_size, path);
        buf = NULL;
    }
    free(buf);
    fclose(f);
    return s;
}

int cf_spm_vocab_size(const cf_spm *s) { return s ? s->n : 0; }

int32_t cf_spm_piece_id(const cf_spm *s, const char *piece, size_t len)
{
    if (!s || (!piece && len)) return -1;
    int32_t id = cf_spm_map_find(s, s->reserved, (const uint8_t *)piece, len);
    return id >= 0 ? id : cf_spm_map_find(s, s->normal, (const uint8_t *)piece, len);
}

cf_status cf_spm_piece(const cf_spm *s, int32_t id, const char **bytes, size_t *len, float *score, cf_spm_type *type)
{
    if (!s || id < 0 || id >= s->n)
        return cf_set_error(CF_ERR_ARG, "cf_spm_piece: id %d out of range 0..%d", (int)id, s ? s->n - 1 : -1);
    if (bytes) *bytes = (const char *)s->piece[id];
    if (len) *len = s->piece_len[id];
    if (score) *score = s->score[id];
    if (type) *type = (cf_spm_type)s->type[id];
    return CF_OK;
}

int32_t cf_spm_unk_id(const cf_spm *s) { return s ? s->unk_special : -1; }
int32_t cf_spm_bos_id(const cf_spm *s) { return s ? s->bos : -1; }
int32_t cf_spm_eos_id(const cf_spm *s) { return s ? s->eos : -1; }
int32_t cf_spm_pad_id(const cf_spm *s) { return s ? s->pad : -1; }
