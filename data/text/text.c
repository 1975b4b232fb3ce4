/* Tokenizers (bytes, our BPE, Hugging Face tokenizer.json, SentencePiece tokenizer.model) and the next-token
 * text dataset. */
#include "data/text/text.h"

#include "autograd/fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokenizers ---- */

typedef enum { TK_BYTE, TK_BPE, TK_HF, TK_SPM, TK_KINDS } tk_kind;

struct cf_tokenizer {
    tk_kind kind;
    cf_bpe *bpe;           /* TK_BPE */
    cf_hf_tokenizer *hf;   /* TK_HF */
    cf_spm *spm;           /* TK_SPM */
};

static const char *const kind_names[TK_KINDS] = {"byte", "bpe", "hf", "spm"};

cf_tokenizer *cf_tokenizer_open(const char *kind, const char *vocab_path)
{
    if (!kind) kind = "byte";
    int k = 0;
    while (k < TK_KINDS && strcmp(kind, kind_names[k]) != 0) k++;
    if (k == TK_KINDS) {
        cf_set_error(CF_ERR_ARG, "unknown tokenizer '%s' (known: byte, bpe, hf, spm)", kind);
        return NULL;
    }
    static const char *const needs[TK_KINDS] = {"", "a `cformer tokenizer train` file", "a Hugging Face tokenizer.json",
                                                "a SentencePiece tokenizer.model"};
    if (k != TK_BYTE && (!vocab_path || !*vocab_path)) {
        cf_set_error(CF_ERR_ARG, "tokenizer '%s' needs a vocabulary file path (%s)", kind, needs[k]);
        return NULL;
    }
    cf_tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk) {
        cf_set_error(CF_ERR_OOM, "cf_tokenizer_open: out of memory");
        return NULL;
    }
    tk->kind = (tk_kind)k;
    if ((k == TK_BPE && !(tk->bpe = cf_bpe_load(vocab_path))) || (k == TK_HF && !(tk->hf = cf_hf_tokenizer_load(vocab_path))) ||
        (k == TK_SPM && !(tk->spm = cf_spm_load(vocab_path)))) {
        free(tk);
        return NULL;
    }
    return tk;
}

void cf_tokenizer_free(cf_tokenizer *tk)
{
    if (!tk) return;
    cf_bpe_free(tk->bpe);
    cf_hf_tokenizer_free(tk->hf);
    cf_spm_free(tk->spm);
    free(tk);
}

const char *cf_tokenizer_kind(const cf_tokenizer *tk) { return tk ? kind_names[tk->kind] : "byte"; }

int cf_tokenizer_vocab_size(const cf_tokenizer *tk)
{
    if (!tk) return 256;
    switch (tk->kind) {
    case TK_BPE: return cf_bpe_vocab_size(tk->bpe);
    case TK_HF: return cf_hf_tokenizer_vocab_size(tk->hf);
    case TK_SPM: return cf_spm_vocab_size(tk->spm);
    default: return 256;
    }
}

const cf_bpe *cf_tokenizer_bpe(const cf_tokenizer *tk) { return tk ? tk->bpe : NULL; }

size_t cf_tokenizer_max_tokens(const cf_tokenizer *tk, size_t n)
{
    if (tk && tk->kind == TK_HF) return cf_hf_tokenizer_max_tokens(tk->hf, n);
    return tk && tk->kind == TK_SPM ? 3 * n + 3 : n; /* spm: byte fallback, bos-less (spm.h) */
}

cf_status cf_tokenizer_encode(const cf_tokenizer *tk, const uint8_t *bytes, size_t n, int32_t *out, size_t *n_out)
{
    if (!tk) return cf_set_error(CF_ERR_ARG, "cf_tokenizer_encode: NULL tokenizer");
    if (tk->kind == TK_BPE) return cf_bpe_encode(tk->bpe, bytes, n, out, n_out);
    if (tk->kind == TK_HF) return cf_hf_tokenizer_encode(tk->hf, bytes, n, false, out, n_out);
    if (tk->kind == TK_SPM) return cf_spm_encode(tk->spm, bytes, n, out, 3 * n + 3, n_out);
    if ((!bytes && n) || (!out && n) || !n_out) return cf_set_error(CF_ERR_ARG, "cf_tokenizer_encode: NULL argument");
    for (size_t i = 0; i < n; i++) out[i] = bytes[i];
    *n_out = n;
    return CF_OK;
}

cf_status cf_tokenizer_decode(const cf_tokenizer *tk, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                              size_t *n_out)
{
    if (!tk) return cf_set_error(CF_ERR_ARG, "cf_tokenizer_decode: NULL tokenizer");
    if (tk->kind == TK_BPE) return cf_bpe_decode(tk->bpe, ids, n, out, cap, n_out);
    if (tk->kind == TK_HF) return cf_hf_tokenizer_decode(tk->hf, ids, n, out, cap, n_out);
    if (tk->kind == TK_SPM) return cf_spm_decode(tk->spm, ids, n, out, cap, n_out);
    if ((!ids && n) || !n_out) return cf_set_error(CF_ERR_ARG, "cf_tokenizer_decode: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > 255)
            return cf_set_error(CF_ERR_ARG, "cf_tokenizer_decode: token %" PRId32 " at %zu outside the byte "
                                "vocabulary of 256", ids[i], i);
    *n_out = n;
    if (n > cap || (!out && n))
        return cf_set_error(CF_ERR_ARG, "cf_tokenizer_decode: %zu bytes do not fit the buffer of %zu", n, cap);
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)ids[i];
    return CF_OK;
}

/* ---- the dataset ---- */

typedef struct text_ds {
    cf_dataset base;
    cf_tokenizer *tk;
    /* the split's tokens: bytes for the byte tokenizer (no 4x copy), ids for the others */
    uint8_t *bytes;
    int32_t *ids;
    int64_t n; /* tokens in the split */
    int64_t seq;
} text_ds;

static cf_status text_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    text_ds *t = (text_ds *)ds;
    if (b->nfields < 2 || b->fields[0]->dtype != CF_I64 || b->fields[1]->dtype != CF_I64)
        return cf_set_error(CF_ERR_ARG, "%s: batch lacks the i64 tokens/targets fields", ds->name);
    int64_t *tok = (int64_t *)cf_data(b->fields[0]) + (int64_t)row * t->seq;
    int64_t *tgt = (int64_t *)cf_data(b->fields[1]) + (int64_t)row * t->seq;
    int64_t at = index * t->seq;
    if (t->bytes) {
        const uint8_t *w = t->bytes + at;
        for (int64_t s = 0; s < t->seq; s++) {
            tok[s] = w[s];
            tgt[s] = w[s + 1];
        }
    } else {
        const int32_t *w = t->ids + at;
        for (int64_t s = 0; s < t->seq; s++) {
            tok[s] = w[s];
            tgt[s] = w[s + 1];
        }
    }
    return CF_OK;
}

static cf_status text_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    text_ds *t = (text_ds *)ds;
    int64_t shape[2] = {rows, t->seq};
    cf_status st = cf_batch_add(b, "tokens", CF_I64, 2, shape);
    if (st == CF_OK) st = cf_batch_add(b, "targets", CF_I64, 2, shape);
    return st;
}

static void text_free(cf_dataset *ds)
{
    text_ds *t = (text_ds *)ds;
    cf_tokenizer_free(t->tk);
    free(t->bytes);
    free(t->ids);
    free(t);
}

static const cf_dataset_vtable text_vt = {"text", text_get, text_make_batch, text_free};

cf_dataset *cf_text_dataset_open(const char *path, const char *tokenizer, const char *vocab_path, const char *split,
                                 int64_t seq, cf_status *st)
{
    cf_status dummy;
    if (!st) st = &dummy;
    *st = CF_OK;
    if (!path || !split) {
        *st = cf_set_error(CF_ERR_ARG, "cf_text_dataset_open: NULL path or split");
        return NULL;
    }
    bool train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "val") != 0) {
        *st = cf_set_error(CF_ERR_ARG, "%s: split '%s' (text datasets have 'train' and 'val')", path, split);
        return NULL;
    }
    if (seq < 1) {
        *st = cf_set_error(CF_ERR_ARG, "%s: seq %" PRId64 " (need >= 1)", path, seq);
        return NULL;
    }
    text_ds *t = calloc(1, sizeof *t);
    if (!t) {
        *st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    t->base.vt = &text_vt;
    t->seq = seq;
    snprintf(t->base.name, sizeof t->base.name, "text %s [%s]", path, split);
    if (!(t->tk = cf_tokenizer_open(tokenizer, vocab_path))) {
        cf_error_prefix("%s: ", path);
        goto fail;
    }
    size_t nbytes = 0;
    uint8_t *raw = (uint8_t *)cf_read_file(path, 0, &nbytes);
    if (!raw) goto fail;
    int64_t total, lo;
    if (t->tk->kind == TK_BYTE) {
        total = (int64_t)nbytes;
        lo = train ? 0 : total * 9 / 10;
        int64_t hi = train ? total * 9 / 10 : total;
        /* keep only the split, moved to the front */
        memmove(raw, raw + lo, (size_t)(hi - lo));
        t->bytes = raw;
        t->n = hi - lo;
    } else {
        size_t cap = cf_tokenizer_max_tokens(t->tk, nbytes);
        int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
        size_t nid = 0;
        if (!ids) {
            free(raw);
            cf_set_error(CF_ERR_OOM, "%s: out of memory tokenizing %zu bytes", path, nbytes);
            goto fail;
        }
        cf_status est = cf_tokenizer_encode(t->tk, raw, nbytes, ids, &nid);
        free(raw);
        if (est != CF_OK) {
            free(ids);
            cf_error_prefix("%s: ", path);
            goto fail;
        }
        total = (int64_t)nid;
        lo = train ? 0 : total * 9 / 10;
        int64_t hi = train ? total * 9 / 10 : total;
        memmove(ids, ids + lo, (size_t)(hi - lo) * sizeof *ids);
        t->ids = ids;
        t->n = hi - lo;
    }
    t->base.len = t->n > 0 ? (t->n - 1) / seq : 0;
    t->base.info.vocab = cf_tokenizer_vocab_size(t->tk);
    t->base.info.seq = seq;
    if (t->base.len < 1) {
        cf_set_error(CF_ERR_FORMAT, "%s: split '%s' has %" PRId64 " of the file's %" PRId64 " tokens, fewer than "
                     "one window of seq+1 = %" PRId64, path, split, t->n, total, seq + 1);
        goto fail;
    }
    return &t->base;
fail:
    *st = cf_last_status() != CF_OK ? cf_last_status() : CF_ERR_INTERNAL;
    text_free(&t->base);
    return NULL;
}

static const text_ds *as_text(const cf_dataset *ds, const char *who)
{
    if (!ds || ds->vt != &text_vt) {
        cf_set_error(CF_ERR_ARG, "%s: %s is not a text dataset", who, ds ? ds->name : "NULL");
        return NULL;
    }
    return (const text_ds *)ds;
}

const cf_tokenizer *cf_text_dataset_tokenizer(const cf_dataset *ds)
{
    const text_ds *t = as_text(ds, "cf_text_dataset_tokenizer");
    return t ? t->tk : NULL;
}

int64_t cf_text_dataset_split_tokens(const cf_dataset *ds)
{
    const text_ds *t = as_text(ds, "cf_text_dataset_split_tokens");
    return t ? t->n : -1;
}

int64_t cf_text_dataset_seq(const cf_dataset *ds)
{
    const text_ds *t = as_text(ds, "cf_text_dataset_seq");
    return t ? t->seq : -1;
}

cf_dataset *cf_text_factory(void *options, const char *split)
{
    const cf_text_options *o = options;
    if (!o || !o->path) {
        cf_set_error(CF_ERR_ARG, "dataset 'text': needs options with a path");
        return NULL;
    }
    return cf_text_dataset_open(o->path, o->tokenizer ? o->tokenizer : "byte", o->vocab_path, split, o->seq, NULL);
}
