/* Frontends of the memory-layer ops: shape, dtype and argument checks, node recording. Row values are
 * range-checked by the lookup kernel, which reads them anyway. */
#include "autograd/ops/memlayer.h"

#include "autograd/cf_node.h"
#include "autograd/ops/memlayer_attr.h"
#include "autograd/ops/shape.h"

#include <math.h>
#include <string.h>

const char *cf_memweight_name(cf_memweight kind)
{
    return kind == CF_MEMWEIGHT_CODE ? "code" : kind == CF_MEMWEIGHT_PAPER ? "paper" : "?";
}

bool cf_memweight_parse(const char *s, cf_memweight *out)
{
    for (int i = 0; s && i < CF_MEMWEIGHT_COUNT; i++)
        if (strcmp(s, cf_memweight_name((cf_memweight)i)) == 0) return *out = (cf_memweight)i, true;
    return false;
}

static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t) { return cf_is_contiguous(t) ? t : cf_contiguous(ctx, t); }

cf_tensor *cf_memlayer_hash(cf_ctx *ctx, cf_tensor *z, int64_t tau, cf_memweight weight, double temperature,
                            cf_tensor **rows_out)
{
    if (rows_out) *rows_out = NULL;
    CF_GUARD(z);
    char b[128];
    if (!rows_out) {
        cf_set_error(CF_ERR_ARG, "memlayer_hash: rows_out is NULL (the rows are the hash's second output)");
        return NULL;
    }
    CF_TRY_NULL(cf_check_float("memlayer_hash", z));
    CF_TRY_NULL(cf_check_ndim("memlayer_hash", z, 1, CF_MAX_DIMS));
    if (tau < 1 || tau > CF_MEMLAYER_MAX_TAU) {
        cf_set_error(CF_ERR_ARG, "memlayer_hash: tau = %lld is out of range [1, %d]", (long long)tau,
                     CF_MEMLAYER_MAX_TAU);
        return NULL;
    }
    int64_t last = z->shape[z->ndim - 1];
    if (last % tau) {
        cf_set_error(CF_ERR_SHAPE, "memlayer_hash: the last dim of %s is not a multiple of tau = %lld",
                     cf_shape_str(z, b, sizeof b), (long long)tau);
        return NULL;
    }
    if ((unsigned)weight >= CF_MEMWEIGHT_COUNT) {
        cf_set_error(CF_ERR_ARG, "memlayer_hash: unknown weight kind %d", (int)weight);
        return NULL;
    }
    if (!(temperature > 0 && isfinite(temperature))) {
        cf_set_error(CF_ERR_ARG, "memlayer_hash: the temperature must be finite and > 0, got %g", temperature);
        return NULL;
    }
    z = contiguous(ctx, z);
    if (!z) return NULL;
    int64_t shape[CF_MAX_DIMS];
    memcpy(shape, z->shape, sizeof(int64_t) * (size_t)z->ndim);
    shape[z->ndim - 1] = last / tau;
    cf_tensor *w = cf_empty(ctx, z->dtype, z->ndim, shape);
    cf_tensor *rows = cf_empty(ctx, CF_I64, z->ndim, shape);
    if (!w || !rows) return NULL;
    cf_node *n = cf_node_new(ctx, CF_OP_memlayer_hash, 1, &z, w);
    if (!n) return NULL;
    *CF_ATTR(n, struct memlayer_hash_attr) =
        (struct memlayer_hash_attr){.tau = tau, .weight = (int)weight, .temperature = temperature};
    n->aux[MEMLAYER_AUX_ROWS] = rows;
    n->saves = 1u; /* the weight's derivative is a function of z */
    cf_tensor *out = cf_node_finish(ctx, n);
    if (out) *rows_out = rows;
    return out;
}

cf_tensor *cf_memlayer_lookup(cf_ctx *ctx, cf_tensor *table, cf_tensor *rows, cf_tensor *w)
{
    CF_GUARD(table, rows, w);
    char a[128], b[128];
    CF_TRY_NULL(cf_check_float("memlayer_lookup", table));
    CF_TRY_NULL(cf_check_same_dtype("memlayer_lookup", table, w));
    CF_TRY_NULL(cf_check_dtype("memlayer_lookup", rows, CF_I64));
    if (table->ndim != 2) {
        cf_set_error(CF_ERR_SHAPE, "memlayer_lookup: the table must be [R, D], got %s", cf_shape_str(table, a, sizeof a));
        return NULL;
    }
    if (!cf_same_shape(rows, w) || rows->ndim < 1 || rows->ndim >= CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "memlayer_lookup: rows %s and weights %s must have one shape [..., K] of 1 to %d dims",
                     cf_shape_str(rows, a, sizeof a), cf_shape_str(w, b, sizeof b), CF_MAX_DIMS - 1);
        return NULL;
    }
    if (!cf_is_contiguous(rows)) {
        cf_set_error(CF_ERR_ARG, "memlayer_lookup: rows %s must be contiguous", cf_shape_str(rows, a, sizeof a));
        return NULL;
    }
    table = contiguous(ctx, table);
    w = table ? contiguous(ctx, w) : NULL;
    if (!w) return NULL;
    int64_t shape[CF_MAX_DIMS];
    memcpy(shape, w->shape, sizeof(int64_t) * (size_t)w->ndim);
    shape[w->ndim - 1] = table->shape[1];
    cf_tensor *out = cf_empty(ctx, table->dtype, w->ndim, shape);
    cf_node *n = cf_node_new(ctx, CF_OP_memlayer_lookup, 3, (cf_tensor *[]){table, rows, w}, out);
    if (!n) return NULL;
    n->saves = 7u; /* dw reads the table, dtable reads rows and w */
    return cf_node_finish(ctx, n);
}
