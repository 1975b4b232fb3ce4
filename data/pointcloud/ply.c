/* PLY reader and writer (Turk, "The PLY Polygon File Format", 1994; format summary in pointcloud.h). The
 * header declares elements in file order, each with a count and typed properties (scalars, or lists with a
 * count type and an item type); the body holds the elements' records in that order, as text lines or packed
 * binary. Only the `vertex` element's x, y, z and intensity are kept; everything else is skipped by its
 * declared layout. */
#include "data/pointcloud/pc_internal.h"
#include "data/pointcloud/pointcloud.h"

#include "autograd/fileio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLY_MAX_ELEMENTS 16
#define PLY_MAX_PROPS 64
#define PLY_MAX_FILE ((size_t)1 << 34)

typedef struct {
    char name[64];
    int is_list;
    pc_type type, count_type; /* count_type: lists only */
} ply_prop;

typedef struct {
    char name[64];
    int64_t count;
    int nprops;
    ply_prop props[PLY_MAX_PROPS];
} ply_elem;

static int type_of(const char *s, pc_type *t)
{
    static const struct { const char *a, *b; pc_type t; } map[] = {
        {"char", "int8", PC_I8},     {"uchar", "uint8", PC_U8},     {"short", "int16", PC_I16},
        {"ushort", "uint16", PC_U16}, {"int", "int32", PC_I32},     {"uint", "uint32", PC_U32},
        {"float", "float32", PC_F32}, {"double", "float64", PC_F64},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(s, map[i].a) || !strcmp(s, map[i].b)) {
            *t = map[i].t;
            return 0;
        }
    return -1;
}

static int is_intensity(const char *name)
{
    return !strcmp(name, "intensity") || !strcmp(name, "reflectance") || !strcmp(name, "scalar_intensity") ||
           !strcmp(name, "scalar_Intensity");
}

/* the header: elements and the body's offset; format 0 ascii, 1 LE, 2 BE */
static cf_status parse_header(const uint8_t *buf, size_t n, const char *name, ply_elem *el, int *nel, int *format,
                              size_t *body)
{
    size_t pos = 0;
    int lineno = 0, have_format = 0;
    *nel = 0;
    for (;;) {
        size_t start = pos;
        while (pos < n && buf[pos] != '\n') pos++;
        if (pos >= n)
            return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: the file ends before end_header", name, lineno + 1);
        lineno++;
        char line[256];
        size_t len = pos - start;
        if (len && buf[pos - 1] == '\r') len--;
        if (len >= sizeof line) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: longer than %zu bytes", name, lineno, sizeof line - 1);
        memcpy(line, buf + start, len);
        line[len] = 0;
        pos++;
        char w[4][64] = {{0}};
        int nw = sscanf(line, "%63s %63s %63s %63s", w[0], w[1], w[2], w[3]);
        if (lineno == 1) {
            if (strcmp(line, "ply")) return cf_set_error(CF_ERR_FORMAT, "%s: line 1: \"%.20s\", a PLY file starts with \"ply\"", name, line);
            continue;
        }
        if (nw <= 0 || !strcmp(w[0], "comment") || !strcmp(w[0], "obj_info")) continue;
        if (!strcmp(w[0], "end_header")) break;
        if (!strcmp(w[0], "format")) {
            if (nw != 3 || strcmp(w[2], "1.0"))
                return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: expected \"format <ascii|binary_little_endian|binary_big_endian> 1.0\"", name, lineno);
            if (!strcmp(w[1], "ascii")) *format = 0;
            else if (!strcmp(w[1], "binary_little_endian")) *format = 1;
            else if (!strcmp(w[1], "binary_big_endian")) *format = 2;
            else return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: unknown format \"%s\"", name, lineno, w[1]);
            have_format = 1;
        } else if (!strcmp(w[0], "element")) {
            if (*nel == PLY_MAX_ELEMENTS) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: more than %d elements", name, lineno, PLY_MAX_ELEMENTS);
            char *e;
            long long c = nw == 3 ? strtoll(w[2], &e, 10) : -1;
            if (nw != 3 || *e || c < 0 || c > CF_PC_MAX_POINTS)
                return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: expected \"element <name> <count>\" with a count in 0..%lld", name, lineno, (long long)CF_PC_MAX_POINTS);
            ply_elem *x = &el[(*nel)++];
            memset(x, 0, sizeof *x);
            snprintf(x->name, sizeof x->name, "%s", w[1]);
            x->count = c;
        } else if (!strcmp(w[0], "property")) {
            if (*nel == 0) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: a property before any element", name, lineno);
            ply_elem *x = &el[*nel - 1];
            if (x->nprops == PLY_MAX_PROPS) return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: more than %d properties in element %s", name, lineno, PLY_MAX_PROPS, x->name);
            ply_prop *p = &x->props[x->nprops++];
            memset(p, 0, sizeof *p);
            if (nw >= 2 && !strcmp(w[1], "list")) {
                char item[64] = {0}, pname[64] = {0};
                if (sscanf(line, "%*s %*s %*s %63s %63s", item, pname) != 2 || type_of(w[2], &p->count_type) || type_of(item, &p->type))
                    return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: expected \"property list <count type> <item type> <name>\"", name, lineno);
                if (p->count_type == PC_F32 || p->count_type == PC_F64)
                    return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: a list count of floating-point type", name, lineno);
                p->is_list = 1;
                snprintf(p->name, sizeof p->name, "%s", pname);
            } else {
                if (nw != 3 || type_of(w[1], &p->type))
                    return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: expected \"property <type> <name>\" with a PLY type (char uchar short ushort int uint float double)", name, lineno);
                snprintf(p->name, sizeof p->name, "%s", w[2]);
            }
        } else {
            return cf_set_error(CF_ERR_FORMAT, "%s: header line %d: unknown keyword \"%s\"", name, lineno, w[0]);
        }
    }
    if (!have_format) return cf_set_error(CF_ERR_FORMAT, "%s: the header has no format line", name);
    *body = pos;
    return CF_OK;
}

/* ---- binary body ---- */

/* skips one record of element x at *pos (binary), or reads the vertex fields into v[4] (x y z i) */
static cf_status binary_record(const uint8_t *buf, size_t n, size_t *pos, const ply_elem *x, int64_t idx, int be,
                               const char *name, const int map[PLY_MAX_PROPS], double v[4])
{
    for (int k = 0; k < x->nprops; k++) {
        const ply_prop *p = &x->props[k];
        if (p->is_list) {
            int cs = pc_type_size(p->count_type);
            if (n - *pos < (size_t)cs) goto truncated;
            double c = pc_load(buf + *pos, p->count_type, be);
            *pos += (size_t)cs;
            if (c < 0 || c > 1e6)
                return cf_set_error(CF_ERR_FORMAT, "%s: %s %lld: list %s has %g items", name, x->name, (long long)idx, p->name, c);
            size_t need = (size_t)c * (size_t)pc_type_size(p->type);
            if (n - *pos < need) goto truncated;
            *pos += need;
        } else {
            int s = pc_type_size(p->type);
            if (n - *pos < (size_t)s) goto truncated;
            if (map && map[k] >= 0) v[map[k]] = pc_load(buf + *pos, p->type, be);
            *pos += (size_t)s;
        }
    }
    return CF_OK;
truncated:
    return cf_set_error(CF_ERR_FORMAT, "%s: %s %lld: truncated record (the file ends at byte %zu)", name, x->name, (long long)idx, n);
}

/* ---- ascii body ---- */

/* the next whitespace-separated token at *pos within the current line; 0 when the line ends */
static int ascii_token(const uint8_t *buf, size_t n, size_t *pos, double *v)
{
    while (*pos < n && (buf[*pos] == ' ' || buf[*pos] == '\t' || buf[*pos] == '\r')) (*pos)++;
    if (*pos >= n || buf[*pos] == '\n') return 0;
    char tok[64];
    size_t k = 0;
    while (*pos < n && !isspace(buf[*pos]) && k < sizeof tok - 1) tok[k++] = (char)buf[(*pos)++];
    tok[k] = 0;
    while (*pos < n && !isspace(buf[*pos])) (*pos)++; /* an over-long token is read as its prefix */
    char *e;
    *v = strtod(tok, &e);
    return *e ? -1 : 1;
}

static cf_status ascii_record(const uint8_t *buf, size_t n, size_t *pos, const ply_elem *x, int64_t idx, const char *name,
                              const int map[PLY_MAX_PROPS], double v[4], int lineno)
{
    /* skip blank lines */
    while (*pos < n && isspace(buf[*pos])) (*pos)++;
    if (*pos >= n)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s %lld: the file ends after %lld of the %lld %s records the header declares", name, x->name, (long long)idx, (long long)idx, (long long)x->count, x->name);
    for (int k = 0; k < x->nprops; k++) {
        const ply_prop *p = &x->props[k];
        double d;
        int r = ascii_token(buf, n, pos, &d);
        if (r <= 0) goto bad;
        if (p->is_list) {
            if (d < 0 || d > 1e6 || d != floor(d)) goto bad;
            double item;
            for (long c = 0; c < (long)d; c++)
                if (ascii_token(buf, n, pos, &item) <= 0) goto bad;
        } else if (map && map[k] >= 0) {
            v[map[k]] = d;
        }
    }
    double extra;
    if (ascii_token(buf, n, pos, &extra) != 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s %lld (line %d): more values than the %d properties the header declares", name, x->name, (long long)idx, lineno, x->nprops);
    return CF_OK;
bad:
    return cf_set_error(CF_ERR_FORMAT, "%s: %s %lld (line %d): too few values or one that is not a number (the header declares %d properties)", name, x->name, (long long)idx, lineno, x->nprops);
}

cf_status cf_ply_parse(const uint8_t *buf, size_t n, const char *name, cf_points *out)
{
    memset(out, 0, sizeof *out);
    ply_elem *el = malloc(PLY_MAX_ELEMENTS * sizeof *el);
    if (!el) return cf_set_error(CF_ERR_OOM, "%s: out of memory", name);
    int nel = 0, format = 0;
    size_t pos;
    cf_status st = parse_header(buf, n, name, el, &nel, &format, &pos);
    if (st != CF_OK) goto done;
    int vi = -1;
    for (int e = 0; e < nel; e++)
        if (!strcmp(el[e].name, "vertex")) {
            vi = e;
            break;
        }
    if (vi < 0) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: no \"element vertex\" in the header", name);
        goto done;
    }
    int map[PLY_MAX_PROPS];
    int found[4] = {0};
    for (int k = 0; k < el[vi].nprops; k++) {
        const ply_prop *p = &el[vi].props[k];
        map[k] = -1;
        if (p->is_list) continue;
        int slot = !strcmp(p->name, "x") ? 0 : !strcmp(p->name, "y") ? 1 : !strcmp(p->name, "z") ? 2 : is_intensity(p->name) ? 3 : -1;
        if (slot >= 0 && !found[slot]) {
            map[k] = slot;
            found[slot] = 1;
        }
    }
    for (int s = 0; s < 3; s++)
        if (!found[s]) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: the vertex element has no scalar property \"%s\"", name, (const char *[]){"x", "y", "z"}[s]);
            goto done;
        }
    int64_t nv = el[vi].count;
    size_t minrec = 0; /* the fewest bytes a binary vertex record takes: refuse a count the file cannot hold */
    for (int k = 0; k < el[vi].nprops; k++)
        minrec += (size_t)pc_type_size(el[vi].props[k].is_list ? el[vi].props[k].count_type : el[vi].props[k].type);
    if (format == 0) minrec = 2 * (size_t)el[vi].nprops; /* ascii: a character and a separator per value */
    if ((n - pos + (format == 0)) / minrec < (size_t)nv) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: vertex %lld: truncated record: the header declares %lld vertices of at least %zu bytes, only %zu body bytes follow", name, (long long)((n - pos + (format == 0)) / minrec), (long long)nv, minrec, n - pos);
        goto done;
    }
    out->xyzi = malloc((size_t)(nv ? nv : 1) * 4 * sizeof(float));
    if (!out->xyzi) {
        st = cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld vertices", name, (long long)nv);
        goto done;
    }
    int lineno = 0;
    if (format == 0) { /* the line of the body's first record */
        lineno = 1;
        for (size_t i = 0; i < pos; i++) lineno += buf[i] == '\n';
    }
    for (int e = 0; e <= vi && st == CF_OK; e++) {
        for (int64_t i = 0; i < el[e].count; i++) {
            double v[4] = {0, 0, 0, 0};
            if (format == 0) {
                while (pos < n && isspace(buf[pos])) lineno += buf[pos++] == '\n';
                st = ascii_record(buf, n, &pos, &el[e], i, name, e == vi ? map : NULL, v, lineno);
            } else {
                st = binary_record(buf, n, &pos, &el[e], i, format == 2, name, e == vi ? map : NULL, v);
            }
            if (st != CF_OK) break;
            if (e != vi) continue;
            for (int k = 0; k < 4; k++) {
                if (!isfinite(v[k]) || fabs(v[k]) > 3.4e38) {
                    st = cf_set_error(CF_ERR_FORMAT, "%s: vertex %lld: %s is %s", name, (long long)i, (const char *[]){"x", "y", "z", "intensity"}[k], isnan(v[k]) ? "NaN" : "not a finite float");
                    break;
                }
                out->xyzi[4 * i + k] = (float)v[k];
            }
            if (st != CF_OK) break;
        }
    }
    if (st == CF_OK) {
        out->n = nv;
        out->has_intensity = found[3];
    }
done:
    free(el);
    if (st != CF_OK) cf_points_free(out);
    return st;
}

cf_status cf_ply_read(const char *path, cf_points *out) { return pc_read_file(path, PLY_MAX_FILE, cf_ply_parse, out); }

static void put_scalar(cf_atomic_file *af, const void *p, int size, int be)
{
    uint8_t b[8];
    for (int i = 0; i < size; i++) b[i] = ((const uint8_t *)p)[be ? size - 1 - i : i];
    cf_atomic_write(af, b, (size_t)size);
}

cf_status cf_ply_write(const char *path, const cf_points *p, cf_ply_format fmt, int with_extra)
{
    static const char *const fname[] = {"ascii", "binary_little_endian", "binary_big_endian"};
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "ply\nformat %s 1.0\ncomment written by cformer\nelement vertex %lld\n", fname[fmt], (long long)p->n);
    if (with_extra) cf_atomic_printf(af, "property double extra\n");
    cf_atomic_printf(af, "property float intensity\nproperty float x\nproperty float y\nproperty float z\n");
    if (with_extra) cf_atomic_printf(af, "element face 1\nproperty list uchar int vertex_indices\n");
    cf_atomic_printf(af, "end_header\n");
    int be = fmt == CF_PLY_BINARY_BE;
    /* host order is little-endian on every platform cformer builds for; put_scalar reverses for BE */
    for (int64_t i = 0; i < p->n; i++) {
        const float *q = p->xyzi + 4 * i;
        double extra = (double)i * 0.5;
        if (fmt == CF_PLY_ASCII) {
            if (with_extra) cf_atomic_printf(af, "%.17g ", extra);
            cf_atomic_printf(af, "%.9g %.9g %.9g %.9g\n", q[3], q[0], q[1], q[2]);
        } else {
            if (with_extra) put_scalar(af, &extra, 8, be);
            put_scalar(af, &q[3], 4, be);
            for (int k = 0; k < 3; k++) put_scalar(af, &q[k], 4, be);
        }
    }
    if (with_extra) {
        if (fmt == CF_PLY_ASCII) {
            cf_atomic_printf(af, "3 0 1 2\n");
        } else {
            uint8_t c = 3;
            cf_atomic_write(af, &c, 1);
            for (int32_t k = 0; k < 3; k++) put_scalar(af, &k, 4, be);
        }
    }
    return cf_atomic_commit(af);
}
