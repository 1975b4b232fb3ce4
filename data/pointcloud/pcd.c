/* PCD reader and writer (the Point Cloud Library's format, "The PCD (Point Cloud Data) file format", PCL
 * documentation). A text header (VERSION, FIELDS, SIZE, TYPE, COUNT, WIDTH, HEIGHT, VIEWPOINT, POINTS, DATA)
 * then the body: `ascii` (one point per line), `binary` (packed little-endian records, fields in header order)
 * or `binary_compressed` (uint32 compressed size, uint32 raw size, then one LZF block holding the columns one
 * after another: every point's first field, then every point's second, ...). A field named `_` is padding.
 * Points whose x, y or z is NaN are PCL's invalid points: they are left out and counted. */
#include "data/pointcloud/pc_internal.h"
#include "data/pointcloud/pointcloud.h"

#include "autograd/fileio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCD_MAX_FIELDS 64
#define PCD_MAX_FILE ((size_t)1 << 34)

typedef struct {
    char name[32];
    pc_type type;
    char tchar; /* TYPE as written: I, U or F */
    int size, count;
    size_t offset; /* within a packed record */
} pcd_field;

cf_status cf_lzf_decode(const uint8_t *in, size_t in_n, uint8_t *out, size_t out_n, const char *name)
{
    size_t ip = 0, op = 0;
    while (ip < in_n) {
        unsigned ctrl = in[ip++];
        if (ctrl < 32) { /* a literal run of ctrl + 1 bytes */
            size_t len = ctrl + 1;
            if (in_n - ip < len)
                return cf_set_error(CF_ERR_FORMAT, "%s: LZF block offset %zu: a literal run of %zu bytes passes the block's end", name, ip - 1, len);
            if (out_n - op < len)
                return cf_set_error(CF_ERR_FORMAT, "%s: LZF block offset %zu: the data decompress to more than the %zu bytes the header states", name, ip - 1, out_n);
            memcpy(out + op, in + ip, len);
            ip += len;
            op += len;
        } else { /* a back reference: length (ctrl >> 5) + 2, distance ((ctrl & 31) << 8 | next) + 1 */
            size_t at = ip - 1;
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= in_n) goto cut;
                len += in[ip++];
            }
            if (ip >= in_n) goto cut;
            size_t dist = ((size_t)(ctrl & 31) << 8 | in[ip++]) + 1;
            len += 2;
            if (dist > op)
                return cf_set_error(CF_ERR_FORMAT, "%s: LZF block offset %zu: a back reference %zu bytes back from output byte %zu", name, at, dist, op);
            if (out_n - op < len)
                return cf_set_error(CF_ERR_FORMAT, "%s: LZF block offset %zu: the data decompress to more than the %zu bytes the header states", name, at, out_n);
            for (size_t k = 0; k < len; k++, op++) out[op] = out[op - dist]; /* may overlap: byte by byte */
            continue;
        cut:
            return cf_set_error(CF_ERR_FORMAT, "%s: LZF block offset %zu: a back reference cut off by the block's end", name, at);
        }
    }
    if (op != out_n)
        return cf_set_error(CF_ERR_FORMAT, "%s: the LZF block decompresses to %zu bytes, the header states %zu", name, op, out_n);
    return CF_OK;
}

size_t cf_lzf_encode_literal(const uint8_t *in, size_t in_n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < in_n; i += 32) {
        size_t len = in_n - i < 32 ? in_n - i : 32;
        out[o++] = (uint8_t)(len - 1);
        memcpy(out + o, in + i, len);
        o += len;
    }
    return o;
}

static int pcd_type(char t, int size, pc_type *out)
{
    if (t == 'F' && size == 4) *out = PC_F32;
    else if (t == 'F' && size == 8) *out = PC_F64;
    else if (t == 'I' && size == 1) *out = PC_I8;
    else if (t == 'I' && size == 2) *out = PC_I16;
    else if (t == 'I' && size == 4) *out = PC_I32;
    else if (t == 'I' && size == 8) *out = PC_I64;
    else if (t == 'U' && size == 1) *out = PC_U8;
    else if (t == 'U' && size == 2) *out = PC_U16;
    else if (t == 'U' && size == 4) *out = PC_U32;
    else if (t == 'U' && size == 8) *out = PC_U64;
    else return -1;
    return 0;
}

/* splits line into words; returns the count (at most max) */
static int words(char *line, char **w, int max)
{
    int k = 0;
    for (char *p = strtok(line, " \t\r"); p && k < max; p = strtok(NULL, " \t\r")) w[k++] = p;
    return k;
}

typedef struct {
    pcd_field f[PCD_MAX_FIELDS];
    int nf;
    int64_t width, height, points;
    int data; /* 0 ascii, 1 binary, 2 binary_compressed */
    size_t rec; /* packed record size */
    int slot[4]; /* field index of x, y, z, intensity (-1: none) */
} pcd_header;

static cf_status parse_header(const uint8_t *buf, size_t n, const char *name, pcd_header *h, size_t *body)
{
    memset(h, 0, sizeof *h);
    h->height = 1;
    int have[10] = {0}; /* fields size type count width height viewpoint points data */
    int nsize = 0, ntype = 0, ncount = 0;
    size_t pos = 0;
    int lineno = 0;
    for (;;) {
        size_t start = pos;
        while (pos < n && buf[pos] != '\n') pos++;
        if (pos >= n) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: the file ends before the DATA line", name, lineno + 1);
        lineno++;
        char line[2048];
        size_t len = pos - start;
        if (len >= sizeof line) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: longer than %zu bytes", name, lineno, sizeof line - 1);
        memcpy(line, buf + start, len);
        line[len] = 0;
        pos++;
        char *w[PCD_MAX_FIELDS + 2];
        int nw = words(line, w, PCD_MAX_FIELDS + 2);
        if (nw == 0 || w[0][0] == '#') continue;
        int vals = nw - 1;
        if (!strcmp(w[0], "VERSION")) continue;
        if (!strcmp(w[0], "FIELDS")) {
            if (vals < 1 || vals > PCD_MAX_FIELDS) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: FIELDS lists %d names, expected 1..%d", name, lineno, vals, PCD_MAX_FIELDS);
            h->nf = vals;
            for (int i = 0; i < vals; i++) {
                snprintf(h->f[i].name, sizeof h->f[i].name, "%s", w[i + 1]);
                h->f[i].count = 1;
            }
            have[0] = 1;
        } else if (!strcmp(w[0], "SIZE") || !strcmp(w[0], "TYPE") || !strcmp(w[0], "COUNT")) {
            if (!have[0]) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: %s before FIELDS", name, lineno, w[0]);
            if (vals != h->nf) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: %s has %d values for %d FIELDS", name, lineno, w[0], vals, h->nf);
            for (int i = 0; i < vals; i++) {
                char *e;
                long v = strtol(w[i + 1], &e, 10);
                if (w[0][0] == 'T') {
                    if (strlen(w[i + 1]) != 1 || !strchr("IUF", w[i + 1][0]))
                        return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: TYPE of field %s is \"%s\", expected I, U or F", name, lineno, h->f[i].name, w[i + 1]);
                    h->f[i].tchar = w[i + 1][0]; /* resolved with SIZE below */
                } else if (*e || v < 1 || v > (w[0][0] == 'S' ? 8 : 4096)) {
                    return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: %s of field %s is \"%s\"", name, lineno, w[0], h->f[i].name, w[i + 1]);
                } else if (w[0][0] == 'S') {
                    h->f[i].size = (int)v;
                } else {
                    h->f[i].count = (int)v;
                }
            }
            if (w[0][0] == 'S') nsize = 1;
            else if (w[0][0] == 'T') ntype = 1;
            else ncount = 1;
        } else if (!strcmp(w[0], "WIDTH") || !strcmp(w[0], "HEIGHT") || !strcmp(w[0], "POINTS")) {
            char *e;
            long long v = vals == 1 ? strtoll(w[1], &e, 10) : -1;
            if (vals != 1 || *e || v < 0 || v > CF_PC_MAX_POINTS)
                return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: %s needs one count in 0..%lld", name, lineno, w[0], (long long)CF_PC_MAX_POINTS);
            if (w[0][0] == 'W') h->width = v, have[4] = 1;
            else if (w[0][0] == 'H') h->height = v;
            else h->points = v, have[7] = 1;
        } else if (!strcmp(w[0], "VIEWPOINT")) {
            continue;
        } else if (!strcmp(w[0], "DATA")) {
            if (vals != 1) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: DATA needs one of ascii, binary, binary_compressed", name, lineno);
            if (!strcmp(w[1], "ascii")) h->data = 0;
            else if (!strcmp(w[1], "binary")) h->data = 1;
            else if (!strcmp(w[1], "binary_compressed")) h->data = 2;
            else return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: unknown DATA \"%s\"", name, lineno, w[1]);
            break;
        } else {
            return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: unknown keyword \"%s\"", name, lineno, w[0]);
        }
    }
    (void)ncount;
    if (!have[0] || !nsize || !ntype) return cf_set_error(CF_ERR_FORMAT, "%s: the header lacks %s", name, !have[0] ? "FIELDS" : !nsize ? "SIZE" : "TYPE");
    if (!have[4]) return cf_set_error(CF_ERR_FORMAT, "%s: the header lacks WIDTH", name);
    if (!have[7]) h->points = h->width * h->height;
    if (h->width * h->height != h->points)
        return cf_set_error(CF_ERR_FORMAT, "%s: WIDTH x HEIGHT = %lld x %lld but POINTS = %lld", name, (long long)h->width, (long long)h->height, (long long)h->points);
    for (int s = 0; s < 4; s++) h->slot[s] = -1;
    for (int i = 0; i < h->nf; i++) {
        pcd_field *f = &h->f[i];
        if (pcd_type(f->tchar, f->size, &f->type) != 0)
            return cf_set_error(CF_ERR_FORMAT, "%s: field %s: TYPE %c with SIZE %d is not a PCD type", name, f->name, f->tchar, f->size);
        f->offset = h->rec;
        h->rec += (size_t)f->size * (size_t)f->count;
        int s = !strcmp(f->name, "x") ? 0 : !strcmp(f->name, "y") ? 1 : !strcmp(f->name, "z") ? 2 : (!strcmp(f->name, "intensity") || !strcmp(f->name, "reflectance")) ? 3 : -1;
        if (s >= 0 && h->slot[s] < 0) h->slot[s] = i;
    }
    for (int s = 0; s < 3; s++)
        if (h->slot[s] < 0) return cf_set_error(CF_ERR_FORMAT, "%s: FIELDS has no \"%s\"", name, (const char *[]){"x", "y", "z"}[s]);
    *body = pos;
    return CF_OK;
}

/* stores point i (values v) unless it is an invalid (NaN) point; an infinite value is an error */
static cf_status keep(cf_points *out, const double v[4], int64_t i, const char *name)
{
    if (isnan(v[0]) || isnan(v[1]) || isnan(v[2])) {
        out->dropped++;
        return CF_OK;
    }
    for (int k = 0; k < 4; k++)
        if (!isfinite(v[k]) || fabs(v[k]) > 3.4e38)
            return cf_set_error(CF_ERR_FORMAT, "%s: point %lld: %s is %s", name, (long long)i, (const char *[]){"x", "y", "z", "intensity"}[k], isnan(v[k]) ? "NaN" : "not a finite float");
    for (int k = 0; k < 4; k++) out->xyzi[4 * out->n + k] = (float)v[k];
    out->n++;
    return CF_OK;
}

static cf_status ascii_body(const uint8_t *buf, size_t n, size_t pos, const pcd_header *h, const char *name, cf_points *out)
{
    int total = 0;
    for (int i = 0; i < h->nf; i++) total += h->f[i].count;
    for (int64_t i = 0; i < h->points; i++) {
        while (pos < n && isspace(buf[pos])) pos++;
        if (pos >= n)
            return cf_set_error(CF_ERR_FORMAT, "%s: point %lld: the file ends after %lld of the %lld POINTS", name, (long long)i, (long long)i, (long long)h->points);
        double v[4] = {0, 0, 0, 0};
        int col = 0;
        for (int fi = 0; fi < h->nf; fi++) {
            for (int c = 0; c < h->f[fi].count; c++, col++) {
                while (pos < n && (buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\r')) pos++;
                char tok[64];
                size_t k = 0;
                while (pos < n && !isspace(buf[pos]) && k < sizeof tok - 1) tok[k++] = (char)buf[pos++];
                tok[k] = 0;
                char *e;
                double d = strtod(tok, &e);
                if (!k || *e)
                    return cf_set_error(CF_ERR_FORMAT, "%s: point %lld: value %d of %d (%s) is %s", name, (long long)i, col + 1, total, h->f[fi].name, k ? "not a number" : "missing");
                for (int s = 0; s < 4; s++)
                    if (h->slot[s] == fi && c == 0) v[s] = d;
            }
        }
        while (pos < n && (buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\r')) pos++;
        if (pos < n && buf[pos] != '\n')
            return cf_set_error(CF_ERR_FORMAT, "%s: point %lld: more than the %d values the header declares", name, (long long)i, total);
        CF_TRY(keep(out, v, i, name));
    }
    return CF_OK;
}

cf_status cf_pcd_parse(const uint8_t *buf, size_t n, const char *name, cf_points *out)
{
    memset(out, 0, sizeof *out);
    pcd_header *h = malloc(sizeof *h);
    if (!h) return cf_set_error(CF_ERR_OOM, "%s: out of memory", name);
    size_t pos;
    uint8_t *raw = NULL;
    cf_status st = parse_header(buf, n, name, h, &pos);
    if (st != CF_OK) goto done;
    size_t body = n - pos;
    /* the body must be able to hold the points before anything that large is allocated */
    size_t min_bytes = h->data == 0 ? (size_t)h->points * 2 : h->data == 1 ? (size_t)h->points * h->rec : 8;
    if (body < min_bytes) {
        if (h->data == 1)
            st = cf_set_error(CF_ERR_FORMAT, "%s: point %lld: truncated record: %lld POINTS of %zu bytes need %zu body bytes, the file has %zu", name, (long long)(body / h->rec), (long long)h->points, h->rec, min_bytes, body);
        else
            st = cf_set_error(CF_ERR_FORMAT, "%s: the body (%zu bytes) is too short for %lld POINTS", name, body, (long long)h->points);
        goto done;
    }
    out->xyzi = malloc((size_t)(h->points ? h->points : 1) * 4 * sizeof(float));
    if (!out->xyzi) {
        st = cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld points", name, (long long)h->points);
        goto done;
    }
    out->has_intensity = h->slot[3] >= 0;
    if (h->data == 0) {
        st = ascii_body(buf, n, pos, h, name, out);
        goto done;
    }
    const uint8_t *src = buf + pos;
    int soa = 0;
    if (h->data == 2) {
        uint32_t csize = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
        uint32_t usize = (uint32_t)src[4] | (uint32_t)src[5] << 8 | (uint32_t)src[6] << 16 | (uint32_t)src[7] << 24;
        if (csize > body - 8) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: binary_compressed: the compressed size %u passes the file's end (%zu bytes follow)", name, csize, body - 8);
            goto done;
        }
        if ((uint64_t)usize != (uint64_t)h->points * h->rec) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: binary_compressed: the raw size %u is not POINTS x record = %lld x %zu", name, usize, (long long)h->points, h->rec);
            goto done;
        }
        if (csize == 0 && usize != 0) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: binary_compressed: an empty block for %u raw bytes", name, usize);
            goto done;
        }
        /* LZF expands at most 8x; refuse a raw size the block cannot reach before allocating it */
        if ((uint64_t)usize > (uint64_t)csize * 8 + 8) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: binary_compressed: %u compressed bytes cannot hold %u raw bytes", name, csize, usize);
            goto done;
        }
        raw = malloc(usize ? usize : 1);
        if (!raw) {
            st = cf_set_error(CF_ERR_OOM, "%s: out of memory for %u bytes", name, usize);
            goto done;
        }
        st = cf_lzf_decode(src + 8, csize, raw, usize, name);
        if (st != CF_OK) goto done;
        src = raw;
        soa = 1;
    }
    for (int64_t i = 0; i < h->points && st == CF_OK; i++) {
        double v[4] = {0, 0, 0, 0};
        for (int s = 0; s < 4; s++) {
            int fi = h->slot[s];
            if (fi < 0) continue;
            const pcd_field *f = &h->f[fi];
            size_t at = soa ? f->offset * (size_t)h->points + (size_t)i * (size_t)f->size * (size_t)f->count
                            : (size_t)i * h->rec + f->offset;
            v[s] = pc_load(src + at, f->type, 0);
        }
        st = keep(out, v, i, name);
    }
done:
    free(raw);
    free(h);
    if (st != CF_OK) cf_points_free(out);
    return st;
}

cf_status cf_pcd_read(const char *path, cf_points *out) { return pc_read_file(path, PCD_MAX_FILE, cf_pcd_parse, out); }

cf_status cf_pcd_write(const char *path, const cf_points *p, cf_pcd_format fmt)
{
    static const char *const dname[] = {"ascii", "binary", "binary_compressed"};
    /* a padding field "_" between y and z, as PCL writes for alignment, so readers must skip by size */
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y _ z intensity\n"
                         "SIZE 4 4 1 4 4\nTYPE F F U F F\nCOUNT 1 1 4 1 1\nWIDTH %lld\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
                         "POINTS %lld\nDATA %s\n", (long long)p->n, (long long)p->n, dname[fmt]);
    const size_t rec = 20;
    static const size_t off[4] = {0, 4, 12, 16};
    if (fmt == CF_PCD_ASCII) {
        for (int64_t i = 0; i < p->n; i++) {
            const float *q = p->xyzi + 4 * i;
            cf_atomic_printf(af, "%.9g %.9g 0 0 0 0 %.9g %.9g\n", q[0], q[1], q[2], q[3]);
        }
        return cf_atomic_commit(af);
    }
    size_t raw_n = (size_t)p->n * rec;
    uint8_t *raw = calloc(raw_n ? raw_n : 1, 1);
    uint8_t *comp = fmt == CF_PCD_BINARY_COMPRESSED ? malloc(raw_n + raw_n / 32 + 8) : NULL;
    if (!raw || (fmt == CF_PCD_BINARY_COMPRESSED && !comp)) {
        free(raw);
        free(comp);
        cf_atomic_abort(af);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < p->n; i++)
        for (int k = 0; k < 4; k++) {
            size_t at = fmt == CF_PCD_BINARY ? (size_t)i * rec + off[k] : off[k] * (size_t)p->n + (size_t)i * 4;
            memcpy(raw + at, &p->xyzi[4 * i + k], 4);
        }
    if (fmt == CF_PCD_BINARY) {
        cf_atomic_write(af, raw, raw_n);
    } else {
        size_t c = cf_lzf_encode_literal(raw, raw_n, comp);
        uint32_t hdr[2] = {(uint32_t)c, (uint32_t)raw_n};
        cf_atomic_write(af, hdr, sizeof hdr);
        cf_atomic_write(af, comp, c);
    }
    free(raw);
    free(comp);
    return cf_atomic_commit(af);
}
