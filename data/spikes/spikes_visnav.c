/* The official Neuroformer Visnav layout: a directory of .npy files (as the release distributes it).
 *   spikerates_dt_<dt>.npy  [N, T] counts in bins of <dt> seconds from time 0
 *   <name>_dt_<dt>.npy      [T'] a behaviour variable sampled at <dt> (behavior_speed, phi, th)
 *   stimulus.npy            [n, 1, h, w] or [n, h, w], the movie at 20 Hz from time 0 (cf_frames_read)
 *   sel*.csv                (optional) 1-based indices of the neurons to keep */
#include "data/npy.h"
#include "data/spikes/spikes.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VISNAV_FRAME_RATE 20.0
#define MAX_FILES 64
#define MAX_COUNT 1e6 /* spikes of one neuron in one bin: more is corrupt data (as in the HDF5 counts reader) */

bool cf_path_is_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "<prefix>_dt_<number>.npy" -> prefix and the number; false for other names. */
static bool dt_name(const char *name, char *prefix, size_t np, double *dt)
{
    if (!ends_with(name, ".npy")) return false;
    const char *m = strstr(name, "_dt_");
    if (!m || m == name) return false;
    const char *last;
    while ((last = strstr(m + 1, "_dt_"))) m = last;
    char num[64];
    size_t len = strlen(m + 4) - 4;
    if (len == 0 || len >= sizeof num) return false;
    memcpy(num, m + 4, len);
    num[len] = 0;
    char *end = NULL;
    double v = strtod(num, &end);
    if (*end || !isfinite(v) || v <= 0) return false;
    size_t pl = (size_t)(m - name);
    if (pl >= np) return false;
    memcpy(prefix, name, pl);
    prefix[pl] = 0;
    *dt = v;
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The directory's entries, sorted (so behaviour variables come in a stable order). */
static cf_status list_dir(const char *dir, char ***names, int *n)
{
    *names = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return cf_set_error(CF_ERR_IO, "%s: cannot open the directory: %s", dir, strerror(errno));
    char **v = calloc(MAX_FILES, sizeof *v);
    cf_status st = v ? CF_OK : cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    struct dirent *e;
    while (st == CF_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        /* only the files of the layout: <name>_dt_<dt>.npy and sel*.csv (other files are ignored) */
        char prefix[256];
        double dt;
        bool sel = strncmp(e->d_name, "sel", 3) == 0 && ends_with(e->d_name, ".csv");
        if (!sel && !dt_name(e->d_name, prefix, sizeof prefix, &dt)) continue;
        if (*n >= MAX_FILES) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: more than %d *_dt_<dt>.npy / sel*.csv files", dir, MAX_FILES);
            break;
        }
        if (!(v[*n] = strdup(e->d_name))) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
        else (*n)++;
    }
    closedir(d);
    if (st == CF_OK) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    *names = v;
    return st;
}

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* Neuron indices (1-based) from a CSV: numbers separated by commas, spaces or newlines; a first line that is
 * not numeric is a header. sel[i] = the 0-based unit, each in [0, n_units), no repeats. */
static cf_status read_sel(const char *path, int n_units, int **sel, int *n_sel)
{
    *sel = NULL, *n_sel = 0;
    FILE *f = fopen(path, "r");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int *v = malloc((size_t)n_units * sizeof *v);
    unsigned char *seen = calloc((size_t)n_units + 1, 1);
    cf_status st = v && seen ? CF_OK : cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    char line[4096];
    int lineno = 0, n = 0;
    while (st == CF_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p) continue;
        if (lineno == 1 && !(*p >= '0' && *p <= '9') && *p != '-' && *p != '+') continue; /* a header */
        while (st == CF_OK && *p) {
            while (*p == ' ' || *p == '\t' || *p == ',' || *p == ';' || *p == '\r' || *p == '\n') p++;
            if (!*p) break;
            char *end = NULL;
            errno = 0;
            double x = strtod(p, &end);
            if (end == p || errno || x != floor(x)) {
                st = cf_set_error(CF_ERR_FORMAT, "%s:%d: '%.20s' is not a neuron index (1-based integers)", path, lineno, p);
                break;
            }
            if (x < 1 || x > n_units) {
                st = cf_set_error(CF_ERR_FORMAT, "%s:%d: neuron %.0f is outside 1..%d (indices are 1-based)", path, lineno,
                                  x, n_units);
                break;
            }
            int u = (int)x - 1;
            if (seen[u]) {
                st = cf_set_error(CF_ERR_FORMAT, "%s:%d: neuron %d is listed twice", path, lineno, u + 1);
                break;
            }
            seen[u] = 1;
            v[n++] = u;
            p = end;
        }
    }
    fclose(f);
    free(seen);
    if (st == CF_OK && n == 0) st = cf_set_error(CF_ERR_FORMAT, "%s: selects no neurons", path);
    if (st != CF_OK) {
        free(v);
        return st;
    }
    *sel = v, *n_sel = n;
    return CF_OK;
}

/* Value of a series sampled at t0 + i * dt (n samples) at time t: linear, held constant beyond its ends. */
static double interp(const double *y, int64_t n, double dt, double t)
{
    double x = t / dt;
    if (x <= 0) return y[0];
    if (x >= (double)(n - 1)) return y[n - 1];
    int64_t i = (int64_t)x;
    double a = x - (double)i;
    return y[i] + a * (y[i + 1] - y[i]);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Reads the counts, applies the selection, rounds (with a note), checks the sign. The shape is checked
 * against the bounds before the array is read. */
static cf_spikes *read_counts(const char *path, const char *sel_path, double dt, const cf_spike_limits *lim)
{
    cf_npy_info info;
    double *x = NULL;
    cf_spikes *s = NULL;
    int *sel = NULL, n_sel = 0;
    int32_t *counts = NULL;
    if (cf_npy_read_info(path, &info) != CF_OK) return NULL;
    if (info.ndim != 2 || info.shape[0] < 1 || info.shape[1] < 1 || info.shape[0] > INT32_MAX) {
        cf_set_error(CF_ERR_FORMAT, "%s: spike rates must be a non-empty 2-D array [neurons, bins], got %d dimensions", path,
                     info.ndim);
        goto out;
    }
    int N = (int)info.shape[0];
    int64_t T = info.shape[1];
    if ((double)T * dt > lim->max_seconds) {
        cf_spike_limit_error(lim, CF_SPIKE_SECONDS, "%s: shape [%d, %" PRId64 "]: %" PRId64 " bins of %g s (the file name's "
                             "dt) span %g s, which", path, N, T, T, dt, (double)T * dt);
        goto out;
    }
    if (sel_path) {
        if (read_sel(sel_path, N, &sel, &n_sel) != CF_OK) goto out;
    } else {
        n_sel = N;
    }
    if (n_sel > lim->max_units) {
        if (sel) cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: the number of neurons selected (%d)", sel_path, n_sel);
        else cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: shape [%d, %" PRId64 "]: the neuron count (%d)", path, N, T, N);
        goto out;
    }
    if (cf_npy_read(path, CF_NPY_OUT_F64, CF_NPY_FINITE, &info, (void **)&x) != CF_OK) goto out;
    counts = malloc((size_t)n_sel * (size_t)T * sizeof *counts);
    if (!counts) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        goto out;
    }
    int64_t rounded = 0;
    for (int k = 0; k < n_sel; k++) {
        int u = sel ? sel[k] : k;
        for (int64_t b = 0; b < T; b++) {
            double v = x[(int64_t)u * T + b];
            if (v < 0) {
                cf_set_error(CF_ERR_FORMAT, "%s: negative count %g at neuron %d (0-based), bin %" PRId64 " (spike counts "
                             "are >= 0; calcium traces must be deconvolved first)", path, v, u, b);
                goto out;
            }
            double r = floor(v + 0.5);
            if (r != v) rounded++;
            if (r > MAX_COUNT) {
                cf_set_error(CF_ERR_FORMAT, "%s: count %g at neuron %d (0-based), bin %" PRId64 " is implausibly large (more "
                             "than %g spikes in one bin)", path, v, u, b, MAX_COUNT);
                goto out;
            }
            counts[(int64_t)k * T + b] = (int32_t)r;
        }
    }
    if (rounded)
        fprintf(stderr, "note: %s: %" PRId64 " of %" PRId64 " counts were not integers and were rounded to the nearest "
                "(the model takes spike counts: deconvolve or threshold calcium traces first)\n", path, rounded,
                (int64_t)n_sel * T);
    s = cf_spikes_from_counts(counts, n_sel, T, dt, 0.0);
    if (s && sel) {
        s->unit_ids = malloc((size_t)n_sel * sizeof *s->unit_ids);
        if (!s->unit_ids) {
            cf_spikes_free(s);
            s = NULL;
            cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
            goto out;
        }
        for (int k = 0; k < n_sel; k++) s->unit_ids[k] = sel[k] + 1; /* the file's 1-based labels */
    }
    if (!s) cf_error_prefix("%s: ", path);
out:
    free(x);
    free(sel);
    free(counts);
    return s;
}

/* Every other *_dt_<dt>.npy is a behaviour variable; all go onto the first one's time grid. */
static cf_status read_behavior(cf_spikes *s, const char *dir, char **names, int n)
{
    int k = 0;
    double *vals[MAX_FILES] = {0};
    int64_t lens[MAX_FILES];
    double dts[MAX_FILES];
    const char *bnames[MAX_FILES];
    char prefixes[MAX_FILES][256];
    cf_status st = CF_OK;
    for (int i = 0; i < n && st == CF_OK; i++) {
        double dt;
        if (!dt_name(names[i], prefixes[k], sizeof prefixes[k], &dt) || strcmp(prefixes[k], "spikerates") == 0) continue;
        char *p = join(dir, names[i]);
        if (!p) return cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
        cf_npy_info info;
        st = cf_npy_read(p, CF_NPY_OUT_F64, CF_NPY_FINITE, &info, (void **)&vals[k]);
        if (st == CF_OK && !(info.ndim == 1 || (info.ndim == 2 && info.shape[1] == 1)))
            st = cf_set_error(CF_ERR_FORMAT, "%s: a behaviour variable must be 1-D [T] (sampled every %g s), got %d "
                              "dimensions", p, dt, info.ndim);
        else if (st == CF_OK && info.shape[0] < 1)
            st = cf_set_error(CF_ERR_FORMAT, "%s: a behaviour variable with no samples", p);
        free(p);
        if (st != CF_OK) break;
        lens[k] = info.shape[0], dts[k] = dt, bnames[k] = prefixes[k];
        k++;
    }
    if (st == CF_OK && k > 0) {
        int64_t T = lens[0];
        double *t = malloc((size_t)T * sizeof *t), *v = malloc((size_t)T * (size_t)k * sizeof *v);
        if (!t || !v) {
            st = cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
        } else {
            for (int64_t i = 0; i < T; i++) {
                t[i] = (double)i * dts[0];
                for (int j = 0; j < k; j++)
                    v[i * k + j] = j == 0 ? vals[0][i] : interp(vals[j], lens[j], dts[j], t[i]);
            }
            st = cf_spikes_set_behavior(s, T, k, t, v, bnames);
            if (st != CF_OK) cf_error_prefix("%s: behaviour: ", dir);
        }
        free(t);
        free(v);
    }
    for (int j = 0; j < MAX_FILES; j++) free(vals[j]);
    return st;
}

cf_spikes *cf_spikes_read_visnav(const char *dir, double dt, const cf_spike_limits *limits)
{
    if (!dir) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_read_visnav: NULL directory");
        return NULL;
    }
    cf_spike_limits lim;
    if (cf_spike_limits_resolve(limits, &lim) != CF_OK) {
        cf_error_prefix("%s: ", dir);
        return NULL;
    }
    char **names;
    int n;
    if (list_dir(dir, &names, &n) != CF_OK) {
        free_names(names, n);
        return NULL;
    }
    cf_spikes *s = NULL;
    const char *rates = NULL, *sel = NULL;
    double rates_dt = 0;
    int n_rates = 0;
    for (int i = 0; i < n; i++) {
        char prefix[256];
        double d;
        if (dt_name(names[i], prefix, sizeof prefix, &d) && strcmp(prefix, "spikerates") == 0) {
            n_rates++;
            if (!rates || (dt > 0 && fabs(d - dt) < 1e-9 * dt)) rates = names[i], rates_dt = d;
        } else if (strncmp(names[i], "sel", 3) == 0 && ends_with(names[i], ".csv")) {
            if (sel) {
                cf_set_error(CF_ERR_FORMAT, "%s: two neuron selections (%s, %s): keep one", dir, sel, names[i]);
                goto out;
            }
            sel = names[i];
        }
    }
    if (!rates) {
        cf_set_error(CF_ERR_FORMAT, "%s: no spikerates_dt_<dt>.npy (the official Visnav layout: spikerates_dt_0.01.npy "
                     "[N, T] counts, <name>_dt_0.05.npy behaviour, stimulus.npy frames, optional sel*.csv)", dir);
        goto out;
    }
    if (n_rates > 1 && !(dt > 0 && fabs(rates_dt - dt) < 1e-9 * dt)) {
        cf_set_error(CF_ERR_FORMAT, "%s: %d spikerates_dt_<dt>.npy files and none at the bin width asked for: keep one",
                     dir, n_rates);
        goto out;
    }
    char *rp = join(dir, rates), *sp = sel ? join(dir, sel) : NULL;
    if (rp && (!sel || sp)) s = read_counts(rp, sp, rates_dt, &lim);
    else cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    free(rp);
    free(sp);
    if (s && read_behavior(s, dir, names, n) != CF_OK) {
        cf_spikes_free(s);
        s = NULL;
    }
out:
    free_names(names, n);
    return s;
}

cf_frames *cf_frames_read_npy(const char *path, double rate, double t0)
{
    cf_npy_info info;
    float *x = NULL;
    if (cf_npy_read(path, CF_NPY_OUT_F32, CF_NPY_FINITE, &info, (void **)&x) != CF_OK) return NULL;
    cf_frames *f = NULL;
    bool ok = (info.ndim == 3) || (info.ndim == 4 && info.shape[1] == 1);
    int64_t h = ok ? info.shape[info.ndim - 2] : 0, w = ok ? info.shape[info.ndim - 1] : 0;
    if (!ok || info.shape[0] < 1 || h < 1 || w < 1 || h > 4096 || w > 4096) {
        cf_set_error(CF_ERR_FORMAT, "%s: frames must be [n, 1, h, w] or [n, h, w] with n >= 1 and 1 <= h, w <= 4096 (got %d "
                     "dimensions)", path, info.ndim);
    } else {
        f = cf_frames_make("stimulus", info.shape[0], (int)h, (int)w, x, NULL, t0, rate, false);
        if (!f) cf_error_prefix("%s: ", path);
    }
    free(x);
    return f;
}

cf_frames *cf_frames_read_dir(const char *dir, const char *name)
{
    char file[256];
    snprintf(file, sizeof file, "%s.npy", name ? name : "stimulus");
    char *p = join(dir, file);
    if (!p) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
        return NULL;
    }
    cf_frames *f = NULL;
    if (access(p, F_OK) != 0)
        cf_set_error(CF_ERR_IO, "%s: no %s (the Visnav stimulus movie, [n, 1, h, w] at 20 Hz)", dir, file);
    else
        f = cf_frames_read_npy(p, VISNAV_FRAME_RATE, 0.0);
    free(p);
    return f;
}
