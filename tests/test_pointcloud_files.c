/* Point-cloud files (data/pointcloud/pointcloud.h): round trips of KITTI .bin, PLY (ascii, binary LE and BE,
 * with an extra property and a face element to skip), PCD (ascii, binary with a padding field,
 * binary_compressed), hand-written files in other property orders and types, a hand-made LZF stream with a
 * back reference, KITTI labels through the calibration and back, and every malformed case named by file and
 * element; a truncation and byte-flip sweep that must never crash. */
#define CHECK_SHOW_LAST_ERROR
#include "data/pointcloud/pointcloud.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdlib.h>

static cf_points sample(int n)
{
    cf_points p = {0};
    p.n = n;
    p.xyzi = malloc((size_t)n * 4 * sizeof(float));
    for (int i = 0; i < n; i++) {
        p.xyzi[4 * i] = 0.25f * (float)i - 3.0f;
        p.xyzi[4 * i + 1] = -1.5f + 0.125f * (float)(i % 7);
        p.xyzi[4 * i + 2] = 0.5f * (float)(i % 3) - 1.0f;
        p.xyzi[4 * i + 3] = (float)(i % 10) / 10.0f;
    }
    p.has_intensity = 1;
    return p;
}

static int same(const cf_points *a, const cf_points *b)
{
    if (a->n != b->n) return 0;
    for (int64_t i = 0; i < 4 * a->n; i++)
        if (a->xyzi[i] != b->xyzi[i]) return 0;
    return 1;
}

static void test_round_trips(void)
{
    cf_points p = sample(100), q;
    CHECK(cf_kitti_bin_write(tmp_path("a.bin"), &p) == CF_OK);
    CHECK(cf_pc_read(tmp_path("a.bin"), &q) == CF_OK && same(&p, &q), "KITTI .bin round trip");
    cf_points_free(&q);
    for (int fmt = 0; fmt < 3; fmt++)
        for (int extra = 0; extra < 2; extra++) {
            CHECK(cf_ply_write(tmp_path("a.ply"), &p, (cf_ply_format)fmt, extra) == CF_OK);
            CHECK(cf_pc_read(tmp_path("a.ply"), &q) == CF_OK && same(&p, &q) && q.has_intensity, "PLY format %d extra %d", fmt, extra);
            cf_points_free(&q);
        }
    for (int fmt = 0; fmt < 3; fmt++) {
        CHECK(cf_pcd_write(tmp_path("a.pcd"), &p, (cf_pcd_format)fmt) == CF_OK);
        CHECK(cf_pc_read(tmp_path("a.pcd"), &q) == CF_OK && same(&p, &q) && q.dropped == 0, "PCD format %d", fmt);
        cf_points_free(&q);
    }
    cf_points_free(&p);
}

/* a PLY in another property order and other types, big-endian, with the vertex element after a face one */
static void test_ply_layouts(void)
{
    const char *txt = "ply\nformat ascii 1.0\ncomment hi\nelement vertex 2\nproperty uchar red\nproperty double z\n"
                      "property int x\nproperty list uchar int idx\nproperty float y\nend_header\n"
                      "255 1.5 -2 3 7 8 9 0.25\n0 -0.5 4 0 -1\n";
    cf_points q;
    CHECK(cf_ply_parse((const uint8_t *)txt, strlen(txt), "t.ply", &q) == CF_OK);
    CHECK(q.n == 2 && !q.has_intensity);
    if (q.n == 2) {
        CHECK(q.xyzi[0] == -2 && q.xyzi[1] == 0.25f && q.xyzi[2] == 1.5f && q.xyzi[3] == 0);
        CHECK(q.xyzi[4] == 4 && q.xyzi[5] == -1 && q.xyzi[6] == -0.5f);
    }
    cf_points_free(&q);
    /* binary big-endian: a face element first (skipped by its list layout), then vertex (short x, y, z) */
    uint8_t buf[512];
    const char *hdr = "ply\nformat binary_big_endian 1.0\nelement face 1\nproperty list uchar int v\n"
                      "element vertex 1\nproperty short x\nproperty short y\nproperty short z\nproperty uchar intensity\nend_header\n";
    size_t n = strlen(hdr);
    memcpy(buf, hdr, n);
    const uint8_t body[] = {2, 0, 0, 0, 1, 0, 0, 0, 2, /* face: 2 ints */ 0xff, 0xfe, 0x01, 0x00, 0x00, 0x05, 200};
    memcpy(buf + n, body, sizeof body);
    CHECK(cf_ply_parse(buf, n + sizeof body, "be.ply", &q) == CF_OK);
    CHECK(q.n == 1 && q.xyzi[0] == -2 && q.xyzi[1] == 256 && q.xyzi[2] == 5 && q.xyzi[3] == 200);
    cf_points_free(&q);
}

/* "abcabcabcX": literal run "abc" then a back reference of length 6 at distance 3 (overlapping), then "X" */
static void test_lzf(void)
{
    const uint8_t in[] = {2, 'a', 'b', 'c', (uint8_t)((4 << 5) | 0), 2, 0, 'X'};
    uint8_t out[10];
    CHECK(cf_lzf_decode(in, sizeof in, out, sizeof out, "t") == CF_OK && !memcmp(out, "abcabcabcX", 10));
    /* a long reference: ctrl length 7 + extra byte 3 -> 12 bytes */
    const uint8_t in2[] = {0, 'z', (uint8_t)(7 << 5), 3, 0};
    uint8_t out2[13];
    CHECK(cf_lzf_decode(in2, sizeof in2, out2, sizeof out2, "t") == CF_OK && !memcmp(out2, "zzzzzzzzzzzzz", 13));
    CHECK(cf_lzf_decode(in, sizeof in, out, 9, "t.pcd") == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("t.pcd");
    const uint8_t far[] = {0, 'a', (uint8_t)(1 << 5), 5};
    CHECK(cf_lzf_decode(far, sizeof far, out, 4, "t.pcd") == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("back reference");
}

static void test_pcd_nan_and_ascii(void)
{
    const char *txt = "VERSION .7\nFIELDS intensity x y z rgb\nSIZE 4 4 4 4 4\nTYPE F F F F U\nCOUNT 1 1 1 1 1\n"
                      "WIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA ascii\n"
                      "0.5 1 2 3 7\n0.1 nan nan nan 0\n0.9 -1 -2 -3 1\n";
    cf_points q;
    CHECK(cf_pcd_parse((const uint8_t *)txt, strlen(txt), "t.pcd", &q) == CF_OK);
    CHECK(q.n == 2 && q.dropped == 1, "NaN point dropped and counted (n %lld dropped %lld)", (long long)q.n, (long long)q.dropped);
    if (q.n == 2) CHECK(q.xyzi[0] == 1 && q.xyzi[1] == 2 && q.xyzi[2] == 3 && q.xyzi[3] == 0.5f && q.xyzi[4] == -1);
    cf_points_free(&q);
}

static void test_labels(void)
{
    cf_kitti_calib cal;
    cf_kitti_calib_default(&cal);
    cal.tr[3] = 0.3; /* a translation on every axis */
    CHECK(cf_kitti_calib_write(tmp_path("c.txt"), &cal) == CF_OK);
    cf_kitti_calib back;
    CHECK(cf_kitti_calib_read(tmp_path("c.txt"), &back) == CF_OK);
    CHECK_NEAR(back.tr[3], 0.3, 1e-12);
    cf_boxes bs = {0};
    cf_box3d b = {CF_PC_CYCLIST, 5.0f, -2.0f, -0.9f, 1.8f, 0.6f, 1.7f, 0.7f};
    cf_boxes_push(&bs, &b);
    CHECK(cf_kitti_labels_write(tmp_path("l.txt"), &bs, &back) == CF_OK);
    cf_boxes got;
    CHECK(cf_kitti_labels_read(tmp_path("l.txt"), &back, &got) == CF_OK && got.n == 1);
    if (got.n == 1) {
        CHECK(got.b[0].cls == CF_PC_CYCLIST);
        CHECK_NEAR(got.b[0].x, 5.0, 1e-3);
        CHECK_NEAR(got.b[0].y, -2.0, 1e-3);
        CHECK_NEAR(got.b[0].z, -0.9, 1e-3);
        CHECK_NEAR(got.b[0].yaw, 0.7, 1e-5);
        CHECK_NEAR(got.b[0].l, 1.8, 1e-4);
    }
    cf_boxes_free(&got);
    cf_boxes_free(&bs);
    /* a hand-computed KITTI line: with the default calibration (axis swap, camera 0.08 m below and 0.27 m
     * behind... of the LiDAR), camera (x, y, z) = (1, 1.5, 10), rotation_y 0 is LiDAR (10.27, -1, -1.5 + h/2 - 0.08),
     * heading -pi/2 */
    const char *line = "Car 0.00 0 -1.5 0 0 0 0 1.50 1.60 3.90 1.00 1.50 10.00 0.00\nDontCare -1 -1 -10 0 0 0 0 -1 -1 -1 -1000 -1000 -1000 -10\n";
    CHECK(cf_kitti_labels_parse(line, strlen(line), "l.txt", NULL, &got) == CF_OK && got.n == 1);
    if (got.n == 1) {
        CHECK_NEAR(got.b[0].x, 10.27, 1e-4);
        CHECK_NEAR(got.b[0].y, -1.0, 1e-4);
        CHECK_NEAR(got.b[0].z, -1.5 + 0.75 - 0.08, 1e-4);
        CHECK_NEAR(got.b[0].yaw, -CF_PC_PI / 2, 1e-5);
    }
    cf_boxes_free(&got);
}

static void expect_error(cf_status st, const char *frag1, const char *frag2)
{
    CHECK(st == CF_ERR_FORMAT, "expected a format error with \"%s\"", frag2);
    CHECK_ERROR_HAS(frag1);
    CHECK_ERROR_HAS(frag2);
}

static void test_errors(void)
{
    cf_points q;
    cf_boxes b;
    uint8_t bin[36] = {0};
    expect_error(cf_kitti_bin_parse(bin, 36, 4, "x.bin", &q), "x.bin", "point 2 is truncated");
    float nanrec[8] = {0, 0, 0, 0, 1, NAN, 0, 0};
    expect_error(cf_kitti_bin_parse((const uint8_t *)nanrec, sizeof nanrec, 4, "x.bin", &q), "point 1", "y is NaN");
    const char *l1 = "Car 0 0 0 0 0 0 0 1 1 1 0 0 5\n";
    expect_error(cf_kitti_labels_parse(l1, strlen(l1), "l.txt", NULL, &b), "l.txt: line 1", "needs 14 numbers");
    const char *l2 = "Car 0 0 0 0 0 0 0 1 1 1 0 0 5 0\nBus 0 0 0 0 0 0 0 1 1 1 0 0 5 0\n";
    expect_error(cf_kitti_labels_parse(l2, strlen(l2), "l.txt", NULL, &b), "line 2", "unknown object type \"Bus\"");
    const char *l3 = "Car 0 0 0 0 0 0 0 1 -1 1 0 0 5 0\n";
    expect_error(cf_kitti_labels_parse(l3, strlen(l3), "l.txt", NULL, &b), "line 1", "must be positive");
    const char *c1 = "R0_rect: 1 0 0 0 1 0 0 0 1\n";
    cf_kitti_calib cal;
    expect_error(cf_kitti_calib_parse(c1, strlen(c1), "c.txt", &cal), "c.txt", "Tr_velo_to_cam");
    const char *p1 = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n4 5 6\n";
    expect_error(cf_ply_parse((const uint8_t *)p1, strlen(p1), "v.ply", &q), "v.ply", "vertex 2");
    const char *p2 = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n";
    expect_error(cf_ply_parse((const uint8_t *)p2, strlen(p2), "v.ply", &q), "v.ply", "no scalar property \"z\"");
    const char *p3 = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 nan 3\n";
    expect_error(cf_ply_parse((const uint8_t *)p3, strlen(p3), "v.ply", &q), "vertex 0", "y is NaN");
    const char *p4 = "ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n0123456789ab0123456789a";
    expect_error(cf_ply_parse((const uint8_t *)p4, strlen(p4), "v.ply", &q), "vertex 1", "truncated record");
    const char *p5 = "ply\nformat binary_little_endian 1.0\nelement vertex 200000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n0123";
    expect_error(cf_ply_parse((const uint8_t *)p5, strlen(p5), "v.ply", &q), "vertex 0", "declares 200000000 vertices");
    const char *p6 = "plx\n";
    expect_error(cf_ply_parse((const uint8_t *)p6, strlen(p6), "v.ply", &q), "v.ply", "line 1");
    const char *p7 = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3 4\n";
    expect_error(cf_ply_parse((const uint8_t *)p7, strlen(p7), "v.ply", &q), "vertex 0", "more values");
    const char *d1 = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 2\nHEIGHT 1\nPOINTS 3\nDATA ascii\n1 2 3\n";
    expect_error(cf_pcd_parse((const uint8_t *)d1, strlen(d1), "p.pcd", &q), "p.pcd", "POINTS = 3");
    const char *d2 = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 2\nPOINTS 2\nDATA binary\n0123456789ab0123";
    expect_error(cf_pcd_parse((const uint8_t *)d2, strlen(d2), "p.pcd", &q), "point 1", "truncated record");
    const char *d3 = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 2\nPOINTS 2\nDATA ascii\n1 2 3\n4 5\n";
    expect_error(cf_pcd_parse((const uint8_t *)d3, strlen(d3), "p.pcd", &q), "point 1", "missing");
    const char *d4 = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F Q\nWIDTH 1\nDATA ascii\n1 2 3\n";
    expect_error(cf_pcd_parse((const uint8_t *)d4, strlen(d4), "p.pcd", &q), "p.pcd", "TYPE of field z");
    static const char d5[] = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nDATA binary_compressed\n\x10\x00\x00\x00\x0c\x00\x00\x00";
    expect_error(cf_pcd_parse((const uint8_t *)d5, sizeof d5 - 1, "p.pcd", &q), "p.pcd", "compressed size 16");
    const char *d6 = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nDATA ascii\n1 2 inf\n";
    expect_error(cf_pcd_parse((const uint8_t *)d6, strlen(d6), "p.pcd", &q), "point 0", "z is not a finite");
    CHECK(cf_pc_read(tmp_path("nothing.bin"), &q) == CF_ERR_IO);
    CHECK_ERROR_HAS("nothing.bin");
    CHECK(cf_pc_read("x.xyz", &q) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("x.xyz");
}

/* every prefix and every single-byte flip of valid files parse or fail cleanly (ASan/UBSan watch the run) */
static void test_sweep(void)
{
    cf_points p = sample(6), q;
    const char *files[] = {"s.ply", "s.plyb", "s.pcd", "s.pcdb", "s.pcdc"};
    CHECK(cf_ply_write(tmp_path("s.ply"), &p, CF_PLY_ASCII, 1) == CF_OK);
    CHECK(cf_ply_write(tmp_path("s.plyb"), &p, CF_PLY_BINARY_BE, 1) == CF_OK);
    CHECK(cf_pcd_write(tmp_path("s.pcd"), &p, CF_PCD_ASCII) == CF_OK);
    CHECK(cf_pcd_write(tmp_path("s.pcdb"), &p, CF_PCD_BINARY) == CF_OK);
    CHECK(cf_pcd_write(tmp_path("s.pcdc"), &p, CF_PCD_BINARY_COMPRESSED) == CF_OK);
    int ok = 1;
    for (int f = 0; f < 5; f++) {
        FILE *fp = fopen(tmp_path(files[f]), "rb");
        uint8_t buf[4096];
        size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
        if (fp) fclose(fp);
        int ply = f < 2;
        for (size_t cut = 0; cut < n; cut++) {
            cf_status st = ply ? cf_ply_parse(buf, cut, "cut", &q) : cf_pcd_parse(buf, cut, "cut", &q);
            if (st == CF_OK && q.n > p.n) ok = 0;
            cf_points_free(&q);
        }
        for (size_t i = 0; i < n; i++) {
            buf[i] ^= 0x5a;
            cf_status st = ply ? cf_ply_parse(buf, n, "flip", &q) : cf_pcd_parse(buf, n, "flip", &q);
            if (st != CF_OK && !strstr(cf_last_error(), "flip")) ok = 0;
            cf_points_free(&q);
            buf[i] ^= 0x5a;
        }
    }
    CHECK(ok, "every cut and flip parsed or failed naming the file");
    cf_points_free(&p);
}

int main(void)
{
    if (!test_dir_make("pointcloud")) return 1;
    test_round_trips();
    test_ply_layouts();
    test_lzf();
    test_pcd_nan_and_ascii();
    test_labels();
    test_errors();
    test_sweep();
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
