/* The Bernoulli-GLM spiking circuit with hubs (model and conventions in simulate_spikes.h). */
#include "data/spikes/simulate_spikes.h"

#include "autograd/rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Philox streams: one per kind of draw, so adding e.g. a stimulus does not change the connectivity. */
enum { STREAM_HUBS = 1, STREAM_EDGES, STREAM_GAINS, STREAM_SPIKES, STREAM_STIM, STREAM_CALIB, STREAM_MOVIE, STREAM_RF,
       STREAM_MOVIE_CALIB };
#define CALIB_SAMPLES 2048
#define MAX_KERNEL 64
#define MOVIE_BLOBS 4
#define MOVIE_TURN_S 2.0           /* each blob turns to a new random direction this often */
#define MOVIE_MAX_VALUES (1 << 26) /* pixels in all frames: 256 MB of floats */
#define RF_NEG_FRAC 0.3            /* units whose receptive field is negative */

cf_sim_config cf_sim_defaults(void)
{
    cf_sim_config c;
    memset(&c, 0, sizeof c);
    c.n_neurons = 40;
    c.n_hubs = 3;
    c.seconds = 1000;
    c.dt = 0.01;
    c.seed = 0;
    c.base_rate_hz = 5;
    c.hub_rate_hz = 15;
    c.hub_targets = 10;
    c.hub_weight = 2.5;
    c.edge_prob = 0.03;
    c.edge_w_min = 0.5;
    c.edge_w_max = 1.5;
    c.inhib_frac = 0.2;
    c.kernel_len = 5;
    c.kernel_tau = 2;
    c.refractory = -4;
    c.stim_gain = 0;
    c.stim_tau = 1.0;
    c.behavior_dt = 0.05;
    c.trial_s = 0;
    c.calibrate = true;
    c.movie_gain = 2;
    c.movie_rate_hz = 20;
    c.movie_lag = 0.05;
    return c;
}

cf_status cf_sim_check(const cf_sim_config *c)
{
    if (!c) return cf_set_error(CF_ERR_ARG, "simulation: NULL config");
#define BAD(...) return cf_set_error(CF_ERR_ARG, "simulation: " __VA_ARGS__)
    if (c->n_neurons < 1 || c->n_neurons > 4096) BAD("n_neurons %d (need 1..4096)", c->n_neurons);
    if (c->n_hubs < 0 || c->n_hubs > c->n_neurons) BAD("n_hubs %d (need 0..n_neurons = %d)", c->n_hubs, c->n_neurons);
    if (c->hub_targets < 0 || c->hub_targets > c->n_neurons - 1)
        BAD("hub_targets %d (need 0..n_neurons-1 = %d)", c->hub_targets, c->n_neurons - 1);
    if (!(c->dt > 0) || !isfinite(c->dt)) BAD("dt %g (need > 0)", c->dt);
    if (!(c->seconds > 0) || !isfinite(c->seconds) || c->seconds / c->dt > 2147483647.0 || llround(c->seconds / c->dt) < 1)
        BAD("seconds %g (need at least one and at most 2^31 bins of dt %g)", c->seconds, c->dt);
    if (!(c->base_rate_hz > 0) || !(c->base_rate_hz * c->dt < 1)) BAD("base_rate_hz %g (need 0 < rate * dt < 1)", c->base_rate_hz);
    if (!(c->hub_rate_hz > 0) || !(c->hub_rate_hz * c->dt < 1)) BAD("hub_rate_hz %g (need 0 < rate * dt < 1)", c->hub_rate_hz);
    if (!isfinite(c->hub_weight)) BAD("hub_weight %g", c->hub_weight);
    if (!(c->edge_prob >= 0 && c->edge_prob <= 1)) BAD("edge_prob %g (need 0..1)", c->edge_prob);
    if (!(c->inhib_frac >= 0 && c->inhib_frac <= 1)) BAD("inhib_frac %g (need 0..1)", c->inhib_frac);
    if (!isfinite(c->edge_w_min) || !isfinite(c->edge_w_max) || c->edge_w_max < c->edge_w_min)
        BAD("edge weights U(%g, %g) (need finite min <= max)", c->edge_w_min, c->edge_w_max);
    if (c->kernel_len < 1 || c->kernel_len > MAX_KERNEL) BAD("kernel_len %d (need 1..%d)", c->kernel_len, MAX_KERNEL);
    if (!(c->kernel_tau > 0) || !isfinite(c->kernel_tau)) BAD("kernel_tau %g (need > 0)", c->kernel_tau);
    if (isnan(c->refractory) || c->refractory == INFINITY) BAD("refractory %g (finite, or -inf for absolute)", c->refractory);
    if (!isfinite(c->stim_gain)) BAD("stim_gain %g", c->stim_gain);
    if (c->stim_gain != 0 && (!(c->stim_tau > 0) || !isfinite(c->stim_tau))) BAD("stim_tau %g (need > 0)", c->stim_tau);
    if (c->stim_gain != 0 && (!(c->behavior_dt > 0) || !isfinite(c->behavior_dt)))
        BAD("behavior_dt %g (need > 0)", c->behavior_dt);
    if (!(c->trial_s >= 0) || !isfinite(c->trial_s)) BAD("trial_s %g (need >= 0)", c->trial_s);
    if (c->trial_s > 0 && c->seconds / c->trial_s > 1e7) BAD("trial_s %g gives too many trials", c->trial_s);
    if (c->movie_h != 0 || c->movie_w != 0) {
        if (c->movie_h < 1 || c->movie_w < 1 || c->movie_h > 1024 || c->movie_w > 1024)
            BAD("movie %dx%d (need 1..1024 pixels a side, or 0x0 for none)", c->movie_h, c->movie_w);
        if (!isfinite(c->movie_gain)) BAD("movie_gain %g", c->movie_gain);
        if (!(c->movie_rate_hz > 0) || !isfinite(c->movie_rate_hz) || c->movie_rate_hz * c->dt > 1 + 1e-9)
            BAD("movie_rate_hz %g (need 0 < rate <= 1 / dt)", c->movie_rate_hz);
        if (!(c->movie_lag >= 0) || !isfinite(c->movie_lag)) BAD("movie_lag %g (need >= 0)", c->movie_lag);
        double frames = ceil((c->trial_s > 0 && c->trial_s < c->seconds ? c->trial_s : c->seconds) * c->movie_rate_hz - 1e-9);
        if (frames * c->movie_h * c->movie_w > MOVIE_MAX_VALUES)
            BAD("a movie of %.0f frames of %dx%d pixels is too large (at most 2^26 pixels in all: use trials, whose movie "
                "is one trial long, or a smaller movie)", frames, c->movie_h, c->movie_w);
    }
#undef BAD
    return CF_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The first m of a Philox-driven Fisher-Yates shuffle of v[0..n) (v is permuted in place). */
static void partial_shuffle(int *v, int n, int m, cf_philox_key key, uint64_t step)
{
    for (int i = 0; i < m && i < n; i++) {
        int j = i + (int)(cf_rng_uniform(key, step, (uint64_t)i) * (double)(n - i));
        if (j >= n) j = n - 1;
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

cf_status cf_sim_hubs(const cf_sim_config *c, int *hubs)
{
    cf_status st = cf_sim_check(c);
    if (st != CF_OK) return st;
    if (c->n_hubs == 0) return CF_OK;
    if (!hubs) return cf_set_error(CF_ERR_ARG, "cf_sim_hubs: NULL output");
    int *v = malloc((size_t)c->n_neurons * sizeof *v);
    if (!v) return cf_set_error(CF_ERR_OOM, "cf_sim_hubs: out of memory");
    for (int i = 0; i < c->n_neurons; i++) v[i] = i;
    partial_shuffle(v, c->n_neurons, c->n_hubs, cf_rng_key(c->seed, STREAM_HUBS), 0);
    memcpy(hubs, v, (size_t)c->n_hubs * sizeof *hubs);
    qsort(hubs, (size_t)c->n_hubs, sizeof *hubs, cmp_int);
    free(v);
    return CF_OK;
}

cf_status cf_sim_weights(const cf_sim_config *c, double *w)
{
    cf_status st = cf_sim_check(c);
    if (st != CF_OK) return st;
    if (!w) return cf_set_error(CF_ERR_ARG, "cf_sim_weights: NULL output");
    int N = c->n_neurons;
    int *hubs = malloc((size_t)(c->n_hubs ? c->n_hubs : 1) * sizeof *hubs), *v = malloc((size_t)N * sizeof *v);
    if (!hubs || !v) {
        free(hubs);
        free(v);
        return cf_set_error(CF_ERR_OOM, "cf_sim_weights: out of memory");
    }
    cf_sim_hubs(c, hubs);
    memset(w, 0, (size_t)N * (size_t)N * sizeof *w);
    cf_philox_key key = cf_rng_key(c->seed, STREAM_EDGES);
    /* hub projections: hub_targets distinct targets other than the hub itself (step h + 1 per hub) */
    for (int h = 0; h < c->n_hubs; h++) {
        int src = hubs[h], m = 0;
        for (int j = 0; j < N; j++)
            if (j != src) v[m++] = j;
        partial_shuffle(v, m, c->hub_targets, key, (uint64_t)h + 1);
        for (int k = 0; k < c->hub_targets; k++) w[(int64_t)src * N + v[k]] = c->hub_weight;
    }
    /* sparse random edges on the remaining off-diagonal pairs; three uniforms per pair at step 0 */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int64_t e = (int64_t)i * N + j;
            if (i == j || w[e] != 0) continue;
            if (cf_rng_uniform(key, 0, 3 * (uint64_t)e) >= c->edge_prob) continue;
            double mag = c->edge_w_min + (c->edge_w_max - c->edge_w_min) * cf_rng_uniform(key, 0, 3 * (uint64_t)e + 1);
            w[e] = cf_rng_uniform(key, 0, 3 * (uint64_t)e + 2) < c->inhib_frac ? -mag : mag;
        }
    free(hubs);
    free(v);
    return CF_OK;
}

/* ---- the movie ---- */
/* MOVIE_BLOBS Gaussian blobs, alternately bright and dark with amplitude U(0.8, 1.2) and width
 * S * U(0.10, 0.18) (S the shorter side), start at random places and drift at S * U(0.3, 0.8) pixels per
 * second on a torus, turning every MOVIE_TURN_S seconds; a pixel is tanh of the blobs' sum. */

static bool movie_on(const cf_sim_config *c) { return c->movie_h > 0 && c->movie_w > 0; }

int64_t cf_sim_movie_frames(const cf_sim_config *c)
{
    if (cf_sim_check(c) != CF_OK || !movie_on(c)) return 0;
    double dur = c->trial_s > 0 && c->trial_s < c->seconds ? c->trial_s : c->seconds;
    int64_t n = (int64_t)ceil(dur * c->movie_rate_hz - 1e-9);
    return n > 0 ? n : 1;
}

/* Signed distance from a to b on a circle of circumference L, in [-L/2, L/2). */
static double wrap(double d, double L)
{
    d = fmod(d, L);
    if (d < -0.5 * L) d += L;
    if (d >= 0.5 * L) d -= L;
    return d;
}

cf_status cf_sim_movie(const cf_sim_config *c, float *frames)
{
    CF_TRY(cf_sim_check(c));
    if (!movie_on(c)) return CF_OK;
    if (!frames) return cf_set_error(CF_ERR_ARG, "cf_sim_movie: NULL output");
    const int H = c->movie_h, W = c->movie_w;
    const double S = H < W ? H : W, rate = c->movie_rate_hz;
    const int64_t n = cf_sim_movie_frames(c), turn = (int64_t)llround(MOVIE_TURN_S * rate) > 0 ? (int64_t)llround(MOVIE_TURN_S * rate) : 1;
    cf_philox_key key = cf_rng_key(c->seed, STREAM_MOVIE);
    double x[MOVIE_BLOBS], y[MOVIE_BLOBS], sig[MOVIE_BLOBS], amp[MOVIE_BLOBS], speed[MOVIE_BLOBS], vx[MOVIE_BLOBS], vy[MOVIE_BLOBS];
    for (int b = 0; b < MOVIE_BLOBS; b++) {
        /* step 0: the blobs' fixed properties; step 1 + k: their directions in the k-th turn interval */
        x[b] = W * cf_rng_uniform(key, 0, 8 * (uint64_t)b);
        y[b] = H * cf_rng_uniform(key, 0, 8 * (uint64_t)b + 1);
        sig[b] = S * (0.10 + 0.08 * cf_rng_uniform(key, 0, 8 * (uint64_t)b + 2));
        /* half bright, half dark, so the screen averages near 0 */
        amp[b] = (b % 2 ? -1.0 : 1.0) * (0.8 + 0.4 * cf_rng_uniform(key, 0, 8 * (uint64_t)b + 3));
        speed[b] = S * (0.3 + 0.5 * cf_rng_uniform(key, 0, 8 * (uint64_t)b + 4)); /* pixels per second */
        vx[b] = vy[b] = 0;
    }
    for (int64_t f = 0; f < n; f++) {
        if (f % turn == 0)
            for (int b = 0; b < MOVIE_BLOBS; b++) {
                double a = 6.283185307179586 * cf_rng_uniform(key, 1 + (uint64_t)(f / turn), (uint64_t)b);
                vx[b] = speed[b] * cos(a), vy[b] = speed[b] * sin(a);
            }
        float *p = frames + (size_t)f * (size_t)H * (size_t)W;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double v = 0;
                for (int b = 0; b < MOVIE_BLOBS; b++) {
                    double dx = wrap(j + 0.5 - x[b], W), dy = wrap(i + 0.5 - y[b], H);
                    v += amp[b] * exp(-(dx * dx + dy * dy) / (2 * sig[b] * sig[b]));
                }
                p[i * W + j] = (float)tanh(v); /* overlapping blobs saturate softly, inside (-1, 1) */
            }
        for (int b = 0; b < MOVIE_BLOBS; b++) {
            x[b] = fmod(x[b] + vx[b] / rate + W, W);
            y[b] = fmod(y[b] + vy[b] / rate + H, H);
        }
    }
    return CF_OK;
}

cf_status cf_sim_receptive_fields(const cf_sim_config *c, float *rf, double *gain)
{
    CF_TRY(cf_sim_check(c));
    if (!movie_on(c)) return CF_OK;
    const int N = c->n_neurons, H = c->movie_h, W = c->movie_w;
    const double S = H < W ? H : W;
    cf_philox_key key = cf_rng_key(c->seed, STREAM_RF);
    for (int u = 0; u < N; u++) {
        double cx = W * cf_rng_uniform(key, 0, 8 * (uint64_t)u), cy = H * cf_rng_uniform(key, 0, 8 * (uint64_t)u + 1);
        double s = S * (0.10 + 0.10 * cf_rng_uniform(key, 0, 8 * (uint64_t)u + 2));
        double sign = cf_rng_uniform(key, 0, 8 * (uint64_t)u + 3) < RF_NEG_FRAC ? -1.0 : 1.0;
        if (gain) gain[u] = c->movie_gain * (0.5 + cf_rng_uniform(key, 0, 8 * (uint64_t)u + 4));
        if (!rf) continue;
        float *p = rf + (size_t)u * (size_t)H * (size_t)W;
        double sum = 0;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double dx = j + 0.5 - cx, dy = i + 0.5 - cy, v = exp(-(dx * dx + dy * dy) / (2 * s * s));
                p[i * W + j] = (float)v;
                sum += v;
            }
        for (int k = 0; k < H * W; k++) p[k] = (float)(sign * p[k] / (sum > 0 ? sum : 1));
    }
    return CF_OK;
}

/* The movie (malloc'ed into *movie, may be NULL) and each frame's drive g_j <rf_j, frame> ([n * N] into
 * *drive); *n the frame count. */
static cf_status movie_drive(const cf_sim_config *c, float **movie, double **drive, int64_t *n)
{
    const int N = c->n_neurons;
    const size_t px = (size_t)c->movie_h * (size_t)c->movie_w;
    *n = cf_sim_movie_frames(c);
    float *m = malloc((size_t)*n * px * sizeof *m), *rf = malloc((size_t)N * px * sizeof *rf);
    double *g = malloc((size_t)N * sizeof *g), *d = malloc((size_t)*n * (size_t)N * sizeof *d);
    cf_status st = m && rf && g && d ? CF_OK : cf_set_error(CF_ERR_OOM, "simulation: out of memory for the movie");
    if (st == CF_OK) st = cf_sim_movie(c, m);
    if (st == CF_OK) st = cf_sim_receptive_fields(c, rf, g);
    for (int64_t f = 0; st == CF_OK && f < *n; f++)
        for (int u = 0; u < N; u++) {
            double v = 0;
            const float *a = m + (size_t)f * px, *b = rf + (size_t)u * px;
            for (size_t k = 0; k < px; k++) v += (double)a[k] * (double)b[k];
            d[f * N + u] = g[u] * v;
        }
    free(rf);
    free(g);
    if (st != CF_OK || !movie) free(m), m = NULL;
    if (st != CF_OK) free(d), d = NULL;
    if (movie) *movie = m;
    *drive = d;
    return st;
}

static double logit(double p) { return log(p / (1 - p)); }

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

cf_status cf_sim_parameters(const cf_sim_config *c, double *bias, double *gain)
{
    cf_status st = cf_sim_check(c);
    if (st != CF_OK) return st;
    const int N = c->n_neurons, K = c->kernel_len;
    double *w = malloc((size_t)N * (size_t)N * sizeof *w), *rate = malloc((size_t)N * sizeof *rate);
    double *x = malloc(CALIB_SAMPLES * sizeof *x), *g = calloc((size_t)N, sizeof *g);
    int *hubs = malloc((size_t)(c->n_hubs ? c->n_hubs : 1) * sizeof *hubs), *in_src = malloc((size_t)N * sizeof *in_src);
    float *uni = malloc(((size_t)N * (size_t)K + 1) * sizeof *uni);
    double *mdrive = NULL; /* the movie's drive per frame and unit, sampled over the frames */
    int64_t n_frames = 0;
    if (!w || !rate || !x || !g || !hubs || !in_src || !uni) {
        st = cf_set_error(CF_ERR_OOM, "cf_sim_parameters: out of memory");
        goto done;
    }
    if (c->calibrate && movie_on(c) && (st = movie_drive(c, NULL, &mdrive, &n_frames)) != CF_OK) goto done;
    if ((st = cf_sim_weights(c, w)) != CF_OK || (st = cf_sim_hubs(c, hubs)) != CF_OK) goto done;
    for (int i = 0; i < N; i++) rate[i] = c->base_rate_hz * c->dt;
    for (int h = 0; h < c->n_hubs; h++) rate[hubs[h]] = c->hub_rate_hz * c->dt;
    if (c->stim_gain != 0) {
        cf_philox_key kg = cf_rng_key(c->seed, STREAM_GAINS);
        for (int i = 0; i < N; i++) g[i] = c->stim_gain * (0.5 + cf_rng_uniform(kg, 0, (uint64_t)i));
    }
    double kappa[MAX_KERNEL + 1];
    for (int k = 1; k <= K; k++) kappa[k] = exp(-(double)(k - 1) / c->kernel_tau);
    cf_philox_key key = cf_rng_key(c->seed, STREAM_CALIB);
    for (int j = 0; j < N; j++) {
        double b = logit(rate[j]);
        if (c->calibrate) {
            /* Samples of everything but b_j in unit j's logit, with the inputs firing independently at their
             * target rates (and its own last bin at its target rate, for the refractory term): the baseline
             * that makes the mean of sigmoid(b_j + x) the target rate is found by bisection. This ignores the
             * correlations the network creates, which is why the realised rates are only close to the targets. */
            int n_in = 0;
            for (int i = 0; i < N; i++)
                if (w[(int64_t)i * N + j] != 0) in_src[n_in++] = i;
            for (int m = 0; m < CALIB_SAMPLES; m++) {
                /* K draws per input and one for the unit's own last bin, four per Philox block */
                cf_rng_uniform_f32(key, (uint64_t)j << 32 | (uint64_t)m, uni, (int64_t)n_in * K + 1);
                double v = 0;
                for (int a = 0; a < n_in; a++) {
                    int i = in_src[a];
                    for (int k = 1; k <= K; k++)
                        if ((double)uni[a * K + k - 1] < rate[i]) v += w[(int64_t)i * N + j] * kappa[k];
                }
                if ((double)uni[n_in * K] < rate[j]) v += c->refractory * kappa[1];
                if (g[j] != 0) v += g[j] * cf_rng_normal(key, (uint64_t)j + ((uint64_t)1 << 40), (uint64_t)m);
                if (mdrive) {
                    int64_t f = (int64_t)(cf_rng_uniform(cf_rng_key(c->seed, STREAM_MOVIE_CALIB), (uint64_t)j, (uint64_t)m) *
                                          (double)n_frames);
                    v += mdrive[(f < n_frames ? f : n_frames - 1) * N + j];
                }
                x[m] = v;
            }
            /* f(b) = mean sigmoid(b + x) - rate is increasing in b: Newton steps, kept inside a bracket
             * that bisection shrinks whenever a step would leave it */
            double lo = -40, hi = 40;
            for (int it = 0; it < 50; it++) {
                double f = 0, df = 0;
                for (int m = 0; m < CALIB_SAMPLES; m++) {
                    double q = sigmoid(b + x[m]);
                    f += q, df += q * (1 - q);
                }
                f = f / CALIB_SAMPLES - rate[j];
                df /= CALIB_SAMPLES;
                if (f < 0) lo = b;
                else hi = b;
                if (fabs(f) < 1e-9 * rate[j]) break;
                double nb = df > 0 ? b - f / df : 0.5 * (lo + hi);
                b = nb > lo && nb < hi ? nb : 0.5 * (lo + hi);
            }
        }
        if (bias) bias[j] = b;
    }
    if (gain) memcpy(gain, g, (size_t)N * sizeof *g);
done:
    free(w);
    free(rate);
    free(x);
    free(g);
    free(hubs);
    free(in_src);
    free(uni);
    free(mdrive);
    return st;
}

cf_status cf_simulate_spikes(const cf_sim_config *c, cf_spikes **out, double *weights)
{
    if (!out) return cf_set_error(CF_ERR_ARG, "cf_simulate_spikes: NULL output");
    *out = NULL;
    cf_status st = cf_sim_check(c);
    if (st != CF_OK) return st;
    const int N = c->n_neurons, K = c->kernel_len, R = K + 1; /* drive ring: bins t .. t+K */
    const int64_t T = llround(c->seconds / c->dt);
    double *w = malloc((size_t)N * (size_t)N * sizeof *w), *bias = malloc((size_t)N * sizeof *bias);
    double *gain = calloc(2 * (size_t)N, sizeof *gain), *drive = calloc((size_t)R * (size_t)N, sizeof *drive);
    int *hubs = malloc((size_t)(c->n_hubs ? c->n_hubs : 1) * sizeof *hubs);
    int64_t *out_off = calloc((size_t)N + 1, sizeof *out_off);
    int *out_dst = NULL;
    double *out_w = NULL, *beh_t = NULL, *beh_v = NULL;
    float *u = malloc((size_t)N * sizeof *u);
    uint8_t *prev = calloc((size_t)N, 1), *cur = calloc((size_t)N, 1);
    int64_t *ev_bin = NULL;
    int32_t *ev_unit = NULL;
    int64_t n_ev = 0, cap_ev = 0;
    cf_spikes *s = NULL;
    float *movie = NULL;
    double *mdrive = NULL;
    int64_t n_frames = 0;
    if (!w || !bias || !gain || !drive || !hubs || !out_off || !u || !prev || !cur) goto oom;
    if ((st = cf_sim_weights(c, w)) != CF_OK || (st = cf_sim_hubs(c, hubs)) != CF_OK) goto fail;
    /* out-edge lists (CSR by source) so a spike touches only its targets */
    int64_t n_edges = 0;
    for (int64_t e = 0; e < (int64_t)N * N; e++) n_edges += w[e] != 0;
    out_dst = malloc((size_t)(n_edges ? n_edges : 1) * sizeof *out_dst);
    out_w = malloc((size_t)(n_edges ? n_edges : 1) * sizeof *out_w);
    if (!out_dst || !out_w) goto oom;
    for (int i = 0, k = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            if (w[(int64_t)i * N + j] != 0) out_dst[k] = j, out_w[k] = w[(int64_t)i * N + j], k++;
        out_off[i + 1] = k;
    }
    double kappa[MAX_KERNEL + 1];
    for (int k = 1; k <= K; k++) kappa[k] = exp(-(double)(k - 1) / c->kernel_tau);
    if ((st = cf_sim_parameters(c, bias, gain)) != CF_OK) goto fail;
    double *p0 = gain + N; /* gain was allocated with room for the baseline probabilities */
    for (int i = 0; i < N; i++) p0[i] = 1.0 / (1.0 + exp(-bias[i]));
    cf_philox_key ks = cf_rng_key(c->seed, STREAM_SPIKES), kst = cf_rng_key(c->seed, STREAM_STIM);
    bool stim_on = c->stim_gain != 0;
    int64_t beh_every = 1, n_beh = 0;
    if (stim_on) {
        beh_every = llround(c->behavior_dt / c->dt);
        if (beh_every < 1) beh_every = 1;
        n_beh = (T + beh_every - 1) / beh_every;
        beh_t = malloc((size_t)n_beh * sizeof *beh_t);
        beh_v = malloc((size_t)n_beh * sizeof *beh_v);
        if (!beh_t || !beh_v) goto oom;
    }
    const double rho = stim_on ? exp(-c->dt / c->stim_tau) : 0, innov = sqrt(1 - rho * rho);
    const double refr = c->refractory * kappa[1];
    double stim = stim_on ? cf_rng_normal(kst, 0, 0) : 0;
    /* the movie: its drive per frame; bin t sees the frame on screen at t * dt - movie_lag (from the trial's
     * start with trials) */
    if (movie_on(c) && (st = movie_drive(c, &movie, &mdrive, &n_frames)) != CF_OK) goto fail;
    cap_ev = (int64_t)((double)T * N * (c->base_rate_hz * c->dt) * 2) + 1024;
    ev_bin = malloc((size_t)cap_ev * sizeof *ev_bin);
    ev_unit = malloc((size_t)cap_ev * sizeof *ev_unit);
    if (!ev_bin || !ev_unit) goto oom;
    for (int64_t t = 0; t < T; t++) {
        if (stim_on) {
            if (t > 0) stim = rho * stim + innov * cf_rng_normal(kst, (uint64_t)t, 0);
            if (t % beh_every == 0) beh_t[t / beh_every] = (double)t * c->dt, beh_v[t / beh_every] = stim;
        }
        double *d = drive + (t % R) * N;
        const double *md = NULL;
        if (mdrive) {
            double tt = (double)t * c->dt, rel = tt;
            if (c->trial_s > 0) rel = tt - floor((tt + 1e-9) / c->trial_s) * c->trial_s;
            rel -= c->movie_lag;
            int64_t f = (int64_t)floor(rel * c->movie_rate_hz + 1e-6);
            if (rel > -1e-9 && f >= 0 && f < n_frames) md = mdrive + f * N;
        }
        cf_rng_uniform_f32(ks, (uint64_t)t, u, N);
        for (int j = 0; j < N; j++) {
            double p;
            if (d[j] == 0 && !prev[j] && !stim_on && !md) {
                p = p0[j]; /* no input this bin (most bins): the baseline probability */
            } else {
                double x = bias[j] + d[j] + gain[j] * stim;
                if (md) x += md[j];
                /* refractory term only after a spike: with r = -inf, r * 0 would be NaN */
                if (prev[j]) x += refr;
                p = 1.0 / (1.0 + exp(-x));
            }
            cur[j] = (double)u[j] < p;
            d[j] = 0; /* this slot becomes bin t + R */
        }
        for (int i = 0; i < N; i++) {
            if (!cur[i]) continue;
            if (n_ev == cap_ev) {
                int64_t ncap = cap_ev * 2;
                int64_t *nb = realloc(ev_bin, (size_t)ncap * sizeof *nb);
                if (nb) ev_bin = nb;
                int32_t *nu = realloc(ev_unit, (size_t)ncap * sizeof *nu);
                if (nu) ev_unit = nu;
                if (!nb || !nu) goto oom;
                cap_ev = ncap;
            }
            ev_bin[n_ev] = t;
            ev_unit[n_ev] = i;
            n_ev++;
            for (int64_t e = out_off[i]; e < out_off[i + 1]; e++)
                for (int k = 1; k <= K; k++) drive[((t + k) % R) * N + out_dst[e]] += out_w[e] * kappa[k];
        }
        uint8_t *sw = prev;
        prev = cur;
        cur = sw;
    }
    /* per-unit CSR: events are in bin order, so each unit's times come out sorted */
    if (!(s = calloc(1, sizeof *s)) || !(s->offsets = calloc((size_t)N + 1, sizeof *s->offsets)) ||
        !(s->times = malloc((size_t)(n_ev ? n_ev : 1) * sizeof *s->times)))
        goto oom;
    s->n_units = N;
    s->n_spikes = n_ev;
    s->t_start = 0;
    s->t_end = (double)T * c->dt;
    for (int64_t e = 0; e < n_ev; e++) s->offsets[ev_unit[e] + 1]++;
    for (int i = 0; i < N; i++) s->offsets[i + 1] += s->offsets[i];
    {
        int64_t *fill = malloc((size_t)N * sizeof *fill);
        if (!fill) goto oom;
        memcpy(fill, s->offsets, (size_t)N * sizeof *fill);
        for (int64_t e = 0; e < n_ev; e++) s->times[fill[ev_unit[e]]++] = (double)ev_bin[e] * c->dt;
        free(fill);
    }
    if (c->trial_s > 0) {
        int nt = (int)ceil(s->t_end / c->trial_s - 1e-9);
        double *a = malloc((size_t)(nt ? nt : 1) * sizeof *a), *b = malloc((size_t)(nt ? nt : 1) * sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            goto oom;
        }
        for (int k = 0; k < nt; k++) {
            a[k] = k * c->trial_s;
            b[k] = (k + 1) * c->trial_s < s->t_end ? (k + 1) * c->trial_s : s->t_end;
        }
        st = cf_spikes_set_trials(s, nt, a, b);
        free(a);
        free(b);
        if (st != CF_OK) goto fail;
    }
    if (stim_on) {
        const char *name = "stimulus";
        if ((st = cf_spikes_set_behavior(s, n_beh, 1, beh_t, beh_v, &name)) != CF_OK) goto fail;
    }
    if (movie) {
        cf_frames *fr = cf_frames_make("movie", n_frames, c->movie_h, c->movie_w, movie, NULL, 0.0, c->movie_rate_hz,
                                       c->trial_s > 0);
        if (!fr) {
            st = cf_last_status();
            goto fail;
        }
        s->frames = fr;
    }
    if (weights) memcpy(weights, w, (size_t)N * (size_t)N * sizeof *w);
    *out = s;
    s = NULL;
    st = CF_OK;
    goto done;
oom:
    st = cf_set_error(CF_ERR_OOM, "cf_simulate_spikes: out of memory (%d units, %" PRId64 " bins)", N, T);
fail:
    cf_spikes_free(s);
done:
    free(w);
    free(bias);
    free(gain);
    free(drive);
    free(hubs);
    free(out_off);
    free(out_dst);
    free(out_w);
    free(u);
    free(prev);
    free(cur);
    free(ev_bin);
    free(ev_unit);
    free(beh_t);
    free(beh_v);
    free(movie);
    free(mdrive);
    return st;
}
