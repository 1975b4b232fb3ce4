/* ShapeFormer's offline shapelet discovery (layers/shapelet_discovery.h): PIP spans and the CID distance on
 * hand-computed cases, and the property: on the planted-motif set (data/series/motifs.h) each class's
 * top shapelet (the largest gain, ties to the larger separation gap: the discovery's own ranking) lies on the
 * planted dimension and span with IoU > 0.5, on the balanced and the imbalanced training sets.
 * The property is checked at motif amplitude 4: at the recipes' 2 the planted span itself barely tells its
 * class apart by raw CID distance against the unit sine background (the V-notch's best information gain is
 * 0.2 bits of 0.81), so no ranking by gain can find it; recipes/shapeformer/README.md has the sweep. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/cformer.h"
#include "data/series/motifs.h"
#include "layers/shapelet_discovery.h"
#include "tests/check.h"

#include <stdlib.h>

static void test_pip(void)
{
    /* a flat line with a spike at 3: the spike is the first PIP; then 4, farthest from the line 3 -> 9 */
    float x[10] = {0, 0, 0, 5, 0, 0, 0, -2, 0, 0};
    int64_t spans[16][2];
    int64_t n = cf_pip_spans(x, 10, 4, spans, 16);
    /* PIPs {0,9} + 3 -> span [0,9); + 4 -> PIPs {0,3,4,9}: [3,9), [0,4) */
    CHECK(n == 3, "%lld spans", (long long)n);
    CHECK(spans[0][0] == 0 && spans[0][1] == 9);
    CHECK(spans[1][0] == 3 && spans[1][1] == 9 && spans[2][0] == 0 && spans[2][1] == 4);
    CHECK(cf_pip_spans(x, 2, 5, spans, 16) == 0, "too short for a span");
}

static void test_distance(void)
{
    float s[3] = {0, 1, 0}, flat[3] = {0, 0, 0};
    /* CE(s) = sqrt(2.001), CE(flat) = sqrt(0.001); ED = 1 */
    CHECK_NEAR(cf_cid_complexity(s, 3), sqrt(2.001), 1e-12);
    CHECK_NEAR(cf_shapelet_distance(s, 3, 0, flat, 3, 0), sqrt(2.001) / sqrt(0.001), 1e-9);
    float x[8] = {5, 5, 5, 5, 0, 1, 0, 5};
    CHECK_NEAR(cf_shapelet_distance(s, 3, 2, x, 8, 2), 0, 1e-12); /* found at 4, within +-2 of 2 */
    CHECK(cf_shapelet_distance(s, 3, 0, x, 8, 2) > 1, "the match at 4 is outside +-2 of 0");
}

static double iou(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    double inter = hi > lo ? (double)(hi - lo) : 0;
    return inter / (double)((a1 - a0) + (b1 - b0) - (int64_t)inter);
}

/* The discovery's ranking (step 4): gain, then separation gap. */
static const cf_shapelet *top_of(const cf_shapelet *sh, int64_t k)
{
    const cf_shapelet *top = sh;
    for (int64_t j = 1; j < k; j++)
        if (sh[j].gain > top->gain || (sh[j].gain == top->gain && sh[j].gap > top->gap)) top = &sh[j];
    return top;
}

static void planted(const int64_t counts[4], double amplitude, uint64_t seed, const char *what)
{
    cf_motif *pl = NULL;
    cf_ts_set *s = cf_motifs_make(counts, amplitude, seed, &pl);
    CHECK(s != NULL);
    if (!s) return;
    int64_t N = s->cases, V = s->dims, T = s->max_len, K = 3;
    float *x = malloc((size_t)(N * V * T) * sizeof *x);
    cf_shapelet sh[4 * 3];
    CHECK(cf_ts_dense(s, T, CF_TS_PAD_REFUSE, CF_TS_MISSING_REFUSE, 0, x) == CF_OK);
    CHECK(cf_shapelets_discover(x, s->label, N, V, T, 4, &(cf_shapelet_config){K, 10, 0.2, 40}, sh) == CF_OK);
    for (int c = 0; c < 4; c++) {
        const cf_shapelet *top = top_of(sh + c * K, K);
        const cf_motif *m = &pl[top->series];
        double o = top->dim == m->dim ? iou(top->start, top->end, m->start, m->end) : 0;
        CHECK(top->label == c && s->label[top->series] == c);
        CHECK(o > 0.5, "%s class %d: top shapelet dim %lld [%lld, %lld) gain %.3f; planted dim %lld [%lld, %lld): "
              "IoU %.2f", what, c, (long long)top->dim, (long long)top->start, (long long)top->end, top->gain,
              (long long)m->dim, (long long)m->start, (long long)m->end, o);
        printf("  %s class %d: dim %lld [%lld, %lld) gain %.3f gap %.2f, planted dim %lld [%lld, %lld), IoU %.2f\n",
               what, c, (long long)top->dim, (long long)top->start, (long long)top->end, top->gain, top->gap,
               (long long)m->dim, (long long)m->start, (long long)m->end, o);
    }
    free(x), free(pl);
    cf_ts_free(s);
}

static void test_planted(void)
{
    planted((int64_t[4]){20, 20, 20, 20}, 4.0, 1, "balanced");
    planted((int64_t[4]){40, 20, 10, 5}, 4.0, 1, "imbalanced");
}

static void test_errors(void)
{
    float x[2 * 1 * 5] = {0};
    int64_t y[2] = {0, 0};
    cf_shapelet sh[2];
    CHECK(cf_shapelets_discover(x, y, 2, 1, 5, 2, &(cf_shapelet_config){1, 2, 0.2, 0}, sh) != CF_OK);
    CHECK_ERROR_HAS("class 1 has no training series");
    y[1] = 7;
    CHECK(cf_shapelets_discover(x, y, 2, 1, 5, 2, &(cf_shapelet_config){1, 2, 0.2, 0}, sh) != CF_OK);
    CHECK_ERROR_HAS("label 7 of series 1");
}

int main(void)
{
    test_pip();
    test_distance();
    test_planted();
    test_errors();
    TEST_MAIN_END();
}
