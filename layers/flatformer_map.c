/* FlatFormer's index side (layers/flatformer.h): dynamic voxelisation into pillars, the window-based sort
 * keys, equal-size grouping (section 3.1), the SST-style padded window layout, and the position encoding.
 * Nothing here records on the tape: these are the integer maps the layers gather and scatter with. Every
 * buffer comes from the step arena. */
#include "layers/flatformer.h"

#include "autograd/cf_node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_status cf_ff_grid_init(cf_ff_grid *g, float xmin, float ymin, float zmin, float xmax, float ymax, float zmax,
                          float pillar)
{
    if (!(pillar > 0) || !(xmax > xmin) || !(ymax > ymin) || !(zmax > zmin))
        return cf_set_error(CF_ERR_ARG, "pillar grid: range [%g, %g] x [%g, %g] x [%g, %g] with pillar %g is empty", xmin, xmax, ymin, ymax, zmin, zmax, pillar);
    double nx = ceil((xmax - xmin) / pillar - 1e-6), ny = ceil((ymax - ymin) / pillar - 1e-6);
    if (nx > 4096 || ny > 4096) return cf_set_error(CF_ERR_ARG, "pillar grid: %g x %g pillars, at most 4096 per side", nx, ny);
    *g = (cf_ff_grid){xmin, ymin, zmin, xmax, ymax, zmax, pillar, (int64_t)nx, (int64_t)ny};
    return CF_OK;
}

cf_status cf_ff_pillarize(cf_ctx *ctx, const cf_ff_grid *g, cf_dtype dt, const float *points, const int64_t *counts,
                          int B, int64_t Nmax, cf_ff_pillars *out)
{
    memset(out, 0, sizeof *out);
    out->B = B;
    int64_t cells = (int64_t)B * g->ny * g->nx, total = 0;
    for (int b = 0; b < B; b++) {
        if (counts[b] < 0 || counts[b] > Nmax) return cf_set_error(CF_ERR_ARG, "pillarize: frame %d has %lld points, at most %lld", b, (long long)counts[b], (long long)Nmax);
        total += counts[b];
    }
    int64_t *cell_of = cf_scratch(ctx, (size_t)(total ? total : 1) * sizeof(int64_t));
    int64_t *pillar_of_cell = cf_scratch(ctx, (size_t)cells * sizeof(int64_t));
    out->frame_start = cf_scratch(ctx, (size_t)(B + 1) * sizeof(int64_t));
    if (!cell_of || !pillar_of_cell || !out->frame_start) return cf_last_status();
    for (int64_t c = 0; c < cells; c++) pillar_of_cell[c] = -1;
    int64_t k = 0;
    for (int b = 0; b < B; b++)
        for (int64_t i = 0; i < counts[b]; i++, k++) {
            const float *p = points + ((size_t)b * (size_t)Nmax + (size_t)i) * 4;
            cell_of[k] = -1;
            if (!(p[0] >= g->xmin && p[0] < g->xmax && p[1] >= g->ymin && p[1] < g->ymax && p[2] >= g->zmin && p[2] < g->zmax)) {
                out->dropped++;
                continue;
            }
            int64_t ix = (int64_t)((p[0] - g->xmin) / g->pillar), iy = (int64_t)((p[1] - g->ymin) / g->pillar);
            if (ix >= g->nx) ix = g->nx - 1;
            if (iy >= g->ny) iy = g->ny - 1;
            cell_of[k] = ((int64_t)b * g->ny + iy) * g->nx + ix;
            pillar_of_cell[cell_of[k]] = 0;
        }
    /* pillar ids in (frame, y, x) order */
    int64_t P = 0;
    for (int b = 0; b < B; b++) {
        out->frame_start[b] = P;
        for (int64_t c = (int64_t)b * g->ny * g->nx; c < (int64_t)(b + 1) * g->ny * g->nx; c++)
            if (pillar_of_cell[c] == 0) pillar_of_cell[c] = P++;
    }
    out->frame_start[B] = P;
    out->npillars = P;
    out->npoints = total - out->dropped;
    out->coords = cf_scratch(ctx, (size_t)(P ? P : 1) * 3 * sizeof(int32_t));
    double *sum = cf_scratch(ctx, (size_t)(P ? P : 1) * 4 * sizeof(double)); /* x y z count */
    out->point_pillar = cf_empty(ctx, CF_I64, CF_SHAPE(out->npoints));
    out->point_feat = cf_empty(ctx, dt, CF_SHAPE(out->npoints, CF_FF_POINT_FEATURES));
    if (!out->coords || !sum || !out->point_pillar || !out->point_feat) return cf_last_status();
    memset(sum, 0, (size_t)(P ? P : 1) * 4 * sizeof(double));
    for (int64_t c = 0; c < cells; c++)
        if (pillar_of_cell[c] >= 0) {
            int32_t *q = out->coords + 3 * pillar_of_cell[c];
            q[0] = (int32_t)(c / (g->ny * g->nx));
            q[1] = (int32_t)((c / g->nx) % g->ny);
            q[2] = (int32_t)(c % g->nx);
        }
    int64_t *pp = cf_data(out->point_pillar);
    k = 0;
    int64_t j = 0;
    for (int b = 0; b < B; b++)
        for (int64_t i = 0; i < counts[b]; i++, k++) {
            if (cell_of[k] < 0) continue;
            const float *p = points + ((size_t)b * (size_t)Nmax + (size_t)i) * 4;
            int64_t id = pillar_of_cell[cell_of[k]];
            pp[j++] = id;
            for (int d = 0; d < 3; d++) sum[4 * id + d] += p[d];
            sum[4 * id + 3] += 1;
        }
    /* features: x y z i, minus the pillar's point mean, minus the pillar's centre */
    k = 0;
    j = 0;
    float zc = 0.5f * (g->zmin + g->zmax);
    for (int b = 0; b < B; b++)
        for (int64_t i = 0; i < counts[b]; i++, k++) {
            if (cell_of[k] < 0) continue;
            const float *p = points + ((size_t)b * (size_t)Nmax + (size_t)i) * 4;
            int64_t id = pp[j];
            const int32_t *q = out->coords + 3 * id;
            double f[CF_FF_POINT_FEATURES] = {
                p[0], p[1], p[2], p[3],
                p[0] - sum[4 * id] / sum[4 * id + 3], p[1] - sum[4 * id + 1] / sum[4 * id + 3], p[2] - sum[4 * id + 2] / sum[4 * id + 3],
                p[0] - (g->xmin + (q[2] + 0.5) * g->pillar), p[1] - (g->ymin + (q[1] + 0.5) * g->pillar), p[2] - zc,
            };
            for (int d = 0; d < CF_FF_POINT_FEATURES; d++) cf_set_flat(out->point_feat, j * CF_FF_POINT_FEATURES + d, f[d]);
            j++;
        }
    return CF_OK;
}

int64_t cf_ff_window_key(int64_t x, int64_t y, int64_t wx, int64_t wy, int64_t X, int64_t Y, cf_ff_axis axis)
{
    int64_t x1 = x / wx, y1 = y / wy, x2 = x % wx, y2 = y % wy;
    int64_t N2 = 2 * wx, M2 = 2 * wy, N1 = 2 * ((X + wx - 1) / wx + 1), M1 = 2 * ((Y + wy - 1) / wy + 1);
    int64_t sy1 = (y1 & 1) ? -1 : 1, sx1 = (x1 & 1) ? -1 : 1, sx2 = (x2 & 1) ? -1 : 1, sy2 = (y2 & 1) ? -1 : 1;
    if (axis == CF_FF_SORT_X) return (N1 * y1 + sy1 * x1) * N2 * M2 + sy1 * (M2 * x2 + sx2 * y2);
    return (M1 * x1 + sx1 * y1) * M2 * N2 + sx1 * (N2 * y2 + sy2 * x2);
}

typedef struct {
    int64_t key, id;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->key != q->key) return p->key < q->key ? -1 : 1;
    return p->id < q->id ? -1 : p->id > q->id;
}

/* pillar ids sorted by window key within each frame (frames stay in order: sorting is per frame, which is
 * the lexicographic (frame, key) order, so frames never interleave whatever the key range) */
static int64_t *sorted_ids(cf_ctx *ctx, const cf_ff_pillars *pl, int64_t wx, int64_t wy, cf_ff_axis axis, bool shift,
                           int64_t nx, int64_t ny)
{
    int64_t P = pl->npillars;
    keyed *kv = cf_scratch(ctx, (size_t)(P ? P : 1) * sizeof *kv);
    int64_t *ids = cf_scratch(ctx, (size_t)(P ? P : 1) * sizeof *ids);
    if (!kv || !ids) return NULL;
    int64_t sx = shift ? wx / 2 : 0, sy = shift ? wy / 2 : 0;
    for (int64_t i = 0; i < P; i++) {
        const int32_t *q = pl->coords + 3 * i;
        kv[i].key = cf_ff_window_key(q[2] + sx, q[1] + sy, wx, wy, nx + sx, ny + sy, axis);
        kv[i].id = i;
    }
    for (int b = 0; b < pl->B; b++) {
        int64_t s = pl->frame_start[b], n = pl->frame_start[b + 1] - s;
        if (n > 1) qsort(kv + s, (size_t)n, sizeof *kv, cmp_keyed);
    }
    for (int64_t i = 0; i < P; i++) ids[i] = kv[i].id;
    return ids;
}

double cf_ff_padding_ratio(const cf_ff_layout *l) { return l->real ? (double)(l->slots - l->real) / (double)l->real : 0; }

cf_status cf_ff_group_layout(cf_ctx *ctx, const cf_ff_pillars *pl, int64_t G, int64_t wx, int64_t wy, cf_ff_axis axis,
                             bool shift, int64_t nx, int64_t ny, cf_ff_layout *out, int64_t **perm_out)
{
    memset(out, 0, sizeof *out);
    if (G < 1 || wx < 1 || wy < 1) return cf_set_error(CF_ERR_ARG, "group layout: group %lld, window %lld x %lld", (long long)G, (long long)wx, (long long)wy);
    int64_t P = pl->npillars;
    int64_t *ids = sorted_ids(ctx, pl, wx, wy, axis, shift, nx, ny);
    if (!ids) return cf_last_status();
    if (perm_out) *perm_out = ids;
    int64_t ngroups = 0;
    bool any_dummy = false;
    for (int b = 0; b < pl->B; b++) {
        int64_t n = pl->frame_start[b + 1] - pl->frame_start[b];
        ngroups += (n + G - 1) / G;
        any_dummy |= n > 0 && n < G;
    }
    cf_ff_part *pt = &out->part[0];
    out->nparts = 1;
    pt->n = ngroups;
    pt->size = G;
    pt->idx = cf_empty(ctx, CF_I64, CF_SHAPE(ngroups * G));
    pt->pad = any_dummy ? cf_zeros(ctx, CF_BOOL, CF_SHAPE(ngroups, G)) : NULL;
    out->inv = cf_empty(ctx, CF_I64, CF_SHAPE(P));
    if (!pt->idx || !out->inv || (any_dummy && !pt->pad)) return cf_last_status();
    int64_t *idx = cf_data(pt->idx), *inv = cf_data(out->inv);
    bool *pad = any_dummy ? cf_data(pt->pad) : NULL;
    int64_t slot = 0;
    for (int b = 0; b < pl->B; b++) {
        int64_t s = pl->frame_start[b], n = pl->frame_start[b + 1] - s;
        if (n == 0) continue;
        if (n < G) { /* one group: the frame's pillars then masked dummies (the released code indexes into the previous frame here) */
            for (int64_t t = 0; t < G; t++) {
                idx[slot + t] = t < n ? ids[s + t] : P;
                if (t >= n) pad[slot + t] = true;
                if (t < n) inv[ids[s + t]] = slot + t;
            }
            slot += G;
            continue;
        }
        int64_t ng = (n + G - 1) / G, full = (ng - 1) * G;
        for (int64_t t = 0; t < full; t++) {
            idx[slot + t] = ids[s + t];
            inv[ids[s + t]] = slot + t;
        }
        for (int64_t t = 0; t < G; t++) { /* the last group: the final G tokens */
            int64_t src = n - G + t;
            idx[slot + full + t] = ids[s + src];
            if (src >= full) inv[ids[s + src]] = slot + full + t;
        }
        slot += ng * G;
    }
    out->slots = slot;
    out->real = P;
    return CF_OK;
}

static int64_t bucket_of(int64_t count, int64_t area)
{
    int64_t cap = 8;
    while (cap < count) cap *= 2;
    int64_t top = 8;
    while (top < area) top *= 2;
    return cap < top ? cap : top;
}

cf_status cf_ff_window_layout(cf_ctx *ctx, const cf_ff_pillars *pl, int64_t wx, int64_t wy, bool shift, int64_t nx,
                              int64_t ny, cf_ff_layout *out)
{
    memset(out, 0, sizeof *out);
    int64_t P = pl->npillars;
    int64_t sx = shift ? wx / 2 : 0, sy = shift ? wy / 2 : 0;
    int64_t wnx = (nx + sx + wx - 1) / wx, wny = (ny + sy + wy - 1) / wy, nwin = (int64_t)pl->B * wnx * wny;
    int64_t *win = cf_scratch(ctx, (size_t)(P ? P : 1) * sizeof(int64_t));
    int64_t *count = cf_scratch(ctx, (size_t)nwin * sizeof(int64_t));
    int64_t *fill = cf_scratch(ctx, (size_t)nwin * sizeof(int64_t));
    int64_t *wslot = cf_scratch(ctx, (size_t)nwin * sizeof(int64_t)); /* each window's first slot */
    if (!win || !count || !fill || !wslot) return cf_last_status();
    memset(count, 0, (size_t)nwin * sizeof(int64_t));
    for (int64_t i = 0; i < P; i++) {
        const int32_t *q = pl->coords + 3 * i;
        win[i] = ((int64_t)q[0] * wny + (q[1] + sy) / wy) * wnx + (q[2] + sx) / wx;
        count[win[i]]++;
    }
    /* parts by bucket size, ascending */
    int64_t sizes[CF_FF_MAX_PARTS], nsize[CF_FF_MAX_PARTS];
    int ns = 0;
    for (int64_t w = 0; w < nwin; w++) {
        if (!count[w]) continue;
        int64_t cap = bucket_of(count[w], wx * wy);
        int k = 0;
        while (k < ns && sizes[k] != cap) k++;
        if (k == ns) {
            if (ns == CF_FF_MAX_PARTS) return cf_set_error(CF_ERR_ARG, "window layout: more than %d bucket sizes", CF_FF_MAX_PARTS);
            sizes[ns] = cap;
            nsize[ns++] = 0;
        }
        nsize[k]++;
    }
    for (int a = 0; a < ns; a++) /* sort the buckets by size */
        for (int b = a + 1; b < ns; b++)
            if (sizes[b] < sizes[a]) {
                int64_t t = sizes[a];
                sizes[a] = sizes[b], sizes[b] = t;
                t = nsize[a];
                nsize[a] = nsize[b], nsize[b] = t;
            }
    int64_t base[CF_FF_MAX_PARTS], used[CF_FF_MAX_PARTS];
    int64_t slots = 0;
    for (int k = 0; k < ns; k++) {
        cf_ff_part *pt = &out->part[k];
        pt->n = nsize[k];
        pt->size = sizes[k];
        pt->idx = cf_empty(ctx, CF_I64, CF_SHAPE(pt->n * pt->size));
        pt->pad = cf_empty(ctx, CF_BOOL, CF_SHAPE(pt->n, pt->size));
        if (!pt->idx || !pt->pad) return cf_last_status();
        int64_t *ix = cf_data(pt->idx);
        bool *pd = cf_data(pt->pad);
        for (int64_t t = 0; t < pt->n * pt->size; t++) ix[t] = P, pd[t] = true;
        base[k] = slots;
        used[k] = 0;
        slots += pt->n * pt->size;
    }
    out->nparts = ns;
    for (int64_t w = 0; w < nwin; w++) {
        fill[w] = 0;
        if (!count[w]) continue;
        int64_t cap = bucket_of(count[w], wx * wy);
        int k = 0;
        while (sizes[k] != cap) k++;
        wslot[w] = base[k] + used[k] * cap;
        used[k]++;
    }
    out->inv = cf_empty(ctx, CF_I64, CF_SHAPE(P));
    if (!out->inv) return cf_last_status();
    int64_t *inv = cf_data(out->inv);
    for (int64_t i = 0; i < P; i++) { /* pillars in id order: (y, x) order inside each window */
        int64_t w = win[i], g = wslot[w] + fill[w]++;
        int k = 0;
        while (k + 1 < ns && g >= base[k + 1]) k++;
        ((int64_t *)cf_data(out->part[k].idx))[g - base[k]] = i;
        ((bool *)cf_data(out->part[k].pad))[g - base[k]] = false;
        inv[i] = g;
    }
    out->slots = slots;
    out->real = P;
    return CF_OK;
}

cf_tensor *cf_ff_position_encoding(cf_ctx *ctx, cf_dtype dt, const cf_ff_pillars *pl, int64_t C)
{
    int64_t P = pl->npillars, half = C / 2;
    cf_tensor *pe = cf_zeros(ctx, dt, CF_SHAPE(P, C));
    if (!pe) return NULL;
    for (int64_t i = 0; i < P; i++) {
        const int32_t *q = pl->coords + 3 * i;
        for (int axis = 0; axis < 2; axis++) {
            double c = axis == 0 ? q[2] : q[1];
            for (int64_t k = 0; k < half; k++) {
                double freq = pow(10000.0, (double)(2 * (k / 2)) / (double)half);
                double v = (k & 1) ? cos(c / freq) : sin(c / freq);
                cf_set_flat(pe, i * C + axis * half + k, v);
            }
        }
    }
    return pe;
}
