/* IDX reader and writer (format in idx.h). */
#include "data/images/idx.h"

#include "autograd/fileio.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *type_name(uint8_t t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return NULL;
    }
}

cf_status cf_idx_parse(const uint8_t *buf, size_t n, const char *name, cf_idx *out)
{
    memset(out, 0, sizeof *out);
    if (n < 4) return cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: the file ends inside the 4-byte IDX header", name, n);
    if (buf[0] != 0 || buf[1] != 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: offset 0: magic bytes %02x %02x, an IDX file starts with 00 00", name, buf[0], buf[1]);
    const char *tn = type_name(buf[2]);
    if (!tn) return cf_set_error(CF_ERR_FORMAT, "%s: offset 2: unknown IDX data type 0x%02X", name, buf[2]);
    if (buf[2] != 0x08)
        return cf_set_error(CF_ERR_UNSUPPORTED, "%s: offset 2: data type 0x%02X (%s) is not supported: images and labels must be unsigned bytes (0x08)", name, buf[2], tn);
    int nd = buf[3];
    if (nd < 1 || nd > CF_IDX_MAX_DIMS)
        return cf_set_error(CF_ERR_FORMAT, "%s: offset 3: %d dimensions, expected 1..%d", name, nd, CF_IDX_MAX_DIMS);
    size_t hdr = 4 + 4 * (size_t)nd;
    if (n < hdr) return cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: the file ends inside the %d dimension sizes", name, n, nd);
    int64_t count = 1;
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = buf + 4 + 4 * i;
        int64_t d = ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | p[3];
        if (d < 1) return cf_set_error(CF_ERR_FORMAT, "%s: offset %d: dimension %d has size 0", name, 4 + 4 * i, i);
        if (count > CF_IDX_MAX_BYTES / d)
            return cf_set_error(CF_ERR_FORMAT, "%s: offset %d: dimension sizes multiply past %lld bytes", name, 4 + 4 * i, (long long)CF_IDX_MAX_BYTES);
        count *= d;
        out->dims[i] = d;
    }
    if ((uint64_t)(n - hdr) < (uint64_t)count)
        return memset(out, 0, sizeof *out), cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: the file ends after %zu of the %lld data bytes its sizes promise", name, n, n - hdr, (long long)count);
    if ((uint64_t)(n - hdr) > (uint64_t)count)
        return memset(out, 0, sizeof *out), cf_set_error(CF_ERR_FORMAT, "%s: offset %lld: %lld bytes after the data its sizes promise", name, (long long)(hdr + count), (long long)((int64_t)(n - hdr) - count));
    out->data = malloc((size_t)count ? (size_t)count : 1);
    if (!out->data) return memset(out, 0, sizeof *out), cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld bytes", name, (long long)count);
    memcpy(out->data, buf + hdr, (size_t)count);
    out->ndim = nd, out->count = count;
    return CF_OK;
}

cf_status cf_idx_read(const char *path, cf_idx *out)
{
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    cf_status st = CF_OK;
    while (buf) {
        if (n == cap) {
            if ((int64_t)cap >= CF_IDX_MAX_BYTES + 64) {
                st = cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: larger than the %lld bytes an IDX file may hold", path, n, (long long)CF_IDX_MAX_BYTES);
                break;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb, cap *= 2;
        }
        unsigned want = (unsigned)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
        int got = gzread(f, buf + n, want);
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            st = cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: gzip stream is corrupt (%s)", path, n, msg);
            break;
        }
        if (got == 0) {
            int code;
            const char *msg = gzerror(f, &code);
            if (code != Z_OK && code != Z_STREAM_END)
                st = cf_set_error(CF_ERR_FORMAT, "%s: offset %zu: gzip stream is truncated or corrupt (%s)", path, n, msg);
            break;
        }
        n += (size_t)got;
    }
    gzclose(f);
    if (!buf) return cf_set_error(CF_ERR_OOM, "%s: out of memory reading the file", path);
    if (st == CF_OK) st = cf_idx_parse(buf, n, path, out);
    free(buf);
    return st;
}

static cf_status gzip_bytes(const uint8_t *in, size_t n, uint8_t **out, size_t *outn, const char *path)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return cf_set_error(CF_ERR_INTERNAL, "%s: zlib deflateInit2 failed", path);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    *out = malloc(cap);
    if (!*out) return deflateEnd(&z), cf_set_error(CF_ERR_OOM, "%s: out of memory compressing", path);
    z.next_in = (Bytef *)in, z.avail_in = (uInt)n, z.next_out = *out, z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outn = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return free(*out), *out = NULL, cf_set_error(CF_ERR_INTERNAL, "%s: zlib deflate failed", path);
    return CF_OK;
}

cf_status cf_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data)
{
    if (ndim < 1 || ndim > CF_IDX_MAX_DIMS) return cf_set_error(CF_ERR_ARG, "%s: %d dimensions, expected 1..%d", path, ndim, CF_IDX_MAX_DIMS);
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > 0x7fffffff) return cf_set_error(CF_ERR_ARG, "%s: dimension %d is %lld", path, i, (long long)dims[i]);
        count *= dims[i];
        if (count > CF_IDX_MAX_BYTES) return cf_set_error(CF_ERR_ARG, "%s: too large for an IDX file", path);
    }
    size_t hdr = 4 + 4 * (size_t)ndim, n = hdr + (size_t)count;
    uint8_t *buf = malloc(n);
    if (!buf) return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    buf[0] = buf[1] = 0, buf[2] = 0x08, buf[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++) buf[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    memcpy(buf + hdr, data, (size_t)count);
    size_t len = strlen(path);
    cf_status st;
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
        uint8_t *gz = NULL;
        size_t gzn = 0;
        st = gzip_bytes(buf, n, &gz, &gzn, path);
        if (st == CF_OK) st = cf_write_file_atomic(path, gz, gzn);
        free(gz);
    } else {
        st = cf_write_file_atomic(path, buf, n);
    }
    free(buf);
    return st;
}

void cf_idx_free(cf_idx *x)
{
    free(x->data);
    memset(x, 0, sizeof *x);
}
