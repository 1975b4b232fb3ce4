/* KITTI velodyne .bin, calibration and label files (formats in pointcloud.h), and the helpers every
 * point-cloud reader shares (points, boxes, reading by extension). The label layout is the KITTI object
 * benchmark's devkit readme (Geiger et al., "Are we ready for autonomous driving?", CVPR 2012). */
#include "data/pointcloud/pointcloud.h"

#include "autograd/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const cf_pc_class_names[CF_PC_NCLASS] = {"Car", "Pedestrian", "Cyclist"};

/* the largest text file (labels, calibration) taken */
#define TEXT_MAX ((size_t)1 << 24)
/* the largest binary point file taken */
#define BIN_MAX ((size_t)1 << 34)

void cf_points_free(cf_points *p)
{
    if (!p) return;
    free(p->xyzi);
    memset(p, 0, sizeof *p);
}

cf_status cf_boxes_push(cf_boxes *bs, const cf_box3d *b)
{
    if (bs->n >= CF_PC_MAX_BOXES) return cf_set_error(CF_ERR_FORMAT, "more than %d boxes in one frame", CF_PC_MAX_BOXES);
    if (bs->n == bs->cap) {
        int cap = bs->cap ? 2 * bs->cap : 16;
        cf_box3d *nb = realloc(bs->b, (size_t)cap * sizeof *nb);
        if (!nb) return cf_set_error(CF_ERR_OOM, "out of memory for %d boxes", cap);
        bs->b = nb;
        bs->cap = cap;
    }
    bs->b[bs->n++] = *b;
    return CF_OK;
}

void cf_boxes_free(cf_boxes *bs)
{
    if (!bs) return;
    free(bs->b);
    memset(bs, 0, sizeof *bs);
}

void cf_kitti_calib_default(cf_kitti_calib *c)
{
    static const double r0[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    /* cam x = -velo y, cam y = -velo z, cam z = velo x; the offset of KITTI's camera 0 from its LiDAR */
    static const double tr[12] = {0, -1, 0, 0, 0, 0, -1, -0.08, 1, 0, 0, -0.27};
    memcpy(c->r0, r0, sizeof r0);
    memcpy(c->tr, tr, sizeof tr);
}

/* ---- .bin ---- */

cf_status cf_kitti_bin_parse(const uint8_t *buf, size_t n, int cols, const char *name, cf_points *out)
{
    memset(out, 0, sizeof *out);
    if (cols < 4 || cols > 16) return cf_set_error(CF_ERR_ARG, "%s: %d columns per point, expected 4..16", name, cols);
    size_t rec = 4 * (size_t)cols;
    if (n % rec != 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: %zu bytes is not a whole number of %zu-byte points (%d float32 columns): point %zu is truncated", name, n, rec, cols, n / rec);
    int64_t np = (int64_t)(n / rec);
    if (np > CF_PC_MAX_POINTS) return cf_set_error(CF_ERR_FORMAT, "%s: %lld points, more than the %lld taken", name, (long long)np, (long long)CF_PC_MAX_POINTS);
    out->xyzi = malloc((size_t)(np ? np : 1) * 4 * sizeof(float));
    if (!out->xyzi) return cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld points", name, (long long)np);
    for (int64_t i = 0; i < np; i++) {
        for (int k = 0; k < 4; k++) {
            const uint8_t *q = buf + (size_t)i * rec + 4 * (size_t)k;
            uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
            float v;
            memcpy(&v, &u, 4);
            if (!isfinite(v)) {
                cf_points_free(out);
                return cf_set_error(CF_ERR_FORMAT, "%s: point %lld: %s is %s", name, (long long)i, k == 3 ? "intensity" : (const char *[]){"x", "y", "z"}[k], isnan(v) ? "NaN" : "infinite");
            }
            out->xyzi[4 * i + k] = v;
        }
    }
    out->n = np;
    out->has_intensity = 1;
    return CF_OK;
}

cf_status cf_kitti_bin_read(const char *path, int cols, cf_points *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    char *buf = cf_read_file(path, BIN_MAX, &n);
    if (!buf) return cf_last_status();
    cf_status st = cf_kitti_bin_parse((const uint8_t *)buf, n, cols, path, out);
    free(buf);
    return st;
}

cf_status cf_kitti_bin_write(const char *path, const cf_points *p)
{
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    for (int64_t i = 0; i < p->n; i++) {
        uint8_t rec[16];
        for (int k = 0; k < 4; k++) {
            uint32_t u;
            memcpy(&u, &p->xyzi[4 * i + k], 4);
            for (int b = 0; b < 4; b++) rec[4 * k + b] = (uint8_t)(u >> (8 * b));
        }
        cf_atomic_write(af, rec, sizeof rec);
    }
    return cf_atomic_commit(af);
}

/* ---- text helpers ---- */

/* Reads up to max numbers from s into v; *end is where parsing stopped. Returns the count. */
static int numbers(const char *s, double *v, int max, const char **end)
{
    int k = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s || *s == '\n' || k == max) break;
        char *e;
        errno = 0;
        double d = strtod(s, &e);
        if (e == s) break;
        v[k++] = d;
        s = e;
    }
    *end = s;
    return k;
}

/* one line of text [s, nl) copied into line (NUL-terminated, at most cap-1 bytes) */
static const char *next_line(const char *s, const char *end, char *line, size_t cap, int *too_long)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) nl = end;
    size_t len = (size_t)(nl - s);
    *too_long = len >= cap;
    if (len >= cap) len = cap - 1;
    memcpy(line, s, len);
    line[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (line[i] == 0) line[i] = '?';
    return nl < end ? nl + 1 : end;
}

/* ---- calibration ---- */

cf_status cf_kitti_calib_parse(const char *text, size_t n, const char *name, cf_kitti_calib *out)
{
    const char *s = text, *end = text + n;
    int have_r0 = 0, have_tr = 0, lineno = 0;
    char line[1024];
    while (s < end) {
        int too_long;
        s = next_line(s, end, line, sizeof line, &too_long);
        lineno++;
        if (too_long) return cf_set_error(CF_ERR_FORMAT, "%s: line %d: longer than %zu bytes", name, lineno, sizeof line - 1);
        char *colon = strchr(line, ':');
        if (!colon) {
            const char *p = line;
            while (isspace((unsigned char)*p)) p++;
            if (!*p) continue;
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: expected \"KEY: values\", got \"%.40s\"", name, lineno, line);
        }
        *colon = 0;
        double v[13];
        const char *rest;
        int k = numbers(colon + 1, v, 13, &rest);
        int want = !strcmp(line, "R0_rect") || !strcmp(line, "R_rect") ? 9 : !strcmp(line, "Tr_velo_to_cam") || !strcmp(line, "Tr_velo_cam") ? 12 : 0;
        if (!want) continue;
        while (*rest == ' ' || *rest == '\t' || *rest == '\r') rest++;
        if (k != want || *rest)
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: %s needs %d numbers, got %d%s", name, lineno, line, want, k, *rest ? " and text" : "");
        for (int i = 0; i < k; i++)
            if (!isfinite(v[i])) return cf_set_error(CF_ERR_FORMAT, "%s: line %d: %s value %d is not finite", name, lineno, line, i + 1);
        if (want == 9) {
            memcpy(out->r0, v, sizeof out->r0);
            have_r0 = 1;
        } else {
            memcpy(out->tr, v, sizeof out->tr);
            have_tr = 1;
        }
    }
    if (!have_r0 || !have_tr)
        return cf_set_error(CF_ERR_FORMAT, "%s: no %s line: a KITTI calibration file needs R0_rect and Tr_velo_to_cam", name, have_r0 ? "Tr_velo_to_cam" : "R0_rect");
    return CF_OK;
}

cf_status cf_kitti_calib_read(const char *path, cf_kitti_calib *out)
{
    size_t n;
    char *buf = cf_read_file(path, TEXT_MAX, &n);
    if (!buf) return cf_last_status();
    cf_status st = cf_kitti_calib_parse(buf, n, path, out);
    free(buf);
    return st;
}

cf_status cf_kitti_calib_write(const char *path, const cf_kitti_calib *c)
{
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "R0_rect:");
    for (int i = 0; i < 9; i++) cf_atomic_printf(af, " %.12e", c->r0[i]);
    cf_atomic_printf(af, "\nTr_velo_to_cam:");
    for (int i = 0; i < 12; i++) cf_atomic_printf(af, " %.12e", c->tr[i]);
    cf_atomic_printf(af, "\n");
    return cf_atomic_commit(af);
}

/* ---- box frames ---- */

/* m = R0 * Tr[:, :3] and t = R0 * Tr[:, 3]: cam = m x + t */
static void velo_to_cam(const cf_kitti_calib *c, double m[9], double t[3])
{
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += c->r0[3 * i + k] * c->tr[4 * k + j];
            m[3 * i + j] = s;
        }
        double s = 0;
        for (int k = 0; k < 3; k++) s += c->r0[3 * i + k] * c->tr[4 * k + 3];
        t[i] = s;
    }
}

static int inverse3(const double m[9], double r[9])
{
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    if (!(fabs(det) > 1e-12)) return -1;
    r[0] = (m[4] * m[8] - m[5] * m[7]) / det;
    r[1] = (m[2] * m[7] - m[1] * m[8]) / det;
    r[2] = (m[1] * m[5] - m[2] * m[4]) / det;
    r[3] = (m[5] * m[6] - m[3] * m[8]) / det;
    r[4] = (m[0] * m[8] - m[2] * m[6]) / det;
    r[5] = (m[2] * m[3] - m[0] * m[5]) / det;
    r[6] = (m[3] * m[7] - m[4] * m[6]) / det;
    r[7] = (m[1] * m[6] - m[0] * m[7]) / det;
    r[8] = (m[0] * m[4] - m[1] * m[3]) / det;
    return 0;
}

void cf_kitti_box_to_camera(const cf_box3d *b, const cf_kitti_calib *c, double cam[3], double *rot_y)
{
    double m[9], t[3];
    velo_to_cam(c, m, t);
    double p[3] = {b->x, b->y, b->z - 0.5 * b->h}; /* the bottom centre */
    double d[3] = {cos(b->yaw), sin(b->yaw), 0};
    double dc[3];
    for (int i = 0; i < 3; i++) {
        cam[i] = m[3 * i] * p[0] + m[3 * i + 1] * p[1] + m[3 * i + 2] * p[2] + t[i];
        dc[i] = m[3 * i] * d[0] + m[3 * i + 1] * d[1] + m[3 * i + 2] * d[2];
    }
    /* KITTI's heading in the camera frame is (cos ry, 0, -sin ry) */
    *rot_y = atan2(-dc[2], dc[0]);
}

void cf_kitti_box_from_camera(const double cam[3], double rot_y, double h, double w, double l, const cf_kitti_calib *c,
                              cf_box3d *b)
{
    double m[9], t[3], mi[9];
    velo_to_cam(c, m, t);
    if (inverse3(m, mi) != 0) { /* a singular calibration is refused by the label reader before this */
        memset(mi, 0, sizeof mi);
    }
    double q[3] = {cam[0] - t[0], cam[1] - t[1], cam[2] - t[2]};
    double dc[3] = {cos(rot_y), 0, -sin(rot_y)};
    double p[3], d[3];
    for (int i = 0; i < 3; i++) {
        p[i] = mi[3 * i] * q[0] + mi[3 * i + 1] * q[1] + mi[3 * i + 2] * q[2];
        d[i] = mi[3 * i] * dc[0] + mi[3 * i + 1] * dc[1] + mi[3 * i + 2] * dc[2];
    }
    b->x = (float)p[0];
    b->y = (float)p[1];
    b->z = (float)(p[2] + 0.5 * h);
    b->l = (float)l;
    b->w = (float)w;
    b->h = (float)h;
    b->yaw = (float)atan2(d[1], d[0]);
}

/* ---- labels ---- */

static int class_of(const char *type)
{
    for (int k = 0; k < CF_PC_NCLASS; k++)
        if (!strcmp(type, cf_pc_class_names[k])) return k;
    static const char *const other[] = {"Van", "Truck", "Tram", "Misc", "Person_sitting", "DontCare"};
    for (size_t k = 0; k < sizeof other / sizeof *other; k++)
        if (!strcmp(type, other[k])) return -1;
    return -2;
}

cf_status cf_kitti_labels_parse(const char *text, size_t n, const char *name, const cf_kitti_calib *calib, cf_boxes *out)
{
    memset(out, 0, sizeof *out);
    cf_kitti_calib def;
    if (!calib) {
        cf_kitti_calib_default(&def);
        calib = &def;
    }
    double m[9], t[3], mi[9];
    velo_to_cam(calib, m, t);
    if (inverse3(m, mi) != 0) return cf_set_error(CF_ERR_FORMAT, "%s: the calibration's rotation R0_rect * Tr_velo_to_cam is singular", name);
    const char *s = text, *end = text + n;
    char line[1024];
    int lineno = 0;
    while (s < end) {
        int too_long;
        s = next_line(s, end, line, sizeof line, &too_long);
        lineno++;
        if (too_long) {
            cf_boxes_free(out);
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: longer than %zu bytes", name, lineno, sizeof line - 1);
        }
        const char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) continue;
        char type[32];
        size_t tl = 0;
        while (*p && !isspace((unsigned char)*p) && tl < sizeof type - 1) type[tl++] = *p++;
        type[tl] = 0;
        int cls = class_of(type);
        if (cls == -2) {
            cf_boxes_free(out);
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: unknown object type \"%s\" (KITTI types: Car, Van, Truck, Pedestrian, Person_sitting, Cyclist, Tram, Misc, DontCare)", name, lineno, type);
        }
        double v[16];
        const char *rest;
        int k = numbers(p, v, 16, &rest);
        while (*rest == ' ' || *rest == '\t' || *rest == '\r') rest++;
        if ((k != 14 && k != 15) || *rest) {
            cf_boxes_free(out);
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: %s needs 14 numbers (truncated occluded alpha bbox[4] h w l x y z rotation_y) and an optional score, got %d%s", name, lineno, type, k, *rest ? " and text" : "");
        }
        for (int i = 0; i < k; i++)
            if (!isfinite(v[i])) {
                cf_boxes_free(out);
                return cf_set_error(CF_ERR_FORMAT, "%s: line %d: value %d is not finite", name, lineno, i + 2);
            }
        if (cls < 0) continue;
        double h = v[7], w = v[8], l = v[9];
        if (!(h > 0 && w > 0 && l > 0)) {
            cf_boxes_free(out);
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: box size h w l = %g %g %g must be positive", name, lineno, h, w, l);
        }
        cf_box3d b;
        b.cls = cls;
        cf_kitti_box_from_camera(v + 10, v[13], h, w, l, calib, &b);
        if (cf_boxes_push(out, &b) != CF_OK) {
            cf_boxes_free(out);
            return cf_set_error(CF_ERR_FORMAT, "%s: line %d: more than %d boxes", name, lineno, CF_PC_MAX_BOXES);
        }
    }
    return CF_OK;
}

cf_status cf_kitti_labels_read(const char *path, const cf_kitti_calib *calib, cf_boxes *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    char *buf = cf_read_file(path, TEXT_MAX, &n);
    if (!buf) return cf_last_status();
    cf_status st = cf_kitti_labels_parse(buf, n, path, calib, out);
    free(buf);
    return st;
}

cf_status cf_kitti_labels_write(const char *path, const cf_boxes *bs, const cf_kitti_calib *calib)
{
    cf_kitti_calib def;
    if (!calib) {
        cf_kitti_calib_default(&def);
        calib = &def;
    }
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    for (int i = 0; i < bs->n; i++) {
        const cf_box3d *b = &bs->b[i];
        double cam[3], ry;
        cf_kitti_box_to_camera(b, calib, cam, &ry);
        double alpha = ry - atan2(cam[0], cam[2]);
        cf_atomic_printf(af, "%s 0.00 0 %.4f 0.00 0.00 0.00 0.00 %.4f %.4f %.4f %.4f %.4f %.4f %.6f\n",
                         cf_pc_class_names[b->cls], alpha, b->h, b->w, b->l, cam[0], cam[1], cam[2], ry);
    }
    return cf_atomic_commit(af);
}

/* ---- by extension ---- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

cf_status cf_pc_read(const char *path, cf_points *out)
{
    if (ends_with(path, ".bin")) return cf_kitti_bin_read(path, 4, out);
    if (ends_with(path, ".ply")) return cf_ply_read(path, out);
    if (ends_with(path, ".pcd")) return cf_pcd_read(path, out);
    memset(out, 0, sizeof *out);
    return cf_set_error(CF_ERR_FORMAT, "%s: unknown point-cloud extension (expected .bin, .ply or .pcd)", path);
}
