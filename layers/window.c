/* Window partition and reverse (Swin Transformer, sec. 3.2): reshape + permute, see layers/window.h. */
#include "layers/window.h"

cf_status cf_window_check(const char *what, int64_t h, int64_t w, int64_t M)
{
    if (M < 1 || h % M || w % M)
        return cf_set_error(CF_ERR_ARG, "%s: window %lld does not divide the %lld x %lld token map", what, (long long)M,
                            (long long)h, (long long)w);
    return CF_OK;
}

cf_tensor *cf_window_partition(cf_ctx *ctx, cf_tensor *x, int64_t M)
{
    if (!x) return NULL;
    if (x->ndim != 4) {
        cf_set_error(CF_ERR_SHAPE, "window partition: input must be [B, H, W, C], got %d dims", x->ndim);
        return NULL;
    }
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    if (cf_window_check("window partition", H, W, M) != CF_OK) return NULL;
    cf_tensor *t = cf_reshape(ctx, x, 6, (int64_t[]){B, H / M, M, W / M, M, C});
    t = cf_permute(ctx, t, (int[]){0, 1, 3, 2, 4, 5});
    return cf_reshape(ctx, cf_contiguous(ctx, t), CF_SHAPE(B * (H / M) * (W / M), M * M, C));
}

cf_tensor *cf_window_reverse(cf_ctx *ctx, cf_tensor *windows, int64_t B, int64_t H, int64_t W, int64_t M)
{
    if (!windows) return NULL;
    if (cf_window_check("window reverse", H, W, M) != CF_OK) return NULL;
    int64_t C = windows->shape[windows->ndim - 1];
    if (windows->ndim != 3 || windows->shape[0] != B * (H / M) * (W / M) || windows->shape[1] != M * M) {
        cf_set_error(CF_ERR_SHAPE, "window reverse: %d-dim input does not hold %lld windows of %lld x %lld tokens",
                     windows->ndim, (long long)(B * (H / M) * (W / M)), (long long)M, (long long)M);
        return NULL;
    }
    cf_tensor *t = cf_reshape(ctx, windows, 6, (int64_t[]){B, H / M, W / M, M, M, C});
    t = cf_permute(ctx, t, (int[]){0, 1, 3, 2, 4, 5});
    return cf_reshape(ctx, cf_contiguous(ctx, t), CF_SHAPE(B, H, W, C));
}
