/* IDX files (data/images/idx.h): round trips plain and gzip, every malformed case named by file and offset,
 * a byte-flip sweep that must never crash, and the real Fashion-MNIST files when the Debian package
 * dataset-fashion-mnist is installed (skipped otherwise). */
#define CHECK_SHOW_LAST_ERROR
#include "data/images/idx.h"
#include "data/images/images.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <stdlib.h>

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

static void test_round_trip(void)
{
    uint8_t px[2 * 3 * 4];
    for (int i = 0; i < 24; i++) px[i] = (uint8_t)(i * 11);
    const int64_t dims[3] = {2, 3, 4};
    const char *names[2] = {"rt.idx", "rt.idx.gz"};
    for (int k = 0; k < 2; k++) {
        CHECK(cf_idx_write(tmp_path(names[k]), 3, dims, px) == CF_OK);
        cf_idx x;
        CHECK(cf_idx_read(tmp_path(names[k]), &x) == CF_OK);
        CHECK(x.ndim == 3 && x.dims[0] == 2 && x.dims[1] == 3 && x.dims[2] == 4 && x.count == 24);
        CHECK(x.data && memcmp(x.data, px, 24) == 0);
        cf_idx_free(&x);
    }
    /* the gzip file really is gzip (magic 1f 8b) */
    FILE *f = fopen(tmp_path("rt.idx.gz"), "rb");
    int a = f ? fgetc(f) : -1, b = f ? fgetc(f) : -1;
    if (f) fclose(f);
    CHECK(a == 0x1f && b == 0x8b);
}

/* Parses buf and checks the error names "bad" and each fragment. */
static void expect_bad(const uint8_t *buf, size_t n, const char *frag1, const char *frag2)
{
    cf_idx x;
    CHECK(cf_idx_parse(buf, n, "bad.idx", &x) != CF_OK, "parse of %s should fail", frag1);
    CHECK(x.data == NULL && x.ndim == 0);
    CHECK_ERROR_HAS("bad.idx");
    CHECK_ERROR_HAS(frag1);
    if (frag2) CHECK_ERROR_HAS(frag2);
}

static void test_malformed(void)
{
    /* a 1-d file: header 4 + 4 = 8 bytes, then 6 data bytes */
    uint8_t ok[8 + 6] = {0, 0, 0x08, 1, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6};
    cf_idx x;
    CHECK(cf_idx_parse(ok, sizeof ok, "ok.idx", &x) == CF_OK && x.count == 6 && x.data[5] == 6);
    cf_idx_free(&x);
    expect_bad(ok, 3, "offset 3", "header");
    /* one byte of the valid file changed: (offset, new value, fragments the error must have) */
    static const struct { int at; uint8_t v; const char *f1, *f2; } cases[] = {
        {1, 7, "offset 0", "magic"},          {2, 0x0D, "offset 2", "float"},     {2, 0x0C, "offset 2", "int"},
        {2, 0x42, "offset 2", "unknown"},     {3, 0, "offset 3", "0 dimensions"}, {3, 9, "offset 3", "9 dimensions"},
        {7, 0, "offset 4", "size 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t m[14];
        memcpy(m, ok, sizeof m), m[cases[k].at] = cases[k].v;
        expect_bad(m, sizeof m, cases[k].f1, cases[k].f2);
    }
    expect_bad(ok, 6, "offset 6", "dimension sizes");
    expect_bad(ok, 12, "offset 12", "4 of the 6");
    uint8_t big[15];
    memcpy(big, ok, 14), big[14] = 9;
    expect_bad(big, sizeof big, "offset 14", "1 bytes after");
    uint8_t huge[20] = {0, 0, 0x08, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};
    expect_bad(huge, sizeof huge, "offset 8", "multiply past");
    /* files: a missing one, and a gzip stream cut short */
    CHECK(cf_idx_read(tmp_path("missing.idx"), &x) == CF_ERR_IO);
    CHECK_ERROR_HAS("missing.idx");
    uint8_t px[4000];
    for (int i = 0; i < 4000; i++) px[i] = (uint8_t)(i * 37 ^ i >> 3);
    const int64_t d1[1] = {4000};
    CHECK(cf_idx_write(tmp_path("cut.idx.gz"), 1, d1, px) == CF_OK);
    FILE *f = fopen(tmp_path("cut.idx.gz"), "rb");
    uint8_t gz[8192];
    size_t n = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f) fclose(f);
    write_bytes(tmp_path("cut2.idx.gz"), gz, n / 2);
    CHECK(cf_idx_read(tmp_path("cut2.idx.gz"), &x) != CF_OK);
    CHECK_ERROR_HAS("cut2.idx.gz");
    CHECK_ERROR_HAS("offset");
}

/* Every single-byte flip of a small gzip'ed file: an error or a consistent result, never a crash. */
static void test_flips(void)
{
    uint8_t px[60];
    for (int i = 0; i < 60; i++) px[i] = (uint8_t)i;
    const int64_t d[3] = {3, 4, 5};
    CHECK(cf_idx_write(tmp_path("flip.idx.gz"), 3, d, px) == CF_OK);
    FILE *f = fopen(tmp_path("flip.idx.gz"), "rb");
    uint8_t gz[512];
    size_t n = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f) fclose(f);
    int errors = 0, consistent = 1;
    for (size_t i = 0; i < n; i++) {
        gz[i] ^= 0x5a;
        write_bytes(tmp_path("flipped.idx.gz"), gz, n);
        cf_idx x;
        if (cf_idx_read(tmp_path("flipped.idx.gz"), &x) != CF_OK) errors++;
        else {
            int64_t c = 1;
            for (int k = 0; k < x.ndim; k++) c *= x.dims[k];
            consistent &= c == x.count;
        }
        cf_idx_free(&x);
        gz[i] ^= 0x5a;
    }
    CHECK(consistent);
    CHECK(errors > 0);
}

/* Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60000 training and 10000 test images of 28 x 28, ten
 * balanced classes. */
static void test_fashion_mnist(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char ib[256], lb[256];
    snprintf(ib, sizeof ib, "%s/t10k-images-idx3-ubyte.gz", dir), snprintf(lb, sizeof lb, "%s/t10k-labels-idx1-ubyte.gz", dir);
    FILE *f = fopen(ib, "rb");
    if (!f) {
        printf("  (dataset-fashion-mnist not installed: skipped)\n");
        return;
    }
    fclose(f);
    cf_image_source *s = cf_image_source_idx(ib, lb);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(s->n == 10000 && s->h == 28 && s->w == 28 && s->c == 1 && s->classes == 10);
    int64_t per[10] = {0};
    uint8_t img[784];
    int32_t lab;
    for (int64_t i = 0; i < s->n; i++)
        if (s->read(s, i, img, &lab) == CF_OK && lab >= 0 && lab < 10) per[lab]++;
    for (int k = 0; k < 10; k++) CHECK(per[k] == 1000, "class %d has %lld test images", k, (long long)per[k]);
    cf_image_source_free(s);
    /* the labels file given as images: a clear error naming both */
    CHECK(cf_image_source_idx(lb, lb) == NULL);
    CHECK_ERROR_HAS("3 dimensions");
}

int main(void)
{
    if (!test_dir_make("test_images_idx")) return 1;
    RUN(test_round_trip);
    RUN(test_malformed);
    RUN(test_flips);
    RUN(test_fashion_mnist);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
