/* 2-D relative-position bias (Swin Transformer, sec. 3.2, eq. 4): see layers/relpos2d.h. */
#include "layers/relpos2d.h"

int64_t cf_relpos2d_index(int64_t h, int64_t w, int64_t i, int64_t j)
{
    int64_t ri = i / w, ci = i % w, rj = j / w, cj = j % w;
    return (ri - rj + h - 1) * (2 * w - 1) + (ci - cj + w - 1);
}

cf_status cf_relpos2d_init(cf_relpos2d *rb, cf_params *ps, const char *name, int64_t h, int64_t w, int64_t heads)
{
    rb->table = rb->index = NULL;
    if (h < 1 || w < 1 || heads < 1 || h * w > 65536)
        return cf_set_error(CF_ERR_ARG, "%s: a relative-position bias needs a grid of 1..65536 tokens and heads >= 1, "
                            "got %lld x %lld, %lld heads", name, (long long)h, (long long)w, (long long)heads);
    rb->h = h, rb->w = w, rb->heads = heads;
    cf_params_push(ps, "%s", name);
    rb->table = cf_params_add(ps, "table", CF_SHAPE((2 * h - 1) * (2 * w - 1), heads), false);
    cf_params_pop(ps);
    if (!rb->table) return cf_last_status();
    int64_t N = h * w;
    rb->index = cf_tensor_alloc(CF_I64, CF_SHAPE(N, N));
    if (!rb->index) return cf_last_status();
    int64_t *p = cf_data(rb->index);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) p[i * N + j] = cf_relpos2d_index(h, w, i, j);
    return cf_init_normal(ps, rb->table, 0, 0.02);
}

cf_tensor *cf_relpos2d_fwd(cf_ctx *ctx, const cf_relpos2d *rb, int64_t tokens)
{
    if (tokens != rb->h * rb->w) {
        cf_set_error(CF_ERR_SHAPE, "relative-position bias built for a %lld x %lld grid (%lld tokens) got %lld tokens",
                     (long long)rb->h, (long long)rb->w, (long long)(rb->h * rb->w), (long long)tokens);
        return NULL;
    }
    cf_tensor *b = cf_embedding(ctx, rb->table, rb->index); /* [N, N, heads] */
    b = cf_permute(ctx, b, (int[]){2, 0, 1});
    return cf_unsqueeze(ctx, b, 0);
}

void cf_relpos2d_free(cf_relpos2d *rb)
{
    cf_tensor_free(rb->index);
    rb->index = NULL;
}
