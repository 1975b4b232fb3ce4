/* Classification evaluation (recipes/run/classify_eval.h) on hand-computed cases: top-1, top-5 with ties
 * broken by index, per-class accuracy, the confusion matrix, and the eval.json it writes. */
#define CHECK_SHOW_LAST_ERROR
#include "recipes/run/classify_eval.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

static void test_counts(void)
{
    cf_classify_eval e;
    CHECK(cf_classify_eval_init(&e, 6) == CF_OK);
    /* row 0: label 2 is the max -> top1. row 1: label 0 is 6th of 6 -> neither. row 2: label 5 ranks 2nd
     * -> top5 only. row 3: all equal, label 4 ranks 4 (four smaller indices) -> top5 only; predicted 0. */
    const float z[4 * 6] = {0, 1, 9, 2, 3, 4, /**/ -5, 1, 2, 3, 4, 5, /**/ 0, 0, 0, 0, 7, 6, /**/ 1, 1, 1, 1, 1, 1};
    const int64_t y[4] = {2, 0, 5, 4};
    CHECK(cf_classify_eval_add(&e, z, y, 4) == CF_OK);
    CHECK(e.n == 4 && e.top1 == 1 && e.top5 == 3, "n %lld top1 %lld top5 %lld", (long long)e.n, (long long)e.top1, (long long)e.top5);
    CHECK(e.confusion[2 * 6 + 2] == 1 && e.confusion[0 * 6 + 5] == 1 && e.confusion[5 * 6 + 4] == 1 && e.confusion[4 * 6 + 0] == 1);
    CHECK_NEAR(cf_classify_eval_class_accuracy(&e, 2), 1.0, 0);
    CHECK_NEAR(cf_classify_eval_class_accuracy(&e, 0), 0.0, 0);
    CHECK(isnan(cf_classify_eval_class_accuracy(&e, 1)));
    cf_metrics m = {0};
    cf_classify_eval_metrics(&e, &m);
    double v;
    CHECK(cf_metrics_get(&m, "top1", &v) && fabs(v - 0.25) < 1e-12);
    CHECK(cf_metrics_get(&m, "top5", &v) && fabs(v - 0.75) < 1e-12);
    const int64_t bad[1] = {6};
    CHECK(cf_classify_eval_add(&e, z, bad, 1) != CF_OK);
    CHECK_ERROR_HAS("row 0 has label 6");
    CHECK(e.n == 4);
    CHECK(cf_classify_eval_write(&e, tmp_path("eval.json"), &m) == CF_OK);
    FILE *f = fopen(tmp_path("eval.json"), "r");
    char buf[2048] = {0};
    if (f) fread(buf, 1, sizeof buf - 1, f), fclose(f);
    CHECK(strstr(buf, "\"top1\": 0.25") || strstr(buf, "\"top1\":0.25"), "%s", buf);
    CHECK(strstr(buf, "per_class_accuracy") && strstr(buf, "null") && strstr(buf, "confusion"), "%s", buf);
    cf_classify_eval_free(&e);
}

int main(void)
{
    if (!test_dir_make("test_images_eval")) return 1;
    RUN(test_counts);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
