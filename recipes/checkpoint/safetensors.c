/* safetensors writer (from a checkpoint or live parameters) and a small validating reader. */
#include "autograd/fileio.h"
#include "autograd/json.h"
#include "recipes/checkpoint/safetensors.h"

#include "recipes/checkpoint/checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Hugging Face refuses headers above 100 MB; so do we, which also bounds what a corrupt file makes us read. */
#define ST_MAX_HEADER (100ll << 20)

/* ---- writer ---- */

typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    int64_t numel;
    int src; /* index for the fetch callback */
} entry;

/* Fills out with the numel values of tensor src, as f32. */
typedef cf_status (*fetch_fn)(void *user, int src, float *out);

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->name, ((const entry *)b)->name); }

static const char *st_dtype_name(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return "F32";
    case CF_F64: return "F64";
    case CF_BF16: return "BF16";
    case CF_F16: return "F16";
    default: return NULL;
    }
}

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so that the data starts aligned; *maxn gets
 * the largest tensor's element count. */
static cf_status build_header(const char *path, const entry *e, int n, const char *dname, size_t es, int64_t step,
                              char **hdr, size_t *hlen, int64_t *maxn)
{
    FILE *mem = open_memstream(hdr, hlen);
    if (!mem) return cf_set_error(CF_ERR_OOM, "%s: out of memory building the header", path);
    char num[32];
    cf_json j;
    cf_json_init(&j, mem);
    cf_json_object(&j);
    cf_json_key(&j, "__metadata__");
    cf_json_object(&j);
    cf_json_kv_string(&j, "format", "pt");
    snprintf(num, sizeof num, "%lld", (long long)step);
    cf_json_kv_string(&j, "step", num);
    snprintf(num, sizeof num, "%d", CF_CHECKPOINT_FORMAT_VERSION);
    cf_json_kv_string(&j, "recipe_format_version", num);
    cf_json_end(&j);
    int64_t off = 0;
    *maxn = 1;
    for (int i = 0; i < n; i++) {
        int64_t bytes = e[i].numel * (int64_t)es;
        cf_json_key(&j, e[i].name);
        cf_json_object(&j);
        cf_json_kv_string(&j, "dtype", dname);
        cf_json_key(&j, "shape");
        cf_json_array(&j);
        for (int d = 0; d < e[i].ndim; d++) cf_json_int(&j, e[i].shape[d]);
        cf_json_end(&j);
        cf_json_key(&j, "data_offsets");
        cf_json_array(&j);
        cf_json_int(&j, off);
        cf_json_int(&j, off + bytes);
        cf_json_end(&j);
        cf_json_end(&j);
        off += bytes;
        if (e[i].numel > *maxn) *maxn = e[i].numel;
    }
    cf_json_end(&j);
    bool ok = fflush(mem) == 0;
    if (ok) fprintf(mem, "%*s", (int)((8 - *hlen % 8) % 8), "");
    ok = !ferror(mem) && ok;
    ok = fclose(mem) == 0 && ok;
    if (ok && cf_json_ok(&j)) return CF_OK;
    free(*hdr);
    *hdr = NULL;
    return cf_set_error(CF_ERR_OOM, "%s: out of memory building the header", path);
}

static cf_status write_file(const char *path, entry *e, int n, cf_dtype dt, int64_t step, fetch_fn fetch, void *user)
{
    const char *dname = st_dtype_name(dt);
    if (!dname || dt == CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: safetensors export supports f32, bf16 and f16, not %s", path,
                            cf_dtype_name(dt));
    if (n > 1) qsort(e, (size_t)n, sizeof *e, cmp_entry);
    size_t es = cf_dtype_size(dt), hlen = 0;
    int64_t maxn = 1;
    char *hdr = NULL;
    CF_TRY(build_header(path, e, n, dname, es, step, &hdr, &hlen, &maxn));

    float *vals = malloc((size_t)maxn * sizeof *vals);
    unsigned char *bytes = malloc((size_t)maxn * es);
    cf_atomic_file *af = NULL;
    cf_status rc = CF_OK;
    if (!vals || !bytes) {
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory for a tensor of %lld values", path, (long long)maxn);
        goto done;
    }
    if (!(af = cf_atomic_open(path))) {
        rc = cf_last_status();
        goto done;
    }
    unsigned char len8[8];
    put_le(len8, (uint64_t)hlen, 8);
    cf_atomic_write(af, len8, 8);
    if ((rc = cf_atomic_write(af, hdr, hlen)) != CF_OK) goto done;
    for (int i = 0; i < n; i++) {
        if (e[i].numel == 0) continue;
        if ((rc = fetch(user, e[i].src, vals)) != CF_OK) goto done;
        for (int64_t k = 0; k < e[i].numel; k++) {
            uint32_t u;
            switch (dt) {
            case CF_BF16: put_le(bytes + 2 * k, cf_f32_to_bf16(vals[k]), 2); break;
            case CF_F16: put_le(bytes + 2 * k, cf_f32_to_f16(vals[k]), 2); break;
            default:
                memcpy(&u, &vals[k], 4);
                put_le(bytes + 4 * k, u, 4);
                break;
            }
        }
        if ((rc = cf_atomic_write(af, bytes, es * (size_t)e[i].numel)) != CF_OK) goto done;
    }
    rc = cf_atomic_commit(af);
    af = NULL;
done:
    cf_atomic_abort(af);
    free(bytes);
    free(vals);
    free(hdr);
    return rc;
}

/* -- from live parameters -- */

typedef struct {
    const cf_params *ps;
    const void *values; /* the values, or their host mirror (cf_params_values_host) */
} live_params;

static cf_status fetch_params(void *user, int src, float *out)
{
    const live_params *lp = user;
    const cf_params *ps = lp->ps;
    const cf_param *p = &ps->items[src];
    if (ps->dtype == CF_F32) {
        memcpy(out, (const float *)lp->values + p->offset, (size_t)p->numel * sizeof *out);
    } else {
        const double *v = (const double *)lp->values + p->offset;
        for (int64_t i = 0; i < p->numel; i++) out[i] = (float)v[i];
    }
    return CF_OK;
}

cf_status cf_safetensors_save_params(const char *out_path, cf_params *ps, cf_dtype dtype, int64_t step)
{
    if (!out_path || !ps) return cf_set_error(CF_ERR_ARG, "safetensors: no path or no parameters");
    if (ps->dtype != CF_F32 && ps->dtype != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: parameters of dtype %s cannot be exported", out_path, cf_dtype_name(ps->dtype));
    live_params lp = {ps, cf_params_values_host(ps)};
    if (!lp.values) return cf_last_status();
    entry *e = calloc((size_t)(ps->count ? ps->count : 1), sizeof *e);
    if (!e) return cf_set_error(CF_ERR_OOM, "%s: out of memory", out_path);
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        e[i] = (entry){p->name, p->value->ndim, p->value->shape, p->numel, i};
    }
    cf_status rc = write_file(out_path, e, ps->count, dtype, step, fetch_params, &lp);
    free(e);
    return rc;
}

/* -- under other names -- */

cf_status cf_safetensors_write(const char *out_path, int n, const cf_st_out *t, cf_dtype dtype, cf_st_fetch fetch,
                               void *user)
{
    if (!out_path || n < 0 || (n && (!t || !fetch))) return cf_set_error(CF_ERR_ARG, "safetensors: bad arguments");
    entry *e = calloc((size_t)(n ? n : 1), sizeof *e);
    if (!e) return cf_set_error(CF_ERR_OOM, "%s: out of memory", out_path);
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        e[i] = (entry){t[i].name, t[i].ndim, t[i].shape, numel, t[i].src};
    }
    cf_status rc = write_file(out_path, e, n, dtype, 0, fetch, user);
    free(e);
    return rc;
}

/* -- from a checkpoint -- */

static cf_status fetch_ckpt(void *user, int src, float *out)
{
    cf_ckpt_reader *r = user;
    return cf_ckpt_read(r, NULL, cf_ckpt_tensor_at(r, NULL, src)->name, CF_F32, out);
}

cf_status cf_export_safetensors(const char *ckpt_path, const char *out_path, cf_dtype dtype)
{
    if (!out_path) return cf_set_error(CF_ERR_ARG, "export: no output path");
    if (cf_same_file(out_path, ckpt_path))
        return cf_set_error(CF_ERR_ARG, "export: -o %s is the checkpoint being exported; choose another file", out_path);
    if (dtype != CF_F32 && dtype != CF_BF16 && dtype != CF_F16)
        return cf_set_error(CF_ERR_DTYPE, "%s: safetensors export supports f32, bf16 and f16, not %s", out_path,
                            cf_dtype_name(dtype));
    cf_ckpt_reader *r = cf_ckpt_open(ckpt_path);
    if (!r) return cf_last_status();
    cf_train_state st = {0}; /* a /model-only file has no state: step 0 */
    cf_status rc = cf_ckpt_has_state(r) ? cf_ckpt_read_state(r, &st) : CF_OK;
    int n = cf_ckpt_count(r, NULL);
    entry *e = rc == CF_OK ? calloc((size_t)(n ? n : 1), sizeof *e) : NULL;
    if (rc == CF_OK && !e) {
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", out_path);
    } else if (rc == CF_OK) {
        for (int i = 0; i < n; i++) {
            const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, NULL, i);
            e[i] = (entry){t->name, t->ndim, t->shape, t->numel, i};
        }
        rc = write_file(out_path, e, n, dtype, st.step, fetch_ckpt, r);
    }
    free(e);
    cf_ckpt_close(r);
    return rc;
}

/* ---- reader: just enough JSON for a safetensors header ---- */

typedef struct {
    const char *p, *end, *start;
    const char *path;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static bool lit(jp *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) return j->p++, true;
    return false;
}

static cf_status bad(jp *j, const char *what)
{
    return cf_set_error(CF_ERR_FORMAT, "%s: safetensors header: %s at byte %ld", j->path, what, 8 + (long)(j->p - j->start));
}

/* A JSON string into out (UTF-8; \u escapes of the BMP). */
static cf_status str(jp *j, char *out, size_t n)
{
    if (!lit(j, '"')) return bad(j, "expected a string");
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        unsigned c = (unsigned char)*j->p++;
        if (c == '\\') {
            if (j->p >= j->end) break;
            char esc = *j->p++;
            switch (esc) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                if (j->end - j->p < 4) return bad(j, "short \\u escape");
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *j->p++;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                }
                unsigned char u8[3];
                size_t m = v < 0x80 ? 1 : v < 0x800 ? 2 : 3;
                if (m == 1) u8[0] = (unsigned char)v;
                else if (m == 2) u8[0] = (unsigned char)(0xc0 | (v >> 6)), u8[1] = (unsigned char)(0x80 | (v & 0x3f));
                else
                    u8[0] = (unsigned char)(0xe0 | (v >> 12)), u8[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3f)),
                    u8[2] = (unsigned char)(0x80 | (v & 0x3f));
                for (size_t i = 0; i < m; i++)
                    if (out && k + 1 < n) out[k++] = (char)u8[i];
                continue;
            }
            default: c = (unsigned char)esc; break;
            }
        }
        if (out && k + 1 < n) out[k++] = (char)c;
        else if (out) return bad(j, "string too long");
    }
    if (!lit(j, '"')) return bad(j, "unterminated string");
    if (out) out[k] = '\0';
    return CF_OK;
}

static cf_status integer(jp *j, int64_t *v)
{
    ws(j);
    int64_t x = 0;
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (x > (INT64_MAX - 9) / 10) return bad(j, "number too large");
        x = x * 10 + (*j->p++ - '0');
    }
    if (j->p == s) return bad(j, "expected a non-negative integer");
    *v = x;
    return CF_OK;
}

static cf_status skip_value(jp *j, int depth);

static cf_status skip_value(jp *j, int depth)
{
    if (depth > 32) return bad(j, "nesting too deep");
    ws(j);
    if (j->p >= j->end) return bad(j, "unexpected end");
    char c = *j->p;
    if (c == '"') return str(j, NULL, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (lit(j, close)) return CF_OK;
        do {
            if (c == '{') {
                cf_status rc = str(j, NULL, 0);
                if (rc != CF_OK) return rc;
                if (!lit(j, ':')) return bad(j, "expected ':'");
            }
            cf_status rc = skip_value(j, depth + 1);
            if (rc != CF_OK) return rc;
        } while (lit(j, ','));
        return lit(j, close) ? CF_OK : bad(j, "expected ',' or a closing bracket");
    }
    while (j->p < j->end && (strchr("-+.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'z')))
        j->p++;
    return CF_OK;
}

static cf_status tensor_info(jp *j, cf_st_entry *e)
{
    bool have_dt = false, have_shape = false, have_off = false;
    if (!lit(j, '{')) return bad(j, "expected a tensor object");
    if (lit(j, '}')) return bad(j, "empty tensor object");
    do {
        char key[32], val[32];
        cf_status rc = str(j, key, sizeof key);
        if (rc != CF_OK) return rc;
        if (!lit(j, ':')) return bad(j, "expected ':'");
        if (strcmp(key, "dtype") == 0) {
            if ((rc = str(j, val, sizeof val)) != CF_OK) return rc;
            if (strcmp(val, "F32") == 0) e->dtype = CF_F32;
            else if (strcmp(val, "F64") == 0) e->dtype = CF_F64;
            else if (strcmp(val, "BF16") == 0) e->dtype = CF_BF16;
            else if (strcmp(val, "F16") == 0) e->dtype = CF_F16;
            else return cf_set_error(CF_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s (F32, F64, BF16 or F16 are read)",
                                     j->path, e->name, val);
            have_dt = true;
        } else if (strcmp(key, "shape") == 0) {
            if (!lit(j, '[')) return bad(j, "expected a shape array");
            e->ndim = 0;
            if (!lit(j, ']')) {
                do {
                    if (e->ndim >= CF_MAX_DIMS) return bad(j, "too many dimensions");
                    if ((rc = integer(j, &e->shape[e->ndim++])) != CF_OK) return rc;
                } while (lit(j, ','));
                if (!lit(j, ']')) return bad(j, "expected ']'");
            }
            have_shape = true;
        } else if (strcmp(key, "data_offsets") == 0) {
            if (!lit(j, '[') || integer(j, &e->begin) != CF_OK || !lit(j, ',') || integer(j, &e->end) != CF_OK || !lit(j, ']'))
                return bad(j, "data_offsets is not [begin, end]");
            have_off = true;
        } else if ((rc = skip_value(j, 0)) != CF_OK) {
            return rc;
        }
    } while (lit(j, ','));
    if (!lit(j, '}')) return bad(j, "expected '}'");
    if (!have_dt || !have_shape || !have_off)
        return cf_set_error(CF_ERR_FORMAT, "%s: tensor %s lacks dtype, shape or data_offsets", j->path, e->name);
    return CF_OK;
}

cf_status cf_safetensors_read_header(const char *path, cf_st_entry **entries, int *count, int64_t *data_start)
{
    if (!path || !entries || !count || !data_start) return cf_set_error(CF_ERR_ARG, "safetensors: bad arguments");
    *entries = NULL, *count = 0, *data_start = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    unsigned char len8[8];
    char *hdr = NULL;
    cf_st_entry *e = NULL;
    int n = 0, cap = 0;
    uint64_t hl = 0;
    cf_status rc = CF_OK;
    if (fstat(fileno(f), &sb) != 0 || fread(len8, 1, 8, f) != 8) {
        rc = cf_set_error(CF_ERR_FORMAT, "%s: shorter than the 8-byte header length", path);
        goto done;
    }
    for (int i = 7; i >= 0; i--) hl = hl << 8 | len8[i];
    if (hl > (uint64_t)ST_MAX_HEADER || (int64_t)hl > (int64_t)sb.st_size - 8) {
        rc = cf_set_error(CF_ERR_FORMAT, "%s: header length %llu does not fit the file (%lld bytes)", path,
                          (unsigned long long)hl, (long long)sb.st_size);
        goto done;
    }
    if (!(hdr = malloc(hl + 1)) || fread(hdr, 1, hl, f) != hl) {
        rc = cf_set_error(hdr ? CF_ERR_IO : CF_ERR_OOM, "%s: cannot read the %llu-byte header", path, (unsigned long long)hl);
        goto done;
    }
    jp j = {hdr, hdr + hl, hdr, path};
    int64_t data_len = (int64_t)sb.st_size - 8 - (int64_t)hl;
    if (!lit(&j, '{')) {
        rc = bad(&j, "expected '{'");
        goto done;
    }
    if (!lit(&j, '}')) do {
            char name[CF_PARAM_NAME_MAX];
            if ((rc = str(&j, name, sizeof name)) != CF_OK) goto done;
            if (!lit(&j, ':')) {
                rc = bad(&j, "expected ':'");
                goto done;
            }
            if (strcmp(name, "__metadata__") == 0) {
                if ((rc = skip_value(&j, 0)) != CF_OK) goto done;
                continue;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                cf_st_entry *ne = realloc(e, (size_t)cap * sizeof *ne);
                if (!ne) {
                    rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
                    goto done;
                }
                e = ne;
            }
            cf_st_entry *t = &e[n++];
            memset(t, 0, sizeof *t);
            memcpy(t->name, name, sizeof name);
            if ((rc = tensor_info(&j, t)) != CF_OK) goto done;
            int64_t numel = 1;
            for (int d = 0; d < t->ndim; d++) {
                if (t->shape[d] && numel > INT64_MAX / 8 / t->shape[d]) {
                    rc = cf_set_error(CF_ERR_FORMAT, "%s: tensor %s: shape too large", path, t->name);
                    goto done;
                }
                numel *= t->shape[d];
            }
            if (t->begin > t->end || t->end > data_len || t->end - t->begin != numel * (int64_t)cf_dtype_size(t->dtype)) {
                rc = cf_set_error(CF_ERR_FORMAT,
                                  "%s: tensor %s: data_offsets [%lld, %lld] do not match its shape and dtype or lie "
                                  "past the end of the file (%lld data bytes)",
                                  path, t->name, (long long)t->begin, (long long)t->end, (long long)data_len);
                goto done;
            }
        } while (lit(&j, ','));
    if (rc == CF_OK && !lit(&j, '}')) rc = bad(&j, "expected ',' or '}'");
    if (rc == CF_OK) {
        ws(&j);
        if (j.p != j.end) rc = bad(&j, "trailing bytes after the header object");
    }
done:
    free(hdr);
    fclose(f);
    if (rc != CF_OK) {
        free(e);
        return rc;
    }
    *entries = e, *count = n, *data_start = 8 + (int64_t)hl;
    return CF_OK;
}

cf_status cf_safetensors_read_f32(const char *path, const cf_st_entry *e, int64_t data_start, float *out)
{
    if (!path || !e || !out) return cf_set_error(CF_ERR_ARG, "safetensors: bad arguments");
    size_t es = cf_dtype_size(e->dtype);
    int64_t numel = es ? (e->end - e->begin) / (int64_t)es : 0;
    if (numel == 0) return CF_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *raw = malloc((size_t)(e->end - e->begin));
    cf_status rc = CF_OK;
    if (!raw) rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    else if (fseeko(f, (off_t)(data_start + e->begin), SEEK_SET) != 0 ||
             fread(raw, 1, (size_t)(e->end - e->begin), f) != (size_t)(e->end - e->begin))
        rc = cf_set_error(CF_ERR_IO, "%s: tensor %s: cannot read %lld bytes at offset %lld", path, e->name,
                          (long long)(e->end - e->begin), (long long)(data_start + e->begin));
    for (int64_t i = 0; rc == CF_OK && i < numel; i++) {
        const unsigned char *p = raw + (size_t)i * es;
        uint64_t u = 0;
        for (int b = (int)es - 1; b >= 0; b--) u = u << 8 | p[b];
        switch (e->dtype) {
        case CF_BF16: out[i] = cf_bf16_to_f32((uint16_t)u); break;
        case CF_F16: out[i] = cf_f16_to_f32((uint16_t)u); break;
        case CF_F32: {
            uint32_t w = (uint32_t)u;
            memcpy(&out[i], &w, 4);
            break;
        }
        default: {
            double d;
            memcpy(&d, &u, 8);
            out[i] = (float)d;
            break;
        }
        }
    }
    free(raw);
    fclose(f);
    return rc;
}
