/* Scalar decoding shared by the PLY and PCD readers: a typed value from packed bytes of either byte order. */
#ifndef CF_PC_INTERNAL_H
#define CF_PC_INTERNAL_H

#include <stdint.h>
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

#endif
