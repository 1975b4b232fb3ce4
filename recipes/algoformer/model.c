/* `model.type: algoformer`: the network of layers/algoformer.h on icl_regression batches ("z" tokens, "y"
 * targets, "n" examples per row). The loss is the squared error of the predictions at the x tokens, averaged
 * over every valid position (Garg et al., NeurIPS 2022, Section 3) and, with model.window_loss: mean, over the
 * outputs of the last model.window loops (Yang et al., ICLR 2024, Section 4). */
#include "recipes/algoformer/internal.h"

#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

cf_status cf_algof_inputs(cf_ctx *ctx, const cf_algoformer *m, const cf_batch *b, cf_tensor **z, cf_tensor **y,
                          cf_tensor **mask)
{
    cf_tensor *zt = cf_batch_get(b, "z"), *yt = cf_batch_get(b, "y"), *nt = cf_batch_get(b, "n");
    if (!zt || !yt || !nt) return cf_last_status();
    int64_t B = zt->shape[0], P = yt->shape[1];
    if (zt->ndim != 3 || zt->shape[1] != 2 * P - 1 || zt->shape[2] != m->cfg.input_dim || yt->shape[0] != B)
        return cf_set_error(CF_ERR_SHAPE, "algoformer: batch z must be [rows, 2 n + 1, %lld] beside y [rows, n + 1]",
                            (long long)m->cfg.input_dim);
    int64_t n = 0;
    for (int64_t i = 0; i < B; i++) {
        int64_t ni = (int64_t)cf_get_flat(nt, i);
        if (ni < 0 || ni > P - 1)
            return cf_set_error(CF_ERR_ARG, "algoformer: row %lld has %lld examples, outside [0, %lld]", (long long)i,
                                (long long)ni, (long long)(P - 1));
        if (ni > n) n = ni;
    }
    cf_dtype dt = m->read_in.weight->dtype;
    *mask = cf_zeros(ctx, dt, CF_SHAPE(B, n + 1));
    if (!*mask) return cf_last_status();
    for (int64_t i = 0; i < B; i++)
        for (int64_t p = 0; p <= (int64_t)cf_get_flat(nt, i); p++) cf_set_flat(*mask, i * (n + 1) + p, 1);
    *z = cf_cast(ctx, cf_narrow(ctx, zt, 1, 0, 2 * n + 1), dt);
    *y = cf_cast(ctx, cf_narrow(ctx, yt, 1, 0, n + 1), dt);
    return *z && *y ? CF_OK : cf_last_status();
}

cf_tensor *cf_algof_at_queries(cf_ctx *ctx, cf_tensor *y_tok)
{
    return y_tok ? cf_slice(ctx, y_tok, 1, 0, y_tok->shape[1], 2) : NULL;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_algof_model *mm = (cf_algof_model *)mb;
    cf_tensor *z, *y, *mask, *ys[64] /* model.window <= 64 */;
    if (cf_algof_inputs(ctx, &mm->net, b, &z, &y, &mask) != CF_OK) return NULL;
    int keep = mm->mean_window ? (int)mm->net.cfg.window : 1;
    int k = cf_algoformer_forward(ctx, &mm->net, z, keep, ys);
    if (k < 1) return NULL;
    double valid = 0;
    for (int64_t i = 0; i < cf_numel(mask); i++) valid += cf_get_flat(mask, i);
    cf_tensor *total = NULL;
    for (int i = 0; i < k; i++) {
        cf_tensor *d = cf_sub(ctx, cf_algof_at_queries(ctx, ys[i]), y);
        cf_tensor *sq = cf_sum(ctx, cf_mul(ctx, cf_mul(ctx, d, d), mask), CF_ALL_DIMS, false);
        total = total ? cf_add(ctx, total, sq) : sq;
    }
    if (out && total) {
        cf_metrics_set(out, "n", (double)(y->shape[1] - 1));
        cf_metrics_set(out, "iterates", k);
    }
    return cf_mul_scalar(ctx, total, 1.0 / (valid * (double)k));
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *y = cf_batch_get(b, "y");
    return y ? y->shape[0] : 0;
}

static void free_model(cf_model *mb)
{
    if (!mb) return;
    cf_algoformer_free(&((cf_algof_model *)mb)->net);
    free(mb);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_algof_model *mm = calloc(1, sizeof *mm);
    if (!mm) {
        cf_set_error(CF_ERR_OOM, "algoformer: out of memory");
        return NULL;
    }
    mm->base.vt = &cf_algoformer_model;
    cf_algoformer_config c = cf_algoformer_defaults();
    c.input_dim = cf_recipe_int_in(r, "model.input_dim", info->units > 0 ? info->units : c.input_dim, 1, CF_MAX_DIM);
    c.positions = cf_recipe_int_in(r, "model.positions", info->seq > 0 ? info->seq : c.positions, 1, CF_MAX_SEQ);
    c.dim = cf_recipe_int_in(r, "model.dim", c.dim, 1, CF_MAX_DIM);
    c.heads = cf_recipe_int_in(r, "model.heads", c.heads, 1, CF_MAX_DIM);
    c.hidden = cf_recipe_int_in(r, "model.hidden", 4 * c.dim, 1, CF_MAX_HIDDEN);
    c.pre = cf_recipe_int_in(r, "model.pre", c.pre, 0, CF_MAX_LAYERS);
    c.loop = cf_recipe_int_in(r, "model.loop", c.loop, 0, CF_MAX_LAYERS);
    c.post = cf_recipe_int_in(r, "model.post", c.post, 0, CF_MAX_LAYERS);
    c.loops = cf_recipe_int_in(r, "model.loops", c.loop > 0 ? c.loops : 0, 0, 64);
    c.window = cf_recipe_int_in(r, "model.window", c.loops, c.loops > 0 ? 1 : 0, 64);
    c.inject = cf_recipe_bool(r, "model.inject", c.inject);
    c.init_std = cf_recipe_float_in(r, "model.init_std", c.init_std, 0, 10, CF_RANGE_OPEN_LO);
    const char *wl = cf_recipe_str(r, "model.window_loss", "mean");
    mm->mean_window = wl && strcmp(wl, "mean") == 0;
    if (wl && !mm->mean_window && strcmp(wl, "last") != 0)
        cf_recipe_fail(r, "model.window_loss", CF_ERR_ARG, "unknown value '%s' (choose from mean, last)", wl);
    mm->n_eval_loops = cf_recipe_int_list_in(r, "eval.loops", mm->eval_loops, CF_ALGOF_EVAL_LOOPS, NULL, 0, 1, 64);
    cf_status st = cf_recipe_status(r);
    if (st == CF_OK && info->units > 0 && info->units != c.input_dim)
        st = cf_recipe_fail(r, "model.input_dim", CF_ERR_ARG, "%lld, but the data's tokens have width %lld",
                            (long long)c.input_dim, (long long)info->units);
    if (st == CF_OK && info->seq > c.positions)
        st = cf_recipe_fail(r, "model.positions", CF_ERR_ARG, "%lld, but the data's prompts have %lld tokens (2 n + 1)",
                            (long long)c.positions, (long long)info->seq);
    if (st == CF_OK && c.loops > c.window && c.window > 0 && !c.inject)
        st = cf_recipe_fail(r, "model.window", CF_ERR_ARG, "%lld < model.loops %lld needs model.inject: true (without "
                            "injection the truncated loops cut ReadIn and the pre-transformer off the tape)",
                            (long long)c.window, (long long)c.loops);
    if (st == CF_OK && c.dim % c.heads)
        st = cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.dim %lld", (long long)c.heads,
                            (long long)c.dim);
    if (st == CF_OK && c.loops > 0 && c.window > c.loops)
        st = cf_recipe_fail(r, "model.window", CF_ERR_ARG, "%lld is more than model.loops %lld", (long long)c.window,
                            (long long)c.loops);
    if (st != CF_OK || cf_algoformer_init(&mm->net, ps, &c) != CF_OK) {
        free_model(&mm->base);
        return NULL;
    }
    return &mm->base;
}

const cf_model_vtable cf_algoformer_model = {
    .name = "algoformer",
    .summary = "AlgoFormer / standard / vanilla looped transformer for in-context regression (icl_regression prompts)",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_algoformer_evaluate,
    .free = free_model,
    .write_eval = cf_algoformer_write_eval,
    .eval_split = "test",
};
