/* `model.type: autoformer`: Autoformer or the same-size vanilla Transformer forecaster (layers/autoformer.h) as
 * the trainer sees it. Batches are the forecasting windows of data/series/csv_dataset.h; the loss is the MSE of
 * the O forecast steps on the z-scored scale (Wu et al., NeurIPS 2021, Sec. 4 "Implementation details"). */
#include "recipes/autoformer/model.h"

#include "data/series/csv.h"
#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

static cf_tensor *field(cf_ctx *ctx, const cf_batch *b, const char *name, cf_dtype dt)
{
    cf_tensor *t = cf_batch_get(b, name);
    return t && t->dtype != dt ? cf_cast(ctx, t, dt) : t;
}

cf_tensor *cf_autoformer_forecast(cf_ctx *ctx, cf_autoformer_model_t *m, const cf_batch *b)
{
    cf_dtype dt = m->vanilla ? m->tf.proj.weight->dtype : m->net.proj.weight->dtype;
    cf_tensor *x = field(ctx, b, "x", dt), *xm = field(ctx, b, "x_mark", dt), *dm = field(ctx, b, "dec_mark", dt),
              *y = cf_batch_get(b, "y");
    if (!x || !xm || !dm || !y) return NULL;
    if (y->ndim != 3 || y->shape[2] != m->cout) {
        cf_set_error(CF_ERR_SHAPE, "autoformer: batch y must be [rows, O, %lld]", (long long)m->cout);
        return NULL;
    }
    int64_t O = y->shape[1];
    cf_tensor *out = m->vanilla ? cf_vanilla_forecaster_fwd(ctx, &m->tf, x, xm, dm, O)
                                : cf_autoformer_fwd(ctx, &m->net, x, xm, dm, O);
    return out ? cf_slice(ctx, out, 2, out->shape[2] - m->cout, out->shape[2], 1) : NULL;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_autoformer_model_t *m = (cf_autoformer_model_t *)mb;
    cf_tensor *pred = cf_autoformer_forecast(ctx, m, b);
    if (!pred) return NULL;
    cf_tensor *y = field(ctx, b, "y", pred->dtype);
    cf_tensor *mse = cf_mse_loss(ctx, pred, y, CF_REDUCTION_MEAN);
    if (out && mse) cf_metrics_set(out, "mae", cf_get_flat(cf_l1_loss(ctx, pred, y, CF_REDUCTION_MEAN), 0));
    return mse;
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
    cf_autoformer_model_t *m = (cf_autoformer_model_t *)mb;
    cf_autoformer_free(&m->net);
    cf_vanilla_forecaster_free(&m->tf);
    free(m->plot_index);
    free(m->plot_values);
    free(m);
}

/* reads eval.season, eval.horizons (checked against the window sizes of info), eval.bench_lengths and the
 * forecast plot's eval.plot_windows / eval.plot_variable (m->cout is set) */
static void eval_keys(cf_recipe *r, cf_autoformer_model_t *m, const cf_data_info *info)
{
    m->season = cf_recipe_int_in(r, "eval.season", 24, 1, CF_MAX_SEQ);
    m->plot_windows = (int)cf_recipe_int_in(r, "eval.plot_windows", 0, 0, 16);
    m->plot_variable = (int)cf_recipe_int_in(r, "eval.plot_variable", m->cout - 1, 0, m->cout - 1);
    int64_t O = info->frames > 0 ? info->frames : 96, dflt[4] = {O / 4, O / 2, O};
    int nd = O >= 4 ? 3 : 1;
    if (nd == 1) dflt[0] = O;
    m->nhorizons = cf_recipe_int_list_in(r, "eval.horizons", m->horizons, 5, dflt, nd, 1, CF_MAX_SEQ);
    if (m->nhorizons < 0) m->nhorizons = 0;
    m->nbench = cf_recipe_int_list_in(r, "eval.bench_lengths", m->bench_lengths, 5, NULL, 0, 2, 1 << 16);
    if (m->nbench < 0) m->nbench = 0;
    /* the report: windows, 6 metrics for all steps and per horizon, 7 delay metrics, 2 per length, the step */
    int fit = (CF_METRICS_MAX - 1 - 1 - 6 * (1 + m->nhorizons) - 7) / 2;
    if (m->nbench > fit)
        cf_recipe_fail(r, "eval.bench_lengths", CF_ERR_ARG, "%d lengths, but with %d eval.horizons at most %d fit "
                       "in the report", m->nbench, m->nhorizons, fit < 0 ? 0 : fit);
    for (int i = 0; i < m->nhorizons; i++)
        if (info->frames > 0 && m->horizons[i] > info->frames) {
            cf_recipe_fail(r, "eval.horizons", CF_ERR_ARG, "%lld is beyond data.pred_len %lld",
                           (long long)m->horizons[i], (long long)info->frames);
            break;
        }
    if (info->seq > 0 && m->season > info->seq)
        cf_recipe_fail(r, "eval.season", CF_ERR_ARG, "%lld is longer than the input window data.seq_len %lld "
                       "(seasonal-naive repeats the last season of the input)", (long long)m->season,
                       (long long)info->seq);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_autoformer_model_t *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "autoformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_autoformer_model;
    const char *arch = cf_recipe_str(r, "model.arch", "autoformer");
    m->vanilla = arch && strcmp(arch, "transformer") == 0;
    if (arch && !m->vanilla && strcmp(arch, "autoformer") != 0)
        cf_recipe_fail(r, "model.arch", CF_ERR_ARG, "unknown value '%s' (choose from autoformer, transformer)", arch);
    const char *freq = cf_recipe_str(r, "data.freq", "h");
    cf_forecast_config c = {
        .cin = cf_recipe_int_in(r, "model.variables", info->units > 0 ? info->units : 7, 1, CF_MAX_DIM),
        .time_features = cf_time_features(freq),
        .dim = cf_recipe_int_in(r, "model.dim", 512, 1, CF_MAX_DIM),
        .heads = cf_recipe_int_in(r, "model.heads", 8, 1, CF_MAX_DIM),
        .ff = cf_recipe_int_in(r, "model.ff", 2048, 1, CF_MAX_HIDDEN),
        .enc_layers = cf_recipe_int_in(r, "model.enc_layers", 2, 1, CF_MAX_LAYERS),
        .dec_layers = cf_recipe_int_in(r, "model.dec_layers", 1, 1, CF_MAX_LAYERS),
        .moving_avg = cf_recipe_int_in(r, "model.moving_avg", 25, 1, CF_MAX_SEQ),
        .factor = cf_recipe_float_in(r, "model.factor", 1.0, 0, 1e6, CF_RANGE_OPEN_LO),
        .dropout = cf_recipe_float_in(r, "model.dropout", 0.05, 0, 1, CF_RANGE_OPEN_HI),
    };
    m->cout = info->channels > 0 ? info->channels : c.cin;
    eval_keys(r, m, info);
    cf_status st = cf_recipe_status(r);
    if (st == CF_OK && c.time_features < 0)
        st = cf_recipe_fail(r, "data.freq", CF_ERR_ARG, "unknown value '%s' (choose from t, h, d)", freq);
    if (st == CF_OK && info->units > 0 && info->units != c.cin)
        st = cf_recipe_fail(r, "model.variables", CF_ERR_ARG, "%lld, but the data has %lld input variables",
                            (long long)c.cin, (long long)info->units);
    if (st == CF_OK && c.dim % c.heads != 0)
        st = cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.dim %lld", (long long)c.heads,
                            (long long)c.dim);
    if (st == CF_OK && !m->vanilla && c.moving_avg % 2 == 0)
        st = cf_recipe_fail(r, "model.moving_avg", CF_ERR_ARG, "%lld must be odd (an even kernel shortens the series)",
                            (long long)c.moving_avg);
    if (st == CF_OK && m->cout > c.cin)
        st = cf_set_error(CF_ERR_ARG, "autoformer: %lld forecast variables but %lld inputs", (long long)m->cout,
                          (long long)c.cin);
    if (st == CF_OK)
        st = m->vanilla ? cf_vanilla_forecaster_init(&m->tf, ps, "", &c) : cf_autoformer_init(&m->net, ps, "", &c);
    if (st != CF_OK) {
        free_model(&m->base);
        return NULL;
    }
    return &m->base;
}

const cf_model_vtable cf_autoformer_model = {
    .name = "autoformer",
    .summary = "Autoformer / vanilla Transformer forecaster (series windows [I, C] -> [O, C], MSE)",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_autoformer_evaluate,
    .write_eval = cf_autoformer_write_eval,
    .free = free_model,
    .eval_split = "test",
};
