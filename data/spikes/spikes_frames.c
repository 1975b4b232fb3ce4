/* The stimulus movie of a recording (cf_frames, layout and file formats in spikes.h): building, checking,
 * lookup by time, the clip of a window (spikes.h "frames") and the HDF5 readers (NWB ImageSeries and the
 * counts format's /frames). */
#include "data/h5util.h"
#include "data/spikes/spikes.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 4096
#define MAX_FRAMES ((int64_t)1 << 26)

/* ---- building, checking ---- */

void cf_frames_free(cf_frames *f)
{
    if (!f) return;
    free(f->data);
    free(f->t);
    free(f);
}

cf_status cf_frames_validate(const cf_frames *f, const char *what)
{
    if (!what) what = "frames";
    if (!f) return cf_set_error(CF_ERR_ARG, "%s: NULL frames", what);
    if (f->n < 1 || f->n > MAX_FRAMES || f->h < 1 || f->h > MAX_SIDE || f->w < 1 || f->w > MAX_SIDE || !f->data || !f->t)
        return cf_set_error(CF_ERR_FORMAT, "%s: %" PRId64 " frames of %d x %d pixels (need 1..%" PRId64 " frames of 1..%d "
                            "pixels a side)", what, f->n, f->h, f->w, MAX_FRAMES, MAX_SIDE);
    if (!(f->rate > 0) || !isfinite(f->rate)) return cf_set_error(CF_ERR_FORMAT, "%s: frame rate %g (need a finite rate > 0)", what, f->rate);
    size_t px = (size_t)f->h * (size_t)f->w;
    for (int64_t i = 0; i < f->n; i++) {
        if (!isfinite(f->t[i]) || (i > 0 && !(f->t[i] > f->t[i - 1])))
            return cf_set_error(CF_ERR_FORMAT, "%s: timestamps: row %" PRId64 ": %.17g (timestamps must be finite and "
                                "increasing)", what, i, f->t[i]);
        const float *p = f->data + (size_t)i * px;
        for (size_t k = 0; k < px; k++)
            if (!isfinite(p[k]))
                return cf_set_error(CF_ERR_FORMAT, "%s: frame %" PRId64 ", pixel (%zu, %zu): value is not finite", what, i,
                                    k / (size_t)f->w, k % (size_t)f->w);
    }
    return CF_OK;
}

cf_frames *cf_frames_make(const char *name, int64_t n, int h, int w, const float *data, const double *t, double t0,
                          double rate, bool per_trial)
{
    if (n < 1 || n > MAX_FRAMES || h < 1 || h > MAX_SIDE || w < 1 || w > MAX_SIDE) {
        cf_set_error(CF_ERR_ARG, "frames: %" PRId64 " frames of %d x %d pixels (need 1..%" PRId64 " of 1..%d a side)", n, h, w,
                     MAX_FRAMES, MAX_SIDE);
        return NULL;
    }
    size_t vals = (size_t)n * (size_t)h * (size_t)w;
    cf_frames *f = calloc(1, sizeof *f);
    if (f) {
        f->data = data ? malloc(vals * sizeof *f->data) : calloc(vals, sizeof *f->data);
        f->t = malloc((size_t)n * sizeof *f->t);
    }
    if (!f || !f->data || !f->t) {
        cf_frames_free(f);
        cf_set_error(CF_ERR_OOM, "frames: out of memory for %" PRId64 " frames of %d x %d", n, h, w);
        return NULL;
    }
    snprintf(f->name, sizeof f->name, "%s", name && name[0] ? name : "movie");
    f->n = n, f->h = h, f->w = w, f->rate = rate, f->per_trial = per_trial;
    if (data) memcpy(f->data, data, vals * sizeof *f->data);
    /* t0 + i / rate: the expression the reader and the writer use too, so a round trip is exact */
    for (int64_t i = 0; i < n; i++) f->t[i] = t ? t[i] : t0 + (double)i / rate;
    if (cf_frames_validate(f, f->name) != CF_OK) {
        cf_frames_free(f);
        return NULL;
    }
    return f;
}

cf_frames *cf_frames_copy(const cf_frames *f)
{
    if (cf_frames_validate(f, "cf_frames_copy") != CF_OK) return NULL;
    return cf_frames_make(f->name, f->n, f->h, f->w, f->data, f->t, 0, f->rate, f->per_trial);
}

bool cf_frames_equal(const cf_frames *a, const cf_frames *b, char *why, size_t why_n)
{
#define DIFF(...) \
    do { \
        if (why && why_n) snprintf(why, why_n, __VA_ARGS__); \
        return false; \
    } while (0)
    if (!a || !b) {
        if (a == b) return true;
        DIFF("frames: %s vs %s", a ? "present" : "none", b ? "present" : "none");
    }
    if (strcmp(a->name, b->name) != 0) DIFF("frames name: '%s' vs '%s'", a->name, b->name);
    if (a->n != b->n || a->h != b->h || a->w != b->w)
        DIFF("frames: [%" PRId64 ", %d, %d] vs [%" PRId64 ", %d, %d]", a->n, a->h, a->w, b->n, b->h, b->w);
    if (a->rate != b->rate || a->per_trial != b->per_trial)
        DIFF("frames: rate %.17g%s vs %.17g%s", a->rate, a->per_trial ? " per trial" : "", b->rate, b->per_trial ? " per trial" : "");
    for (int64_t i = 0; i < a->n; i++)
        if (a->t[i] != b->t[i]) DIFF("frame %" PRId64 " onset: %.17g vs %.17g", i, a->t[i], b->t[i]);
    size_t vals = (size_t)a->n * (size_t)a->h * (size_t)a->w;
    for (size_t k = 0; k < vals; k++)
        if (a->data[k] != b->data[k]) DIFF("frames: value %zu (frame %zu): %.9g vs %.9g", k, k / ((size_t)a->h * (size_t)a->w),
                                            (double)a->data[k], (double)b->data[k]);
#undef DIFF
    if (why && why_n) why[0] = 0;
    return true;
}

cf_status cf_spikes_set_frames(cf_spikes *s, const cf_frames *f)
{
    if (!s) return cf_set_error(CF_ERR_ARG, "cf_spikes_set_frames: NULL spikes");
    cf_frames *c = NULL;
    if (f && !(c = cf_frames_copy(f))) return cf_last_status();
    cf_frames_free(s->frames);
    s->frames = c;
    return CF_OK;
}

/* ---- lookup ---- */

int64_t cf_frames_index(const cf_frames *f, double t)
{
    if (!f || f->n < 1 || !(t >= f->t[0])) return -1;
    int64_t lo = 0, hi = f->n; /* last onset <= t */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (f->t[mid] <= t) lo = mid;
        else hi = mid;
    }
    if (lo == f->n - 1 && !(t < f->t[lo] + 1.0 / f->rate)) return -1;
    return lo;
}

void cf_frames_clip(const cf_frames *f, double t_end, double shift, int F, double lo, double hi, int n_trials,
                    const double *trial_start, const double *trial_stop, float *out)
{
    size_t px = (size_t)f->h * (size_t)f->w;
    double a = t_end + shift - (double)F / f->rate;
    for (int k = 0; k < F; k++) {
        float *o = out + (size_t)k * px;
        double tm = a + ((double)k + 0.5) / f->rate, rel = tm;
        int64_t idx = -1;
        if (tm >= lo && tm < hi) {
            if (f->per_trial) {
                int tl = 0, th = n_trials; /* the last trial starting at or before tm */
                while (th - tl > 1) {
                    int mid = tl + (th - tl) / 2;
                    if (trial_start[mid] <= tm) tl = mid;
                    else th = mid;
                }
                bool in = n_trials > 0 && trial_start[tl] <= tm && tm < trial_stop[tl];
                rel = in ? tm - trial_start[tl] : NAN;
            }
            idx = cf_frames_index(f, rel);
        }
        if (idx >= 0) memcpy(o, f->data + (size_t)idx * px, px * sizeof *o);
        else memset(o, 0, px * sizeof *o);
    }
}

/* ---- readers ---- */

#ifdef CF_HAVE_HDF5

/* A numeric dataset of rank 3 ([n, h, w]) or 4 ([n, 1, h, w]) read as floats with the NWB `conversion` and
 * `offset` applied; `shown` names it in messages. */
static cf_status read_pixels(hid_t loc, const char *file, const char *rel, const char *shown, cf_frames *f)
{
    if (!cf_h5_exists(loc, rel)) return cf_set_error(CF_ERR_FORMAT, "%s: missing dataset %s", file, shown);
    hid_t d = H5Dopen2(loc, rel, H5P_DEFAULT), type = -1, space = -1;
    if (d < 0) return cf_set_error(CF_ERR_FORMAT, "%s: %s is not a dataset", file, shown);
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims[8] = {0};
    if (r >= 0 && r <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    cf_h5_close(&type);
    cf_h5_close(&space);
    cf_status st = CF_OK;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) st = cf_set_error(CF_ERR_FORMAT, "%s: %s: not a numeric dataset", file, shown);
    else if (r != 3 && r != 4)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected [frames, height, width] or [frames, 1, height, width])",
                          file, shown, r);
    else if (r == 4 && dims[1] != 1)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: shape [%llu, %llu, %llu, %llu] has %llu channels (expected grayscale "
                          "[frames, 1, height, width])", file, shown, (unsigned long long)dims[0], (unsigned long long)dims[1],
                          (unsigned long long)dims[2], (unsigned long long)dims[3], (unsigned long long)dims[1]);
    hsize_t n = dims[0], h = dims[r - 2 > 0 ? r - 2 : 0], w = dims[r - 1 > 0 ? r - 1 : 0];
    if (st == CF_OK && (n < 1 || n > (hsize_t)MAX_FRAMES || h < 1 || h > MAX_SIDE || w < 1 || w > MAX_SIDE))
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: %llu frames of %llu x %llu pixels (need 1..%" PRId64 " frames of 1..%d "
                          "pixels a side)", file, shown, (unsigned long long)n, (unsigned long long)h, (unsigned long long)w,
                          MAX_FRAMES, MAX_SIDE);
    size_t vals = (size_t)n * (size_t)h * (size_t)w;
    if (st == CF_OK && !(f->data = malloc(vals * sizeof *f->data)))
        st = cf_set_error(CF_ERR_OOM, "%s: %s: out of memory for %zu pixels", file, shown, vals);
    if (st == CF_OK && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->data) < 0)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot read its values as numbers (corrupt, or out of range)", file, shown);
    double conv = 1, off = 0;
    if (st == CF_OK && (cf_h5_attr_double(d, "conversion", &conv) < 0 || cf_h5_attr_double(d, "offset", &off) < 0))
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: attribute conversion or offset is not a number", file, shown);
    cf_h5_close(&d);
    if (st != CF_OK) return st;
    f->n = (int64_t)n, f->h = (int)h, f->w = (int)w;
    size_t px = (size_t)h * (size_t)w;
    for (size_t k = 0; k < vals; k++) {
        double v = (double)f->data[k] * conv + off;
        if (!isfinite(v) || fabs(v) > 3.4e38)
            return cf_set_error(CF_ERR_FORMAT, "%s: %s: frame %zu, pixel (%zu, %zu): value is not finite", file, shown, k / px,
                                (k % px) / (size_t)w, k % (size_t)w);
        f->data[k] = (float)v;
    }
    return CF_OK;
}

/* time_reference: absent or "recording" (absolute times), "trial_start" (per trial). */
static cf_status read_reference(hid_t obj, const char *file, const char *where, cf_frames *f)
{
    char ref[64];
    int rc = cf_h5_attr_string(obj, "time_reference", ref, sizeof ref);
    if (rc < 0) return cf_set_error(CF_ERR_FORMAT, "%s: %s: attribute time_reference is not a string", file, where);
    if (rc == 1 && strcmp(ref, "trial_start") != 0 && strcmp(ref, "recording") != 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: time_reference '%s' (expected 'trial_start' or 'recording')", file, where, ref);
    f->per_trial = rc == 1 && strcmp(ref, "trial_start") == 0;
    return CF_OK;
}

static cf_status check_rate(const char *file, const char *where, double t0, double rate)
{
    if (!(rate > 0) || !isfinite(rate) || !isfinite(t0))
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: starting_time %g with rate %g (need a finite rate > 0)", file, where, t0, rate);
    return CF_OK;
}

static cf_status uniform_times(cf_frames *f, const char *file, const char *where, double t0, double rate)
{
    CF_TRY(check_rate(file, where, t0, rate));
    if (!(f->t = malloc((size_t)f->n * sizeof *f->t))) return cf_set_error(CF_ERR_OOM, "%s: %s: out of memory", file, where);
    for (int64_t i = 0; i < f->n; i++) f->t[i] = t0 + (double)i / rate;
    f->rate = rate;
    return CF_OK;
}

/* The timing of an ImageSeries group g: timestamps, or starting_time (dataset with a rate attribute, or
 * group attributes). `where` is at most 700 bytes long (read_image_series). */
static cf_status read_timing(hid_t g, const char *file, const char *where, cf_frames *f)
{
    char shown[800];
    if (cf_h5_exists(g, "timestamps")) {
        snprintf(shown, sizeof shown, "%s/timestamps", where);
        hid_t d = H5Dopen2(g, "timestamps", H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
        int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        hsize_t dims[8] = {0};
        if (r >= 0 && r <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
        cf_h5_close(&space);
        cf_status st = CF_OK;
        if (d < 0) st = cf_set_error(CF_ERR_FORMAT, "%s: %s is not a dataset", file, shown);
        else if (r != 1 || (int64_t)dims[0] != f->n)
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s: shape [%llu]%s (expected [%" PRId64 "], one per frame)", file, shown,
                              (unsigned long long)dims[0], r == 1 ? "" : " or another rank", f->n);
        else if (!(f->t = malloc((size_t)f->n * sizeof *f->t)))
            st = cf_set_error(CF_ERR_OOM, "%s: out of memory", file);
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->t) < 0)
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot read its values as numbers", file, shown);
        cf_h5_close(&d);
        for (int64_t i = 0; st == CF_OK && i < f->n; i++)
            if (!isfinite(f->t[i]) || (i > 0 && !(f->t[i] > f->t[i - 1])))
                st = cf_set_error(CF_ERR_FORMAT, "%s: %s: row %" PRId64 ": %.17g (timestamps must be finite and increasing)",
                                  file, shown, i, f->t[i]);
        if (st == CF_OK) f->rate = f->n > 1 ? (double)(f->n - 1) / (f->t[f->n - 1] - f->t[0]) : 20.0;
        return st;
    }
    double t0 = 0, rate = 0;
    int h0, hr = 0;
    if (cf_h5_exists(g, "starting_time")) {
        snprintf(shown, sizeof shown, "%s/starting_time", where);
        hid_t d = H5Dopen2(g, "starting_time", H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
        h0 = space >= 0 && H5Sget_simple_extent_npoints(space) == 1 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &t0) >= 0;
        if (h0) hr = cf_h5_attr_double(d, "rate", &rate);
        cf_h5_close(&space);
        cf_h5_close(&d);
        if (!h0) return cf_set_error(CF_ERR_FORMAT, "%s: %s: not a single number", file, shown);
    } else {
        h0 = cf_h5_attr_double(g, "starting_time", &t0);
    }
    if (hr != 1) hr = cf_h5_attr_double(g, "rate", &rate);
    if (h0 != 1 || hr != 1)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: no timestamps dataset and no starting_time with a rate", file, where);
    return uniform_times(f, file, where, t0, rate);
}

static cf_frames *read_image_series(hid_t file, const char *path, const char *name)
{
    char rel[600], where[700], shown[800];
    snprintf(rel, sizeof rel, "stimulus/presentation/%s", name);
    snprintf(where, sizeof where, "/%s", rel);
    snprintf(shown, sizeof shown, "%s/data", where);
    cf_frames *f = calloc(1, sizeof *f);
    if (!f) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    hid_t g = -1;
    cf_status st = CF_OK;
    if (!cf_h5_exists(file, rel)) st = cf_set_error(CF_ERR_FORMAT, "%s: missing dataset %s (no ImageSeries '%s')", path, shown, name);
    else if ((g = H5Gopen2(file, rel, H5P_DEFAULT)) < 0) st = cf_set_error(CF_ERR_FORMAT, "%s: %s is not a group", path, where);
    if (st == CF_OK) st = read_pixels(g, path, "data", shown, f);
    if (st == CF_OK) st = read_timing(g, path, where, f);
    if (st == CF_OK) st = read_reference(g, path, where, f);
    if (st == CF_OK) st = cf_frames_validate(f, where);
    cf_h5_close(&g);
    if (st != CF_OK) {
        cf_frames_free(f);
        return NULL;
    }
    return f;
}

/* The counts format: /frames with a frame_rate attribute. */
static cf_frames *read_counts_frames(hid_t file, const char *path)
{
    cf_frames *f = calloc(1, sizeof *f);
    if (!f) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(f->name, sizeof f->name, "frames");
    cf_status st = read_pixels(file, path, "frames", "/frames", f);
    hid_t d = st == CF_OK ? H5Dopen2(file, "frames", H5P_DEFAULT) : -1, counts = -1;
    double rate = 0, t0 = 0;
    if (st == CF_OK) {
        int rc = cf_h5_attr_double(d, "frame_rate", &rate);
        if (rc == 0) rc = cf_h5_attr_double(file, "frame_rate", &rate);
        if (rc < 0) st = cf_set_error(CF_ERR_FORMAT, "%s: /frames: attribute frame_rate is not a number", path);
        else if (rc == 0) st = cf_set_error(CF_ERR_FORMAT, "%s: /frames: no frame_rate attribute (on the dataset or the root)", path);
    }
    if (st == CF_OK) {
        /* onsets from frame_start, else the counts' t_start (attribute of /counts or of the root), else 0 */
        int rc = cf_h5_attr_double(d, "frame_start", &t0);
        if (rc == 0 && cf_h5_exists(file, "counts") && (counts = H5Oopen(file, "counts", H5P_DEFAULT)) >= 0)
            rc = cf_h5_attr_double(counts, "t_start", &t0);
        if (rc == 0) rc = cf_h5_attr_double(file, "t_start", &t0);
        if (rc < 0) st = cf_set_error(CF_ERR_FORMAT, "%s: /frames: frame_start / t_start is not a number", path);
    }
    if (st == CF_OK) st = uniform_times(f, path, "/frames", t0, rate);
    if (st == CF_OK) st = read_reference(d, path, "/frames", f);
    if (st == CF_OK) st = cf_frames_validate(f, "/frames");
    cf_h5_close(&counts);
    cf_h5_close(&d);
    if (st != CF_OK) {
        cf_frames_free(f);
        return NULL;
    }
    return f;
}

/* The ImageSeries (groups holding `data`) directly below /stimulus/presentation. */
static cf_status list_series(hid_t file, const char *path, char names[][128], int max, int *n)
{
    *n = 0;
    hid_t g = H5Gopen2(file, "stimulus/presentation", H5P_DEFAULT);
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /stimulus/presentation is not a group", path);
    H5G_info_t info;
    cf_status st = H5Gget_info(g, &info) < 0 ? cf_set_error(CF_ERR_FORMAT, "%s: /stimulus/presentation: cannot list it", path) : CF_OK;
    for (hsize_t i = 0; st == CF_OK && i < info.nlinks; i++) {
        char child[128];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, child, sizeof child, H5P_DEFAULT) < 0) continue;
        hid_t c = H5Gopen2(g, child, H5P_DEFAULT);
        if (c < 0) continue;
        if (H5Lexists(c, "data", H5P_DEFAULT) > 0 && *n < max) snprintf(names[(*n)++], 128, "%s", child);
        cf_h5_close(&c);
    }
    cf_h5_close(&g);
    return st;
}

cf_frames *cf_frames_read(const char *path, const char *name)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_frames_read: NULL path");
        return NULL;
    }
    if (cf_path_is_dir(path)) return cf_frames_read_dir(path, name);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_frames *f = NULL;
    if (file >= 0) {
        bool nwb = cf_h5_exists(file, "stimulus/presentation");
        if (!nwb && cf_h5_exists(file, "frames") && (!name || strcmp(name, "frames") == 0)) {
            f = read_counts_frames(file, path);
        } else if (name) {
            f = read_image_series(file, path, name);
        } else if (!nwb) {
            cf_set_error(CF_ERR_FORMAT, "%s: no stimulus frames (neither an ImageSeries under /stimulus/presentation nor a "
                         "/frames dataset)", path);
        } else {
            char names[16][128];
            int n = 0;
            if (list_series(file, path, names, 16, &n) == CF_OK) {
                if (n == 1) {
                    f = read_image_series(file, path, names[0]);
                } else if (n == 0) {
                    cf_set_error(CF_ERR_FORMAT, "%s: /stimulus/presentation holds no ImageSeries (a group with a data "
                                 "dataset)", path);
                } else {
                    char list[1024] = "";
                    for (int i = 0; i < n; i++)
                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
                    cf_set_error(CF_ERR_FORMAT, "%s: /stimulus/presentation holds %d ImageSeries (%s): name the one to use",
                                 path, n, list);
                }
            }
        }
    }
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return f;
}

#else

cf_frames *cf_frames_read(const char *path, const char *name)
{
    if (cf_path_is_dir(path)) return cf_frames_read_dir(path, name);
    cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path ? path : "?");
    return NULL;
}

#endif

cf_status cf_spikes_load_frames(cf_spikes *s, const char *path, const char *name)
{
    if (!s) return cf_set_error(CF_ERR_ARG, "cf_spikes_load_frames: NULL spikes");
    cf_frames *f = cf_frames_read(path, name);
    if (!f) return cf_last_status();
    if (f->per_trial && s->n_trials == 0) {
        cf_status st = cf_set_error(CF_ERR_FORMAT, "%s: the movie '%s' is timed from each trial's start (time_reference "
                                    "trial_start) but the recording has no trials", path, f->name);
        cf_frames_free(f);
        return st;
    }
    cf_frames_free(s->frames);
    s->frames = f;
    return CF_OK;
}
