/* BEV IoU of rotated boxes (convex polygon clipping, Sutherland-Hodgman), rotated NMS, AP and APH
 * (data/pointcloud/detect.h). */
#include "data/pointcloud/detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double x, y;
} pt2;

static void corners(const cf_box3d *b, pt2 c[4])
{
    double co = cos(b->yaw), si = sin(b->yaw), hl = 0.5 * b->l, hw = 0.5 * b->w;
    static const double sx[4] = {1, -1, -1, 1}, sy[4] = {1, 1, -1, -1};
    for (int k = 0; k < 4; k++) {
        double u = sx[k] * hl, v = sy[k] * hw;
        c[k].x = b->x + co * u - si * v;
        c[k].y = b->y + si * u + co * v;
    }
}

static double cross(pt2 o, pt2 a, pt2 b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

/* clips polygon p (n points) by the half-plane left of edge a -> b; returns the new count (<= n + 1) */
static int clip(const pt2 *p, int n, pt2 a, pt2 b, pt2 *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        pt2 cur = p[i], nxt = p[(i + 1) % n];
        double dc = cross(a, b, cur), dn = cross(a, b, nxt);
        if (dc >= 0) out[m++] = cur;
        if ((dc >= 0) != (dn >= 0)) {
            double t = dc / (dc - dn);
            out[m++] = (pt2){cur.x + t * (nxt.x - cur.x), cur.y + t * (nxt.y - cur.y)};
        }
    }
    return m;
}

static double area(const pt2 *p, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += p[i].x * p[(i + 1) % n].y - p[(i + 1) % n].x * p[i].y;
    return 0.5 * fabs(s);
}

double cf_bev_iou(const cf_box3d *a, const cf_box3d *b)
{
    double dx = a->x - b->x, dy = a->y - b->y, ra = 0.5 * hypot(a->l, a->w), rb = 0.5 * hypot(b->l, b->w);
    if (dx * dx + dy * dy > (ra + rb) * (ra + rb)) return 0;
    pt2 ca[4], cb[4], buf1[16], buf2[16];
    corners(a, ca);
    corners(b, cb);
    memcpy(buf1, ca, sizeof ca);
    int n = 4;
    for (int k = 0; k < 4 && n > 0; k++) { /* corners are counter-clockwise: inside is left of each edge */
        n = clip(buf1, n, cb[k], cb[(k + 1) % 4], buf2);
        memcpy(buf1, buf2, (size_t)n * sizeof *buf2);
    }
    double inter = n >= 3 ? area(buf1, n) : 0;
    double uni = (double)a->l * a->w + (double)b->l * b->w - inter;
    return uni > 0 ? inter / uni : 0;
}

static int by_score(const void *p, const void *q)
{
    const cf_det *a = p, *b = q;
    return a->score > b->score ? -1 : a->score < b->score;
}

int cf_det_nms(cf_det *dets, int n, double thr, int max_keep)
{
    qsort(dets, (size_t)n, sizeof *dets, by_score);
    int kept = 0;
    for (int i = 0; i < n && kept < max_keep; i++) {
        int ok = 1;
        for (int j = 0; j < kept && ok; j++)
            if (dets[j].box.cls == dets[i].box.cls && cf_bev_iou(&dets[j].box, &dets[i].box) > thr) ok = 0;
        if (ok) dets[kept++] = dets[i];
    }
    return kept;
}

void cf_det_ap_init(cf_det_ap *ap, double iou)
{
    memset(ap, 0, sizeof *ap);
    ap->iou = iou;
}

void cf_det_ap_free(cf_det_ap *ap)
{
    free(ap->m);
    memset(ap, 0, sizeof *ap);
}

cf_status cf_det_ap_add(cf_det_ap *ap, const cf_det *dets, int n, const cf_boxes *gt)
{
    for (int i = 0; i < gt->n; i++)
        if (gt->b[i].cls >= 0 && gt->b[i].cls < CF_PC_NCLASS) ap->ngt[gt->b[i].cls]++;
    if (ap->n + n > ap->cap) {
        int64_t cap = ap->cap ? 2 * ap->cap : 1024;
        while (cap < ap->n + n) cap *= 2;
        struct cf_det_match *m = realloc(ap->m, (size_t)cap * sizeof *m);
        if (!m) return cf_set_error(CF_ERR_OOM, "AP: out of memory for %lld detections", (long long)cap);
        ap->m = m;
        ap->cap = cap;
    }
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    unsigned char *used = calloc((size_t)(gt->n ? gt->n : 1), 1);
    if (!order || !used) {
        free(order);
        free(used);
        return cf_set_error(CF_ERR_OOM, "AP: out of memory");
    }
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort by score, descending (n is small per frame) */
        int v = order[i], j = i;
        while (j > 0 && dets[order[j - 1]].score < dets[v].score) order[j] = order[j - 1], j--;
        order[j] = v;
    }
    for (int r = 0; r < n; r++) {
        const cf_det *d = &dets[order[r]];
        int best = -1;
        double bi = ap->iou;
        for (int g = 0; g < gt->n; g++) {
            if (used[g] || gt->b[g].cls != d->box.cls) continue;
            double iou = cf_bev_iou(&d->box, &gt->b[g]);
            if (iou >= bi) bi = iou, best = g;
        }
        struct cf_det_match *m = &ap->m[ap->n++];
        m->cls = d->box.cls;
        m->score = d->score;
        m->tp = best >= 0;
        m->heading = 0;
        if (best >= 0) {
            used[best] = 1;
            double dt = fmod(fabs((double)d->box.yaw - gt->b[best].yaw), 2 * CF_PC_PI);
            m->heading = (float)(1.0 - fmin(dt, 2 * CF_PC_PI - dt) / CF_PC_PI);
        }
    }
    free(order);
    free(used);
    return CF_OK;
}

static int match_by_score(const void *p, const void *q)
{
    const struct cf_det_match *a = p, *b = q;
    return a->score > b->score ? -1 : a->score < b->score;
}

double cf_det_ap_value(const cf_det_ap *ap, int cls, bool heading)
{
    if (cls < 0 || cls >= CF_PC_NCLASS || ap->ngt[cls] == 0) return NAN;
    int64_t n = 0;
    for (int64_t i = 0; i < ap->n; i++) n += ap->m[i].cls == cls;
    struct cf_det_match *m = malloc((size_t)(n ? n : 1) * sizeof *m);
    double *prec = malloc((size_t)(n ? n : 1) * sizeof *prec), *rec = malloc((size_t)(n ? n : 1) * sizeof *rec);
    if (!m || !prec || !rec) {
        free(m), free(prec), free(rec);
        return NAN;
    }
    n = 0;
    for (int64_t i = 0; i < ap->n; i++)
        if (ap->m[i].cls == cls) m[n++] = ap->m[i];
    qsort(m, (size_t)n, sizeof *m, match_by_score);
    double tp = 0;
    for (int64_t i = 0; i < n; i++) {
        tp += m[i].tp ? (heading ? m[i].heading : 1.0) : 0.0;
        prec[i] = tp / (double)(i + 1);
        rec[i] = tp / (double)ap->ngt[cls];
    }
    for (int64_t i = n - 2; i >= 0; i--) prec[i] = fmax(prec[i], prec[i + 1]);
    double a = 0, prev = 0;
    for (int64_t i = 0; i < n; i++) {
        a += (rec[i] - prev) * prec[i];
        prev = rec[i];
    }
    free(m), free(prec), free(rec);
    return a;
}
