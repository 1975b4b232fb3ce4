/* The icl_regression prompts (data/icl/icl.h): the token layout (x_i, [y_i, 0..0], .., x_{n+1}) and zero
 * padding; the labels are an exact linear function of the prompt's features (two examples determine w for
 * d = 2, and predict every other y); the representation Phi(x) = ReLU(A x) / sqrt(d) checked by hand (Phi(e_k)
 * - Phi(-e_k) is column k of A / sqrt(d), the two are never both positive, Phi(2x) = 2 Phi(x)) and its signal
 * power ||A||_F^2 / (2 d) against the labels' mean square; the noisy variant's residual variance; the N
 * curriculum by item index; determinism across calls and independence across splits. */
#include "autograd/cformer.h"
#include "data/icl/icl.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 2, N = 12 };

/* the 2 x 2 least-squares fit on the features of examples 0 and 1, its predictions' worst error on the rest */
static double exactness(const cf_icl_config *c, const float *z, const float *y, int64_t n)
{
    double p0[D], p1[D], phi[D];
    cf_icl_features(c, z, p0);
    cf_icl_features(c, z + 2 * D, p1);
    double det = p0[0] * p1[1] - p0[1] * p1[0];
    double w0 = (y[0] * p1[1] - y[1] * p0[1]) / det, w1 = (p0[0] * y[1] - p1[0] * y[0]) / det;
    double worst = 0;
    for (int64_t p = 2; p <= n; p++) {
        cf_icl_features(c, z + 2 * p * D, phi);
        worst = fmax(worst, fabs(w0 * phi[0] + w1 * phi[1] - y[p]) / (1 + fabs(y[p])));
    }
    return fabs(det) > 1e-3 ? worst : 0;
}

static void check_layout_and_exactness(cf_icl_task task)
{
    cf_icl_config c = cf_icl_defaults();
    c.task = task, c.dim = D, c.n_max = N, c.seed = 5;
    float z[(2 * N + 1) * D], y[N + 1], z2[(2 * N + 1) * D], y2[N + 1];
    double worst = 0;
    for (int64_t item = 0; item < 50; item++) {
        cf_icl_sample(&c, 0, item, N, z, y);
        worst = fmax(worst, exactness(&c, z, y, N));
        for (int64_t p = 0; p < N; p++) {
            CHECK(z[(2 * p + 1) * D] == y[p] && z[(2 * p + 1) * D + 1] == 0, "y token %lld is not [y, 0]", (long long)p);
        }
        cf_icl_sample(&c, 0, item, N, z2, y2);
        CHECK(memcmp(z, z2, sizeof z) == 0 && memcmp(y, y2, sizeof y) == 0, "item %lld differs between calls", (long long)item);
        cf_icl_sample(&c, 1, item, N, z2, y2);
        CHECK(memcmp(z, z2, sizeof z) != 0, "train and val item %lld are the same prompt", (long long)item);
    }
    CHECK(worst < 1e-4, "task %d: labels are not w^T Phi(x) with one w per prompt (worst relative error %g)", task, worst);
}

static void check_representation(void)
{
    cf_icl_config c = cf_icl_defaults();
    c.task = CF_ICL_REPRESENTATION, c.dim = 3, c.seed = 9;
    double a[3][3], fro = 0, pp[3], pm[3];
    for (int k = 0; k < 3; k++) {
        float e[3] = {0, 0, 0}, m[3] = {0, 0, 0};
        e[k] = 1, m[k] = -1;
        cf_icl_features(&c, e, pp);
        cf_icl_features(&c, m, pm);
        for (int j = 0; j < 3; j++) {
            CHECK(pp[j] >= 0 && pm[j] >= 0 && (pp[j] == 0 || pm[j] == 0), "Phi is not a ReLU of a linear map");
            a[j][k] = (pp[j] - pm[j]) * sqrt(3.0);
            fro += a[j][k] * a[j][k];
        }
    }
    float x[3] = {0.3f, -1.2f, 0.7f}, x2[3] = {0.6f, -2.4f, 1.4f};
    double f[3], f2[3];
    cf_icl_features(&c, x, f);
    cf_icl_features(&c, x2, f2);
    for (int j = 0; j < 3; j++) {
        double s = a[j][0] * x[0] + a[j][1] * x[1] + a[j][2] * x[2];
        CHECK(fabs(f[j] - (s > 0 ? s : 0) / sqrt(3.0)) < 1e-6, "Phi(x)[%d] = %g, by hand %g", j, f[j], (s > 0 ? s : 0) / sqrt(3.0));
        CHECK(fabs(f2[j] - 2 * f[j]) < 1e-6, "Phi is not positively homogeneous");
    }
    CHECK(fabs(cf_icl_signal_power(&c) - fro / 6.0) < 1e-9, "signal power %g, by hand %g", cf_icl_signal_power(&c), fro / 6);
    /* the labels' mean square matches it (4000 prompts: a few percent) */
    double msq = 0;
    float z[(2 * 20 + 1) * 3], y[21];
    for (int64_t i = 0; i < 4000; i++) {
        cf_icl_sample(&c, 0, i, 0, z, y);
        msq += y[0] * y[0] / 4000.0;
    }
    CHECK(fabs(msq / cf_icl_signal_power(&c) - 1) < 0.1, "mean y^2 %g vs signal power %g", msq, cf_icl_signal_power(&c));
    c.task = CF_ICL_LINEAR;
    CHECK(cf_icl_signal_power(&c) == 3.0);
}

static void check_noise(void)
{
    cf_icl_config c = cf_icl_defaults();
    c.dim = D, c.noise = 0.5, c.n_max = N, c.seed = 2;
    float z[(2 * N + 1) * D], y[N + 1];
    double clean = 0;
    cf_icl_config c0 = c;
    c0.noise = 0;
    float z0[(2 * N + 1) * D], y0[N + 1];
    int64_t count = 0;
    for (int64_t item = 0; item < 400; item++) {
        cf_icl_sample(&c, 0, item, N, z, y);
        cf_icl_sample(&c0, 0, item, N, z0, y0);
        CHECK(memcmp(z, z0, (size_t)D * sizeof *z) == 0, "noise changed the points");
        for (int p = 0; p <= N; p++) clean += (y[p] - y0[p]) * (y[p] - y0[p]), count++;
    }
    clean /= (double)count;
    CHECK(fabs(clean - 0.25) < 0.03, "noise variance %g, want 0.25", clean);
}

static void check_curriculum_and_dataset(void)
{
    cf_icl_config c = cf_icl_defaults();
    c.dim = D, c.n_max = 9, c.n_start = 2, c.n_inc = 3, c.n_every = 2, c.batch = 4;
    /* step s = index / 4; n = 2 + 3 floor(s / 2), capped at 9 */
    static const int64_t want[] = {2, 2, 5, 5, 8, 8, 9, 9, 9};
    for (int s = 0; s < 9; s++) {
        CHECK(cf_icl_examples(&c, true, 4 * s) == want[s] && cf_icl_examples(&c, true, 4 * s + 3) == want[s],
              "step %d: n %lld, want %lld", s, (long long)cf_icl_examples(&c, true, 4 * s), (long long)want[s]);
        CHECK(cf_icl_examples(&c, false, 4 * s) == 9, "validation follows the curriculum");
    }
    CHECK(cf_icl_examples(&c, true, INT64_C(1) << 39) == 9);
    cf_dataset *ds = cf_icl_dataset_new(&c, "train", 100);
    cf_batch b = {0};
    CHECK(ds && cf_dataset_make_batch(ds, 4, &b) == CF_OK);
    CHECK(ds->info.seq == 19 && ds->info.units == D);
    CHECK(cf_dataset_get(ds, 9, &b, 1) == CF_OK); /* step 2: 5 examples */
    cf_tensor *z = cf_batch_get(&b, "z"), *n = cf_batch_get(&b, "n");
    CHECK(z->shape[1] == 19 && z->shape[2] == D && cf_get_flat(n, 1) == 5);
    double pad = 0, used = 0;
    for (int64_t t = 0; t < 19 * D; t++) {
        double v = fabs(cf_get_flat(z, 19 * D + t));
        if (t >= 11 * D) pad += v;
        else used += v;
    }
    CHECK(pad == 0 && used > 0, "a 5-example row is not zero past its 11 tokens");
    cf_batch_free(&b);
    cf_dataset_free(ds);
    c.n_start = 10;
    CHECK(cf_icl_dataset_new(&c, "train", 10) == NULL && strstr(cf_last_error(), "n_start"), "%s", cf_last_error());
    c.n_start = 2, c.noise = -1;
    CHECK(cf_icl_dataset_new(&c, "val", 10) == NULL && strstr(cf_last_error(), "noise"), "%s", cf_last_error());
}

int main(void)
{
    check_layout_and_exactness(CF_ICL_LINEAR);
    check_layout_and_exactness(CF_ICL_REPRESENTATION);
    check_representation();
    check_noise();
    check_curriculum_and_dataset();
    TEST_MAIN_END();
}
