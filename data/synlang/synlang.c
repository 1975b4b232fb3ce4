/* The synthetic language of data/synlang/synlang.h: generator, writer and reader. */
#include "data/synlang/synlang.h"

#include "autograd/fileio.h"
#include "autograd/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SUCCESSORS 6

static int64_t draw_int(cf_philox_key key, uint64_t step, uint64_t *k, int64_t n)
{
    int64_t v = (int64_t)(cf_rng_uniform(key, step, (*k)++) * (double)n);
    return v < n ? v : n - 1;
}

/* successor r of word w: fixed by the seed (stream 1) */
static int32_t successor(int64_t vocab, uint64_t seed, int64_t w, int64_t r)
{
    uint64_t k = (uint64_t)r;
    return (int32_t)draw_int(cf_rng_key(seed, 1), (uint64_t)w, &k, vocab);
}

int cf_synlang_label(const int32_t *words, int64_t len)
{
    for (int64_t i = 0; i < len; i++)
        if (words[i] == CF_SYNLANG_WORD_B)
            for (int64_t j = i + 1; j <= i + CF_SYNLANG_WINDOW && j < len; j++)
                if (words[j] == CF_SYNLANG_WORD_A) return 1;
    return 0;
}

static void bigram_walk(int32_t *words, int64_t vocab, int64_t len, uint64_t seed, cf_philox_key key, uint64_t step,
                        uint64_t *k)
{
    double norm = 0;
    for (int r = 0; r < SUCCESSORS; r++) norm += 1.0 / (r + 1);
    words[0] = (int32_t)draw_int(key, step, k, vocab);
    for (int64_t t = 1; t < len; t++) {
        double u = cf_rng_uniform(key, step, (*k)++) * norm;
        int r = 0;
        for (; r < SUCCESSORS - 1 && u >= 1.0 / (r + 1); r++) u -= 1.0 / (r + 1);
        words[t] = successor(vocab, seed, words[t - 1], r);
    }
}

void cf_synlang_sentence(int32_t *words, int64_t vocab, int64_t len, uint64_t seed, uint64_t index, int label)
{
    cf_philox_key key = cf_rng_key(seed, 2);
    uint64_t k = 0;
    for (int tries = 0;; tries++) {
        bigram_walk(words, vocab, len, seed, key, index, &k);
        if (label < 0 || cf_synlang_label(words, len) == label) return;
        if (label == 1 && len > CF_SYNLANG_WINDOW) { /* plant the pattern */
            int64_t p = draw_int(key, index, &k, len - CF_SYNLANG_WINDOW);
            words[p] = CF_SYNLANG_WORD_B;
            words[p + 1 + draw_int(key, index, &k, CF_SYNLANG_WINDOW)] = CF_SYNLANG_WORD_A;
            return;
        }
        if (tries > 1000) { /* a negative no walk avoids: break every B */
            for (int64_t t = 0; t < len; t++)
                if (words[t] == CF_SYNLANG_WORD_B) words[t] = CF_SYNLANG_WORD_B + 1;
            return;
        }
    }
}

static cf_status write_file(const char *path, int64_t vocab, int64_t len, int64_t count, uint64_t seed,
                            uint64_t first, bool labelled)
{
    int32_t *w = malloc((size_t)len * sizeof *w);
    cf_atomic_file *af = w ? cf_atomic_open(path) : NULL;
    if (!af) {
        free(w);
        return w ? cf_last_status() : cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    }
    if (labelled) cf_atomic_printf(af, "sentence\tlabel\n");
    for (int64_t i = 0; i < count; i++) {
        int label = labelled ? (int)(i % 2) : -1;
        cf_synlang_sentence(w, vocab, len, seed, first + (uint64_t)i, label);
        for (int64_t t = 0; t < len; t++) cf_atomic_printf(af, t ? " w%d" : "w%d", (int)w[t]);
        if (labelled) cf_atomic_printf(af, "\t%d", label);
        cf_atomic_printf(af, "\n");
    }
    free(w);
    return cf_atomic_commit(af);
}

cf_status cf_synlang_write_dir(const char *dir, int64_t vocab, int64_t len, const int64_t counts[4], uint64_t seed,
                               bool only_missing)
{
    if (vocab <= CF_SYNLANG_WORD_B + 1 || vocab > CF_SYNLANG_MAX_VOCAB || len <= CF_SYNLANG_WINDOW ||
        len > CF_SYNLANG_MAX_LEN)
        return cf_set_error(CF_ERR_ARG, "synlang: vocab must be in [%d, %d] and len in [%d, %d]", CF_SYNLANG_WORD_B + 2,
                            CF_SYNLANG_MAX_VOCAB, CF_SYNLANG_WINDOW + 1, CF_SYNLANG_MAX_LEN);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return cf_set_error(CF_ERR_IO, "%s: %s", dir, strerror(errno));
    static const char *names[4] = {"corpus.txt", "train.tsv", "val.tsv", "test.tsv"};
    uint64_t first = 0;
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (!(only_missing && stat(path, &st) == 0)) CF_TRY(write_file(path, vocab, len, counts[i], seed, first, i > 0));
        first += (uint64_t)counts[i];
    }
    return CF_OK;
}

void cf_synlang_free(cf_synlang_set *s)
{
    if (!s) return;
    free(s->ids);
    free(s->labels);
    free(s);
}

static bool line_end(char c) { return c == '\0' || c == '\n' || c == '\r'; }

/* One line: len words w<n>, then (labelled) a tab and 0/1. The error names the file, the line, the word or the
 * column, and what was found. */
static cf_status parse_line(char *line, int32_t *ids, int64_t *label, int64_t vocab, int64_t len, bool labelled,
                            const char *path, int64_t lineno)
{
    char *p = line;
    long long ln = (long long)lineno;
    for (int64_t t = 0; t < len; t++) {
        while (*p == ' ') p++;
        if (*p == '\t' || line_end(*p))
            return cf_set_error(CF_ERR_FORMAT, "%s:%lld: %lld word%s where every sentence has %lld%s", path, ln,
                                (long long)t, t == 1 ? "" : "s", (long long)len,
                                labelled && *p != '\t' ? " (and no tab-separated label column)" : "");
        char *end = p;
        long n = *p == 'w' && p[1] >= '0' && p[1] <= '9' ? strtol(p + 1, &end, 10) : -1;
        if (n < 0 || n >= vocab || (*end != ' ' && *end != '\t' && !line_end(*end))) {
            int w = 0;
            while (p[w] && p[w] != ' ' && p[w] != '\t' && !line_end(p[w]) && w < 24) w++;
            return cf_set_error(CF_ERR_FORMAT, "%s:%lld: word %lld '%.*s' is not w<n> with 0 <= n < %lld", path, ln,
                                (long long)t + 1, w, p, (long long)vocab);
        }
        ids[t] = (int32_t)(CF_SYNLANG_FIRST_WORD + n);
        p = end;
    }
    while (*p == ' ') p++;
    if (!labelled) {
        if (!line_end(*p))
            return cf_set_error(CF_ERR_FORMAT, "%s:%lld: more than %lld words", path, ln, (long long)len);
        return CF_OK;
    }
    if (line_end(*p))
        return cf_set_error(CF_ERR_FORMAT, "%s:%lld: no label column: expected the %lld words, a tab and a label 0 or 1",
                            path, ln, (long long)len);
    if (*p != '\t')
        return cf_set_error(CF_ERR_FORMAT, "%s:%lld: more than %lld words before the label", path, ln, (long long)len);
    p++;
    if ((*p != '0' && *p != '1') || !line_end(p[1])) {
        int w = 0;
        while (p[w] && !line_end(p[w]) && w < 24) w++;
        return cf_set_error(CF_ERR_FORMAT, "%s:%lld: label '%.*s' is not 0 or 1", path, ln, w, p);
    }
    *label = *p - '0';
    return CF_OK;
}

cf_synlang_set *cf_synlang_read(const char *path, int64_t vocab, int64_t len, bool labelled)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cf_synlang_set *s = calloc(1, sizeof *s);
    size_t linecap = (size_t)len * 12 + 64, cap = 0;
    char *line = malloc(linecap);
    cf_status st = s && line ? CF_OK : cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    if (s) s->len = len;
    int64_t lineno = 1;
    for (; st == CF_OK && fgets(line, (int)linecap, f); lineno++) {
        if (labelled && lineno == 1) {
            if (strncmp(line, "sentence\tlabel", 14) != 0)
                st = cf_set_error(CF_ERR_FORMAT, "%s:1: the header must be sentence<TAB>label", path);
            continue;
        }
        if (strlen(line) == linecap - 1 && line[linecap - 2] != '\n') {
            st = cf_set_error(CF_ERR_FORMAT, "%s:%lld: line longer than %zu characters, too long for %lld words", path,
                              (long long)lineno, linecap - 2, (long long)len);
            break;
        }
        if ((size_t)s->count == cap) {
            cap = cap ? 2 * cap : 1024;
            int32_t *ids = realloc(s->ids, cap * (size_t)len * sizeof *ids);
            int64_t *lab = realloc(s->labels, cap * sizeof *lab);
            if (ids) s->ids = ids;
            if (lab) s->labels = lab;
            if (!ids || !lab) {
                st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
                break;
            }
        }
        st = parse_line(line, s->ids + s->count * len, s->labels + s->count, vocab, len, labelled, path, lineno);
        s->count++;
    }
    fclose(f);
    free(line);
    if (st == CF_OK && lineno == 1)
        st = cf_set_error(CF_ERR_FORMAT, "%s: empty file (expected %sone sentence a line)", path,
                          labelled ? "the header sentence<TAB>label, then " : "");
    else if (st == CF_OK && s->count == 0) st = cf_set_error(CF_ERR_FORMAT, "%s: no sentences after the header", path);
    if (st != CF_OK) {
        cf_synlang_free(s);
        return NULL;
    }
    if (!labelled) {
        free(s->labels);
        s->labels = NULL;
    }
    return s;
}
