/* Dtype sizes, names and the half-precision conversions used for storage. */
#include "autograd/cf_base.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
    bool is_float;
} dtype_info[CF_DTYPE_COUNT] = {
    [CF_F32] = {"f32", 4, true},  [CF_F64] = {"f64", 8, true}, [CF_BF16] = {"bf16", 2, true},
    [CF_F16] = {"f16", 2, true},  [CF_I32] = {"i32", 4, false}, [CF_I64] = {"i64", 8, false},
    [CF_BOOL] = {"bool", 1, false},
};

size_t cf_dtype_size(cf_dtype dt) { return (unsigned)dt < CF_DTYPE_COUNT ? dtype_info[dt].size : 0; }
const char *cf_dtype_name(cf_dtype dt) { return (unsigned)dt < CF_DTYPE_COUNT ? dtype_info[dt].name : "?"; }
bool cf_dtype_is_float(cf_dtype dt) { return (unsigned)dt < CF_DTYPE_COUNT && dtype_info[dt].is_float; }

cf_dtype cf_dtype_accum(cf_dtype dt) { return dt == CF_BF16 || dt == CF_F16 ? CF_F32 : dt; }

bool cf_dtype_parse(const char *s, cf_dtype *out)
{
    static const struct {
        const char *alias;
        cf_dtype dt;
    } aliases[] = {{"float32", CF_F32}, {"float", CF_F32},    {"float64", CF_F64}, {"double", CF_F64},
                   {"bfloat16", CF_BF16}, {"float16", CF_F16}, {"half", CF_F16},    {"int32", CF_I32},
                   {"int64", CF_I64},   {"long", CF_I64}};
    for (int i = 0; i < CF_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_info[i].name) == 0) return *out = (cf_dtype)i, true;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(s, aliases[i].alias) == 0) return *out = aliases[i].dt, true;
    return false;
}

uint16_t cf_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                           /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float cf_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t cf_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mant = x & 0x007fffffu;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0)); /* inf / NaN */
    exp = exp - 127 + 15;
    if (exp >= 0x1f) return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (exp <= 0) {                                     /* subnormal or zero */
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x00800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++; /* may carry into exponent: correct */
    return (uint16_t)half;
}

float cf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) mant <<= 1, exp--;
            u = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}
