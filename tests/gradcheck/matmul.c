/* Gradient checks of matmul and linear, including transposed views and broadcast batches. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

static cf_tensor *fn_matmul(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_matmul(c, x[0], x[1]);
}
static cf_tensor *fn_matmul_t(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_matmul(c, cf_transpose(c, x[0], -1, -2), cf_transpose(c, x[1], -1, -2));
}

/* used twice: the second backward adds into gradients the first one wrote (broadcast operands included) */
static cf_tensor *fn_matmul_twice(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_add(c, cf_matmul(c, x[0], x[1]), cf_matmul(c, x[0], x[1]));
}

CF_GRADCHECK(matmul)
{
    cf_gc_check(g, "2-D", fn_matmul, NULL, 2, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(4, 5))});
    cf_gc_check(g, "batched, folded", fn_matmul, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(4, 5))});
    cf_gc_check(g, "broadcast batch", fn_matmul, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 1, 3, 4)), cf_gc_randn(g, CF_SHAPE(3, 4, 2))});
    cf_gc_check(g, "broadcast batch, used twice", fn_matmul_twice, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 1, 2, 3)), cf_gc_randn(g, CF_SHAPE(3, 3, 2))});
    cf_gc_check(g, "transposed views", fn_matmul_t, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 4, 3)), cf_gc_randn(g, CF_SHAPE(2, 5, 4))});
    cf_gc_check(g, "vector @ matrix", fn_matmul, NULL, 2, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4)), cf_gc_randn(g, CF_SHAPE(4, 3))});
    cf_gc_check(g, "vector @ vector", fn_matmul, NULL, 2, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5)), cf_gc_randn(g, CF_SHAPE(5))});
    return cf_gc_check(g, "matrix @ vector", fn_matmul, NULL, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(4))});
}

static cf_tensor *fn_linear(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_linear(c, x[0], x[1], u ? x[2] : NULL);
}
static cf_tensor *fn_linear_tw(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u; /* weight given as the transpose of an [in, out] tensor, as in tied embeddings */
    return cf_linear(c, x[0], cf_transpose(c, x[1], 0, 1), NULL);
}

CF_GRADCHECK(linear)
{
    int bias = 1;
    cf_gc_check(g, "with bias", fn_linear, &bias, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(5, 4)), cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "no bias", fn_linear, NULL, 2, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(2, 4))});
    return cf_gc_check(g, "transposed weight", fn_linear_tw, NULL, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(4, 6))});
}

static cf_tensor *fn_linear_gelu(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_linear_gelu(c, x[0], x[1], u ? x[2] : NULL);
}
static cf_tensor *fn_linear_gelu_tw(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u; /* a transposed weight and a strided bias (every other element) */
    return cf_linear_gelu(c, x[0], cf_transpose(c, x[1], 0, 1), cf_slice(c, x[2], 0, 0, 6, 2));
}

CF_GRADCHECK(linear_gelu)
{
    int bias = 1;
    cf_gc_check(g, "with bias", fn_linear_gelu, &bias, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(5, 4)), cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "no bias", fn_linear_gelu, NULL, 2, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(2, 4))});
    return cf_gc_check(g, "transposed weight, strided bias", fn_linear_gelu_tw, NULL, 3,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_randn(g, CF_SHAPE(6))});
}
