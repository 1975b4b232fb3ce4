/* The synthetic-language files (data/synlang/synlang.h: the TSV splits AxFormer trains and evaluates on, and the
 * pre-training corpus) on good and malformed input: every malformed file is refused with an error that names the
 * file, the line and what is wrong (a missing column, too few or too many words, a word that is not w<n> in the
 * vocabulary, a label other than 0 or 1, a bad header, an empty file, an over-long line), never a crash or a
 * silently wrong example. */
#include "data/synlang/synlang.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

enum { VOCAB = 10, LEN = 4 };

static const char *write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    test_write_text(path, text);
    return path;
}

/* a split file with `text` as its content is refused, the message holding "name:line: " (line 0: "name: ")
 * and `what` */
static void refused(const char *text, bool labelled, int line, const char *what, int src_line)
{
    const char *path = write_file(labelled ? "bad.tsv" : "bad.txt", text);
    cf_synlang_set *s = cf_synlang_read(path, VOCAB, LEN, labelled);
    char where[600];
    snprintf(where, sizeof where, line ? "%s:%d: " : "%s: ", path, line);
    const char *msg = cf_last_error();
    bool ok = !s && strstr(msg, where) && strstr(msg, what);
    CHECK(ok, "line %d: want \"%s\" and \"%s\", got %s \"%s\"", src_line, where, what, s ? "a set" : "the error", msg);
    cf_synlang_free(s);
}
#define REFUSED(text, labelled, line, what) refused(text, labelled, line, what, __LINE__)

#define HEADER "sentence\tlabel\n"

static void test_good(void)
{
    const char *path = write_file("good.tsv", HEADER "w1 w2 w3 w9\t1\nw0  w5 w5 w2\t0\r\n");
    cf_synlang_set *s = cf_synlang_read(path, VOCAB, LEN, true);
    CHECK(s && s->count == 2 && s->len == LEN, "%s", cf_last_error());
    if (s && s->count == 2) {
        const int32_t want[8] = {4, 5, 6, 12, 3, 8, 8, 5}; /* w_n -> 3 + n */
        for (int i = 0; i < 8; i++) CHECK(s->ids[i] == want[i], "id %d: %d", i, s->ids[i]);
        CHECK(s->labels[0] == 1 && s->labels[1] == 0);
    }
    cf_synlang_free(s);
    path = write_file("corpus.txt", "w1 w2 w3 w4\nw9 w8 w7 w6\n");
    s = cf_synlang_read(path, VOCAB, LEN, false);
    CHECK(s && s->count == 2 && !s->labels && s->ids[4] == 12, "%s", cf_last_error());
    cf_synlang_free(s);
}

static void test_columns(void)
{
    /* the label column missing; the sentence column missing; too few words */
    REFUSED(HEADER "w1 w2 w3 w4\t1\nw1 w2 w3 w4\n", true, 3, "no label column: expected the 4 words, a tab and a label");
    REFUSED(HEADER "\t1\n", true, 2, "0 words where every sentence has 4");
    REFUSED(HEADER "w1 w2\t1\n", true, 2, "2 words where every sentence has 4");
    REFUSED(HEADER "w1\n", true, 2, "1 word where every sentence has 4 (and no tab-separated label column)");
    REFUSED(HEADER "w1 w2 w3 w4 w5\t0\n", true, 2, "more than 4 words before the label");
    REFUSED(HEADER "w1 w2 w3 w4\t0\n\n", true, 3, "0 words where every sentence has 4");
    REFUSED("w1 w2 w3 w4 w5\n", false, 1, "more than 4 words");
    REFUSED("w1 w2 w3 w4\nw1 w2 w3\n", false, 2, "3 words where every sentence has 4");
}

static void test_labels(void)
{
    REFUSED(HEADER "w1 w2 w3 w4\t2\n", true, 2, "label '2' is not 0 or 1");
    REFUSED(HEADER "w1 w2 w3 w4\t1\nw1 w2 w3 w4\tyes\n", true, 3, "label 'yes' is not 0 or 1");
    REFUSED(HEADER "w1 w2 w3 w4\t10\n", true, 2, "label '10' is not 0 or 1");
    REFUSED(HEADER "w1 w2 w3 w4\t\n", true, 2, "label '' is not 0 or 1");
    REFUSED(HEADER "w1 w2 w3 w4\t-1\n", true, 2, "label '-1' is not 0 or 1");
}

static void test_words(void)
{
    REFUSED(HEADER "w1 x2 w3 w4\t1\n", true, 2, "word 2 'x2' is not w<n> with 0 <= n < 10");
    REFUSED(HEADER "w1 w2 w3 w10\t1\n", true, 2, "word 4 'w10' is not w<n>");  /* outside the vocabulary */
    REFUSED(HEADER "w1 w w3 w4\t1\n", true, 2, "word 2 'w' is not w<n>");      /* no number: was read as w0 */
    REFUSED(HEADER "w1 w-1 w3 w4\t1\n", true, 2, "word 2 'w-1' is not w<n>");
    REFUSED(HEADER "w1 w2x w3 w4\t1\n", true, 2, "word 2 'w2x' is not w<n>");
    REFUSED(HEADER "w1 w99999999999999999999 w3 w4\t1\n", true, 2, "word 2 'w99999999999999999999' is not w<n>");
}

static void test_file_shape(void)
{
    REFUSED("", true, 0, "empty file (expected the header sentence<TAB>label, then one sentence a line)");
    REFUSED("", false, 0, "empty file (expected one sentence a line)");
    REFUSED(HEADER, true, 0, "no sentences after the header");
    REFUSED("text\tlabel\nw1 w2 w3 w4\t1\n", true, 1, "the header must be sentence<TAB>label");
    /* a line longer than LEN words can be: refused as such, not cut into two lines */
    char longline[1024];
    snprintf(longline, sizeof longline, HEADER "w1 w2 w3 w4\t1\n");
    size_t n = strlen(longline);
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(longline + n, sizeof longline - n, "w1 ");
    snprintf(longline + n, sizeof longline - n, "\t1\n");
    REFUSED(longline, true, 3, "line longer than");
    REFUSED(longline, true, 3, "too long for 4 words");
    cf_synlang_set *s = cf_synlang_read(tmp_path("does-not-exist.tsv"), VOCAB, LEN, true);
    CHECK(!s);
    CHECK_ERROR_HAS("does-not-exist.tsv: No such file");
}

int main(void)
{
    if (!test_dir_make("synlang_read")) return 1;
    RUN(test_good);
    RUN(test_columns);
    RUN(test_labels);
    RUN(test_words);
    RUN(test_file_shape);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
