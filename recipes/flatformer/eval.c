/* FlatFormer's evaluation of a split (Liu et al., CVPR 2023, section 4): the head's peaks decoded into boxes,
 * rotated NMS per class, BEV AP at IoU eval.iou (0.5) and APH per class, their mean, the encoder's padding ratio
 * and its wall-clock per frame (pillars + VFE + encoder, the part the paper times against SST), and the points
 * outside the range (dropped, counted). */
#include "autograd/clock.h"
#include "autograd/json.h"
#include "recipes/flatformer/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cls_key[CF_FF_NCLASS] = {"car", "pedestrian", "cyclist"};

int ff_decode(const ff_model *m, const cf_tensor *pred, int frame, cf_det *out, int max)
{
    int64_t H = pred->shape[2], W = pred->shape[3], HW = H * W;
    const int64_t C = CF_FF_HEAD_OUT;
    double cell = m->grid.pillar * (double)m->head.stride;
    int n = 0;
    for (int c = 0; c < CF_FF_NCLASS; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                int64_t base = (int64_t)frame * C * HW;
                double v = cf_get_flat(pred, base + c * HW + y * W + x);
                double s = 1 / (1 + exp(-v));
                if (s < m->score_thr) continue;
                int peak = 1; /* a 3 x 3 local maximum of the class's heat-map */
                for (int64_t dy = -1; dy <= 1 && peak; dy++)
                    for (int64_t dx = -1; dx <= 1 && peak; dx++) {
                        int64_t yy = y + dy, xx = x + dx;
                        if ((dy || dx) && yy >= 0 && xx >= 0 && yy < H && xx < W && cf_get_flat(pred, base + c * HW + yy * W + xx) > v) peak = 0;
                    }
                if (!peak) continue;
                double r[8];
                for (int k = 0; k < 8; k++) r[k] = cf_get_flat(pred, base + (CF_FF_NCLASS + k) * HW + y * W + x);
                cf_det d;
                d.score = (float)s;
                d.box.cls = c;
                d.box.x = (float)(m->grid.xmin + ((double)x + r[0]) * cell);
                d.box.y = (float)(m->grid.ymin + ((double)y + r[1]) * cell);
                d.box.z = (float)r[2];
                d.box.l = (float)exp(fmin(r[3], 5.0));
                d.box.w = (float)exp(fmin(r[4], 5.0));
                d.box.h = (float)exp(fmin(r[5], 5.0));
                d.box.yaw = (float)atan2(r[6], r[7]);
                if (n < max) {
                    out[n++] = d;
                } else { /* keep the best max */
                    int worst = 0;
                    for (int i = 1; i < n; i++)
                        if (out[i].score < out[worst].score) worst = i;
                    if (out[worst].score < d.score) out[worst] = d;
                }
            }
    /* NMS per class at its threshold: run class by class */
    int kept = 0;
    for (int c = 0; c < CF_FF_NCLASS; c++) {
        int k0 = kept;
        for (int i = kept; i < n; i++)
            if (out[i].box.cls == c) {
                cf_det t = out[kept];
                out[kept++] = out[i];
                out[i] = t;
            }
        int k = cf_det_nms(out + k0, kept - k0, m->nms_thr[c], (int)m->max_dets);
        /* move the rest (other classes) up behind the kept ones */
        memmove(out + k0 + k, out + kept, (size_t)(n - kept) * sizeof *out);
        n -= (kept - k0) - k;
        kept = k0 + k;
    }
    return kept;
}

cf_status cf_flatformer_evaluate(cf_model *mm, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    ff_model *m = (ff_model *)mm;
    cf_dataset *ds = in->split;
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    int maxd = 4 * (int)m->max_dets * CF_FF_NCLASS;
    cf_det *dets = malloc((size_t)maxd * sizeof *dets);
    cf_boxes gt = {0};
    cf_det_ap ap;
    cf_det_ap_init(&ap, m->iou);
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    double enc_time = 0, pad_sum = 0, ndet = 0;
    int64_t frames = 0, dropped = 0, points = 0, batches = 0;
    cf_status st = dets ? CF_OK : cf_set_error(CF_ERR_OOM, "flatformer eval: out of memory");
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        cf_ff_pillars pl;
        cf_ff_stats fs;
        double t;
        cf_tensor *pred = ff_forward(m, ctx, &b, &pl, &fs, &t);
        if (!pred) {
            st = cf_last_status();
            break;
        }
        enc_time += t, pad_sum += fs.padding_ratio, batches++;
        dropped += pl.dropped, points += pl.npoints;
        const float *bx = cf_data(b.fields[FF_BOXES]);
        const int64_t *nb = cf_data(b.fields[FF_NBOXES]);
        for (int f = 0; f < n && st == CF_OK; f++) {
            int k = ff_decode(m, pred, f, dets, maxd);
            ndet += k;
            gt.n = 0;
            for (int64_t i = 0; i < nb[f] && st == CF_OK; i++) {
                const float *q = bx + ((int64_t)f * m->max_boxes + i) * FF_BOX_VALUES;
                cf_box3d box = {(int)q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
                st = cf_boxes_push(&gt, &box);
            }
            if (st == CF_OK) st = cf_det_ap_add(&ap, dets, k, &gt);
            frames++;
        }
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st == CF_OK) {
        double map = 0, maph = 0;
        int nc = 0;
        for (int c = 0; c < CF_FF_NCLASS; c++) {
            m->ap[c] = cf_det_ap_value(&ap, c, false);
            m->aph[c] = cf_det_ap_value(&ap, c, true);
            m->gt[c] = ap.ngt[c];
            char name[32];
            snprintf(name, sizeof name, "ap_%s", cls_key[c]);
            cf_metrics_set(out, name, m->ap[c]);
            snprintf(name, sizeof name, "aph_%s", cls_key[c]);
            cf_metrics_set(out, name, m->aph[c]);
            if (isfinite(m->ap[c])) map += m->ap[c], maph += m->aph[c], nc++;
        }
        cf_metrics_set(out, "map", nc ? map / nc : NAN);
        cf_metrics_set(out, "maph", nc ? maph / nc : NAN);
        cf_metrics_set(out, "padding_ratio", batches ? pad_sum / (double)batches : 0);
        cf_metrics_set(out, "encoder_ms_per_frame", frames ? 1000.0 * enc_time / (double)frames : 0);
        cf_metrics_set(out, "detections_per_frame", frames ? ndet / (double)frames : 0);
        cf_metrics_set(out, "points_per_frame", frames ? (double)points / (double)frames : 0);
        cf_metrics_set(out, "dropped_points", (double)dropped);
        cf_metrics_set(out, "frames", (double)frames);
    }
    cf_det_ap_free(&ap);
    cf_boxes_free(&gt);
    free(dets);
    return st;
}

cf_status cf_flatformer_write_eval(cf_model *mm, const char *path, const cf_metrics *flat)
{
    ff_model *m = (ff_model *)mm;
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    for (int i = 0; i < flat->n; i++) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    cf_json_key(&j, "per_class");
    cf_json_object(&j);
    for (int c = 0; c < CF_FF_NCLASS; c++) {
        cf_json_key(&j, cls_key[c]);
        cf_json_object(&j);
        cf_json_kv_number(&j, "ap", m->ap[c]);
        cf_json_kv_number(&j, "aph", m->aph[c]);
        cf_json_kv_int(&j, "ground_truth", m->gt[c]);
        cf_json_end(&j);
    }
    cf_json_end(&j);
    cf_json_kv_number(&j, "iou", m->iou);
    cf_json_kv_string(&j, "metric", "BEV AP (all-points interpolation) per class; APH weights each true positive by its heading accuracy");
    cf_json_end(&j);
    return cf_json_commit(&j);
}
