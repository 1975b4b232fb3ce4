/* The UEA/UCR .ts reader (data/series/ts.h): a valid multivariate file with '?', unequal lengths and
 * timestamps; label ids in sorted order; the writer's round trip; the padding and missing policies; and every
 * malformed case refused with the file and line named. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/cformer.h"
#include "data/series/ts.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>

static cf_ts_set *parse(const char *text) { return cf_ts_parse(text, strlen(text), "mem.ts"); }

static void test_valid(void)
{
    const char *text = "# a comment\n\n@problemName Toy\r\n@TIMESTAMPS false\n@missing true\n@univariate false\n"
                       "@dimensions 2\n@equalLength false\n@classLabel true walk run  badminton\n@data\n"
                       "1,2,3:4,5:run\n"
                       "# comment among the cases\n"
                       " 0.5 , ? ,1e-2:7:badminton \n"
                       "1:2,3,4,5:walk\n";
    cf_ts_set *s = parse(text);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(strcmp(s->problem, "Toy") == 0);
    CHECK(s->cases == 3 && s->dims == 2 && s->max_len == 4 && s->missing_count == 1);
    CHECK(s->nlabels == 3 && strcmp(s->labels[0], "badminton") == 0 && strcmp(s->labels[2], "walk") == 0);
    CHECK(s->label[0] == 1 && s->label[1] == 0 && s->label[2] == 2, "label ids follow the sorted label strings");
    CHECK(s->len[0] == 3 && s->len[1] == 2 && s->len[2] == 3 && s->len[3] == 1 && s->len[4] == 1 && s->len[5] == 4);
    CHECK(s->values[s->off[2]] == 0.5 && isnan(s->values[s->off[2] + 1]) && s->values[s->off[2] + 2] == 1e-2);
    /* dense: zero padding, '?' as zero; edge padding; refuse */
    float x[3 * 2 * 5];
    CHECK(cf_ts_dense(s, 5, CF_TS_PAD_ZERO, CF_TS_MISSING_ZERO, 1, x) == CF_OK);
    float want0[10] = {1, 2, 3, 0, 0, 4, 5, 0, 0, 0};
    CHECK(memcmp(x, want0, sizeof want0) == 0, "case 1 zero-padded");
    CHECK(x[10] == 0.5f && x[11] == 0.0f && x[15] == 7.0f);
    CHECK(cf_ts_dense(s, 5, CF_TS_PAD_EDGE, CF_TS_MISSING_NOISE, 1, x) == CF_OK);
    CHECK(x[3] == 3 && x[4] == 3 && x[16] == 7 && x[19] == 7 && x[11] > 0 && x[11] < 1e-3f, "edge padding, noise in [0,1e-3)");
    CHECK(cf_ts_dense(s, 5, CF_TS_PAD_REFUSE, CF_TS_MISSING_ZERO, 1, x) != CF_OK);
    CHECK_ERROR_HAS("case 1, dimension 1 has 3 points, not 5");
    CHECK(cf_ts_dense(s, 3, CF_TS_PAD_ZERO, CF_TS_MISSING_ZERO, 1, x) != CF_OK);
    CHECK_ERROR_HAS("case 3, dimension 2 has 4 points, more than the length 3");
    CHECK(cf_ts_dense(s, 5, CF_TS_PAD_ZERO, CF_TS_MISSING_REFUSE, 1, x) != CF_OK);
    CHECK_ERROR_HAS("1 missing values");
    /* the writer's round trip (unequal lengths and '?' kept) */
    CHECK(test_dir_make("series_ts"));
    CHECK(cf_ts_write(tmp_path("a.ts"), s) == CF_OK);
    cf_ts_set *r = cf_ts_read(tmp_path("a.ts"));
    CHECK(r != NULL);
    if (r) {
        CHECK(r->cases == 3 && r->dims == 2 && r->nlabels == 3 && r->missing_count == 1 && !r->equal_length);
        for (int64_t k = 0; k < 6; k++) CHECK(r->len[k] == s->len[k]);
        for (int64_t i = 0; i < 3; i++) CHECK(r->label[i] == s->label[i]);
        bool same = true;
        for (int64_t k = 0; k < 14; k++)
            same &= (isnan(r->values[k]) && isnan(s->values[k])) || r->values[k] == s->values[k];
        CHECK(same, "values round-trip");
        cf_ts_free(r);
    }
    cf_ts_free(s);
    test_rmtree(test_dir);
}

static void test_variants(void)
{
    /* timestamps: commas inside parentheses do not separate values */
    cf_ts_set *s = parse("@timeStamps true\n@missing true\n@classLabel true a b\n@data\n(0,1.5),(1,?),(2,3):b\n");
    CHECK(s && s->dims == 1 && s->len[0] == 3 && s->values[0] == 1.5 && isnan(s->values[1]) && s->label[0] == 1);
    cf_ts_free(s);
    /* regression targets, equal length with @seriesLength, @dimensions inferred */
    s = parse("@univariate true\n@equalLength true\n@seriesLength 2\n@classLabel false\n@targetLabel true\n@data\n"
              "1,2:0.25\n3,4:-1\n");
    CHECK(s && s->cases == 2 && s->target && s->target[0] == 0.25 && s->target[1] == -1 && !s->label);
    cf_ts_free(s);
    /* unlabelled */
    s = parse("@classLabel false\n@data\n1,2:3\n");
    CHECK(s && s->dims == 2 && s->cases == 1);
    cf_ts_free(s);
    /* the builder and writer: an equal-length set reads back with @seriesLength */
    const char *labels[] = {"z", "a"};
    s = cf_ts_new_equal("Built", 2, 3, 4, 2, labels);
    CHECK(s && strcmp(s->labels[0], "a") == 0);
    if (s) {
        for (int64_t k = 0; k < 24; k++) s->values[k] = (double)k / 3;
        s->label[0] = 1;
        CHECK(test_dir_make("series_ts_b"));
        CHECK(cf_ts_write(tmp_path("b.ts"), s) == CF_OK);
        cf_ts_set *r = cf_ts_read(tmp_path("b.ts"));
        CHECK(r && r->equal_length && r->series_length == 4 && r->dims == 3 && r->label[0] == 1 && r->label[1] == 0);
        CHECK(r && (float)r->values[23] == (float)(23.0 / 3), "float32-exact values");
        cf_ts_free(r);
        test_rmtree(test_dir);
    }
    cf_ts_free(s);
}

/* Each malformed file: refused, with the line and what is wrong in the message. */
static void test_malformed(void)
{
    static const struct {
        const char *text, *frag;
    } cases[] = {
        {"@classLabel true a\n@data\n1,2:c\n", "mem.ts:3: class label 'c' is not one of the 1 in @classLabel"},
        {"@classLabel true a\n@data\n1,x:a\n", "mem.ts:3: dimension 1, value 2: 'x' is not a finite number"},
        {"@classLabel true a\n@data\n1,,2:a\n", "mem.ts:3: dimension 1, value 2: '' is not a finite number"},
        {"@classLabel true a\n@data\n1,inf:a\n", "value 2: 'inf' is not a finite number"},
        {"@classLabel true a\n@missing false\n@data\n1,?:a\n", "mem.ts:4: dimension 1, value 2: '?' but the header says @missing false"},
        {"@dimensions 2\n@classLabel true a\n@data\n1,2:a\n", "mem.ts:4: 2 ':'-separated fields, expected 3 (2 dimensions and the label)"},
        {"@classLabel true a\n@data\n1:2:a\n1:a\n", "mem.ts:4: 2 ':'-separated fields, expected 3"},
        {"@classLabel true a\n@data\n1::a\n", "mem.ts:3: dimension 2 is empty"},
        {"@classLabel true a\n@data\n:a\n", "mem.ts:3: dimension 1 is empty"},
        {"@classLabel true a\n@data\n1,2:\n", "mem.ts:3: the class label is empty"},
        {"@equalLength true\n@classLabel true a\n@data\n1,2:a\n1,2,3:a\n", "mem.ts:5: dimension 1 has 3 values, expected 2"},
        {"@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n", "mem.ts:4: dimension 1 has 2 values, expected 3"},
        {"@equalLength false\n@seriesLength 3\n@classLabel false\n@data\n1\n", "mem.ts:4: @seriesLength is given but @equalLength is false"},
        {"@univariate true\n@dimensions 2\n@classLabel false\n@data\n1\n", "mem.ts:4: @univariate true with @dimensions 2"},
        {"@univariate false\n@dimensions 1\n@classLabel false\n@data\n1\n", "@univariate false with @dimensions 1"},
        {"@univariate true\n@classLabel false\n@data\n1:2\n", "mem.ts:4: 2 ':'-separated fields, expected 1"},
        {"@classLabel true a a\n@data\n1:a\n", "mem.ts:1: class label 'a' is listed twice"},
        {"@classLabel true\n@data\n1:a\n", "mem.ts:1: @classLabel true needs the list of labels"},
        {"@classLabel false extra\n@data\n1\n", "mem.ts:1: @classLabel false takes no labels"},
        {"@classLabel maybe\n@data\n1\n", "mem.ts:1: @classLabel needs true or false, got 'maybe'"},
        {"@classLabel false\n@classLabel false\n@data\n1\n", "mem.ts:2: @classLabel is given twice"},
        {"@missing yes\n", "mem.ts:1: @missing needs true or false, got 'yes'"},
        {"@dimensions 0\n", "mem.ts:1: @dimensions needs a whole number in [1, 100000], got '0'"},
        {"@dimensions 2x\n", "@dimensions needs a whole number"},
        {"@seriesLength -4\n", "@seriesLength needs a whole number"},
        {"@problemName\n", "mem.ts:1: @problemName needs a name"},
        {"@problemName a b\n", "mem.ts:1: @problemName takes one value"},
        {"@frequency 4\n", "mem.ts:1: unknown header key '@frequency'"},
        {"@classLabel false\n1,2\n@data\n", "mem.ts:2: expected a header key starting with '@' before @data"},
        {"@classLabel false\n@data\n1\n@missing true\n", "mem.ts:4: header key '@missing true' after @data"},
        {"@data\n1\n", "mem.ts:1: the header has neither @classLabel nor @targetLabel"},
        {"@classLabel true a\n@targetLabel true\n@data\n", "mem.ts:3: @classLabel true and @targetLabel true cannot both be set"},
        {"@classLabel false\n", "mem.ts:2: no @data line"},
        {"@classLabel false\n@data\n# nothing\n", "no cases after @data"},
        {"@classLabel false\n@data x\n", "mem.ts:2: @data takes nothing after it"},
        {"@timeStamps true\n@classLabel false\n@data\n(1,2),3\n", "mem.ts:4: dimension 1, value 2: '3' is not '(timestamp,value)'"},
        {"@timeStamps true\n@classLabel false\n@data\n(1,2,(3\n", "mem.ts:4: dimension 1: unbalanced parentheses"},
        {"@targetLabel true\n@data\n1:x\n", "mem.ts:3: target 'x' is not a finite number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cf_ts_set *s = parse(cases[i].text);
        CHECK(s == NULL, "case %zu was accepted: %s", i, cases[i].text);
        CHECK(cf_last_status() == CF_ERR_FORMAT, "case %zu: status %d", i, (int)cf_last_status());
        CHECK_ERROR_HAS(cases[i].frag);
        cf_ts_free(s);
    }
    static const char nul[] = "@classLabel false\n@data\n1\0";
    CHECK(cf_ts_parse(nul, sizeof nul - 1, "nul.ts") == NULL);
    CHECK_ERROR_HAS("nul.ts: a NUL byte");
    CHECK(cf_ts_read("/nonexistent/x.ts") == NULL);
    CHECK_ERROR_HAS("/nonexistent/x.ts");
}

int main(void)
{
    test_valid();
    test_variants();
    test_malformed();
    TEST_MAIN_END();
}
