/* LMU memory (ZOH discretisation, parallel FFT and recurrent forms) and the parallel LMU cell (layers/lmu.h). */
#include "layers/lmu.h"

#include "autograd/cf_node.h"
#include "layers/lmu_steps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* c = a b for n x n row-major matrices (c must not alias a or b) */
static void matmul_sq(int64_t n, const double *a, const double *b, double *c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
}

/* e = expm(m) for an n x n matrix: scaling and squaring with a degree-20 Taylor series on m / 2^s, ||m/2^s|| <= 1/2 */
static cf_status expm(int64_t n, const double *m, double *e)
{
    double norm = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = 0;
        for (int64_t j = 0; j < n; j++) r += fabs(m[i * n + j]);
        norm = fmax(norm, r);
    }
    int s = 0;
    while (norm > 0.5 && s < 60) norm /= 2, s++;
    size_t bytes = (size_t)(n * n) * sizeof(double);
    double *a = malloc(bytes), *term = malloc(bytes), *tmp = malloc(bytes);
    if (!a || !term || !tmp) {
        free(a), free(term), free(tmp);
        return cf_set_error(CF_ERR_OOM, "lmu: out of memory for expm of order %lld", (long long)n);
    }
    double scale = ldexp(1.0, -s);
    for (int64_t i = 0; i < n * n; i++) a[i] = m[i] * scale, e[i] = term[i] = (i % (n + 1) == 0);
    for (int k = 1; k <= 20; k++) {
        matmul_sq(n, term, a, tmp);
        for (int64_t i = 0; i < n * n; i++) term[i] = tmp[i] / k, e[i] += term[i];
    }
    for (int i = 0; i < s; i++) {
        matmul_sq(n, e, e, tmp);
        memcpy(e, tmp, bytes);
    }
    free(a), free(term), free(tmp);
    return CF_OK;
}

cf_status cf_lmu_discretize(int64_t order, double theta, double *abar, double *bbar)
{
    if (order < 1 || order > 4096 || !(theta > 0) || !isfinite(theta))
        return cf_set_error(CF_ERR_ARG, "lmu: order %lld must be in [1, 4096] and theta %g > 0", (long long)order,
                            theta);
    int64_t n = order + 1; /* the augmented [[A, B], [0, 0]] */
    double *m = calloc((size_t)(n * n), sizeof(double)), *e = malloc((size_t)(n * n) * sizeof(double));
    if (!m || !e) {
        free(m), free(e);
        return cf_set_error(CF_ERR_OOM, "lmu: out of memory for order %lld", (long long)order);
    }
    for (int64_t i = 0; i < order; i++) {
        double r = (2.0 * (double)i + 1.0) / theta;
        for (int64_t j = 0; j < order; j++) m[i * n + j] = r * (i < j ? -1.0 : ((i - j + 1) % 2 ? -1.0 : 1.0));
        m[i * n + order] = r * (i % 2 ? -1.0 : 1.0);
    }
    cf_status st = expm(n, m, e);
    for (int64_t i = 0; st == CF_OK && i < order; i++) {
        for (int64_t j = 0; j < order; j++) abar[i * order + j] = e[i * n + j];
        bbar[i] = e[i * n + order];
    }
    free(m), free(e);
    return st;
}

cf_status cf_lmu_memory_init(cf_lmu_memory *m, cf_dtype dt, int64_t order, double theta)
{
    *m = (cf_lmu_memory){.order = order, .theta = theta};
    double *a = malloc((size_t)(order > 0 && order <= 4096 ? order * order : 1) * sizeof(double));
    double *b = malloc((size_t)(order > 0 && order <= 4096 ? order : 1) * sizeof(double));
    cf_status st = a && b ? cf_lmu_discretize(order, theta, a, b) : cf_set_error(CF_ERR_OOM, "lmu: out of memory");
    if (st == CF_OK) {
        m->abar = cf_tensor_alloc(dt, CF_SHAPE(order, order));
        m->bbar = cf_tensor_alloc(dt, CF_SHAPE(order));
        if (!m->abar || !m->bbar) st = cf_last_status();
        for (int64_t i = 0; st == CF_OK && i < order * order; i++) cf_set_flat(m->abar, i, a[i]);
        for (int64_t i = 0; st == CF_OK && i < order; i++) cf_set_flat(m->bbar, i, b[i]);
    }
    free(a), free(b);
    if (st != CF_OK) cf_lmu_memory_free(m);
    return st;
}

void cf_lmu_memory_free(cf_lmu_memory *m)
{
    cf_tensor_free(m->abar), cf_tensor_free(m->bbar), cf_tensor_free(m->h);
    m->abar = m->bbar = m->h = NULL;
}

/* H [d, n], H_k = Abar^k Bbar, rebuilt in double when n changes */
static cf_status impulse(cf_lmu_memory *m, int64_t n)
{
    if (m->h && m->n == n) return CF_OK;
    int64_t d = m->order;
    cf_tensor *h = cf_tensor_alloc(m->abar->dtype, CF_SHAPE(d, n));
    double *a = malloc((size_t)(d * d) * sizeof(double)), *v = malloc((size_t)d * sizeof(double)),
           *w = malloc((size_t)d * sizeof(double));
    cf_status st = h && a && v && w ? CF_OK : cf_set_error(CF_ERR_OOM, "lmu: out of memory for the impulse response");
    if (st == CF_OK) {
        cf_to_f64_array(m->abar, a), cf_to_f64_array(m->bbar, v);
        for (int64_t k = 0; k < n; k++) {
            for (int64_t i = 0; i < d; i++) cf_set_flat(h, i * n + k, v[i]);
            for (int64_t i = 0; i < d; i++) {
                double s = 0;
                for (int64_t j = 0; j < d; j++) s += a[i * d + j] * v[j];
                w[i] = s;
            }
            memcpy(v, w, (size_t)d * sizeof(double));
        }
        cf_tensor_free(m->h);
        m->h = h, m->n = n, h = NULL;
    }
    cf_tensor_free(h);
    free(a), free(v), free(w);
    return st;
}

/* (re, im) of a spectrum [..., M, 2] */
static cf_tensor *part(cf_ctx *ctx, cf_tensor *z, int64_t which) { return cf_narrow(ctx, z, z->ndim - 1, which, 1); }

static cf_tensor *parallel(cf_ctx *ctx, cf_lmu_memory *m, cf_tensor *u)
{
    int64_t n = u->shape[1];
    if (impulse(m, n) != CF_OK) return NULL;
    cf_tensor *uf = cf_unsqueeze(ctx, cf_rfft(ctx, u, 2 * n), 1); /* [B, 1, n+1, 2] */
    cf_tensor *hf = cf_rfft(ctx, m->h, 2 * n);                       /* [d, n+1, 2] */
    if (!uf || !hf) return NULL;
    cf_tensor *ur = part(ctx, uf, 0), *ui = part(ctx, uf, 1), *hr = part(ctx, hf, 0), *hi = part(ctx, hf, 1);
    cf_tensor *re = cf_sub(ctx, cf_mul(ctx, ur, hr), cf_mul(ctx, ui, hi));
    cf_tensor *im = cf_add(ctx, cf_mul(ctx, ur, hi), cf_mul(ctx, ui, hr));
    if (!re || !im) return NULL;
    cf_tensor *spec = cf_concat(ctx, 2, (cf_tensor *[]){re, im}, 3); /* [B, d, n+1, 2] */
    return cf_narrow(ctx, cf_irfft(ctx, spec, 2 * n), 2, 0, n);
}

static cf_tensor *recurrent(cf_ctx *ctx, cf_lmu_memory *m, cf_tensor *u, cf_tensor **state)
{
    int64_t bsz = u->shape[0], n = u->shape[1], d = m->order;
    cf_tensor *at = cf_transpose(ctx, m->abar, 0, 1), *mt = NULL;
    if (state && *state) {
        if ((*state)->ndim != 2 || (*state)->shape[0] != bsz || (*state)->shape[1] != d) {
            cf_set_error(CF_ERR_SHAPE, "lmu: the carried memory is not [%lld, %lld]", (long long)bsz, (long long)d);
            return NULL;
        }
        mt = cf_empty(ctx, u->dtype, CF_SHAPE(bsz, d));
        if (!mt || cf_copy_(mt, *state) != CF_OK) return NULL;
    }
    cf_tensor **cols = cf_scratch(ctx, (size_t)n * sizeof *cols);
    if (!at || !cols) return NULL;
    for (int64_t t = 0; t < n; t++) {
        cf_tensor *in = cf_mul(ctx, cf_narrow(ctx, u, 1, t, 1), m->bbar); /* [B, 1] * [d] -> [B, d] */
        mt = mt ? cf_add(ctx, cf_matmul(ctx, mt, at), in) : in;
        cols[t] = cf_unsqueeze(ctx, mt, 2);
        if (!cols[t]) return NULL;
    }
    if (state) {
        if (!*state) *state = cf_tensor_alloc(u->dtype, CF_SHAPE(bsz, d));
        if (!*state || cf_copy_(*state, mt) != CF_OK) return NULL;
    }
    return cf_concat_steps(ctx, n, cols, 2);
}

cf_tensor *cf_lmu_memory_fwd(cf_ctx *ctx, cf_lmu_memory *m, cf_tensor *u, cf_lmu_mode mode, cf_tensor **state)
{
    if (!u) return NULL;
    if (u->ndim != 2 || u->shape[1] < 1 || u->dtype != m->abar->dtype) {
        cf_set_error(CF_ERR_SHAPE, "lmu: the memory's input must be [B, N >= 1] of the memory's dtype");
        return NULL;
    }
    if (mode == CF_LMU_PARALLEL) {
        if (state) {
            cf_set_error(CF_ERR_ARG, "lmu: the parallel form carries no state (use the recurrent form to stream)");
            return NULL;
        }
        return parallel(ctx, m, u);
    }
    return recurrent(ctx, m, u, state);
}

static cf_status conv1x1_init(cf_params *ps, const char *name, int64_t in, int64_t out, cf_tensor **w, cf_tensor **b)
{
    cf_params_push(ps, "%s", name);
    *w = cf_params_add(ps, "weight", CF_SHAPE(out, in, 1), true);
    *b = cf_params_add(ps, "bias", CF_SHAPE(out), false);
    cf_params_pop(ps);
    if (!*w || !*b) return cf_last_status();
    double bound = 1.0 / sqrt((double)in);
    cf_status st = cf_init_uniform(ps, *w, -bound, bound);
    return st == CF_OK ? cf_init_uniform(ps, *b, -bound, bound) : st;
}

cf_status cf_lmu_cell_init(cf_lmu_cell *c, cf_params *ps, const char *name, int64_t in, int64_t order, double theta,
                           int64_t out)
{
    *c = (cf_lmu_cell){0};
    cf_status st = cf_lmu_memory_init(&c->mem, ps->dtype, order, theta);
    cf_params_push(ps, "%s", name);
    if (st == CF_OK) st = conv1x1_init(ps, "enc", in, 1, &c->wu, &c->bu);
    if (st == CF_OK) st = conv1x1_init(ps, "hid", order + in, out, &c->wh, &c->bh);
    cf_params_pop(ps);
    return st;
}

void cf_lmu_cell_free(cf_lmu_cell *c) { cf_lmu_memory_free(&c->mem); }

cf_tensor *cf_lmu_cell_fwd(cf_ctx *ctx, cf_lmu_cell *c, cf_tensor *x, cf_lmu_mode mode, cf_tensor **state)
{
    cf_tensor *u = cf_relu(ctx, cf_conv1d(ctx, x, c->wu, c->bu, 1, 0, 1, 1)); /* [B, 1, N] */
    cf_tensor *m = cf_lmu_memory_fwd(ctx, &c->mem, cf_squeeze(ctx, u, 1), mode, state);
    if (!m) return NULL;
    cf_tensor *mx = cf_concat(ctx, 2, (cf_tensor *[]){m, x}, 1);
    return cf_relu(ctx, cf_conv1d(ctx, mx, c->wh, c->bh, 1, 0, 1, 1));
}
