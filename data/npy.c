/* The .npy reader (see npy.h): header parsing, size checks, element conversion, Fortran-order transposition. */
#include "data/npy.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* numpy itself refuses headers above 10000 bytes by default; allow more, but bound the allocation */
#define MAX_HEADER (1u << 20)
#define CHUNK 8192 /* elements converted per read */

/* A byte source: a file or a memory buffer, with its total size known up front. */
typedef struct src {
    FILE *f;
    const unsigned char *mem;
    uint64_t size, pos;
    const char *what;
} src;

static bool src_read(src *s, void *dst, size_t n)
{
    if (n > s->size - s->pos) return false;
    if (s->f) {
        if (fread(dst, 1, n, s->f) != n) return false;
    } else {
        memcpy(dst, s->mem + s->pos, n);
    }
    s->pos += n;
    return true;
}

/* ---- the header dict ---- */

typedef struct parser {
    const char *p, *end, *begin;
    const char *what;
    int64_t base; /* file offset of begin, for messages */
} parser;

static cf_status perr(const parser *ps, const char *msg)
{
    return cf_set_error(CF_ERR_FORMAT, "%s: npy header at byte %" PRId64 ": %s", ps->what,
                        ps->base + (int64_t)(ps->p - ps->begin), msg);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool eat(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (dtype strings and keys never need them). */
static cf_status parse_str(parser *ps, char *out, size_t n)
{
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return perr(ps, "expected a quoted string");
    char q = *ps->p++;
    size_t k = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || *ps->p == '\n') return perr(ps, "unsupported character in a string");
        if (k + 1 >= n) return perr(ps, "string too long");
        out[k++] = *ps->p++;
    }
    if (ps->p >= ps->end) return perr(ps, "unterminated string");
    ps->p++;
    out[k] = 0;
    return CF_OK;
}

static bool word(parser *ps, const char *w)
{
    skip_ws(ps);
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static cf_status parse_shape(parser *ps, cf_npy_info *info)
{
    if (!eat(ps, '(')) return perr(ps, "'shape' must be a tuple like (3, 4), (3,) or ()");
    info->ndim = 0;
    if (eat(ps, ')')) return CF_OK;
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return perr(ps, "expected a non-negative integer in 'shape'");
        int64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            int d = *ps->p++ - '0';
            if (v > (INT64_MAX - d) / 10) return perr(ps, "a dimension in 'shape' overflows 64 bits");
            v = v * 10 + d;
        }
        if (ps->p < ps->end && *ps->p == 'L') ps->p++; /* Python 2 longs */
        if (info->ndim >= CF_NPY_MAX_DIMS) return perr(ps, "more than 32 dimensions");
        info->shape[info->ndim++] = v;
        bool comma = eat(ps, ',');
        if (eat(ps, ')')) {
            if (info->ndim == 1 && !comma) return perr(ps, "a one-dimensional shape is written (n,)");
            return CF_OK;
        }
        if (!comma) return perr(ps, "expected ',' or ')' in 'shape'");
    }
}

static cf_status parse_descr(const char *d, cf_npy_info *info, const parser *ps)
{
    size_t n = strlen(d);
    if (n >= 2 && d[1] == 'O')
        return perr(ps, "object arrays ('|O', pickled Python objects) cannot be read; save a numeric array");
    if (n < 3 || n > 4) goto bad;
    char order = d[0], kind = d[1];
    char *endp = NULL;
    long size = strtol(d + 2, &endp, 10);
    if (*endp || size <= 0) goto bad;
    if (order != '<' && order != '>' && order != '=' && order != '|') goto bad;
    static const int one = 1;
    bool host_big = *(const unsigned char *)&one == 0;
    info->big_endian = order == '>' || (order == '=' && host_big);
    switch (kind) {
    case 'f': info->kind = CF_NPY_FLOAT; if (size != 4 && size != 8) goto bad; break;
    case 'i': info->kind = CF_NPY_INT; if (size != 1 && size != 2 && size != 4 && size != 8) goto bad; break;
    case 'u': info->kind = CF_NPY_UINT; if (size != 1 && size != 2 && size != 4 && size != 8) goto bad; break;
    case 'b': info->kind = CF_NPY_BOOL; if (size != 1) goto bad; break;
    default: goto bad;
    }
    /* numpy writes '|' for one-byte types only */
    if (order == '|' && size != 1) goto bad;
    info->itemsize = (int)size;
    snprintf(info->descr, sizeof info->descr, "%s", d);
    return CF_OK;
bad:
    cf_set_error(CF_ERR_FORMAT, "%s: unsupported dtype '%s' (readable: <f4 <f8 <i1..<i8 <u1..<u8 |b1 |u1 |i1 and the "
                 "big-endian forms)", ps->what, d);
    return CF_ERR_FORMAT;
}

static cf_status parse_header(parser *ps, cf_npy_info *info)
{
    if (!eat(ps, '{')) return perr(ps, "the header is not a dict ('{' expected)");
    bool have_descr = false, have_fo = false, have_shape = false;
    if (!eat(ps, '}')) {
        for (;;) {
            char key[32];
            if (parse_str(ps, key, sizeof key) != CF_OK) return cf_last_status();
            if (!eat(ps, ':')) return perr(ps, "expected ':' after a key");
            if (strcmp(key, "descr") == 0) {
                if (have_descr) return perr(ps, "repeated key 'descr'");
                have_descr = true;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == '[') return perr(ps, "structured dtypes (a list 'descr') are not supported");
                char d[32];
                if (parse_str(ps, d, sizeof d) != CF_OK) return cf_last_status();
                if (parse_descr(d, info, ps) != CF_OK) return cf_last_status();
            } else if (strcmp(key, "fortran_order") == 0) {
                if (have_fo) return perr(ps, "repeated key 'fortran_order'");
                have_fo = true;
                if (word(ps, "True")) info->fortran_order = true;
                else if (word(ps, "False")) info->fortran_order = false;
                else return perr(ps, "'fortran_order' must be True or False");
            } else if (strcmp(key, "shape") == 0) {
                if (have_shape) return perr(ps, "repeated key 'shape'");
                have_shape = true;
                if (parse_shape(ps, info) != CF_OK) return cf_last_status();
            } else {
                return perr(ps, "unknown key in the header dict (expected descr, fortran_order, shape)");
            }
            bool comma = eat(ps, ',');
            if (eat(ps, '}')) break;
            if (!comma) return perr(ps, "expected ',' or '}' in the header dict");
        }
    }
    if (!have_descr || !have_fo || !have_shape)
        return perr(ps, !have_descr ? "the header lacks 'descr'" : !have_fo ? "the header lacks 'fortran_order'"
                                                                         : "the header lacks 'shape'");
    skip_ws(ps);
    if (ps->p != ps->end) return perr(ps, "unexpected text after the header dict");
    return CF_OK;
}

static cf_status read_header(src *s, cf_npy_info *info)
{
    memset(info, 0, sizeof *info);
    unsigned char pre[12];
    if (!src_read(s, pre, 8)) return cf_set_error(CF_ERR_FORMAT, "%s: not an npy file (shorter than its 8-byte preamble)", s->what);
    if (memcmp(pre, "\x93NUMPY", 6) != 0) return cf_set_error(CF_ERR_FORMAT, "%s: not an npy file (bad magic; expected \\x93NUMPY)", s->what);
    info->major = pre[6], info->minor = pre[7];
    uint32_t hlen;
    if (info->major == 1 && info->minor == 0) {
        if (!src_read(s, pre + 8, 2)) return cf_set_error(CF_ERR_FORMAT, "%s: truncated npy preamble", s->what);
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if ((info->major == 2 || info->major == 3) && info->minor == 0) {
        if (!src_read(s, pre + 8, 4)) return cf_set_error(CF_ERR_FORMAT, "%s: truncated npy preamble", s->what);
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    } else {
        return cf_set_error(CF_ERR_FORMAT, "%s: npy version %d.%d is not supported (1.0, 2.0, 3.0 are)", s->what,
                            info->major, info->minor);
    }
    int64_t base = (int64_t)s->pos;
    if (hlen > MAX_HEADER) return cf_set_error(CF_ERR_FORMAT, "%s: npy header length %u is implausible", s->what, hlen);
    if (hlen > s->size - s->pos)
        return cf_set_error(CF_ERR_FORMAT, "%s: truncated npy header (%u bytes announced, %" PRIu64 " present)", s->what,
                            hlen, s->size - s->pos);
    char *h = malloc(hlen + 1);
    if (!h) return cf_set_error(CF_ERR_OOM, "%s: out of memory", s->what);
    if (!src_read(s, h, hlen)) {
        free(h);
        return cf_set_error(CF_ERR_IO, "%s: reading the npy header failed", s->what);
    }
    h[hlen] = 0;
    if (hlen == 0 || h[hlen - 1] != '\n') {
        free(h);
        return cf_set_error(CF_ERR_FORMAT, "%s: npy header does not end with a newline (truncated or corrupt)", s->what);
    }
    if (memchr(h, 0, hlen)) {
        free(h);
        return cf_set_error(CF_ERR_FORMAT, "%s: npy header contains a NUL byte", s->what);
    }
    parser ps = {h, h + hlen, h, s->what, base};
    cf_status st = parse_header(&ps, info);
    free(h);
    if (st != CF_OK) return st;
    info->data_offset = (int64_t)s->pos;
    int64_t count = 1;
    for (int d = 0; d < info->ndim; d++) {
        if (info->shape[d] != 0 && count > INT64_MAX / info->shape[d])
            return cf_set_error(CF_ERR_FORMAT, "%s: npy shape overflows (the element count exceeds 64 bits)", s->what);
        count *= info->shape[d];
    }
    if (count > (INT64_MAX / 8) || (uint64_t)count > SIZE_MAX / 8)
        return cf_set_error(CF_ERR_FORMAT, "%s: npy shape too large (%" PRId64 " elements)", s->what, count);
    info->count = count;
    uint64_t need = (uint64_t)count * (uint64_t)info->itemsize, have = s->size - s->pos;
    if (have < need)
        return cf_set_error(CF_ERR_FORMAT, "%s: truncated npy data: shape and dtype %s need %" PRIu64 " bytes, the file has %" PRIu64,
                            s->what, info->descr, need, have);
    if (have > need)
        return cf_set_error(CF_ERR_FORMAT, "%s: %" PRIu64 " trailing bytes after the npy data (shape and dtype %s need %" PRIu64 ")",
                            s->what, have - need, info->descr, need);
    return CF_OK;
}

/* ---- elements ---- */

static uint64_t load_uint(const unsigned char *b, int size, bool big)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)b[big ? size - 1 - i : i] << (8 * i);
    return v;
}

/* One element as a double (for floats and most integers) and, for integers, exactly as int64 / uint64. */
typedef struct elem {
    double d;
    bool is_int, neg;
    uint64_t u; /* magnitude for integers */
} elem;

static elem load_elem(const unsigned char *b, const cf_npy_info *info)
{
    elem e = {0, false, false, 0};
    uint64_t raw = load_uint(b, info->itemsize, info->big_endian);
    switch (info->kind) {
    case CF_NPY_FLOAT:
        if (info->itemsize == 4) {
            uint32_t r32 = (uint32_t)raw;
            float f;
            memcpy(&f, &r32, 4);
            e.d = f;
        } else {
            memcpy(&e.d, &raw, 8);
        }
        break;
    case CF_NPY_INT: {
        int bits = 8 * info->itemsize;
        int64_t v = bits == 64 ? (int64_t)raw : (raw >> (bits - 1)) & 1 ? (int64_t)(raw | (~UINT64_C(0) << bits)) : (int64_t)raw;
        e.is_int = true, e.neg = v < 0, e.d = (double)v;
        e.u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        break;
    }
    case CF_NPY_UINT:
        e.is_int = true, e.u = raw, e.d = (double)raw;
        break;
    case CF_NPY_BOOL:
        if (raw > 1) e.d = NAN; /* flagged by the caller */
        else e.is_int = true, e.u = raw, e.d = (double)raw;
        break;
    }
    return e;
}

static cf_status convert(const src *s, const cf_npy_info *info, const unsigned char *b, int64_t idx, cf_npy_out out,
                         unsigned flags, void *dst)
{
    elem e = load_elem(b, info);
    if (info->kind == CF_NPY_BOOL && !e.is_int)
        return cf_set_error(CF_ERR_FORMAT, "%s: element %" PRId64 " of a bool array is %u (not 0 or 1)", s->what, idx, b[0]);
    if ((flags & CF_NPY_FINITE) && !isfinite(e.d))
        return cf_set_error(CF_ERR_FORMAT, "%s: element %" PRId64 " is %s (finite values required)", s->what, idx,
                            isnan(e.d) ? "NaN" : "infinite");
    switch (out) {
    case CF_NPY_OUT_F64: *(double *)dst = e.d; break;
    case CF_NPY_OUT_F32:
        if (isfinite(e.d) && fabs(e.d) > FLT_MAX)
            return cf_set_error(CF_ERR_FORMAT, "%s: element %" PRId64 " (%g) exceeds the float32 range", s->what, idx, e.d);
        *(float *)dst = (float)e.d;
        break;
    case CF_NPY_OUT_I64:
        if (e.is_int) {
            if (!e.neg && e.u > (uint64_t)INT64_MAX)
                return cf_set_error(CF_ERR_FORMAT, "%s: element %" PRId64 " (%" PRIu64 ") exceeds int64", s->what, idx, e.u);
            *(int64_t *)dst = e.neg ? (e.u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)e.u) : (int64_t)e.u;
        } else {
            if (!isfinite(e.d) || e.d != floor(e.d) || e.d < -9.2e18 || e.d > 9.2e18)
                return cf_set_error(CF_ERR_FORMAT, "%s: element %" PRId64 " (%g) is not an integer", s->what, idx, e.d);
            *(int64_t *)dst = (int64_t)e.d;
        }
        break;
    }
    return CF_OK;
}

/* The C-order index of the element stored at Fortran-order position f. */
static int64_t fortran_to_c(const cf_npy_info *info, int64_t f)
{
    int64_t c = 0, stride = 1;
    int64_t idx[CF_NPY_MAX_DIMS];
    for (int d = 0; d < info->ndim; d++) {
        idx[d] = f % info->shape[d];
        f /= info->shape[d];
    }
    for (int d = info->ndim - 1; d >= 0; d--) {
        c += idx[d] * stride;
        stride *= info->shape[d];
    }
    return c;
}

static cf_status read_all(src *s, cf_npy_out out, unsigned flags, cf_npy_info *info_out, void **data)
{
    if (!data) return cf_set_error(CF_ERR_ARG, "%s: cf_npy_read: NULL data", s->what);
    *data = NULL;
    cf_npy_info info;
    cf_status st = read_header(s, &info);
    if (st != CF_OK) return st;
    size_t osize = out == CF_NPY_OUT_F32 ? 4 : 8;
    void *buf = NULL;
    if (info.count > 0) {
        buf = malloc((size_t)info.count * osize);
        if (!buf) return cf_set_error(CF_ERR_OOM, "%s: out of memory for %" PRId64 " elements", s->what, info.count);
    }
    unsigned char chunk[CHUNK * 8];
    bool transpose = info.fortran_order && info.ndim > 1;
    for (int64_t i = 0; i < info.count && st == CF_OK;) {
        int64_t m = info.count - i < CHUNK ? info.count - i : CHUNK;
        if (!src_read(s, chunk, (size_t)m * (size_t)info.itemsize)) {
            st = cf_set_error(CF_ERR_IO, "%s: reading the npy data failed at element %" PRId64, s->what, i);
            break;
        }
        for (int64_t k = 0; k < m && st == CF_OK; k++) {
            int64_t at = transpose ? fortran_to_c(&info, i + k) : i + k;
            st = convert(s, &info, chunk + k * info.itemsize, at, out, flags, (char *)buf + (size_t)at * osize);
        }
        i += m;
    }
    if (st != CF_OK) {
        free(buf);
        return st;
    }
    if (info_out) *info_out = info;
    *data = buf;
    return CF_OK;
}

static cf_status open_file(src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->what = path ? path : "(null)";
    if (!path) return cf_set_error(CF_ERR_ARG, "cf_npy_read: NULL path");
    s->f = fopen(path, "rb");
    if (!s->f) return cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseeko(s->f, 0, SEEK_END) != 0) goto fail;
    off_t n = ftello(s->f);
    if (n < 0 || fseeko(s->f, 0, SEEK_SET) != 0) goto fail;
    s->size = (uint64_t)n;
    return CF_OK;
fail:
    fclose(s->f);
    s->f = NULL;
    return cf_set_error(CF_ERR_IO, "%s: cannot determine its size (not a regular file?)", path);
}

cf_status cf_npy_read_info(const char *path, cf_npy_info *info)
{
    src s;
    if (open_file(&s, path) != CF_OK) return cf_last_status();
    cf_npy_info tmp;
    cf_status st = read_header(&s, info ? info : &tmp);
    fclose(s.f);
    return st;
}

cf_status cf_npy_read(const char *path, cf_npy_out out, unsigned flags, cf_npy_info *info, void **data)
{
    src s;
    if (data) *data = NULL;
    if (open_file(&s, path) != CF_OK) return cf_last_status();
    cf_status st = read_all(&s, out, flags, info, data);
    fclose(s.f);
    return st;
}

cf_status cf_npy_read_mem(const void *buf, size_t n, const char *what, cf_npy_out out, unsigned flags,
                          cf_npy_info *info, void **data)
{
    if (data) *data = NULL;
    src s = {NULL, buf, n, 0, what ? what : "(npy buffer)"};
    if (!buf && n) return cf_set_error(CF_ERR_ARG, "%s: NULL buffer", s.what);
    return read_all(&s, out, flags, info, data);
}
