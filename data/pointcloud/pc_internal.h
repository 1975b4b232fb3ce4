/* Scalar decoding shared by the PLY and PCD readers: a typed value from packed bytes of either byte order. */
#ifndef CF_PC_INTERNAL_H
#define CF_PC_INTERNAL_H

#include "autograd/fileio.h"
#include "data/pointcloud/pointcloud.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PC_I8, PC_U8, PC_I16, PC_U16, PC_I32, PC_U32, PC_F32, PC_F64, PC_I64, PC_U64 } pc_type;

static inline int pc_type_size(pc_type t)
{
    static const int sz[] = {1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    return sz[t];
}

/* the value at p (big-endian when be) as a double */
static inline double pc_load(const uint8_t *p, pc_type t, int be)
{
    int n = pc_type_size(t);
    uint64_t u = 0;
    for (int i = 0; i < n; i++) u |= (uint64_t)p[be ? n - 1 - i : i] << (8 * i);
    switch (t) {
    case PC_I8: return (double)(int8_t)u;
    case PC_U8: return (double)(uint8_t)u;
    case PC_I16: return (double)(int16_t)u;
    case PC_U16: return (double)(uint16_t)u;
    case PC_I32: return (double)(int32_t)u;
    case PC_U32: return (double)(uint32_t)u;
    case PC_I64: return (double)(int64_t)u;
    case PC_U64: return (double)u;
    case PC_F32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        return f;
    }
    case PC_F64: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    return 0;
}

/* The path twin of a reader of bytes: reads the whole file (at most max bytes) and parses it, naming the path. */
typedef cf_status (*pc_parse_fn)(const uint8_t *buf, size_t n, const char *name, cf_points *out);
static inline cf_status pc_read_file(const char *path, size_t max, pc_parse_fn parse, cf_points *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    char *buf = cf_read_file(path, max, &n);
    if (!buf) return cf_last_status();
    cf_status st = parse((const uint8_t *)buf, n, path, out);
    free(buf);
    return st;
}

#endif
