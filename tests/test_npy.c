/* The .npy reader (data/npy.h): round trips of files this test writes byte by byte in every dtype, byte
 * order and version; header variants; Fortran order; each malformed case; truncations and byte flips of a
 * valid file (no crash, an error or a consistent result); and a Visnav-style directory (data/spikes/spikes.h). */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/clock.h"
#include "data/npy.h"
#include "data/spikes/spikes.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


/* An npy image: preamble for `version`, the dict padded to a 64-byte boundary and ended by '\n', the data. */
static size_t make_npy(unsigned char *out, size_t cap, int version, const char *dict, const void *data, size_t n)
{
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = pre + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    if (pre + hlen + n > cap) return 0;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)version, out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', pad);
    out[pre + hlen - 1] = '\n';
    if (n) memcpy(out + pre + hlen, data, n);
    return pre + hlen + n;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

/* value v in the dtype (kind, size, big-endian) at out */
static void encode(double v, char kind, int size, bool big, unsigned char *out)
{
    uint64_t raw = 0;
    if (kind == 'f' && size == 4) {
        float f = (float)v;
        uint32_t r;
        memcpy(&r, &f, 4);
        raw = r;
    } else if (kind == 'f') {
        memcpy(&raw, &v, 8);
    } else {
        raw = (uint64_t)(int64_t)v;
    }
    for (int i = 0; i < size; i++) out[big ? size - 1 - i : i] = (unsigned char)(raw >> (8 * i));
}

static unsigned char img[1 << 16];

static void test_round_trips(void)
{
    static const char *descrs[] = {"<f4", "<f8", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "|b1",
                                   "|u1", "|i1", ">f4", ">f8", ">i2", ">i4", ">i8", ">u2", ">u4", ">u8"};
    for (size_t d = 0; d < sizeof descrs / sizeof *descrs; d++) {
        const char *ds = descrs[d];
        char kind = ds[1];
        int size = ds[2] - '0';
        bool big = ds[0] == '>';
        double vals[6];
        unsigned char data[48];
        for (int i = 0; i < 6; i++) {
            vals[i] = kind == 'b' ? (double)(i % 2) : kind == 'i' ? (double)(i - 2) * 7 : kind == 'f' ? i * 0.5 - 1 : i * 9;
            encode(vals[i], kind, size, big, data + i * size);
        }
        for (int version = 1; version <= 3; version++) {
            char dict[128];
            snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }", ds);
            size_t n = make_npy(img, sizeof img, version, dict, data, (size_t)(6 * size));
            char name[64];
            snprintf(name, sizeof name, "rt_%d_%c%c%d.npy", version, big ? 'b' : 'l', kind, size);
            const char *p = tmp_path(name);
            write_bytes(p, img, n);
            cf_npy_info info;
            double *x = NULL;
            CHECK(cf_npy_read(p, CF_NPY_OUT_F64, CF_NPY_FINITE, &info, (void **)&x) == CF_OK, "%s v%d", ds, version);
            CHECK(info.ndim == 2 && info.shape[0] == 2 && info.shape[1] == 3 && info.count == 6 && info.major == version,
                  "%s v%d info", ds, version);
            for (int i = 0; x && i < 6; i++) CHECK(x[i] == vals[i], "%s v%d [%d] = %g, want %g", ds, version, i, x[i], vals[i]);
            free(x);
            float *y = NULL;
            CHECK(cf_npy_read(p, CF_NPY_OUT_F32, 0, NULL, (void **)&y) == CF_OK, "%s f32", ds);
            for (int i = 0; y && i < 6; i++) CHECK(y[i] == (float)vals[i], "%s f32 [%d]", ds, i);
            free(y);
            int64_t *z = NULL;
            cf_status st = cf_npy_read(p, CF_NPY_OUT_I64, 0, NULL, (void **)&z);
            if (kind == 'f') {
                /* -1, -0.5, 0, ...: the halves are not integers */
                CHECK(st == CF_ERR_FORMAT && z == NULL, "%s i64 of non-integers", ds);
                CHECK_ERROR_HAS("not an integer");
            } else {
                CHECK(st == CF_OK, "%s i64", ds);
                for (int i = 0; z && i < 6; i++) CHECK(z[i] == (int64_t)vals[i], "%s i64 [%d]", ds, i);
            }
            free(z);
        }
    }
}

static void test_header_forms(void)
{
    double v[6] = {1, 2, 3, 4, 5, 6};
    struct {
        const char *dict;
        int ndim;
        int64_t count;
    } cases[] = {
        {"{'shape': (6,), 'fortran_order': False, 'descr': '<f8'}", 1, 6},
        {"{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(6,)}", 1, 6},
        {"{ 'descr' : '<f8' , 'fortran_order' : False , 'shape' : ( 3 , 2 , ) , }", 2, 6},
        {"{'descr': '=f8', 'fortran_order': False, 'shape': (1, 6, 1)}", 3, 6},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (6L,)}", 1, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t n = make_npy(img, sizeof img, 1, cases[c].dict, v, sizeof v);
        cf_npy_info info;
        double *x = NULL;
        CHECK(cf_npy_read_mem(img, n, "hdr", CF_NPY_OUT_F64, 0, &info, (void **)&x) == CF_OK, "case %zu", c);
        CHECK(info.ndim == cases[c].ndim && info.count == cases[c].count, "case %zu shape", c);
        CHECK(x && x[5] == 6, "case %zu data", c);
        free(x);
    }
    /* a scalar: shape () holds one element */
    size_t n = make_npy(img, sizeof img, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", v, 8);
    cf_npy_info info;
    double *x = NULL;
    CHECK(cf_npy_read_mem(img, n, "scalar", CF_NPY_OUT_F64, 0, &info, (void **)&x) == CF_OK);
    CHECK(info.ndim == 0 && info.count == 1 && x && x[0] == 1);
    free(x);
    /* an empty array */
    n = make_npy(img, sizeof img, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 5)}", NULL, 0);
    x = (double *)1;
    CHECK(cf_npy_read_mem(img, n, "empty", CF_NPY_OUT_F64, 0, &info, (void **)&x) == CF_OK);
    CHECK(info.count == 0 && x == NULL);
    /* Fortran order is transposed into C order: column-major [[1,2,3],[4,5,6]] is 1 4 2 5 3 6 */
    double fo[6] = {1, 4, 2, 5, 3, 6};
    n = make_npy(img, sizeof img, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", fo, sizeof fo);
    CHECK(cf_npy_read_mem(img, n, "fortran", CF_NPY_OUT_F64, 0, &info, (void **)&x) == CF_OK);
    CHECK(info.fortran_order && info.shape[0] == 2 && info.shape[1] == 3);
    for (int i = 0; x && i < 6; i++) CHECK(x[i] == i + 1, "fortran [%d] = %g", i, x[i]);
    free(x);
    /* the header of a file, alone */
    n = make_npy(img, sizeof img, 3, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,)}", v, sizeof v);
    write_bytes(tmp_path("info.npy"), img, n);
    CHECK(cf_npy_read_info(tmp_path("info.npy"), &info) == CF_OK && info.count == 6 && info.major == 3 &&
          info.data_offset == 128);
}

/* The image fails to read, the message names `what` and holds frag. */
static void bad(const unsigned char *b, size_t n, unsigned flags, cf_npy_out out, const char *frag, int line)
{
    void *x = (void *)1;
    cf_status st = cf_npy_read_mem(b, n, "bad.npy", out, flags, NULL, &x);
    CHECK(st != CF_OK && x == NULL, "line %d: read succeeded", line);
    CHECK(strstr(cf_last_error(), "bad.npy") && strstr(cf_last_error(), frag), "line %d: message \"%s\" lacks \"%s\"",
          line, cf_last_error(), frag);
}
#define BAD(dict, data, nbytes, frag) \
    do { \
        size_t n_ = make_npy(img, sizeof img, 1, dict, data, nbytes); \
        bad(img, n_, CF_NPY_FINITE, CF_NPY_OUT_F64, frag, __LINE__); \
    } while (0)

static void test_malformed(void)
{
    double v[4] = {1, 2, 3, 4};
    const char *ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }";
    size_t n = make_npy(img, sizeof img, 1, ok, v, sizeof v);
    unsigned char c[512];
    memcpy(c, img, n);
    c[1] = 'X';
    bad(c, n, 0, CF_NPY_OUT_F64, "bad magic", __LINE__);
    memcpy(c, img, n);
    c[6] = 4;
    bad(c, n, 0, CF_NPY_OUT_F64, "version 4.0", __LINE__);
    memcpy(c, img, n);
    c[7] = 1;
    bad(c, n, 0, CF_NPY_OUT_F64, "version 1.1", __LINE__);
    bad(img, 5, 0, CF_NPY_OUT_F64, "preamble", __LINE__);
    bad(img, 30, 0, CF_NPY_OUT_F64, "truncated npy header", __LINE__);
    bad(img, n - 3, 0, CF_NPY_OUT_F64, "truncated npy data", __LINE__);
    memcpy(c, img, n);
    c[n] = 0;
    bad(c, n + 1, 0, CF_NPY_OUT_F64, "trailing bytes", __LINE__);
    BAD("{'descr': '<c8', 'fortran_order': False, 'shape': (4,)}", v, 32, "unsupported dtype '<c8'");
    BAD("{'descr': '|O', 'fortran_order': False, 'shape': (4,)}", v, 32, "object arrays");
    BAD("{'descr': '<U4', 'fortran_order': False, 'shape': (4,)}", v, 32, "unsupported dtype");
    BAD("{'descr': '|f8', 'fortran_order': False, 'shape': (4,)}", v, 32, "unsupported dtype");
    BAD("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (4,)}", v, 32, "structured");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", v, 32, "overflow");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}", v, 32, "overflows 64 bits");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,)}", v, 32, "truncated npy data");
    BAD("{'descr': '<f8', 'shape': (4,)}", v, 32, "lacks 'fortran_order'");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), 'extra': 1}", v, 32, "unknown key");
    BAD("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (4,)}", v, 32, "repeated key");
    BAD("{'descr': '<f8', 'fortran_order': 0, 'shape': (4,)}", v, 32, "True or False");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (4)}", v, 32, "written (n,)");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': [4]}", v, 32, "must be a tuple");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (-4,)}", v, 32, "non-negative");
    BAD("{'descr': '<f8', 'fortran_order': False, 'shape': (4,)} x", v, 32, "after the header dict");
    BAD("['descr']", v, 32, "not a dict");
    BAD("{'descr': '<f8' 'fortran_order': False, 'shape': (4,)}", v, 32, "expected ',' or '}'");
    /* non-finite values where they are not allowed */
    double nf[4] = {1, NAN, 3, 4};
    BAD(ok, nf, 32, "element 1 is NaN");
    nf[1] = 1, nf[3] = INFINITY;
    BAD(ok, nf, 32, "element 3 is infinite");
    n = make_npy(img, sizeof img, 1, ok, nf, sizeof nf);
    double *x = NULL;
    CHECK(cf_npy_read_mem(img, n, "inf ok", CF_NPY_OUT_F64, 0, NULL, (void **)&x) == CF_OK && x && isinf(x[3]));
    free(x);
    bad(img, n, 0, CF_NPY_OUT_I64, "not an integer", __LINE__);
    double big[4] = {1, 1e300, 0, 0};
    n = make_npy(img, sizeof img, 1, ok, big, sizeof big);
    bad(img, n, 0, CF_NPY_OUT_F32, "float32 range", __LINE__);
    unsigned char b[4] = {0, 1, 2, 0};
    n = make_npy(img, sizeof img, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}", b, 4);
    bad(img, n, 0, CF_NPY_OUT_F64, "element 2 of a bool array", __LINE__);
    uint64_t u[1] = {UINT64_MAX};
    n = make_npy(img, sizeof img, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,)}", u, 8);
    bad(img, n, 0, CF_NPY_OUT_I64, "exceeds int64", __LINE__);
    /* the header must end with a newline */
    n = make_npy(img, sizeof img, 1, ok, v, sizeof v);
    memcpy(c, img, n);
    c[8] = (unsigned char)(c[8] - 1); /* header one byte shorter: its last byte is a space */
    bad(c, n - 1, 0, CF_NPY_OUT_F64, "newline", __LINE__);
    /* files: missing, a directory */
    void *y = NULL;
    CHECK(cf_npy_read(tmp_path("nope.npy"), CF_NPY_OUT_F64, 0, NULL, &y) == CF_ERR_IO);
    CHECK_ERROR_HAS("nope.npy");
    CHECK(cf_npy_read(test_dir, CF_NPY_OUT_F64, 0, NULL, &y) != CF_OK && y == NULL);
}

/* Every truncation and many byte flips of a valid file: each read either fails with a message or succeeds
 * with the shape the header states (ASan / UBSan catch the rest). */
static void test_fuzz(void)
{
    double v[12];
    for (int i = 0; i < 12; i++) v[i] = i * 1.5;
    unsigned char good[256], c[256];
    size_t n = make_npy(good, sizeof good, 2, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }", v, sizeof v);
    int failures = 0, successes = 0, inconsistent = 0;
    static const cf_npy_out outs[3] = {CF_NPY_OUT_F64, CF_NPY_OUT_F32, CF_NPY_OUT_I64};
    for (size_t len = 0; len < n; len++) {
        void *x = NULL;
        if (cf_npy_read_mem(good, len, "trunc", CF_NPY_OUT_F64, 0, NULL, &x) != CF_OK && strstr(cf_last_error(), "trunc")) failures++;
        free(x);
    }
    CHECK(failures == (int)n, "%d of %zu truncations failed cleanly", failures, n);
    static const unsigned char flips[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(c, good, n);
            c[pos] ^= flips[k];
            cf_npy_info info;
            void *x = NULL;
            cf_status st = cf_npy_read_mem(c, n, "flip", outs[(pos + k) % 3], CF_NPY_FINITE, &info, &x);
            if (st == CF_OK) {
                successes++;
                if (info.count > 0 && !x) inconsistent++;
                if (info.count * info.itemsize + info.data_offset != (int64_t)n) inconsistent++;
            } else if (!strstr(cf_last_error(), "flip")) {
                inconsistent++;
            }
            free(x);
        }
    }
    CHECK(inconsistent == 0, "%d inconsistent results", inconsistent);
    CHECK(successes > 0); /* flips inside the data or padding still read */
}

static void write_npy_f64(const char *path, const char *shape, const double *v, size_t n)
{
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
    static unsigned char buf[1 << 16];
    size_t len = make_npy(buf, sizeof buf, 1, dict, v, n * sizeof *v);
    write_bytes(path, buf, len);
}

static void test_visnav(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/visnav", test_dir);
    mkdir(dir, 0700);
    char p[700];
    /* no spikerates yet: the error names the directory and the layout */
    CHECK(cf_spikes_load(dir, NULL) == NULL);
    CHECK_ERROR_HAS("spikerates_dt_");
    CHECK_ERROR_HAS("visnav");
    /* 3 neurons x 100 bins of 10 ms; neuron 2 has a 0.4 that rounds to 0 and a 1.6 that rounds to 2 */
    double r[300] = {0};
    for (int b = 0; b < 100; b += 10) r[b] = 1, r[200 + b] = 2;
    r[100 + 3] = 0.4, r[100 + 7] = 1.6, r[100 + 50] = 1;
    snprintf(p, sizeof p, "%s/spikerates_dt_0.01.npy", dir);
    write_npy_f64(p, "(3, 100)", r, 300);
    double sp[20], phi[10];
    for (int i = 0; i < 20; i++) sp[i] = i;
    for (int i = 0; i < 10; i++) phi[i] = 2 * i;
    snprintf(p, sizeof p, "%s/behavior_speed_dt_0.05.npy", dir);
    write_npy_f64(p, "(20,)", sp, 20);
    snprintf(p, sizeof p, "%s/phi_dt_0.1.npy", dir);
    write_npy_f64(p, "(10,)", phi, 10);
    cf_spikes *s = cf_spikes_load(dir, NULL);
    CHECK(s && s->n_units == 3 && s->n_spikes == 10 + 3 + 20, "units %d spikes %lld", s ? s->n_units : -1,
          s ? (long long)s->n_spikes : -1LL);
    CHECK(s && fabs(s->t_end - 1.0) < 1e-9 && s->t_start == 0);
    CHECK(s && s->beh_dim == 2 && s->beh_len == 20 && strcmp(s->beh_names[0], "behavior_speed") == 0 &&
          strcmp(s->beh_names[1], "phi") == 0);
    /* phi (every 0.1 s) interpolated onto the 0.05 s grid: at t = 0.15 it is 3 */
    if (s && s->beh_dim == 2) CHECK_NEAR(s->beh[3 * 2 + 1], 3.0, 1e-12);
    cf_spikes_free(s);
    /* a selection of neurons (1-based) */
    snprintf(p, sizeof p, "%s/sel_lateral.csv", dir);
    FILE *f = fopen(p, "w");
    if (f) fputs("id\n3\n2\n", f), fclose(f);
    s = cf_spikes_load(dir, NULL);
    CHECK(s && s->n_units == 2 && s->n_spikes == 20 + 3 && s->unit_ids && s->unit_ids[0] == 3 && s->unit_ids[1] == 2);
    cf_spikes_free(s);
    f = fopen(p, "w");
    if (f) fputs("1,4\n", f), fclose(f);
    CHECK(cf_spikes_load(dir, NULL) == NULL);
    CHECK_ERROR_HAS("sel_lateral.csv:1: neuron 4 is outside 1..3");
    unlink(p);
    /* frames: [n, 1, h, w] float32 at 20 Hz */
    CHECK(cf_frames_read(dir, NULL) == NULL);
    CHECK_ERROR_HAS("stimulus.npy");
    float px[5 * 4 * 6];
    for (int i = 0; i < 120; i++) px[i] = (float)i / 120.0f;
    static unsigned char buf[4096];
    size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 1, 4, 6), }", px, sizeof px);
    snprintf(p, sizeof p, "%s/stimulus.npy", dir);
    write_bytes(p, buf, len);
    cf_frames *fr = cf_frames_read(dir, NULL);
    CHECK(fr && fr->n == 5 && fr->h == 4 && fr->w == 6 && fr->rate == 20 && fr->data[119] == px[119]);
    CHECK(fr && fabs(fr->t[4] - 0.2) < 1e-12);
    cf_frames_free(fr);
    s = cf_spikes_load(dir, NULL);
    CHECK(s && cf_spikes_load_frames(s, dir, NULL) == CF_OK && s->frames && s->frames->n == 5);
    cf_spikes_free(s);
    len = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 2, 4, 3), }", px, sizeof px);
    write_bytes(p, buf, len);
    CHECK(cf_frames_read(dir, NULL) == NULL);
    CHECK_ERROR_HAS("frames must be [n, 1, h, w]");
    /* negative counts are an error naming the neuron and bin */
    r[100 + 42] = -1;
    snprintf(p, sizeof p, "%s/spikerates_dt_0.01.npy", dir);
    write_npy_f64(p, "(3, 100)", r, 300);
    CHECK(cf_spikes_load(dir, NULL) == NULL);
    CHECK_ERROR_HAS("negative count -1 at neuron 1 (0-based), bin 42");
    /* a behaviour file that is not 1-D */
    r[100 + 42] = 0;
    write_npy_f64(p, "(3, 100)", r, 300);
    snprintf(p, sizeof p, "%s/th_dt_0.05.npy", dir);
    write_npy_f64(p, "(2, 10)", sp, 20);
    CHECK(cf_spikes_load(dir, NULL) == NULL);
    CHECK_ERROR_HAS("th_dt_0.05.npy: a behaviour variable must be 1-D");
}

/* cf_spikes_load(dir, o) fails in well under a second with an error holding frag. */
static void refused_fast(const char *dir, const cf_spikes_csv_options *o, const char *frag, int line)
{
    double t0 = cf_now();
    cf_spikes *s = cf_spikes_load(dir, o);
    double took = cf_now() - t0;
    CHECK(s == NULL && took < 0.5, "line %d: %s, after %.2f s", line, s ? "read" : "refused", took);
    cf_spikes_free(s);
    CHECK(strstr(cf_last_error(), frag), "line %d: the error lacks '%s': %s", line, frag, cf_last_error());
}

/* Sizes a header declares are checked against the file before anything is allocated, and the shape of the
 * spike counts against the bounds (neurons, recording span) before the array is read. */
static void test_declared_sizes(void)
{
    /* a 128-byte file declaring 10^18 doubles */
    static unsigned char buf[4096];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
                        NULL, 0);
    CHECK(n == 128);
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/visnav_big", test_dir);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/spikerates_dt_0.01.npy", dir);
    write_bytes(p, buf, n);
    double t0 = cf_now();
    void *x = NULL;
    CHECK(cf_npy_read(p, CF_NPY_OUT_F64, 0, NULL, &x) == CF_ERR_FORMAT && !x && cf_now() - t0 < 0.5);
    CHECK_ERROR_HAS("truncated npy data: shape and dtype <f8 need 8000000000000000000 bytes, the file has 0");
    refused_fast(dir, NULL, "spikerates_dt_0.01.npy: truncated npy data", __LINE__);
    unlink(p);
    /* 20 bins of 1e5 s: a 2e6 s recording */
    double r[300] = {0};
    r[5] = 1, r[150] = 2;
    snprintf(p, sizeof p, "%s/spikerates_dt_100000.npy", dir);
    write_npy_f64(p, "(1, 20)", r, 20);
    refused_fast(dir, NULL, "spikerates_dt_100000.npy: shape [1, 20]: 20 bins of 100000 s (the file name's dt) span 2e+06 s, "
                 "which exceeds max_seconds (1e+06 s)", __LINE__);
    cf_spikes_csv_options o = cf_spikes_csv_defaults();
    o.limits.max_seconds = 3e6;
    cf_spikes *s = cf_spikes_load(dir, &o);
    CHECK(s && s->n_units == 1 && s->n_spikes == 1);
    cf_spikes_free(s);
    unlink(p);
    /* 3 neurons against a bound of 2; a selection of 2 of them fits */
    snprintf(p, sizeof p, "%s/spikerates_dt_0.01.npy", dir);
    write_npy_f64(p, "(3, 100)", r, 300);
    o = cf_spikes_csv_defaults();
    o.limits.max_units = 2;
    o.limits.key_prefix = "data.";
    refused_fast(dir, &o, "spikerates_dt_0.01.npy: shape [3, 100]: the neuron count (3) exceeds data.max_units (2)", __LINE__);
    char sel[700];
    snprintf(sel, sizeof sel, "%s/sel.csv", dir);
    FILE *f = fopen(sel, "w");
    if (f) fputs("1,2\n", f), fclose(f);
    s = cf_spikes_load(dir, &o);
    CHECK(s && s->n_units == 2 && s->n_spikes == 3);
    cf_spikes_free(s);
    o.limits.max_units = 1;
    refused_fast(dir, &o, "sel.csv: the number of neurons selected (2) exceeds data.max_units (1)", __LINE__);
    unlink(sel);
    /* two million spikes in one 10 ms bin */
    r[150] = 2e6;
    write_npy_f64(p, "(3, 100)", r, 300);
    refused_fast(dir, NULL, "count 2e+06 at neuron 1 (0-based), bin 50 is implausibly large", __LINE__);
}

int main(void)
{
    if (!test_dir_make("test_npy")) return 1;
    RUN(test_round_trips);
    RUN(test_header_forms);
    RUN(test_malformed);
    RUN(test_fuzz);
    RUN(test_visnav);
    RUN(test_declared_sizes);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
