/* The file layer every writer goes through: the atomic file (exact bytes on commit; nothing after abort;
 * a failed write -- a file-size limit standing in for a full disk -- fails the commit naming the path and
 * the cause and leaves the old file intact), mkdir -p, the monotonic clock, the JSON writer (layout,
 * escaping, shortest round-trip numbers, non-finite as null, misuse refused), and the checked
 * metrics.jsonl append log (a full disk, /dev/full, stops the run naming the file). */
#include "autograd/clock.h"
#include "autograd/fileio.h"
#include "autograd/json.h"
#include "recipes/run/progress.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The whole file (NUL-terminated; *n its length), or NULL. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t got = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[got] = '\0';
    if (n) *n = got;
    return buf;
}

static bool file_is(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    bool same = got && strcmp(got, want) == 0;
    if (got && !same) fprintf(stderr, "  %s holds \"%s\"\n  expected \"%s\"\n", path, got, want);
    free(got);
    return same;
}

/* Directory entries with ".tmp." in their name. */
static int temp_files(void)
{
    DIR *d = opendir(test_dir);
    int k = 0;
    for (struct dirent *e; d && (e = readdir(d));) k += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return k;
}

static void test_commit_exact_bytes(void)
{
    const char *path = tmp_path("bytes.bin");
    cf_atomic_file *af = cf_atomic_open(path);
    CHECK(af != NULL, "open: %s", cf_last_error());
    if (!af) return;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) == 0, "the temporary file is not %s", tmp);
    CHECK(access(path, F_OK) != 0, "the target exists before the commit");
    static const unsigned char raw[5] = {0, 1, 0xff, '\n', 0};
    CHECK(cf_atomic_write(af, raw, sizeof raw) == CF_OK);
    CHECK(cf_atomic_printf(af, "|%d %s|", 42, "x") == CF_OK);
    fputs("stream", cf_atomic_stream(af));
    CHECK(cf_atomic_write(af, "", 0) == CF_OK);
    CHECK(strcmp(cf_atomic_path(af), path) == 0);
    CHECK(cf_atomic_commit(af) == CF_OK, "commit: %s", cf_last_error());
    size_t n = 0;
    char *got = slurp(path, &n);
    static const char want[] = "\0\1\xff\n\0|42 x|stream";
    CHECK(got && n == sizeof want - 1 && memcmp(got, want, n) == 0, "the file holds %zu bytes, not the %zu written", n,
          sizeof want - 1);
    free(got);
    CHECK(temp_files() == 0, "a temporary file was left behind");

    /* the thin wrapper replaces an existing file whole */
    CHECK(cf_write_file_atomic(path, "new", 3) == CF_OK, "%s", cf_last_error());
    CHECK(file_is(path, "new"));
    CHECK(cf_write_file_atomic(path, "", 0) == CF_OK && file_is(path, ""), "an empty file");
}

static void test_two_writers_one_path(void)
{
    const char *path = tmp_path("twice.txt");
    cf_atomic_file *a = cf_atomic_open(path), *b = cf_atomic_open(path);
    CHECK(a && b, "a second writer of the same path: %s", cf_last_error());
    if (!a || !b) {
        cf_atomic_abort(a), cf_atomic_abort(b);
        return;
    }
    CHECK(temp_files() == 2, "the two writers share a temporary file");
    cf_atomic_printf(a, "a");
    cf_atomic_printf(b, "b");
    CHECK(cf_atomic_commit(a) == CF_OK && file_is(path, "a"));
    CHECK(cf_atomic_commit(b) == CF_OK && file_is(path, "b"));
    CHECK(temp_files() == 0);
}

static void test_abort_leaves_nothing(void)
{
    const char *path = tmp_path("keep.txt");
    CHECK(cf_write_file_atomic(path, "old", 3) == CF_OK);
    cf_atomic_file *af = cf_atomic_open(path);
    CHECK(af != NULL);
    if (!af) return;
    cf_atomic_printf(af, "half of a new file");
    cf_atomic_abort(af);
    CHECK(file_is(path, "old"), "abort changed the target");
    CHECK(temp_files() == 0, "abort left its temporary file");
    cf_atomic_abort(NULL);

    const char *fresh = tmp_path("never.txt");
    af = cf_atomic_open(fresh);
    if (af) cf_atomic_abort(af);
    CHECK(access(fresh, F_OK) != 0, "abort created the target");
    CHECK(temp_files() == 0);
}

/* A 4 KiB file-size limit with SIGXFSZ ignored: writes past it fail with EFBIG, as they would with ENOSPC
 * on a full disk. */
static struct rlimit fsize_saved;
static void (*sigxfsz_saved)(int);

static void fsize_limit(bool on)
{
    if (on) {
        getrlimit(RLIMIT_FSIZE, &fsize_saved);
        struct rlimit lim = fsize_saved;
        lim.rlim_cur = 4096;
        sigxfsz_saved = signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
    } else {
        setrlimit(RLIMIT_FSIZE, &fsize_saved);
        signal(SIGXFSZ, sigxfsz_saved);
    }
}

/* Opens path, runs write(af) and commits, under the file-size limit. */
static cf_status commit_past_limit(const char *path, void (*write)(cf_atomic_file *af))
{
    fsize_limit(true);
    cf_status st = CF_ERR_INTERNAL;
    cf_atomic_file *af = cf_atomic_open(path);
    if (af) {
        write(af);
        st = cf_atomic_commit(af);
    }
    fsize_limit(false);
    return st;
}

static void write_big(cf_atomic_file *af)
{
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    cf_clear_error();
    cf_status a = cf_atomic_write(af, block, sizeof block);
    cf_status b = cf_atomic_printf(af, "more"); /* sticky: still an error */
    CHECK(a == CF_ERR_IO && b == CF_ERR_IO, "writes past the limit gave %s, %s", cf_status_name(a), cf_status_name(b));
}

static void write_big_stream(cf_atomic_file *af)
{
    FILE *f = cf_atomic_stream(af);
    cf_clear_error();
    for (int i = 0; i < 2000; i++) fputs("a line of about forty bytes of text....\n", f);
}

static void test_write_error_keeps_old_file(void)
{
    const char *path = tmp_path("full.txt");
    char old[8192];
    memset(old, 'o', sizeof old - 1);
    old[sizeof old - 1] = '\0';
    CHECK(cf_write_file_atomic(path, "previous", 8) == CF_OK);

    cf_status st = commit_past_limit(path, write_big);
    CHECK(st == CF_ERR_IO, "commit after a failed write gave %s", cf_status_name(st));
    CHECK_ERROR_HAS(path);
    CHECK_ERROR_HAS(strerror(EFBIG));
    CHECK_ERROR_HAS("the previous file (if any) is unchanged");
    printf("  expected error: %s\n", cf_last_error());
    CHECK(file_is(path, "previous"), "the previous file was touched");
    CHECK(temp_files() == 0, "the temporary file was not removed");

    /* the same through the stream (as libpng writes): the commit catches it */
    st = commit_past_limit(path, write_big_stream);
    CHECK(st == CF_ERR_IO && strstr(cf_last_error(), path), "a failed stream write gave %s: %s", cf_status_name(st),
          cf_last_error());
    CHECK(file_is(path, "previous") && temp_files() == 0);

    /* the thin wrapper too */
    fsize_limit(true);
    st = cf_write_file_atomic(path, old, sizeof old);
    fsize_limit(false);
    CHECK(st == CF_ERR_IO && strstr(cf_last_error(), strerror(EFBIG)), "cf_write_file_atomic: %s", cf_last_error());
    CHECK(file_is(path, "previous") && temp_files() == 0);
}

static void test_open_errors(void)
{
    const char *nodir = tmp_path("no/such/dir/x.json");
    CHECK(cf_atomic_open(nodir) == NULL);
    CHECK_ERROR_HAS(nodir);
    CHECK_ERROR_HAS(strerror(ENOENT));
    CHECK(cf_write_file_atomic(nodir, "x", 1) == CF_ERR_IO);

    /* the target is a directory: everything is written, the rename fails, nothing is left */
    const char *dir = tmp_path("adir");
    CHECK(cf_mkdirs(dir) == CF_OK);
    CHECK(cf_write_file_atomic(dir, "x", 1) == CF_ERR_IO);
    CHECK_ERROR_HAS("rename");
    CHECK(temp_files() == 0);

    if (geteuid() != 0) { /* root may write into a read-only directory */
        const char *ro = tmp_path("ro"), *in_ro = tmp_path("ro/x");
        CHECK(cf_mkdirs(ro) == CF_OK && cf_write_file_atomic(in_ro, "old", 3) == CF_OK);
        chmod(ro, 0555);
        CHECK(cf_write_file_atomic(in_ro, "new", 3) == CF_ERR_IO);
        chmod(ro, 0755);
        CHECK_ERROR_HAS(in_ro);
        CHECK(file_is(in_ro, "old"));
    }
}

static void test_mkdirs(void)
{
    const char *deep = tmp_path("a/b//c/d/");
    CHECK(cf_mkdirs(deep) == CF_OK, "%s", cf_last_error());
    struct stat sb;
    CHECK(stat(tmp_path("a/b/c/d"), &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(cf_mkdirs(deep) == CF_OK, "an existing directory: %s", cf_last_error());
    CHECK(cf_mkdirs_for(tmp_path("e/f/file.json")) == CF_OK);
    CHECK(stat(tmp_path("e/f"), &sb) == 0 && S_ISDIR(sb.st_mode) && access(tmp_path("e/f/file.json"), F_OK) != 0);
    CHECK(cf_mkdirs_for("bare-name.json") == CF_OK);
    /* a file in the way is named */
    CHECK(cf_write_file_atomic(tmp_path("plain"), "x", 1) == CF_OK);
    CHECK(cf_mkdirs(tmp_path("plain/sub")) == CF_ERR_IO);
    CHECK_ERROR_HAS(tmp_path("plain"));
    CHECK(cf_mkdirs(tmp_path("plain")) == CF_ERR_IO);
    CHECK_ERROR_HAS("a file of that name exists");
    CHECK(cf_mkdirs("") == CF_ERR_ARG);
}

static void test_clock(void)
{
    double t0 = cf_now(), t1 = cf_now();
    CHECK(t0 > 0 && t1 >= t0);
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    double dt = cf_now() - t0;
    CHECK(dt >= 0.019 && dt < 5, "20 ms measured as %g s", dt);
}

static const char *num(double v)
{
    static char buf[4][40];
    static int k;
    char *b = buf[k++ % 4];
    cf_json_format_number(b, 40, v);
    return b;
}

static void test_json_numbers(void)
{
    CHECK(strcmp(num(0.1), "0.1") == 0, "0.1 -> %s", num(0.1));
    CHECK(strcmp(num(7), "7") == 0, "7 -> %s", num(7));
    CHECK(strcmp(num(-2.5), "-2.5") == 0);
    CHECK(strcmp(num(1.0 / 3.0), "0.3333333333333333") == 0, "1/3 -> %s", num(1.0 / 3.0));
    CHECK(strcmp(num(2.0 / 3.0), "0.6666666666666666") == 0, "2/3 -> %s", num(2.0 / 3.0));
    CHECK(strcmp(num(1e300), "1e+300") == 0);
    CHECK(strcmp(num(3e-4), "0.0003") == 0, "3e-4 -> %s", num(3e-4));
    CHECK(strcmp(num((double)2.3f), "2.299999952316284") == 0, "2.3f -> %s", num((double)2.3f));
    CHECK(strcmp(num(NAN), "null") == 0 && strcmp(num(INFINITY), "null") == 0 && strcmp(num(-INFINITY), "null") == 0);
    /* every finite double reads back exactly, in at most 17 significant digits */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v)) continue;
        const char *s = num(v);
        bad += strtod(s, NULL) != v || strlen(s) > 24;
    }
    CHECK(bad == 0, "%d doubles did not round-trip", bad);
}

static void test_json_document(void)
{
    const char *path = tmp_path("doc.json");
    cf_json j;
    CHECK(cf_json_open(&j, path) == CF_OK);
    cf_json_object(&j);
    cf_json_kv_string(&j, "text", "quote \" backslash \\ newline \n tab \t cr \r bell \a del \x7f é");
    cf_json_kv_number(&j, "nan", NAN);
    cf_json_kv_number(&j, "inf", -INFINITY);
    cf_json_kv_number(&j, "half", 0.5);
    cf_json_kv_int(&j, "big", INT64_C(-9007199254740993));
    cf_json_key(&j, "list");
    cf_json_array(&j);
    cf_json_bool(&j, true);
    cf_json_bool(&j, false);
    cf_json_null(&j);
    cf_json_string(&j, NULL);
    cf_json_array(&j);
    cf_json_end(&j);
    cf_json_object(&j);
    cf_json_end(&j);
    cf_json_end(&j);
    cf_json_key(&j, "nested \"key\"");
    cf_json_object(&j);
    cf_json_kv_number(&j, "x", 1e-7);
    cf_json_end(&j);
    cf_json_end(&j);
    CHECK(cf_json_ok(&j));
    CHECK(cf_json_commit(&j) == CF_OK, "%s", cf_last_error());
    CHECK(file_is(path, "{\"text\": \"quote \\\" backslash \\\\ newline \\n tab \\t cr \\r bell \\u0007 del \x7f é\", "
                        "\"nan\": null, \"inf\": null, \"half\": 0.5, \"big\": -9007199254740993, "
                        "\"list\": [true, false, null, null, [], {}], \"nested \\\"key\\\"\": {\"x\": 1e-07}}\n"));

    /* misuse is refused and leaves no file */
    const char *badp = tmp_path("bad.json");
    CHECK(cf_json_open(&j, badp) == CF_OK);
    cf_json_object(&j);
    cf_json_number(&j, 1); /* a value where a key is due */
    cf_json_end(&j);
    CHECK(!cf_json_ok(&j) && cf_json_commit(&j) == CF_ERR_INTERNAL);
    CHECK_ERROR_HAS(badp);
    CHECK(cf_json_open(&j, badp) == CF_OK);
    cf_json_object(&j);
    cf_json_kv_int(&j, "unclosed", 1);
    CHECK(cf_json_commit(&j) == CF_ERR_INTERNAL);
    CHECK_ERROR_HAS("incomplete");
    CHECK(cf_json_open(&j, badp) == CF_OK);
    cf_json_array(&j);
    cf_json_key(&j, "a key in an array");
    cf_json_end(&j);
    CHECK(cf_json_commit(&j) == CF_ERR_INTERNAL);
    CHECK(access(badp, F_OK) != 0 && temp_files() == 0, "a malformed document was written");

    /* a metrics file: the layout tools read ("key": value, one line) */
    cf_metrics m = {0};
    cf_metrics_set(&m, "ce", 2.25);
    cf_metrics_set(&m, "perplexity", INFINITY);
    cf_metrics_set(&m, "step", 12);
    const char *mp = tmp_path("eval.json");
    CHECK(cf_write_metrics_json(mp, &m) == CF_OK);
    CHECK(file_is(mp, "{\"ce\": 2.25, \"perplexity\": null, \"step\": 12}\n"));
}

/* A report never loses a metric silently: past CF_METRICS_MAX names, or with a name too long to store, the
 * writer fails naming the first one left out, and writes nothing. */
static void test_metrics_overflow(void)
{
    cf_metrics *m = calloc(1, sizeof *m);
    char name[CF_METRIC_NAME_MAX + 8];
    for (int i = 0; i < CF_METRICS_MAX; i++) {
        snprintf(name, sizeof name, "m%d", i);
        cf_metrics_set(m, name, i);
    }
    CHECK(cf_metrics_check(m) == CF_OK && m->n == CF_METRICS_MAX);
    cf_metrics_set(m, "m7", 70); /* an existing name is updated, not added */
    double v = 0;
    CHECK(cf_metrics_check(m) == CF_OK && cf_metrics_get(m, "m7", &v) && v == 70);
    cf_metrics_set(m, "one_too_many", 1);
    cf_metrics_set(m, "two_too_many", 2);
    const char *mp = tmp_path("full.json");
    CHECK(cf_write_metrics_json(mp, m) == CF_ERR_INTERNAL);
    CHECK_ERROR_HAS("2 metric(s) did not fit");
    CHECK_ERROR_HAS("'one_too_many'");
    CHECK(access(mp, F_OK) != 0, "an incomplete report was written");
    cf_clear_error();

    memset(m, 0, sizeof *m);
    memset(name, 'x', CF_METRIC_NAME_MAX);
    name[CF_METRIC_NAME_MAX] = '\0';
    cf_metrics_set(m, name, 1);
    name[CF_METRIC_NAME_MAX - 1] = '\0'; /* the longest name that fits */
    cf_metrics_set(m, name, 2);
    CHECK(m->n == 1 && m->dropped == 1 && cf_metrics_get(m, name, &v) && v == 2);
    CHECK(cf_metrics_check(m) == CF_ERR_INTERNAL);
    cf_clear_error();
    free(m);
}

/* metrics.jsonl is an append log: each line is flushed and checked. On a full disk (/dev/full behind the
 * name) the log call fails naming the file. */
static void test_metrics_log_checked(void)
{
    const char *dir = tmp_path("run");
    cf_progress p;
    CHECK(cf_progress_open(&p, dir, 10, true) == CF_OK, "%s", cf_last_error());
    cf_metrics m = {0};
    cf_metrics_set(&m, "acc", 0.75);
    CHECK(cf_progress_log(&p, 1, 2.5, 1e-3, 0.5, 100, 1, 9, &m) == CF_OK);
    CHECK(cf_progress_log_eval(&p, 1, &m) == CF_OK);
    cf_progress_close(&p);
    CHECK(file_is(tmp_path("run/metrics.jsonl"),
                  "{\"step\": 1, \"loss\": 2.5, \"lr\": 0.001, \"grad_norm\": 0.5, \"tokens_per_s\": 100, "
                  "\"elapsed_s\": 1, \"acc\": 0.75}\n{\"step\": 1, \"val_acc\": 0.75}\n"));

    if (access("/dev/full", W_OK) != 0) {
        printf("  /dev/full missing: the full-disk case is skipped\n");
        return;
    }
    const char *full = tmp_path("full");
    CHECK(cf_mkdirs(full) == CF_OK);
    CHECK(symlink("/dev/full", tmp_path("full/metrics.jsonl")) == 0);
    CHECK(cf_progress_open(&p, full, 10, true) == CF_OK, "%s", cf_last_error());
    cf_status st = cf_progress_log(&p, 1, 2.5, 1e-3, 0.5, 100, 1, 9, &m);
    CHECK(st == CF_ERR_IO, "a line written to a full disk gave %s", cf_status_name(st));
    CHECK_ERROR_HAS("full/metrics.jsonl");
    CHECK_ERROR_HAS(strerror(ENOSPC));
    printf("  expected error: %s\n", cf_last_error());
    CHECK(cf_progress_log_eval(&p, 1, &m) == CF_ERR_IO);
    cf_progress_close(&p);
}

int main(void)
{
    if (!test_dir_make("fileio")) return 1;
    RUN(test_commit_exact_bytes);
    RUN(test_two_writers_one_path);
    RUN(test_abort_leaves_nothing);
    RUN(test_write_error_keeps_old_file);
    RUN(test_open_errors);
    RUN(test_mkdirs);
    RUN(test_clock);
    RUN(test_json_numbers);
    RUN(test_json_document);
    RUN(test_metrics_log_checked);
    RUN(test_metrics_overflow);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
