/* The maze token file and the dataset over it: generation speed and determinism, write/open round trip,
 * the loader's refusals (bad magic, wrong version, truncation in header / index / data, offsets out of
 * range, out-of-vocabulary tokens, grammar, checksums) with the file and record in the message, atomic
 * writes, and the dataset's batches (framing, shift, padding, splits, skip/truncate, re-draw per epoch,
 * Solution-Only and Searchformer modes). */
#include "autograd/clock.h"
#include "autograd/cformer.h"
#include "tests/check.h"
#include "tests/tmpdir.h"
#include "data/loader.h"
#include "data/mazes/maze.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char dir[256];

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, (size_t)n, f);
    fclose(f);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* the 2000-task file most tests share */
#define NSMALL 2000

static void test_generate(void)
{
    int n = SANITIZED ? 2000 : 20000;
    double t0 = cf_now();
    CHECK(cf_maze_generate_file(tmp("big.bin"), 7, n, 1, NULL) == CF_OK);
    double dt = cf_now() - t0;
    printf("generated %d 7x7 tasks in %.2f s\n", n, dt);
    CHECK(SANITIZED || dt < 5.0);
    cf_maze_file *f = cf_maze_file_open(tmp("big.bin"));
    CHECK(f != NULL);
    if (!f) return;
    cf_maze_file_info in = cf_maze_file_get_info(f);
    CHECK(in.count == n && in.width == 7 && in.height == 7 && in.vocab_size == 97 && in.seed == 1);
    CHECK(in.version == CF_MAZE_FILE_VERSION && in.flags == 0 && in.min_plan_nodes == 7);
    CHECK(in.max_prompt <= 6 + 3 * 24 && in.max_plan >= 21 && in.max_trace > 0);
    /* the records are the generator's tasks, in order */
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    uint16_t p[400], tr[4000], pl[400];
    int bad = 0;
    for (int i = 0; i < 100; i++) {
        cf_maze m, back;
        cf_maze_record r;
        int opt;
        CHECK(cf_maze_generate(i, 1, 7, NULL, &m, &s) == CF_OK);
        CHECK(cf_maze_file_record(f, i, &r) == CF_OK);
        bad += r.n_prompt != cf_maze_prompt_tokens(&m, p, 400) || memcmp(r.prompt, p, (size_t)r.n_prompt * 2);
        bad += r.n_trace != cf_maze_trace_tokens(&s, tr, 4000) || memcmp(r.trace, tr, (size_t)r.n_trace * 2);
        bad += r.n_plan != cf_maze_plan_tokens(&m, &s, pl, 400) || memcmp(r.plan, pl, (size_t)r.n_plan * 2);
        bad += cf_maze_file_maze(f, i, &back, &opt) != CF_OK || opt != cf_maze_bfs_nodes(&m) ||
               memcmp(back.wall, m.wall, 49) != 0;
    }
    CHECK(bad == 0);
    cf_maze_record r;
    CHECK(cf_maze_file_record(f, n, &r) == CF_ERR_ARG);
    cf_maze_file_close(f);
    cf_maze_search_free(&s);

    /* same seed, same bytes; the deterministic A* flag is recorded */
    CHECK(cf_maze_generate_file(tmp("a.bin"), 7, NSMALL, 3, NULL) == CF_OK);
    CHECK(cf_maze_generate_file(tmp("b.bin"), 7, NSMALL, 3, NULL) == CF_OK);
    long na, nb;
    unsigned char *a = slurp(tmp("a.bin"), &na), *b = slurp(tmp("b.bin"), &nb);
    CHECK(a && b && na == nb && memcmp(a, b, (size_t)na) == 0);
    free(a), free(b);
    cf_maze_gen_options o = cf_maze_gen_defaults();
    o.deterministic = true;
    o.width = 6, o.height = 8;
    CHECK(cf_maze_generate_file(tmp("det.bin"), 0, 50, 3, &o) == CF_OK);
    f = cf_maze_file_open(tmp("det.bin"));
    CHECK(f && cf_maze_file_get_info(f).flags == CF_MAZE_FLAG_DETERMINISTIC && cf_maze_file_get_info(f).width == 6 &&
          cf_maze_file_get_info(f).height == 8 && cf_maze_file_get_info(f).min_plan_nodes == 8);
    cf_maze_file_close(f);
    CHECK(cf_maze_generate_file(tmp("bad.bin"), 40, 5, 3, NULL) == CF_ERR_ARG);
    CHECK_ERROR_HAS("bad.bin");
}

static void test_write_roundtrip(void)
{
    /* two hand records of a 3x3 maze (start (0,0), goal (2,2), wall (1,1)) */
    const int C = CF_MAZE_TOK_COORD0, K = CF_MAZE_TOK_COST0;
    uint16_t prompt[] = {CF_MAZE_TOK_START, C, C, CF_MAZE_TOK_GOAL, C + 2, C + 2, CF_MAZE_TOK_WALL, C + 1, C + 1};
    uint16_t trace[] = {CF_MAZE_TOK_CREATE, C, C, K, K + 4, CF_MAZE_TOK_CLOSE, C, C, K, K + 4};
    uint16_t plan[] = {CF_MAZE_TOK_PLAN, C, C, CF_MAZE_TOK_PLAN, C + 1, C, CF_MAZE_TOK_PLAN, C + 2, C,
                       CF_MAZE_TOK_PLAN, C + 2, C + 1, CF_MAZE_TOK_PLAN, C + 2, C + 2};
    cf_maze_record recs[2] = {{prompt, trace, plan, 9, 10, 15}, {prompt, NULL, plan, 9, 0, 15}};
    CHECK(cf_maze_write_file(tmp("hand.bin"), 3, 3, recs, 2) == CF_OK);
    cf_maze_file *f = cf_maze_file_open(tmp("hand.bin"));
    CHECK(f != NULL);
    if (!f) return;
    cf_maze_record r;
    CHECK(cf_maze_file_record(f, 0, &r) == CF_OK && r.n_prompt == 9 && r.n_trace == 10 && r.n_plan == 15);
    CHECK(memcmp(r.prompt, prompt, sizeof prompt) == 0 && memcmp(r.trace, trace, sizeof trace) == 0 &&
          memcmp(r.plan, plan, sizeof plan) == 0);
    CHECK(cf_maze_file_record(f, 1, &r) == CF_OK && r.n_trace == 0 && memcmp(r.plan, plan, sizeof plan) == 0);
    CHECK(strcmp(cf_maze_file_path(f), tmp("hand.bin")) == 0);
    cf_maze_file_close(f);

    /* the writer refuses records that are not tasks, naming the record */
    uint16_t badplan[] = {CF_MAZE_TOK_PLAN, C, C, CF_MAZE_TOK_PLAN, C + 1, C + 1, CF_MAZE_TOK_PLAN, C + 2, C + 2};
    cf_maze_record bad[2] = {recs[0], {prompt, trace, badplan, 9, 10, 9}};
    CHECK(cf_maze_write_file(tmp("hand2.bin"), 3, 3, bad, 2) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("hand2.bin: record 1: plan node 1: (1, 1) is a wall");
    CHECK(access(tmp("hand2.bin"), F_OK) != 0);
}

/* the error of opening a corrupted copy of big.bin */
static cf_maze_file *open_variant(const unsigned char *b, long n)
{
    spit(tmp("bad.bin"), b, n);
    return cf_maze_file_open(tmp("bad.bin"));
}

static void test_bad_files(void)
{
    CHECK(cf_maze_generate_file(tmp("src.bin"), 7, 200, 5, NULL) == CF_OK);
    long n;
    unsigned char *orig = slurp(tmp("src.bin"), &n), *b = malloc((size_t)n);
    if (!orig || !b) {
        CHECK(0);
        return;
    }
    const long index_at = 96, data_at = 96 + 24 * 200;
    CHECK(cf_maze_file_open(tmp("nope.bin")) == NULL && cf_last_status() == CF_ERR_IO);
    CHECK_ERROR_HAS("nope.bin");

    memcpy(b, orig, (size_t)n);
    b[0] = 'X';
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: bad magic");

    memcpy(b, orig, (size_t)n);
    put32(b + 8, 2);
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: format version 2");

    memcpy(b, orig, (size_t)n);
    b[40] ^= 1; /* flags: header checksum */
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("header checksum");

    CHECK(open_variant(orig, 50) == NULL);
    CHECK_ERROR_HAS("bad.bin: truncated header");
    CHECK(open_variant(orig, index_at + 24 * 17 + 5) == NULL);
    CHECK_ERROR_HAS("truncated in the index: record 17");
    CHECK(open_variant(orig, 0) == NULL);

    /* truncated data: the message names the first record cut */
    long cut = data_at + (n - data_at) / 2;
    int64_t want = -1;
    for (int i = 0; i < 200 && want < 0; i++) {
        const unsigned char *e = orig + index_at + 24 * i;
        uint64_t end = get64(e) + (e[8] | e[9] << 8) + (e[12] | e[13] << 8) + (e[16] | e[17] << 8);
        if (data_at + 2 * (long)end > cut) want = i;
    }
    CHECK(open_variant(orig, cut) == NULL);
    char frag[64];
    snprintf(frag, sizeof frag, "bad.bin: record %d: truncated", (int)want);
    CHECK_ERROR_HAS(frag);

    memcpy(b, orig, (size_t)n);
    put64(b + index_at + 24 * 5, 1u << 30); /* record 5's offset out of range */
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: record 5: tokens [");
    CHECK_ERROR_HAS("outside the data section");

    memcpy(b, orig, (size_t)n);
    put32(b + index_at + 24 * 9 + 12, 1u << 31); /* record 9's trace length */
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("record 9: tokens");

    /* an out-of-vocabulary token in record 7's trace */
    memcpy(b, orig, (size_t)n);
    const unsigned char *e7 = orig + index_at + 24 * 7;
    long at = data_at + 2 * (long)(get64(e7) + (e7[8] | e7[9] << 8) + 3);
    b[at] = 3000 & 255, b[at + 1] = 3000 >> 8;
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: record 7: trace token 3 = 3000 outside the vocabulary (size 97)");

    /* in the vocabulary, but the grammar is broken: record 11's prompt has `wall` where `goal` belongs */
    memcpy(b, orig, (size_t)n);
    const unsigned char *e11 = orig + index_at + 24 * 11;
    at = data_at + 2 * (long)(get64(e11) + 3);
    b[at] = CF_MAZE_TOK_WALL, b[at + 1] = 0;
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: record 11: prompt token 3: expected 'goal'");

    /* a cost changed to another valid cost: only the checksum can tell */
    memcpy(b, orig, (size_t)n);
    at = data_at + 2 * (long)(get64(e7) + (e7[8] | e7[9] << 8) + 3);
    b[at] = (unsigned char)(b[at] == CF_MAZE_TOK_COST0 + 1 ? CF_MAZE_TOK_COST0 + 2 : CF_MAZE_TOK_COST0 + 1);
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("bad.bin: data checksum mismatch");

    memcpy(b, orig, (size_t)n);
    b[index_at + 24 * 3 + 20] = 1; /* a reserved index field */
    CHECK(open_variant(b, n) == NULL);
    CHECK_ERROR_HAS("record 3");

    unsigned char *longer = malloc((size_t)n + 4);
    memcpy(longer, orig, (size_t)n);
    memset(longer + n, 0, 4);
    CHECK(open_variant(longer, n + 4) == NULL);
    CHECK_ERROR_HAS("unexpected bytes after the data");
    free(longer);

    cf_maze_file *ok = open_variant(orig, n); /* the untouched copy opens */
    CHECK(ok != NULL);
    cf_maze_file_close(ok);
    free(orig), free(b);
}

static int temp_files_in_dir(void)
{
    DIR *d = opendir(dir);
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) k += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return k;
}

static void test_atomic_write(void)
{
    CHECK(cf_maze_generate_file(tmp("keep.bin"), 5, 30, 1, NULL) == CF_OK);
    /* a writer that declares 10 records but commits after 3: error, the previous file untouched */
    cf_maze_file *f = cf_maze_file_open(tmp("keep.bin"));
    cf_maze_writer *wr = cf_maze_writer_open(tmp("keep.bin"), 5, 5, 10, 0, 0, 0);
    CHECK(f && wr);
    if (!f || !wr) return;
    for (int i = 0; i < 3; i++) {
        cf_maze_record r;
        cf_maze_file_record(f, i, &r);
        CHECK(cf_maze_writer_add(wr, &r) == CF_OK);
    }
    CHECK(temp_files_in_dir() == 1);
    CHECK(cf_maze_writer_commit(wr) == CF_ERR_STATE);
    CHECK_ERROR_HAS("3 records added, 10 declared");
    cf_maze_file_close(f);
    f = cf_maze_file_open(tmp("keep.bin"));
    CHECK(f && cf_maze_file_get_info(f).count == 30);
    /* abort leaves nothing behind; more records than declared is an error */
    wr = cf_maze_writer_open(tmp("keep.bin"), 5, 5, 1, 0, 0, 0);
    cf_maze_record r;
    cf_maze_file_record(f, 0, &r);
    CHECK(cf_maze_writer_add(wr, &r) == CF_OK && cf_maze_writer_add(wr, &r) == CF_ERR_STATE);
    cf_maze_writer_abort(wr);
    CHECK(temp_files_in_dir() == 0);
    /* a record of the wrong maze size is refused with its index */
    wr = cf_maze_writer_open(tmp("other.bin"), 3, 3, 1, 0, 0, 0);
    CHECK(cf_maze_writer_add(wr, &r) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("other.bin: record 0:");
    cf_maze_writer_abort(wr);
    cf_maze_file_close(f);
    CHECK(cf_maze_writer_open("/nonexistent-dir/x.bin", 5, 5, 1, 0, 0, 0) == NULL && cf_last_status() == CF_ERR_IO);
    CHECK_ERROR_HAS("/nonexistent-dir/x.bin");
    CHECK(temp_files_in_dir() == 0);
}

/* ---- the dataset ---- */

static int memcmp_i64_u16(const int64_t *a, const uint16_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return 1;
    return 0;
}

/* Checks row `row` of batch b against record `rec` of f: src framing and padding, the decoder shift, the
 * ignore padding, the plan + eos at the end. Returns the number of violations; *trace_len gets the
 * length of the row's trace part. */
static int check_row(const cf_batch *b, int row, const cf_maze_file *f, int *trace_len)
{
    const cf_tensor *src = cf_batch_get(b, "src"), *pad = cf_batch_get(b, "src_pad");
    const cf_tensor *tin = cf_batch_get(b, "tgt_in"), *tout = cf_batch_get(b, "tgt_out");
    const cf_tensor *idx = cf_batch_get(b, "index");
    int64_t S = src->shape[1], T = tin->shape[1];
    const int64_t *s = (const int64_t *)cf_data(src) + row * S, *ti = (const int64_t *)cf_data(tin) + row * T;
    const int64_t *to = (const int64_t *)cf_data(tout) + row * T;
    const uint8_t *pd = (const uint8_t *)cf_data(pad) + row * S;
    int64_t rec = ((const int64_t *)cf_data(idx))[row];
    cf_maze_record r;
    if (cf_maze_file_record(f, rec, &r) != CF_OK) return 1;
    int bad = 0;
    bad += s[0] != CF_MAZE_TOK_BOS || s[r.n_prompt + 1] != CF_MAZE_TOK_EOS;
    for (int i = 0; i < r.n_prompt; i++) bad += s[i + 1] != r.prompt[i];
    for (int64_t i = 0; i < S; i++) {
        bad += pd[i] != (i >= r.n_prompt + 2);
        if (i >= r.n_prompt + 2) bad += s[i] != CF_MAZE_TOK_PAD;
    }
    int64_t L = 0;
    while (L < T && to[L] != CF_MAZE_IGNORE) L++;
    bad += L < r.n_plan + 1 || to[L - 1] != CF_MAZE_TOK_EOS;
    bad += ti[0] != CF_MAZE_TOK_BOS;
    for (int64_t i = 1; i < L; i++) bad += ti[i] != to[i - 1];
    for (int64_t i = L; i < T; i++) bad += ti[i] != CF_MAZE_TOK_PAD || to[i] != CF_MAZE_IGNORE;
    if (L >= r.n_plan + 1) bad += memcmp_i64_u16(to + L - 1 - r.n_plan, r.plan, r.n_plan);
    *trace_len = (int)(L - 1 - r.n_plan);
    return bad;
}

static void test_dataset_splits(void)
{
    CHECK(cf_maze_generate_file(tmp("ds.bin"), 7, 200, 8, NULL) == CF_OK);
    cf_maze_ds_config c = cf_maze_ds_defaults();
    cf_status st;
    cf_dataset *tr = cf_maze_dataset_open(tmp("ds.bin"), &c, "train", &st);
    cf_dataset *va = cf_maze_dataset_open(tmp("ds.bin"), &c, "val", &st);
    cf_dataset *all = cf_maze_dataset_open(tmp("ds.bin"), NULL, "all", &st);
    cf_dataset *te = cf_maze_dataset_open(tmp("ds.bin"), NULL, "test", &st);
    CHECK(tr && va && all && te);
    if (!tr || !va || !all || !te) return;
    CHECK(tr->len == 190 && va->len == 10 && all->len == 200 && te->len == 200);
    CHECK(cf_maze_dataset_record(va, 0) == 190 && cf_maze_dataset_record(va, 9) == 199);
    CHECK(cf_maze_dataset_record(tr, 189) == 189 && cf_maze_dataset_record(tr, 190) == -1);
    CHECK(cf_maze_dataset_open(tmp("ds.bin"), &c, "bogus", &st) == NULL && st == CF_ERR_ARG);
    CHECK_ERROR_HAS("split 'bogus'");
    CHECK(cf_maze_dataset_open(tmp("missing.bin"), &c, "train", &st) == NULL && st == CF_ERR_IO);
    CHECK_ERROR_HAS("missing.bin");

    cf_maze_ds_stats sx;
    CHECK(cf_maze_dataset_stats(tr, &sx) == CF_OK);
    const cf_maze_file *f = cf_maze_dataset_file(tr);
    int64_t S = 0, T = 0;
    for (int64_t i = 0; i < 190; i++) {
        cf_maze_record r;
        cf_maze_file_record(f, i, &r);
        if (r.n_prompt + 2 > S) S = r.n_prompt + 2;
        if (r.n_trace + r.n_plan + 1 > T) T = r.n_trace + r.n_plan + 1;
    }
    CHECK(sx.src_len == S && sx.tgt_len == T && sx.items == 190 && sx.skipped == 0 && sx.split_records == 190);
    CHECK(sx.file_records == 200 && sx.width == 7 && sx.height == 7 && sx.vocab_size == 97);

    cf_batch b;
    memset(&b, 0, sizeof b);
    CHECK(cf_dataset_make_batch(tr, 8, &b) == CF_OK);
    CHECK(b.nfields == 5 && cf_batch_get(&b, "src")->shape[1] == S && cf_batch_get(&b, "tgt_in")->shape[1] == T);
    CHECK(cf_batch_get(&b, "src")->dtype == CF_I64 && cf_batch_get(&b, "src_pad")->dtype == CF_BOOL);
    CHECK(cf_batch_get(&b, "tgt_out")->dtype == CF_I64 && cf_batch_get(&b, "index")->shape[0] == 8);
    int bad = 0;
    for (int row = 0; row < 8; row++) {
        int tl;
        CHECK(cf_dataset_get(tr, 100 + row, &b, row) == CF_OK);
        bad += check_row(&b, row, f, &tl);
        cf_maze_record r;
        cf_maze_file_record(f, 100 + row, &r);
        bad += tl != r.n_trace; /* the default is the full trace (Searchformer) */
        bad += ((int64_t *)cf_data(cf_batch_get(&b, "index")))[row] != 100 + row;
    }
    CHECK(bad == 0);
    cf_batch_free(&b);
    CHECK(cf_maze_dataset_stats(NULL, &sx) == CF_ERR_ARG && cf_maze_dataset_file(NULL) == NULL);
    cf_dataset_free(tr), cf_dataset_free(va), cf_dataset_free(all), cf_dataset_free(te);

    /* the factory */
    cf_maze_options o = {tmp("ds.bin"), cf_maze_ds_defaults()};
    cf_dataset *d = cf_maze_factory(&o, "val");
    CHECK(d && d->len == 10);
    cf_dataset_free(d);
}

static void test_dataset_modes(void)
{
    cf_maze_ds_config c = cf_maze_ds_defaults();
    c.draw.trace = CF_MAZE_TRACE_NONE; /* Solution-Only */
    cf_status st;
    cf_dataset *d = cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st);
    CHECK(d != NULL);
    if (!d) return;
    const cf_maze_file *f = cf_maze_dataset_file(d);
    cf_maze_ds_stats sx;
    cf_maze_dataset_stats(d, &sx);
    CHECK(sx.tgt_len == cf_maze_file_get_info(f).max_plan + 1);
    cf_batch b;
    memset(&b, 0, sizeof b);
    CHECK(cf_dataset_make_batch(d, 4, &b) == CF_OK);
    int bad = 0;
    for (int row = 0; row < 4; row++) {
        int tl;
        CHECK(cf_dataset_get(d, row * 7, &b, row) == CF_OK);
        bad += check_row(&b, row, f, &tl) + (tl != 0);
        bad += ((int64_t *)cf_data(cf_batch_get(&b, "tgt_out")))[row * sx.tgt_len] != CF_MAZE_TOK_PLAN;
        bad += ((int64_t *)cf_data(cf_batch_get(&b, "tgt_in")))[row * sx.tgt_len + 1] != CF_MAZE_TOK_PLAN;
    }
    CHECK(bad == 0);
    cf_batch_free(&b);
    cf_dataset_free(d);

    /* Dualformer: levels re-drawn per epoch (b.epoch), the prompt and the plan unchanged */
    c = cf_maze_ds_defaults();
    c.draw.trace = CF_MAZE_TRACE_RANDOM;
    const double p[5] = {0.4, 0.15, 0.15, 0.1, 0.2};
    memcpy(c.draw.level_p, p, sizeof p);
    c.draw.seed = 4;
    d = cf_maze_dataset_open(tmp("ds.bin"), &c, "train", &st);
    CHECK(d != NULL);
    if (!d) return;
    f = cf_maze_dataset_file(d); /* the previous dataset's file went with it */
    memset(&b, 0, sizeof b);
    CHECK(cf_dataset_make_batch(d, 1, &b) == CF_OK);
    int varied = 0, fast = 0, n = 0;
    bad = 0;
    for (int64_t i = 0; i < 40; i++) {
        int first = -1;
        bool differs = false;
        for (int64_t e = 0; e < 12; e++) {
            int tl;
            b.epoch = e;
            CHECK(cf_dataset_get(d, i, &b, 0) == CF_OK);
            bad += check_row(&b, 0, f, &tl);
            if (first < 0) first = tl;
            differs |= tl != first;
            fast += tl == 0;
            n++;
        }
        varied += differs;
    }
    CHECK(bad == 0);
    CHECK(varied >= 35);
    CHECK(fast > n * 0.12 && fast < n * 0.3); /* level 4 at 0.2 (level 3 rarely empties a trace) */

    /* through the loader: epoch 1 differs from epoch 0, and seeking back reproduces epoch 0 exactly */
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = 16;
    lc.shuffle = false;
    lc.prefetch = false;
    cf_loader *l = cf_loader_create(d, &lc);
    CHECK(l != NULL);
    if (l) {
        cf_maze_dataset_stats(d, &sx);
        int64_t T = sx.tgt_len;
        const cf_batch *b0 = cf_loader_next(l);
        int64_t *copy = malloc((size_t)(16 * T) * sizeof *copy);
        memcpy(copy, cf_data(cf_batch_get(b0, "tgt_out")), (size_t)(16 * T) * sizeof *copy);
        CHECK(cf_loader_seek(l, 1, 0) == CF_OK);
        const cf_batch *b1 = cf_loader_next(l);
        CHECK(b1->epoch == 1 && memcmp(copy, cf_data(cf_batch_get(b1, "tgt_out")), (size_t)(16 * T) * 8) != 0);
        CHECK(cf_loader_seek(l, 0, 0) == CF_OK);
        const cf_batch *b2 = cf_loader_next(l);
        CHECK(b2->epoch == 0 && memcmp(copy, cf_data(cf_batch_get(b2, "tgt_out")), (size_t)(16 * T) * 8) == 0);
        free(copy);
        cf_loader_free(l);
    }
    cf_batch_free(&b);
    cf_dataset_free(d);

    c.draw.level_p[0] = 0.5; /* sums to 1.1 */
    CHECK(cf_maze_dataset_open(tmp("ds.bin"), &c, "train", &st) == NULL && st == CF_ERR_ARG);
    CHECK_ERROR_HAS("ds.bin: maze draw config: level_p sums to");
}

static void test_dataset_lengths(void)
{
    cf_maze_ds_config c = cf_maze_ds_defaults();
    cf_status st;
    cf_dataset *full = cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st);
    cf_maze_ds_stats fs;
    cf_maze_dataset_stats(full, &fs);
    int64_t cap = fs.tgt_len / 2;
    c.max_tgt = cap;
    cf_dataset *skip = cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st);
    c.truncate = true;
    cf_dataset *trunc = cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st);
    CHECK(full && skip && trunc);
    if (!full || !skip || !trunc) return;
    cf_maze_ds_stats ss, ts;
    cf_maze_dataset_stats(skip, &ss);
    cf_maze_dataset_stats(trunc, &ts);
    const cf_maze_file *f = cf_maze_dataset_file(skip);
    int64_t over = 0;
    for (int64_t i = 0; i < 200; i++) {
        cf_maze_record r;
        cf_maze_file_record(f, i, &r);
        over += r.n_trace + r.n_plan + 1 > cap;
    }
    CHECK(over > 0 && ss.skipped == over && ss.items == 200 - over && skip->len == 200 - over);
    CHECK(ts.items == 200 && ts.skipped == 0 && ts.truncatable == over && ss.tgt_len == cap && ts.tgt_len == cap);
    /* skip mode: every item fits; truncate mode: an over-long item fills T with no ignore and no eos at the end */
    cf_batch b;
    memset(&b, 0, sizeof b);
    CHECK(cf_dataset_make_batch(skip, 1, &b) == CF_OK);
    int bad = 0;
    for (int64_t i = 0; i < skip->len; i++) {
        int tl;
        cf_dataset_get(skip, i, &b, 0);
        bad += check_row(&b, 0, f, &tl);
    }
    CHECK(bad == 0);
    cf_batch_free(&b);
    CHECK(cf_dataset_make_batch(trunc, 1, &b) == CF_OK);
    int cut = 0;
    for (int64_t i = 0; i < 200; i++) {
        cf_dataset_get(trunc, i, &b, 0);
        const int64_t *to = cf_data(cf_batch_get(&b, "tgt_out")), *ti = cf_data(cf_batch_get(&b, "tgt_in"));
        bool full_row = to[cap - 1] != CF_MAZE_IGNORE;
        cut += full_row && to[cap - 1] != CF_MAZE_TOK_EOS;
        for (int64_t k = 1; k < cap; k++)
            if (to[k] != CF_MAZE_IGNORE) bad += ti[k] != to[k - 1]; /* inside the row's L tokens */
    }
    CHECK(bad == 0 && cut > 0 && cut <= over);
    cf_batch_free(&b);
    cf_dataset_free(skip), cf_dataset_free(trunc);

    /* a source cap: truncate cuts the prompt (no eos, no padding); skip can empty the split */
    c = cf_maze_ds_defaults();
    c.max_src = 20;
    c.truncate = true;
    trunc = cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st);
    CHECK(trunc != NULL);
    memset(&b, 0, sizeof b);
    if (trunc && cf_dataset_make_batch(trunc, 1, &b) == CF_OK && cf_dataset_get(trunc, 0, &b, 0) == CF_OK) {
        const int64_t *s = cf_data(cf_batch_get(&b, "src"));
        const uint8_t *pd = cf_data(cf_batch_get(&b, "src_pad"));
        CHECK(s[0] == CF_MAZE_TOK_BOS && s[19] != CF_MAZE_TOK_EOS && s[19] != CF_MAZE_TOK_PAD && pd[19] == 0);
    }
    cf_batch_free(&b);
    cf_dataset_free(trunc);
    c.truncate = false;
    CHECK(cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st) == NULL && st == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("has no items");
    c.max_src = -1;
    CHECK(cf_maze_dataset_open(tmp("ds.bin"), &c, "all", &st) == NULL && st == CF_ERR_ARG);
    cf_dataset_free(full);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cf_test_maze_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_generate);
    RUN(test_write_roundtrip);
    RUN(test_bad_files);
    RUN(test_atomic_write);
    RUN(test_dataset_splits);
    RUN(test_dataset_modes);
    RUN(test_dataset_lengths);
    test_rmtree(dir);
    TEST_MAIN_END();
}
