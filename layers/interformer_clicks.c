/* InterFormer's reference map, click simulator and per-click metrics (layers/interformer_clicks.h). */
#include "layers/interformer_clicks.h"

#include <math.h>
#include <stdlib.h>

void cf_if_ref_reset(uint8_t *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++) ref[i] = CF_IF_UNKNOWN;
}

void cf_if_ref_click(uint8_t *ref, int H, int W, cf_if_click c, int radius)
{
    for (int y = c.y - radius; y <= c.y + radius; y++)
        for (int x = c.x - radius; x <= c.x + radius; x++)
            if (y >= 0 && y < H && x >= 0 && x < W && (y - c.y) * (y - c.y) + (x - c.x) * (x - c.x) <= radius * radius)
                ref[(int64_t)y * W + x] = c.positive ? CF_IF_DEF_FG : CF_IF_DEF_BG;
}

void cf_if_ref_update(uint8_t *ref, const uint8_t *pred, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint8_t s = ref[i];
        if (pred[i]) {
            if (s == CF_IF_UNKNOWN) ref[i] = CF_IF_POS_FG;
            else if (s == CF_IF_POS_BG) ref[i] = CF_IF_UNKNOWN;
        } else {
            if (s == CF_IF_UNKNOWN) ref[i] = CF_IF_POS_BG;
            else if (s == CF_IF_POS_FG) ref[i] = CF_IF_UNKNOWN;
        }
    }
}

struct cf_if_clicker {
    int H, W;
    float *grid;          /* (H + 2) x (W + 2) squared distances */
    float *line, *dline;  /* one padded row or column: f and its transform */
    float *z;             /* parabola boundaries */
    int *v;               /* parabola sites */
    float *dfn, *dfp;     /* H x W distance maps of the two error regions */
    uint8_t *err;         /* H x W error mask */
};

cf_if_clicker *cf_if_clicker_new(int H, int W)
{
    cf_if_clicker *ck = calloc(1, sizeof *ck);
    if (!ck) return NULL;
    int L = (H > W ? H : W) + 2;
    size_t n = (size_t)H * (size_t)W;
    ck->H = H, ck->W = W;
    ck->grid = malloc((size_t)(H + 2) * (size_t)(W + 2) * sizeof *ck->grid);
    ck->line = malloc((size_t)L * sizeof *ck->line);
    ck->dline = malloc((size_t)L * sizeof *ck->dline);
    ck->z = malloc((size_t)(L + 1) * sizeof *ck->z);
    ck->v = malloc((size_t)L * sizeof *ck->v);
    ck->dfn = malloc(n * sizeof *ck->dfn);
    ck->dfp = malloc(n * sizeof *ck->dfp);
    ck->err = malloc(n);
    if (!ck->grid || !ck->line || !ck->dline || !ck->z || !ck->v || !ck->dfn || !ck->dfp || !ck->err) {
        cf_if_clicker_free(ck);
        return NULL;
    }
    return ck;
}

void cf_if_clicker_free(cf_if_clicker *ck)
{
    if (!ck) return;
    free(ck->grid), free(ck->line), free(ck->dline), free(ck->z), free(ck->v), free(ck->dfn), free(ck->dfp);
    free(ck->err), free(ck);
}

/* The 1-D squared distance transform of f[0..n-1] (Felzenszwalb and Huttenlocher, "Distance Transforms of Sampled
 * Functions", 2012): d[q] = min_p (q - p)^2 + f[p], by the lower envelope of parabolas. */
static void edt_1d(const float *f, int n, float *d, int *v, float *z)
{
    int k = 0;
    v[0] = 0, z[0] = -INFINITY, z[1] = INFINITY;
    for (int q = 1; q < n; q++) {
        if (f[q] == INFINITY) continue;
        if (f[v[0]] == INFINITY) { /* the first finite site replaces the infinite one */
            v[0] = q;
            continue;
        }
        float s;
        for (;;) { /* z[0] = -inf ends the loop at k = 0 */
            int p = v[k];
            s = ((f[q] + (float)q * q) - (f[p] + (float)p * p)) / (2.0f * (float)(q - p));
            if (s > z[k]) break;
            k--;
        }
        k++;
        v[k] = q, z[k] = s, z[k + 1] = INFINITY;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        while (z[k + 1] < (float)q) k++;
        float dq = (float)(q - v[k]);
        d[q] = f[v[k]] == INFINITY ? INFINITY : dq * dq + f[v[k]];
    }
}

void cf_if_edt(cf_if_clicker *ck, const uint8_t *mask, float *out)
{
    int H = ck->H, W = ck->W, PH = H + 2, PW = W + 2;
    float *g = ck->grid;
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            bool in = y > 0 && y <= H && x > 0 && x <= W && mask[(int64_t)(y - 1) * W + (x - 1)];
            g[(int64_t)y * PW + x] = in ? INFINITY : 0.0f;
        }
    for (int x = 0; x < PW; x++) { /* columns: every column holds a zero (the pad), so the result is finite */
        for (int y = 0; y < PH; y++) ck->line[y] = g[(int64_t)y * PW + x];
        edt_1d(ck->line, PH, ck->dline, ck->v, ck->z);
        for (int y = 0; y < PH; y++) g[(int64_t)y * PW + x] = ck->dline[y];
    }
    for (int y = 1; y <= H; y++) {
        edt_1d(g + (int64_t)y * PW, PW, ck->dline, ck->v, ck->z);
        for (int x = 1; x <= W; x++) out[(int64_t)(y - 1) * W + (x - 1)] = sqrtf(ck->dline[x]);
    }
}

static float error_map(cf_if_clicker *ck, const uint8_t *a, const uint8_t *b, const uint8_t *ref, float *d)
{
    int64_t n = (int64_t)ck->H * ck->W;
    for (int64_t i = 0; i < n; i++)
        ck->err[i] = a[i] && !b[i] && ref[i] != CF_IF_DEF_BG && ref[i] != CF_IF_DEF_FG;
    cf_if_edt(ck, ck->err, d);
    float m = 0;
    for (int64_t i = 0; i < n; i++)
        if (d[i] > m) m = d[i];
    return m;
}

bool cf_if_next_click(cf_if_clicker *ck, const uint8_t *gt, const uint8_t *pred, const uint8_t *ref, double k,
                      cf_philox_key key, uint64_t counter, cf_if_click *out)
{
    float mfn = error_map(ck, gt, pred, ref, ck->dfn), mfp = error_map(ck, pred, gt, ref, ck->dfp);
    if (mfn <= 0 && mfp <= 0) return false;
    bool pos = mfn > mfp;
    const float *d = pos ? ck->dfn : ck->dfp;
    float thr = (float)((pos ? mfn : mfp) / (k < 1 ? 1 : k));
    int64_t n = (int64_t)ck->H * ck->W, count = 0;
    for (int64_t i = 0; i < n; i++) count += d[i] >= thr;
    int64_t pick = (int64_t)(cf_rng_uniform(key, counter, 0) * (double)count);
    if (pick >= count) pick = count - 1;
    for (int64_t i = 0; i < n; i++)
        if (d[i] >= thr && pick-- == 0) {
            *out = (cf_if_click){.y = (int)(i / ck->W), .x = (int)(i % ck->W), .positive = pos};
            return true;
        }
    return false; /* not reached: count >= 1 */
}

double cf_if_iou(const uint8_t *gt, const uint8_t *pred, int64_t n)
{
    int64_t inter = 0, uni = 0;
    for (int64_t i = 0; i < n; i++) inter += gt[i] && pred[i], uni += gt[i] || pred[i];
    return uni ? (double)inter / (double)uni : 1.0;
}

int cf_if_noc(const double *iou, int n, double tau)
{
    for (int t = 0; t < n; t++)
        if (iou[t] >= tau) return t + 1;
    return n;
}
