/* The from-memory readers (cf_ckpt_open_mem, cf_spikes_read_h5_mem, cf_spikes_read_csv_mem,
 * cf_maze_file_open_mem, cf_bpe_load_mem) read exactly what their path-based twins read from the same bytes,
 * name the buffer in their errors, and take an empty buffer as a malformed file. */
#define CHECK_SHOW_LAST_ERROR
#include "data/mazes/maze.h"
#include "data/spikes/spikes.h"
#include "data/text/bpe.h"
#include "recipes/checkpoint/checkpoint.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <stdlib.h>

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    *n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        rewind(f);
        if (len >= 0 && (p = malloc((size_t)len + 1))) *n = fread(p, 1, (size_t)len, f);
    }
    if (f) fclose(f);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

static bool error_names(const char *what) { return strstr(cf_last_error(), what) != NULL; }

static void test_checkpoint(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_params_add(ps, "w", CF_SHAPE(2, 3), true);
    for (int64_t i = 0; i < ps->total; i++) ((float *)ps->values)[i] = (float)i + 0.5f;
    cf_train_state st = {.step = 9, .seed = 4, .world_size = 1};
    const char *path = tmp_path("ck.h5");
    if (cf_checkpoint_save(path, ps, 0, NULL, &st, "train: {steps: 9}\n") == CF_ERR_UNSUPPORTED) {
        cf_params_free(ps);
        return; /* a build without HDF5 */
    }
    size_t n;
    unsigned char *bytes = slurp(path, &n);
    cf_ckpt_reader *a = cf_ckpt_open(path), *b = cf_ckpt_open_mem(bytes, n, "ck-in-memory");
    free(bytes); /* the reader holds its own copy */
    CHECK(a && b);
    if (a && b) {
        CHECK(strcmp(cf_ckpt_file(b), "ck-in-memory") == 0);
        CHECK(strcmp(cf_ckpt_recipe(a), cf_ckpt_recipe(b)) == 0 && cf_ckpt_count(b, NULL) == 1);
        const cf_ckpt_tensor *t = cf_ckpt_find(b, NULL, "w");
        CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        float va[6] = {0}, vb[6] = {0};
        CHECK(cf_ckpt_read(a, NULL, "w", CF_F32, va) == CF_OK && cf_ckpt_read(b, NULL, "w", CF_F32, vb) == CF_OK);
        CHECK(memcmp(va, vb, sizeof va) == 0 && vb[5] == 5.5f);
        cf_train_state sa, sb;
        CHECK(cf_ckpt_read_state(a, &sa) == CF_OK && cf_ckpt_read_state(b, &sb) == CF_OK && sb.step == 9);
    }
    cf_ckpt_close(a);
    cf_ckpt_close(b);
    CHECK(!cf_ckpt_open_mem("not an HDF5 file", 16, "junk.h5") && error_names("junk.h5"));
    CHECK(!cf_ckpt_open_mem(NULL, 0, "empty.h5") && error_names("empty.h5"));
    cf_params_free(ps);
}

static void test_spikes(void)
{
    double t[4] = {0.1, 0.2, 0.3, 0.9};
    int64_t u[4] = {0, 1, 0, 1};
    cf_spikes *s = cf_spikes_from_events(t, u, 4, 2, 0.0, 1.0, "test");
    const char *path = tmp_path("s.nwb");
    if (cf_spikes_write_nwb(s, path, NULL, 0, NULL) == CF_OK) {
        size_t n;
        unsigned char *bytes = slurp(path, &n);
        cf_spikes *a = cf_spikes_read_nwb(path), *b = cf_spikes_read_h5_mem(bytes, n, "s-in-memory");
        CHECK(a && b && cf_spikes_equal(a, b, NULL, 0) && cf_spikes_equal(s, b, NULL, 0));
        cf_spikes_free(a);
        cf_spikes_free(b);
        bytes[n / 2] ^= 0xff;
        b = cf_spikes_read_h5_mem(bytes, n / 2, "cut.nwb");
        CHECK(!b && error_names("cut.nwb"));
        cf_spikes_free(b);
        free(bytes);
    }
    cf_spikes_free(s);

    static const char csv[] = "time,unit,trial\n0.25,3,1\n0.5,1,2\n";
    put(tmp_path("s.csv"), csv);
    cf_spikes *a = cf_spikes_read_csv(tmp_path("s.csv"), NULL), *b = cf_spikes_read_csv_mem(csv, strlen(csv), "m.csv", NULL);
    CHECK(a && b && cf_spikes_equal(a, b, NULL, 0) && b->n_units == 4 && b->n_trials == 2);
    cf_spikes_free(a);
    cf_spikes_free(b);
    CHECK(!cf_spikes_read_csv_mem("t,unit\n0.5,x\n", 13, "bad.csv", NULL) && error_names("bad.csv:2:"));
    CHECK(!cf_spikes_read_csv_mem(NULL, 0, "empty.csv", NULL) && error_names("empty.csv: no spike lines"));
}

static void test_maze(void)
{
    const char *path = tmp_path("m.maze");
    CHECK(cf_maze_generate_file(path, 4, 3, 7, NULL) == CF_OK);
    size_t n;
    unsigned char *bytes = slurp(path, &n);
    cf_maze_file *a = cf_maze_file_open(path), *b = cf_maze_file_open_mem(bytes, n, "m-in-memory");
    CHECK(a && b);
    if (a && b) {
        cf_maze_file_info ia = cf_maze_file_get_info(a), ib = cf_maze_file_get_info(b);
        CHECK(ib.count == 3 && memcmp(&ia, &ib, sizeof ia) == 0);
        cf_maze_record ra, rb;
        CHECK(cf_maze_file_record(a, 2, &ra) == CF_OK && cf_maze_file_record(b, 2, &rb) == CF_OK);
        CHECK(ra.n_trace == rb.n_trace && memcmp(ra.trace, rb.trace, (size_t)rb.n_trace * 2) == 0);
    }
    cf_maze_file_close(a);
    cf_maze_file_close(b);
    bytes[88] ^= 0xff; /* the data checksum, inside the header's */
    CHECK(!cf_maze_file_open_mem(bytes, n, "flip.maze") && error_names("flip.maze: header checksum mismatch"));
    CHECK(!cf_maze_file_open_mem(NULL, 0, "empty.maze") && error_names("empty.maze: truncated header"));
    free(bytes);
}

static void test_bpe(void)
{
    static const char text[] = "abab abab abab cdcd cdcd";
    cf_bpe *t = cf_bpe_train((const uint8_t *)text, sizeof text - 1, 260);
    const char *path = tmp_path("v.bpe");
    CHECK(t && cf_bpe_save(t, path) == CF_OK);
    size_t n;
    unsigned char *bytes = slurp(path, &n);
    cf_bpe *a = cf_bpe_load(path), *b = cf_bpe_load_mem(bytes, n, "v-in-memory");
    CHECK(a && b && cf_bpe_merge_count(a) == cf_bpe_merge_count(t) && cf_bpe_merge_count(b) == cf_bpe_merge_count(t));
    for (int k = 0; a && b && k < cf_bpe_merge_count(b); k++) {
        int32_t la, ra, lb, rb;
        CHECK(cf_bpe_merge(a, k, &la, &ra) == CF_OK && cf_bpe_merge(b, k, &lb, &rb) == CF_OK && la == lb && ra == rb);
    }
    cf_bpe_free(a);
    cf_bpe_free(b);
    cf_bpe_free(t);
    free(bytes);
    CHECK(!cf_bpe_load_mem("cformer-bpe 1\nmerges x\n", 23, "bad.bpe") && error_names("bad.bpe:2:"));
    CHECK(!cf_bpe_load_mem(NULL, 0, "empty.bpe") && error_names("empty.bpe:1:"));
}

int main(void)
{
    if (!test_dir_make("read_mem")) return 1;
    test_checkpoint();
    test_spikes();
    test_maze();
    test_bpe();
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
