/* Autoformer (Wu et al., "Autoformer: Decomposition Transformers with Auto-Correlation for Long-Term Series
 * Forecasting", NeurIPS 2021) and the vanilla Transformer forecaster it is compared with, built from autograd
 * ops only (rfft/irfft, avg_pool1d, topk, roll, gather, conv1d, linear, layer_norm): no op of its own.
 *
 * Shapes: B batch, I = seq_len input steps, Ol = label_len, O = pred_len, Ld = Ol + O decoder steps,
 * C input variables, F time features, D = dim, H heads, E = D / H.
 *
 * Series decomposition (Sec. 3.1, Eq. 1): trend = AvgPool(Padding(x)) with the series' first and last values
 * repeated (k - 1) / 2 times at each end (k odd, so the trend keeps the length), seasonal = x - trend.
 *
 * Auto-Correlation (Sec. 3.2, Eq. 5-6): per head and channel
 *     R[tau] = sum_t Q[(t + tau) mod L] K[t]  = irfft(rfft(Q) * conj(rfft(K)), L)   (Wiener-Khinchin, Eq. 5)
 * then k = floor(factor * ln L) delays tau_1..tau_k with the largest mean (over heads and channels) R, weights
 * softmax_i(R(tau_i)), and Out[t] = sum_i p_i V[(t + tau_i) mod L] (time-delay aggregation, Eq. 6). As in the
 * official code the delays are shared by the whole batch (top-k of the batch mean) in training mode and chosen
 * per sample in inference mode (cf_is_training); with one sample the two agree. The delays are constants
 * (no gradient); the gradient reaches Q and K through the softmax weights. Keys and values longer than the
 * queries are cut to L, shorter ones zero-padded to L (the decoder's cross-correlation).
 *
 * Autoformer (Sec. 3.1, Eq. 3-4): the encoder (AC, decomposition, FFN, decomposition; my_Layernorm at the end:
 * LayerNorm then minus its time mean) removes the trend; the decoder's seasonal input is the last Ol seasonal
 * input steps then O zeros, its trend input the last Ol trend steps then O copies of the input mean, and each
 * decoder layer adds a Conv1d(D -> C, k 3, circular) projection of its three extracted trends to the trend.
 * Output = trend + Linear(D -> C)(seasonal), the last O steps.
 *
 * The vanilla Transformer (the paper's baseline, Sec. 4): the same embeddings plus sinusoidal positions,
 * post-LN encoder blocks, decoder blocks with causal self-attention and cross-attention, Linear(D -> C); the
 * decoder input is the last Ol input values then O zeros.
 *
 *     cf_forecast_config c = {.cin = 7, .time_features = 4, .dim = 32, .heads = 4, .ff = 64, .enc_layers = 2,
 *                             .dec_layers = 1, .moving_avg = 25, .factor = 1, .dropout = 0.05};
 *     cf_autoformer m;  cf_autoformer_init(&m, ps, "", &c);
 *     cf_tensor *y = cf_autoformer_fwd(ctx, &m, x, x_mark, dec_mark);   // [B, O, C], O = Ld - Ol
 */
#ifndef CF_LAYERS_AUTOFORMER_H
#define CF_LAYERS_AUTOFORMER_H

#include "layers/nn.h"

/* ---- series decomposition ---- */
/* x [B, L, C] -> the trend [B, L, C] (moving average of odd kernel k with edge replication). */
cf_tensor *cf_moving_avg(cf_ctx *ctx, cf_tensor *x, int64_t k);
/* seasonal = x - trend; *trend (may be NULL) receives the trend. */
cf_tensor *cf_series_decomp(cf_ctx *ctx, cf_tensor *x, int64_t k, cf_tensor **trend);

/* ---- Auto-Correlation ---- */
/* q, k [..., L] -> R [..., L], R[tau] = sum_t q[(t + tau) mod L] k[t]. */
cf_tensor *cf_autocorr(cf_ctx *ctx, cf_tensor *q, cf_tensor *k);
/* v, corr [B, H, E, L]; ntop delays (1 <= ntop <= L); per_sample: per-sample delays, else the batch's shared
 * ones. delays (may be NULL) receives the chosen delays, [B, ntop] row-major (the same row repeated B times
 * when shared). Returns [B, H, E, L]. */
cf_tensor *cf_time_delay_agg(cf_ctx *ctx, cf_tensor *v, cf_tensor *corr, int64_t ntop, bool per_sample,
                             int64_t *delays);

/* A histogram of the delays chosen by one Auto-Correlation layer (counts[tau] for tau < len), or NULL. */
typedef struct cf_delay_hist {
    int64_t *counts, len;
} cf_delay_hist;

typedef struct cf_autocorr_layer {
    cf_linear_layer q, k, v, o;
    int64_t dim, heads;
    double factor;
    cf_delay_hist *hist; /* optional: filled on every forward */
} cf_autocorr_layer;

cf_status cf_autocorr_init(cf_autocorr_layer *a, cf_params *ps, const char *name, int64_t dim, int64_t heads,
                           double factor);
/* x [B, L, D], mem [B, S, D] (x itself for self-correlation) -> [B, L, D]. */
cf_tensor *cf_autocorr_fwd(cf_ctx *ctx, const cf_autocorr_layer *a, cf_tensor *x, cf_tensor *mem);

/* ---- the forecasters ---- */
typedef struct cf_forecast_config {
    int64_t cin;            /* variables in and out (C) */
    int64_t time_features;  /* F */
    int64_t dim, heads, ff; /* D, H, the FFN width */
    int64_t enc_layers, dec_layers;
    int64_t moving_avg;     /* odd kernel of the decomposition (Autoformer) */
    double factor;          /* k = floor(factor ln L) delays (Autoformer) */
    double dropout;
} cf_forecast_config;

/* Token embedding Conv1d(C -> D, k 3, circular, no bias) plus the time features' Linear(F -> D, no bias). */
typedef struct cf_series_embed {
    cf_tensor *conv;        /* [D, C, 3] */
    cf_linear_layer time;
} cf_series_embed;
cf_status cf_series_embed_init(cf_series_embed *e, cf_params *ps, const char *name, int64_t cin, int64_t F, int64_t D);
/* x [B, L, C], mark [B, L, F] -> [B, L, D]. */
cf_tensor *cf_series_embed_fwd(cf_ctx *ctx, const cf_series_embed *e, cf_tensor *x, cf_tensor *mark);
/* Conv1d with circular padding (k 3) along time: x [B, L, Cin], w [Cout, Cin, 3] -> [B, L, Cout]. */
cf_tensor *cf_circular_conv3(cf_ctx *ctx, cf_tensor *x, cf_tensor *w);

typedef struct cf_autoformer_layer {
    cf_autocorr_layer self, cross; /* cross: decoder layers only */
    cf_linear_layer ff1, ff2;      /* no bias */
    cf_tensor *trend_proj;         /* decoder: [C, D, 3] */
} cf_autoformer_layer;

typedef struct cf_autoformer {
    cf_forecast_config cfg;
    cf_series_embed enc_embed, dec_embed;
    cf_autoformer_layer *enc, *dec;
    cf_norm_layer enc_norm, dec_norm;
    cf_linear_layer proj; /* D -> C, bias */
    uint64_t stream;
} cf_autoformer;

cf_status cf_autoformer_init(cf_autoformer *m, cf_params *ps, const char *name, const cf_forecast_config *c);
void cf_autoformer_free(cf_autoformer *m);
/* x [B, I, C], x_mark [B, I, F], dec_mark [B, Ld, F] (Ol = Ld - O must be <= I) -> [B, O, C]. */
cf_tensor *cf_autoformer_fwd(cf_ctx *ctx, const cf_autoformer *m, cf_tensor *x, cf_tensor *x_mark,
                             cf_tensor *dec_mark, int64_t O);

typedef struct cf_vanilla_forecaster {
    cf_forecast_config cfg;
    cf_series_embed enc_embed, dec_embed;
    cf_block *enc, *dec;
    cf_norm_layer enc_norm, dec_norm;
    cf_linear_layer proj;
    uint64_t stream;
} cf_vanilla_forecaster;

cf_status cf_vanilla_forecaster_init(cf_vanilla_forecaster *m, cf_params *ps, const char *name,
                                     const cf_forecast_config *c);
void cf_vanilla_forecaster_free(cf_vanilla_forecaster *m);
cf_tensor *cf_vanilla_forecaster_fwd(cf_ctx *ctx, const cf_vanilla_forecaster *m, cf_tensor *x, cf_tensor *x_mark,
                                     cf_tensor *dec_mark, int64_t O);

/* The decoder's inputs shared by both models: the last Ol steps of src [B, I, C] followed by O copies of fill
 * [B, 1, C] (NULL: zeros) -> [B, Ol + O, C]. */
cf_tensor *cf_forecast_dec_init(cf_ctx *ctx, cf_tensor *src, int64_t Ol, int64_t O, cf_tensor *fill);

#endif
