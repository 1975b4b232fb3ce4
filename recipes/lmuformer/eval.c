/* LMUFormer's evaluation (`cformer eval`): top-1 accuracy of the split, accuracy against the number of frames
 * seen (the paper's streaming curve, Liu et al., ICLR 2024: the head on the cumulative
 * mean of the features, the official all_seq test mode), and with eval.streaming the frame-by-frame pass:
 * its agreement with the batch logits, the carried state and arena bytes after N and after 2N frames
 * (constant in the sequence length) and the time per frame. */
#include "recipes/lmuformer/internal.h"

#include "autograd/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t argmax(const cf_tensor *lg, int64_t at, int64_t n)
{
    int64_t best = 0;
    for (int64_t k = 1; k < n; k++)
        if (cf_get_flat(lg, at + k) > cf_get_flat(lg, at + best)) best = k;
    return best;
}

/* fills rows [0, n) of b from items at .. at+n-1 */
static cf_status load(cf_dataset *ds, int64_t at, int n, cf_batch *b)
{
    for (int i = 0; i < n; i++) CF_TRY(cf_dataset_get(ds, at + i, b, i));
    return cf_batch_set_rows(b, n);
}

/* correct[t]: items right after t+1 frames */
static cf_status curve(cf_lmuf *m, cf_ctx *ctx, cf_dataset *ds, int rows, int64_t frames, int64_t *correct)
{
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        if ((st = load(ds, at, n, &b)) != CF_OK) break;
        cf_lmuf_pass p = {ctx, m, NULL, 0, 0};
        cf_tensor *lg = cf_lmuf_logits_all(&p, cf_lmuf_input(ctx, m, &b)), *y = cf_batch_get(&b, "label");
        if (!lg || !y) {
            st = cf_last_status();
            break;
        }
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < frames; t++)
                correct[t] += argmax(lg, (i * frames + t) * m->classes, m->classes) == (int64_t)cf_get_flat(y, i);
        cf_step_reset(ctx);
    }
    cf_batch_free(&b);
    return st;
}

/* the first `rows` items streamed one frame at a time, for 2N frames (the sequence, then again) */
static cf_status streaming(cf_lmuf *m, int64_t items, cf_ctx *ctx, cf_dataset *ds, int64_t frames, cf_metrics *out)
{
    int rows = (int)(items < ds->len ? items : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    cf_status st = load(ds, 0, rows, &b);
    int64_t per = (int64_t)rows * m->classes;
    double *ref = st == CF_OK ? malloc((size_t)(per * frames) * sizeof *ref) : NULL;
    cf_tensor *x = NULL;
    if (st == CF_OK && ref) { /* the batch logits, kept across step resets */
        cf_lmuf_pass p = {ctx, m, NULL, 0, 0};
        cf_tensor *lg = cf_lmuf_logits_all(&p, cf_lmuf_input(ctx, m, &b));
        if (!lg) st = cf_last_status();
        for (int64_t i = 0; st == CF_OK && i < rows; i++)
            for (int64_t t = 0; t < frames; t++)
                for (int64_t k = 0; k < m->classes; k++)
                    ref[(t * rows + i) * m->classes + k] = cf_get_flat(lg, (i * frames + t) * m->classes + k);
        cf_step_reset(ctx);
        x = st == CF_OK ? cf_tensor_alloc(m->head_w->dtype, CF_SHAPE(rows, m->F, frames)) : NULL;
        if (x) st = cf_copy_(x, cf_lmuf_input(ctx, m, &b));
        else if (st == CF_OK) st = cf_last_status();
    } else if (st == CF_OK) {
        st = cf_set_error(CF_ERR_OOM, "lmuformer: out of memory for the streaming reference");
    }
    cf_lmuf_stream s = {0};
    double diff = 0, secs = 0;
    int64_t arena[2] = {0, 0}, state[2] = {0, 0};
    for (int64_t t = 0; st == CF_OK && t < 2 * frames; t++) {
        cf_lmuf_pass p = {ctx, m, &s, 0, 0};
        double t0 = cf_now();
        cf_tensor *lg = cf_lmuf_logits_all(&p, cf_contiguous(ctx, cf_narrow(ctx, x, 2, t % frames, 1)));
        secs += cf_now() - t0;
        if (!lg) {
            st = cf_last_status();
            break;
        }
        for (int64_t j = 0; t < frames && j < per; j++) diff = fmax(diff, fabs(cf_get_flat(lg, j) - ref[t * per + j]));
        if (t == frames - 1 || t == 2 * frames - 1) {
            arena[t == frames - 1 ? 0 : 1] = (int64_t)cf_ctx_arena_used(ctx);
            state[t == frames - 1 ? 0 : 1] = cf_lmuf_stream_bytes(&s);
        }
        cf_step_reset(ctx);
    }
    if (st == CF_OK) {
        cf_metrics_set(out, "stream_items", rows);
        cf_metrics_set(out, "stream_max_abs_diff", diff);
        cf_metrics_set(out, "stream_ms_per_frame", 1e3 * secs / (double)(2 * frames));
        cf_metrics_set(out, "stream_state_bytes_at_N", (double)state[0]);
        cf_metrics_set(out, "stream_state_bytes_at_2N", (double)state[1]);
        cf_metrics_set(out, "stream_arena_bytes_at_N", (double)arena[0]);
        cf_metrics_set(out, "stream_arena_bytes_at_2N", (double)arena[1]);
    }
    cf_lmuf_stream_free(&s);
    cf_tensor_free(x);
    free(ref);
    cf_batch_free(&b);
    return st;
}

cf_status cf_lmuformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_lmuf_model *mm = (cf_lmuf_model *)mb;
    cf_lmuf *m = &mm->net;
    cf_dataset *ds = in->split;
    int64_t frames = ds->info.frames;
    if (ds->len < 1 || frames < 1) return cf_set_error(CF_ERR_ARG, "lmuformer: %s is empty", ds->name);
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    int64_t *correct = calloc((size_t)frames, sizeof *correct);
    if (!correct) return cf_set_error(CF_ERR_OOM, "lmuformer: out of memory");
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_status st = curve(m, ctx, ds, rows, frames, correct);
    if (st == CF_OK) {
        double n = (double)ds->len, final = (double)correct[frames - 1];
        cf_metrics_set(out, "accuracy", final / n);
        cf_metrics_set(out, "items", n);
        int64_t every = mm->curve_every, first99 = frames;
        if (frames / every > 32) every = (frames + 31) / 32; /* at most 32 points */
        char name[32];
        for (int64_t t = every; t <= frames; t += every) {
            snprintf(name, sizeof name, "accuracy_at_%lld_frames", (long long)t);
            cf_metrics_set(out, name, (double)correct[t - 1] / n);
        }
        for (int64_t t = frames; t >= 1 && (double)correct[t - 1] >= 0.99 * final; t--) first99 = t;
        cf_metrics_set(out, "frames_for_99pct_of_final", (double)first99);
        cf_metrics_set(out, "fraction_for_99pct_of_final", (double)first99 / (double)frames);
        if (mm->streaming) st = streaming(m, mm->stream_items, ctx, ds, frames, out);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    free(correct);
    return st;
}
