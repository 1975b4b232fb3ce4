/* Checkpoints in HDF5: atomic save, strict load, --init-from, and a reader for inspect and export.
 * The layout is described in checkpoint.h and DESIGN.md "Formats"; it is a contract with h5py users. */
#include "autograd/fileio.h"
#include "checkpoint.h"

#include "data/h5util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- training-state extras (no HDF5 needed) ---- */

static bool key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n < CF_CKPT_KEY_MAX && !strchr(key, '/') && strcmp(key, ".") != 0;
}

cf_status cf_train_state_set(cf_train_state *st, const char *key, double value)
{
    if (!st || !key_ok(key))
        return cf_set_error(CF_ERR_ARG, "train state: bad extra key '%s' (1..%d chars, no '/')", key ? key : "(null)",
                            CF_CKPT_KEY_MAX - 1);
    for (int i = 0; i < st->n_extra; i++)
        if (strcmp(st->extra[i].key, key) == 0) return st->extra[i].value = value, CF_OK;
    if (st->n_extra >= CF_CKPT_EXTRA_MAX)
        return cf_set_error(CF_ERR_ARG, "train state: more than %d extra values (adding '%s')", CF_CKPT_EXTRA_MAX, key);
    cf_train_extra *e = &st->extra[st->n_extra++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->value = value;
    return CF_OK;
}

bool cf_train_state_get(const cf_train_state *st, const char *key, double *value)
{
    for (int i = 0; st && key && i < st->n_extra; i++)
        if (strcmp(st->extra[i].key, key) == 0) {
            if (value) *value = st->extra[i].value;
            return true;
        }
    return false;
}

#ifdef CF_HAVE_HDF5

#include <hdf5.h>

/* ---- messages ---- */

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static bool same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* The error message lists problems one per line; past the buffer's room it only counts them. */
typedef struct {
    char text[1700];
    size_t len;
    int count, dropped;
} problems;

static void problem(problems *p, const char *fmt, ...) CF_PRINTF(2, 3);
static void problem(problems *p, const char *fmt, ...)
{
    p->count++;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (p->len + n + 2 >= sizeof p->text) {
        p->dropped++;
        return;
    }
    memcpy(p->text + p->len, "\n  ", 3);
    memcpy(p->text + p->len + 3, line, n + 1);
    p->len += n + 3;
}


/* ---- HDF5 plumbing ---- */

typedef struct {
    char *buf;
    size_t n;
} walk_ctx;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *user)
{
    walk_ctx *w = user;
    if (n == 0 && e->desc && e->desc[0]) {
        snprintf(w->buf, w->n, " (HDF5: %s)", e->desc);
        /* some HDF5 messages span lines ("time = ...\n, filename = ...") */
        for (char *c = w->buf; *c; c++)
            if (*c == '\n' || *c == '\r') *c = ' ';
    }
    return 0;
}

/* The innermost HDF5 error ("truncated file: eof = ...") as " (HDF5: ...)", or "". */
static const char *h5_detail(char *buf, size_t n)
{
    buf[0] = '\0';
    walk_ctx w = {buf, n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    return buf;
}

/* Closes any HDF5 id, keeping the error stack of an earlier failure for h5_detail (every successful
 * API call would clear it otherwise). */
static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) cf_h5_close(&t);
    return t;
}

/* Strings are fixed-length (UTF-8, NUL-terminated), stored inside the checksummed object header: a
 * variable-length string lives in the global heap, which has no checksum, and HDF5 1.10 crashes on a
 * damaged one. (h5py returns these as bytes: f.attrs["recipe"].decode().) */
static int attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (t >= 0 && s >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 &&
        H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
        a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, t, value) >= 0) rc = 0;
    cf_h5_close(&a), cf_h5_close(&s), cf_h5_close(&t);
    return rc;
}

static int attr_write_i64(hid_t obj, const char *name, int64_t v)
{
    hid_t s = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (s >= 0) a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0) rc = 0;
    cf_h5_close(&a), cf_h5_close(&s);
    return rc;
}

/* Reads a string attribute (variable or fixed length, as h5py may write either) into a malloc'ed
 * string. Returns 1 when read, 0 when absent, -1 when present but unreadable. */
static int attr_read_str(hid_t obj, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), ft = -1, mt = -1, s = -1;
    int rc = -1;
    if (a < 0 || (ft = H5Aget_type(a)) < 0 || H5Tget_class(ft) != H5T_STRING) goto done;
    if ((s = H5Aget_space(a)) < 0 || H5Sget_simple_extent_npoints(s) != 1) goto done;
    htri_t var = H5Tis_variable_str(ft);
    if (var > 0) {
        mt = vlen_str_type();
        char *v = NULL;
        if (mt < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0 || H5Aread(a, mt, &v) < 0) goto done;
        *out = strdup(v ? v : "");
        H5Dvlen_reclaim(mt, s, H5P_DEFAULT, &v);
    } else if (var == 0) {
        size_t n = H5Tget_size(ft);
        mt = H5Tcopy(H5T_C_S1);
        /* HDF5 converts between string types only within one character set */
        if (mt < 0 || H5Tset_size(mt, n + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
            H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
            goto done;
        char *v = calloc(n + 2, 1);
        if (!v) goto done;
        if (H5Aread(a, mt, v) < 0) {
            free(v);
            goto done;
        }
        *out = v;
    }
    rc = *out ? 1 : -1;
done:
    cf_h5_close(&s), cf_h5_close(&mt), cf_h5_close(&ft), cf_h5_close(&a);
    return rc;
}

/* Returns 1 when read, 0 when absent, -1 when present but not a single integer. */
static int attr_read_i64(hid_t obj, const char *name, int64_t *v)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = -1, s = -1;
    int rc = -1;
    if (a >= 0 && (t = H5Aget_type(a)) >= 0 && H5Tget_class(t) == H5T_INTEGER && (s = H5Aget_space(a)) >= 0 &&
        H5Sget_simple_extent_npoints(s) == 1 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
        rc = 1;
    cf_h5_close(&s), cf_h5_close(&t), cf_h5_close(&a);
    return rc;
}

static hid_t file_type_of(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return H5T_IEEE_F32LE;
    case CF_F64: return H5T_IEEE_F64LE;
    case CF_BF16:
    case CF_F16: return H5T_STD_U16LE;
    default: return -1;
    }
}

static hid_t mem_type_of(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return H5T_NATIVE_FLOAT;
    case CF_F64: return H5T_NATIVE_DOUBLE;
    case CF_BF16:
    case CF_F16: return H5T_NATIVE_UINT16;
    default: return -1;
    }
}

/* ---- save ---- */

enum { CHUNK_MIN_BYTES = 4 << 10, CHUNK_TARGET_BYTES = 1 << 20, DEFLATE_LEVEL = 4 };

/* Chunks of at most ~1 MiB made by halving leading dims first, so a chunk holds whole rows where it can. */
static void choose_chunk(int ndim, const hsize_t *dims, size_t es, hsize_t *chunk)
{
    for (int d = 0; d < ndim; d++) chunk[d] = dims[d];
    for (int d = 0; d < ndim; d++)
        for (;;) {
            hsize_t bytes = es;
            for (int k = 0; k < ndim; k++) bytes *= chunk[k];
            if (bytes <= CHUNK_TARGET_BYTES || chunk[d] <= 1) break;
            chunk[d] = (chunk[d] + 1) / 2;
        }
}

/* One tensor as a dataset; returns 0 or -1 (HDF5's error stack holds why). */
static int write_tensor(hid_t loc, const char *name, cf_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    hsize_t dims[CF_MAX_DIMS], chunk[CF_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i], numel *= shape[i];
    size_t es = cf_dtype_size(dt);
    hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), dset = -1;
    int rc = -1;
    if (space < 0 || dcpl < 0) goto done;
    /* below 4 KiB a tensor stays contiguous: its chunk index would cost about as much as its data */
    if (ndim > 0 && numel > 0 && (size_t)numel * es >= CHUNK_MIN_BYTES) {
        choose_chunk(ndim, dims, es, chunk);
        /* shuffle groups the bytes of each float, which deflate compresses much better; fletcher32 lets a
         * corrupted chunk fail the read instead of loading silently wrong weights */
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0 ||
            H5Pset_fletcher32(dcpl) < 0)
            goto done;
    }
    dset = H5Dcreate2(loc, name, file_type_of(dt), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset < 0) goto done;
    if (numel > 0 && H5Dwrite(dset, mem_type_of(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) goto done;
    if ((dt == CF_BF16 || dt == CF_F16) && attr_write_str(dset, "dtype", cf_dtype_name(dt)) < 0) goto done;
    rc = 0;
done:
    cf_h5_close(&dset), cf_h5_close(&dcpl), cf_h5_close(&space);
    return rc;
}

static int write_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t s = H5Screate(H5S_SCALAR), d = -1;
    int rc = -1;
    if (s >= 0) d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) rc = 0;
    cf_h5_close(&d), cf_h5_close(&s);
    return rc;
}

static int write_state(hid_t file, const cf_train_state *st)
{
    hid_t g = H5Gcreate2(file, "train_state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), x = -1, s = -1, d = -1;
    int rc = -1;
    int32_t ws = st->world_size;
    if (g < 0 || write_scalar(g, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->step) < 0 ||
        write_scalar(g, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &st->seed) < 0 ||
        write_scalar(g, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->epoch) < 0 ||
        write_scalar(g, "cursor", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->cursor) < 0 ||
        write_scalar(g, "world_size", H5T_STD_I32LE, H5T_NATIVE_INT32, &ws) < 0)
        goto done;
    if (st->n_rng > 0) {
        hsize_t n = (hsize_t)st->n_rng;
        if ((s = H5Screate_simple(1, &n, NULL)) < 0 ||
            (d = H5Dcreate2(g, "rng", H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->rng) < 0)
            goto done;
    }
    if ((x = H5Gcreate2(g, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto done;
    for (int i = 0; i < st->n_extra; i++)
        if (write_scalar(x, st->extra[i].key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &st->extra[i].value) < 0) goto done;
    rc = 0;
done:
    cf_h5_close(&d), cf_h5_close(&s), cf_h5_close(&x), cf_h5_close(&g);
    return rc;
}

static bool name_ok(const char *s) { return s && s[0] && !strchr(s, '/') && strcmp(s, ".") != 0; }

static cf_status check_save_args(const char *path, const cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                                 const cf_train_state *st)
{
    if (!path || !path[0] || !ps) return cf_set_error(CF_ERR_ARG, "checkpoint save: no path or no parameters");
    if (ps->dtype != CF_F32 && ps->dtype != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: parameters of dtype %s cannot be saved", path, cf_dtype_name(ps->dtype));
    for (int i = 0; i < ps->count; i++)
        if (!name_ok(ps->items[i].name))
            return cf_set_error(CF_ERR_ARG, "%s: parameter name '%s' cannot be a dataset name (empty, '.' or has '/')",
                                path, ps->items[i].name);
    if (nslots < 0 || (nslots > 0 && !slots)) return cf_set_error(CF_ERR_ARG, "%s: bad optimizer slot list", path);
    for (int i = 0; i < nslots; i++) {
        if (!name_ok(slots[i].name) || !slots[i].flat)
            return cf_set_error(CF_ERR_ARG, "%s: optimizer slot %d has a bad name '%s' or no buffer", path, i,
                                slots[i].name ? slots[i].name : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(slots[i].name, slots[j].name) == 0)
                return cf_set_error(CF_ERR_ARG, "%s: optimizer slot '%s' given twice", path, slots[i].name);
    }
    if (st) {
        if (st->n_rng < 0 || st->n_rng > CF_CKPT_RNG_WORDS || st->n_extra < 0 || st->n_extra > CF_CKPT_EXTRA_MAX)
            return cf_set_error(CF_ERR_ARG, "%s: train state has %d rng words (max %d) and %d extras (max %d)", path,
                                st->n_rng, CF_CKPT_RNG_WORDS, st->n_extra, CF_CKPT_EXTRA_MAX);
        for (int i = 0; i < st->n_extra; i++) {
            if (!key_ok(st->extra[i].key))
                return cf_set_error(CF_ERR_ARG, "%s: train state extra key '%s' is not allowed", path, st->extra[i].key);
            for (int j = 0; j < i; j++)
                if (strcmp(st->extra[i].key, st->extra[j].key) == 0)
                    return cf_set_error(CF_ERR_ARG, "%s: train state extra key '%s' given twice", path, st->extra[i].key);
        }
    }
    return CF_OK;
}

/* Builds the whole checkpoint in memory with HDF5's core driver and returns its image (malloc'ed).
 * Why not let HDF5 write the file: HDF5 1.10 does not recover from a failed disk write (ENOSPC, EFBIG):
 * the file stays half-closed and the library crashes in a later H5Fclose or in its exit handler. So HDF5
 * never touches the disk here, and we write the image ourselves, where a full disk is an ordinary error.
 * The price is memory: the image (about the size of parameters + slots, less compression) is held until
 * it is written. */
static cf_status build_image(const char *path, const cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text, void **image, size_t *image_len)
{
    char why[256], where[2 * CF_PARAM_NAME_MAX + 32];
    const char *stage = "creating the file in memory";
    size_t es = cf_dtype_size(ps->dtype);
    size_t estimate = (size_t)(1 + nslots) * (size_t)ps->total * es + (recipe_text ? strlen(recipe_text) : 0) + (1 << 20);
    size_t increment = estimate / 4 > (1 << 20) ? estimate / 4 : (1 << 20);
    cf_h5image im;
    hid_t file = -1, g = -1, og = -1;
    *image = NULL, *image_len = 0;
    if ((file = cf_h5image_create(&im, path, increment)) < 0) goto fail;
    stage = "writing the root attributes";
    if (attr_write_str(file, "format", CF_CHECKPOINT_FORMAT) < 0 ||
        attr_write_i64(file, "format_version", CF_CHECKPOINT_FORMAT_VERSION) < 0 ||
        attr_write_str(file, "recipe", recipe_text ? recipe_text : "") < 0 ||
        attr_write_str(file, "created_by", "cformer 0.1.0") < 0)
        goto fail;
    stage = "creating /model";
    if ((g = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        snprintf(where, sizeof where, "writing /model/%s", p->name);
        stage = where;
        if (write_tensor(g, p->name, ps->dtype, p->value->ndim, p->value->shape,
                         (const char *)ps->values + p->offset * (int64_t)es) < 0)
            goto fail;
    }
    cf_h5_close(&g);
    stage = "creating /optim";
    if ((og = H5Gcreate2(file, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
    for (int s = 0; s < nslots; s++) {
        snprintf(where, sizeof where, "creating /optim/%s", slots[s].name);
        stage = where;
        if ((g = H5Gcreate2(og, slots[s].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
        for (int i = 0; i < ps->count; i++) {
            const cf_param *p = &ps->items[i];
            snprintf(where, sizeof where, "writing /optim/%s/%s", slots[s].name, p->name);
            if (write_tensor(g, p->name, ps->dtype, p->value->ndim, p->value->shape,
                             (const char *)slots[s].flat + p->offset * (int64_t)es) < 0)
                goto fail;
        }
        cf_h5_close(&g);
    }
    cf_h5_close(&og);
    stage = "writing /train_state";
    if (write_state(file, st) < 0) goto fail;
    cf_status rc = cf_h5image_finish(&im, file, path, image, image_len);
    return rc;
fail:
    h5_detail(why, sizeof why);
    cf_h5_close(&g), cf_h5_close(&og), cf_h5_close(&file);
    cf_h5image_discard(&im);
    if (strstr(why, "allocat"))
        return cf_set_error(CF_ERR_OOM, "%s: out of memory building the checkpoint%s", path, why);
    return cf_set_error(CF_ERR_IO, "%s: checkpoint save failed while %s%s; the previous file (if any) is unchanged", path,
                        stage, why);
}

cf_status cf_checkpoint_save(const char *path, const cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text)
{
    cf_status rc = check_save_args(path, ps, nslots, slots, st);
    if (rc != CF_OK) return rc;
    static const cf_train_state zero_state;
    void *image = NULL;
    size_t len = 0;
    cf_h5_quiet q = cf_h5_quiet_on();
    rc = build_image(path, ps, nslots, slots, st ? st : &zero_state, recipe_text, &image, &len);
    cf_h5_quiet_off(q);
    if (rc == CF_OK) rc = cf_write_file_atomic(path, image, len);
    free(image);
    return rc;
}

/* ---- reader ---- */

typedef struct {
    cf_ckpt_tensor t;
    bool coded16; /* uint16 storage decoded by us (bf16/f16 "dtype" attribute) */
} rtensor;

typedef struct {
    char name[CF_PARAM_NAME_MAX];
    int n;
    rtensor *t;
} rgroup;

struct cf_ckpt_reader {
    char *path;
    hid_t file;
    int64_t version;
    char *created_by, *recipe;
    rgroup model;
    int nslots;
    rgroup *slots;
};

typedef struct {
    char **names;
    int n, cap;
    bool oom;
} name_list;

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *info, void *user)
{
    (void)g, (void)info;
    name_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **nn = realloc(l->names, (size_t)cap * sizeof *nn);
        if (!nn) return l->oom = true, -1;
        l->names = nn, l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return l->oom = true, -1;
    l->n++;
    return 0;
}

static void free_names(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static cf_status list_group(const char *path, hid_t g, const char *gname, name_list *l)
{
    hsize_t idx = 0;
    char why[256];
    memset(l, 0, sizeof *l);
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_cb, l) < 0) {
        if (l->oom) return cf_set_error(CF_ERR_OOM, "%s: out of memory listing %s", path, gname);
        return cf_set_error(CF_ERR_FORMAT, "%s: cannot list %s%s", path, gname, h5_detail(why, sizeof why));
    }
    /* our own order (bytewise), whatever the file's index order is */
    if (l->n > 1) qsort(l->names, (size_t)l->n, sizeof *l->names, cmp_str);
    return CF_OK;
}

/* Describes dataset gname/name into t; names what is wrong on failure. */
static cf_status describe(const char *path, hid_t g, const char *gname, const char *name, rtensor *t)
{
    char why[256];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->t.name)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s/%s: tensor name longer than %d characters", path, gname, name,
                            CF_PARAM_NAME_MAX - 1);
    snprintf(t->t.name, sizeof t->t.name, "%s", name);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), ty = -1, sp = -1, pl = -1;
    cf_status rc = CF_ERR_FORMAT;
    if (d < 0) {
        cf_set_error(rc, "%s: %s/%s: not a readable dataset%s", path, gname, name, h5_detail(why, sizeof why));
        goto done;
    }
    if ((sp = H5Dget_space(d)) < 0 || (ty = H5Dget_type(d)) < 0 || (pl = H5Dget_create_plist(d)) < 0) {
        cf_set_error(rc, "%s: %s/%s: unreadable dataset header%s", path, gname, name, h5_detail(why, sizeof why));
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > CF_MAX_DIMS) {
        cf_set_error(rc, "%s: %s/%s: %d dimensions (at most %d are supported)", path, gname, name, nd, CF_MAX_DIMS);
        goto done;
    }
    hsize_t dims[CF_MAX_DIMS];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    t->t.ndim = nd, t->t.numel = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] > (hsize_t)INT64_MAX / 2 || (dims[i] && t->t.numel > INT64_MAX / (int64_t)dims[i])) {
            cf_set_error(rc, "%s: %s/%s: dimension %d is too large", path, gname, name, i);
            goto done;
        }
        t->t.shape[i] = (int64_t)dims[i];
        t->t.numel *= (int64_t)dims[i];
    }
    H5T_class_t cls = H5Tget_class(ty);
    size_t sz = H5Tget_size(ty);
    if (cls == H5T_FLOAT && (sz == 2 || sz == 4 || sz == 8)) {
        t->t.dtype = sz == 8 ? CF_F64 : sz == 4 ? CF_F32 : CF_F16;
    } else if (cls == H5T_INTEGER && sz == 2) {
        char *tag = NULL;
        int got = attr_read_str(d, "dtype", &tag);
        cf_dtype dt = CF_F32;
        if (got <= 0 || !cf_dtype_parse(tag, &dt) || (dt != CF_BF16 && dt != CF_F16)) {
            cf_set_error(rc, "%s: %s/%s: 16-bit integer dataset without a dtype attribute \"bf16\" or \"f16\"", path,
                         gname, name);
            free(tag);
            goto done;
        }
        free(tag);
        t->t.dtype = dt;
        t->coded16 = true;
    } else {
        cf_set_error(rc, "%s: %s/%s: not a floating-point tensor (HDF5 type class %d, %zu bytes)", path, gname, name,
                     (int)cls, sz);
        goto done;
    }
    int nf = H5Pget_nfilters(pl);
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        if (H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_DEFLATE)
            t->t.compressed = true;
    }
    rc = CF_OK;
done:
    cf_h5_close(&pl), cf_h5_close(&ty), cf_h5_close(&sp), cf_h5_close(&d);
    return rc;
}

static cf_status load_group(cf_ckpt_reader *r, hid_t g, const char *gname, rgroup *out)
{
    name_list l;
    cf_status rc = list_group(r->path, g, gname, &l);
    if (rc != CF_OK) return rc;
    out->t = calloc((size_t)(l.n ? l.n : 1), sizeof *out->t);
    if (!out->t) rc = cf_set_error(CF_ERR_OOM, "%s: out of memory listing %s", r->path, gname);
    for (int i = 0; rc == CF_OK && i < l.n; i++) {
        rc = describe(r->path, g, gname, l.names[i], &out->t[i]);
        if (rc == CF_OK) out->n++;
    }
    free_names(&l);
    return rc;
}

static cf_status open_reader(const char *path, cf_ckpt_reader *r)
{
    char why[256];
    struct stat sb;
    if (stat(path, &sb) < 0 || access(path, R_OK) < 0)
        return cf_set_error(CF_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cf_set_error(CF_ERR_IO, "%s: is a directory, not a checkpoint file", path);
    if (H5Fis_hdf5(path) <= 0) return cf_set_error(CF_ERR_FORMAT, "%s: not an HDF5 file (no HDF5 signature)", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    cf_h5_close(&fapl);
    if (r->file < 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: cannot open as HDF5 (truncated or corrupt?)%s", path,
                            h5_detail(why, sizeof why));
    char *fmt = NULL;
    int got = attr_read_str(r->file, "format", &fmt);
    if (got <= 0 || strcmp(fmt, CF_CHECKPOINT_FORMAT) != 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: not a cformer checkpoint (root attribute format is %s%s%s, expected \"%s\")",
                     path, got > 0 ? "\"" : "", got > 0 ? fmt : got == 0 ? "missing" : "unreadable", got > 0 ? "\"" : "",
                     CF_CHECKPOINT_FORMAT);
        free(fmt);
        return CF_ERR_FORMAT;
    }
    free(fmt);
    got = attr_read_i64(r->file, "format_version", &r->version);
    if (got <= 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: root attribute format_version is %s", path,
                            got == 0 ? "missing" : "not an integer");
    if (r->version < 1 || r->version > CF_CHECKPOINT_FORMAT_VERSION)
        return cf_set_error(CF_ERR_FORMAT, "%s: checkpoint format_version %lld is not supported (this build reads 1..%d%s)",
                            path, (long long)r->version, CF_CHECKPOINT_FORMAT_VERSION,
                            r->version > CF_CHECKPOINT_FORMAT_VERSION ? "; it was written by a newer cformer" : "");
    if (attr_read_str(r->file, "created_by", &r->created_by) < 0 || attr_read_str(r->file, "recipe", &r->recipe) < 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: root attribute created_by or recipe is not a string", path);
    if ((!r->created_by && !(r->created_by = strdup(""))) || (!r->recipe && !(r->recipe = strdup(""))))
        return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);

    if (H5Lexists(r->file, "model", H5P_DEFAULT) <= 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: no /model group", path);
    hid_t g = H5Gopen2(r->file, "model", H5P_DEFAULT);
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /model is not a group%s", path, h5_detail(why, sizeof why));
    snprintf(r->model.name, sizeof r->model.name, "/model");
    cf_status rc = load_group(r, g, "/model", &r->model);
    cf_h5_close(&g);
    if (rc != CF_OK) return rc;

    if (H5Lexists(r->file, "optim", H5P_DEFAULT) <= 0) return CF_OK;
    hid_t og = H5Gopen2(r->file, "optim", H5P_DEFAULT);
    if (og < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /optim is not a group%s", path, h5_detail(why, sizeof why));
    name_list l;
    rc = list_group(path, og, "/optim", &l);
    if (rc == CF_OK && !(r->slots = calloc((size_t)(l.n ? l.n : 1), sizeof *r->slots)))
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; rc == CF_OK && i < l.n; i++) {
        rgroup *s = &r->slots[r->nslots++];
        snprintf(s->name, sizeof s->name, "%s", l.names[i]);
        char gname[CF_PARAM_NAME_MAX + 8];
        snprintf(gname, sizeof gname, "/optim/%s", l.names[i]);
        hid_t sg = H5Gopen2(og, l.names[i], H5P_DEFAULT);
        if (sg < 0) rc = cf_set_error(CF_ERR_FORMAT, "%s: %s is not a group", path, gname);
        else rc = load_group(r, sg, gname, s);
        cf_h5_close(&sg);
    }
    free_names(&l);
    cf_h5_close(&og);
    return rc;
}

cf_ckpt_reader *cf_ckpt_open(const char *path)
{
    if (!path || !path[0]) {
        cf_set_error(CF_ERR_ARG, "checkpoint: no path given");
        return NULL;
    }
    cf_ckpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    r->file = -1;
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status rc = open_reader(path, r);
    cf_h5_quiet_off(q);
    if (rc != CF_OK) {
        cf_ckpt_close(r);
        return NULL;
    }
    return r;
}

void cf_ckpt_close(cf_ckpt_reader *r)
{
    if (!r) return;
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_h5_close(&r->file);
    cf_h5_quiet_off(q);
    free(r->model.t);
    for (int i = 0; i < r->nslots; i++) free(r->slots[i].t);
    free(r->slots);
    free(r->created_by);
    free(r->recipe);
    free(r->path);
    free(r);
}

const char *cf_ckpt_file(const cf_ckpt_reader *r) { return r->path; }
int64_t cf_ckpt_format_version(const cf_ckpt_reader *r) { return r->version; }
const char *cf_ckpt_created_by(const cf_ckpt_reader *r) { return r->created_by; }
const char *cf_ckpt_recipe(const cf_ckpt_reader *r) { return r->recipe; }
int cf_ckpt_nslots(const cf_ckpt_reader *r) { return r->nslots; }
const char *cf_ckpt_slot_name(const cf_ckpt_reader *r, int i) { return i >= 0 && i < r->nslots ? r->slots[i].name : NULL; }

static const rgroup *group_of(const cf_ckpt_reader *r, const char *slot)
{
    if (!slot) return &r->model;
    for (int i = 0; i < r->nslots; i++)
        if (strcmp(r->slots[i].name, slot) == 0) return &r->slots[i];
    return NULL;
}

int cf_ckpt_count(const cf_ckpt_reader *r, const char *slot)
{
    const rgroup *g = group_of(r, slot);
    return g ? g->n : -1;
}

const cf_ckpt_tensor *cf_ckpt_tensor_at(const cf_ckpt_reader *r, const char *slot, int i)
{
    const rgroup *g = group_of(r, slot);
    return g && i >= 0 && i < g->n ? &g->t[i].t : NULL;
}

static int cmp_key_tensor(const void *key, const void *elem) { return strcmp(key, ((const rtensor *)elem)->t.name); }

static const rtensor *find_rt(const cf_ckpt_reader *r, const char *slot, const char *name)
{
    const rgroup *g = group_of(r, slot);
    if (!g || !name || g->n == 0) return NULL;
    return bsearch(name, g->t, (size_t)g->n, sizeof *g->t, cmp_key_tensor);
}

const cf_ckpt_tensor *cf_ckpt_find(const cf_ckpt_reader *r, const char *slot, const char *name)
{
    const rtensor *t = find_rt(r, slot, name);
    return t ? &t->t : NULL;
}

static cf_status read_tensor(cf_ckpt_reader *r, const char *slot, const char *name, cf_dtype dt, void *out)
{
    char gpath[2 * CF_PARAM_NAME_MAX + 16], why[256];
    const rtensor *t = find_rt(r, slot, name);
    if (slot) snprintf(gpath, sizeof gpath, "/optim/%s/%s", slot, name);
    else snprintf(gpath, sizeof gpath, "/model/%s", name);
    if (!t) return cf_set_error(CF_ERR_ARG, "%s: no tensor %s", r->path, gpath);
    if (dt != CF_F32 && dt != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: %s: reading into %s is not supported (f32 or f64)", r->path, gpath,
                            cf_dtype_name(dt));
    if (t->t.numel == 0) return CF_OK;
    hid_t d = H5Dopen2(r->file, gpath, H5P_DEFAULT);
    cf_status rc = CF_OK;
    if (d < 0) {
        rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot open dataset%s", r->path, gpath, h5_detail(why, sizeof why));
    } else if (!t->coded16) {
        if (H5Dread(d, mem_type_of(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: reading the dataset failed (corrupt or truncated file?)%s",
                              r->path, gpath, h5_detail(why, sizeof why));
    } else {
        uint16_t *raw = malloc((size_t)t->t.numel * sizeof *raw);
        if (!raw) {
            rc = cf_set_error(CF_ERR_OOM, "%s: %s: out of memory", r->path, gpath);
        } else if (H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: reading the dataset failed (corrupt or truncated file?)%s",
                              r->path, gpath, h5_detail(why, sizeof why));
        } else {
            bool bf = t->t.dtype == CF_BF16;
            for (int64_t i = 0; i < t->t.numel; i++) {
                float f = bf ? cf_bf16_to_f32(raw[i]) : cf_f16_to_f32(raw[i]);
                if (dt == CF_F32) ((float *)out)[i] = f;
                else ((double *)out)[i] = f;
            }
        }
        free(raw);
    }
    cf_h5_close(&d);
    return rc;
}

cf_status cf_ckpt_read(cf_ckpt_reader *r, const char *slot, const char *name, cf_dtype dt, void *out)
{
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status rc = read_tensor(r, slot, name, dt, out);
    cf_h5_quiet_off(q);
    return rc;
}

/* Reads a dataset holding exactly one value; 0 ok, -1 absent or wrong. */
static int read_scalar(hid_t g, const char *name, hid_t mtype, void *v)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), s = -1;
    int rc = -1;
    if (d >= 0 && (s = H5Dget_space(d)) >= 0 && H5Sget_simple_extent_npoints(s) == 1 &&
        H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
        rc = 0;
    cf_h5_close(&s), cf_h5_close(&d);
    return rc;
}

static cf_status read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    memset(st, 0, sizeof *st);
    if (H5Lexists(r->file, "train_state", H5P_DEFAULT) <= 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: no /train_state group", r->path);
    hid_t g = H5Gopen2(r->file, "train_state", H5P_DEFAULT), x = -1, d = -1, s = -1;
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /train_state is not a group", r->path);
    cf_status rc = CF_ERR_FORMAT;
    int32_t ws = 0;
    static const char *const names[] = {"step", "seed", "epoch", "cursor", "world_size"};
    void *dst[] = {&st->step, &st->seed, &st->epoch, &st->cursor, &ws};
    hid_t mt[] = {H5T_NATIVE_INT64, H5T_NATIVE_UINT64, H5T_NATIVE_INT64, H5T_NATIVE_INT64, H5T_NATIVE_INT32};
    for (int i = 0; i < 5; i++)
        if (read_scalar(g, names[i], mt[i], dst[i]) < 0) {
            cf_set_error(rc, "%s: /train_state/%s is missing or not a single number", r->path, names[i]);
            goto done;
        }
    st->world_size = ws;
    if (H5Lexists(g, "rng", H5P_DEFAULT) > 0) {
        hssize_t n = -1;
        if ((d = H5Dopen2(g, "rng", H5P_DEFAULT)) < 0 || (s = H5Dget_space(d)) < 0 ||
            (n = H5Sget_simple_extent_npoints(s)) < 0 || n > CF_CKPT_RNG_WORDS ||
            H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->rng) < 0) {
            cf_set_error(rc, "%s: /train_state/rng is unreadable or longer than %d words", r->path, CF_CKPT_RNG_WORDS);
            goto done;
        }
        st->n_rng = (int)n;
    }
    if (H5Lexists(g, "extra", H5P_DEFAULT) > 0) {
        name_list l;
        if ((x = H5Gopen2(g, "extra", H5P_DEFAULT)) < 0) {
            cf_set_error(rc, "%s: /train_state/extra is not a group", r->path);
            goto done;
        }
        if ((rc = list_group(r->path, x, "/train_state/extra", &l)) != CF_OK) goto done;
        rc = CF_ERR_FORMAT;
        for (int i = 0; i < l.n; i++) {
            double v;
            if (st->n_extra >= CF_CKPT_EXTRA_MAX || !key_ok(l.names[i]) || read_scalar(x, l.names[i], H5T_NATIVE_DOUBLE, &v) < 0) {
                cf_set_error(rc, "%s: /train_state/extra/%s: not a number, a bad key, or more than %d extras", r->path,
                             l.names[i], CF_CKPT_EXTRA_MAX);
                free_names(&l);
                goto done;
            }
            snprintf(st->extra[st->n_extra].key, CF_CKPT_KEY_MAX, "%s", l.names[i]);
            st->extra[st->n_extra++].value = v;
        }
        free_names(&l);
    }
    rc = CF_OK;
done:
    cf_h5_close(&s), cf_h5_close(&d), cf_h5_close(&x), cf_h5_close(&g);
    return rc;
}

cf_status cf_ckpt_read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status rc = read_state(r, st);
    cf_h5_quiet_off(q);
    return rc;
}

/* ---- load and init-from ---- */

/* Compares the model (or one optimizer slot) of the file with ps, strictly. */
static void check_group(const cf_ckpt_reader *r, const char *slot, const cf_params *ps, problems *pr)
{
    char prefix[CF_PARAM_NAME_MAX + 16] = "", a[200], b[200];
    if (slot) snprintf(prefix, sizeof prefix, "optim/%s/", slot);
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        const cf_ckpt_tensor *t = cf_ckpt_find(r, slot, p->name);
        shape_str(p->value->ndim, p->value->shape, b, sizeof b);
        if (!t) {
            problem(pr, "%s: %s%s: missing in file (model has shape %s)", r->path, prefix, p->name, b);
        } else if (!same_shape(t->ndim, t->shape, p->value->ndim, p->value->shape)) {
            shape_str(t->ndim, t->shape, a, sizeof a);
            problem(pr, "%s: %s%s: shape %s in file, %s in model", r->path, prefix, p->name, a, b);
        }
    }
    for (int i = 0; i < cf_ckpt_count(r, slot); i++) {
        const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, slot, i);
        if (!cf_params_find(ps, t->name)) {
            shape_str(t->ndim, t->shape, a, sizeof a);
            problem(pr, "%s: %s%s: in file (shape %s), not in model", r->path, prefix, t->name, a);
        }
    }
}

static cf_status set_problems(const char *path, const char *what, const problems *pr)
{
    if (pr->dropped)
        return cf_set_error(CF_ERR_SHAPE, "%s: %s (%d problems):%s\n  ... and %d more", path, what, pr->count, pr->text,
                            pr->dropped);
    return cf_set_error(CF_ERR_SHAPE, "%s: %s (%d problem%s):%s", path, what, pr->count, pr->count == 1 ? "" : "s",
                        pr->text);
}

static void commit_params(cf_params *ps, const char *src, const bool *take)
{
    size_t es = cf_dtype_size(ps->dtype);
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        if (take && !take[i]) continue;
        memcpy((char *)ps->values + p->offset * (int64_t)es, src + p->offset * (int64_t)es, (size_t)p->numel * es);
        cf_bump_version(p->value);
    }
}

cf_status cf_checkpoint_load(const char *path, cf_params *ps, int nslots, cf_ckpt_slot *slots, cf_train_state *st,
                             char **recipe_text_out)
{
    if (!ps || nslots < 0 || (nslots > 0 && !slots))
        return cf_set_error(CF_ERR_ARG, "%s: checkpoint load: no parameters or a bad slot list", path ? path : "(null)");
    for (int s = 0; s < nslots; s++)
        if (!slots[s].name || !slots[s].flat)
            return cf_set_error(CF_ERR_ARG, "%s: checkpoint load: optimizer slot %d has no name or buffer", path, s);
    cf_ckpt_reader *r = cf_ckpt_open(path);
    if (!r) return cf_last_status();

    problems pr = {0};
    check_group(r, NULL, ps, &pr);
    for (int s = 0; s < nslots; s++) {
        if (cf_ckpt_count(r, slots[s].name) < 0) {
            char have[400] = "";
            size_t k = 0;
            for (int i = 0; i < r->nslots && k < sizeof have; i++)
                k += (size_t)snprintf(have + k, sizeof have - k, "%s%s", i ? ", " : "", r->slots[i].name);
            problem(&pr, "%s: optimizer state '%s' missing in file (file has: %s)", path, slots[s].name,
                    r->nslots ? have : "none");
        } else {
            check_group(r, slots[s].name, ps, &pr);
        }
    }
    if (pr.count) {
        set_problems(path, "checkpoint does not match the model", &pr);
        cf_ckpt_close(r);
        return CF_ERR_SHAPE;
    }

    /* read everything into scratch first, so a read failure halfway leaves the caller's state untouched */
    size_t es = cf_dtype_size(ps->dtype), bytes = (size_t)ps->total * es;
    char *scratch = malloc((bytes ? bytes : 1) * (size_t)(1 + nslots));
    cf_train_state tmp_st;
    char *recipe = NULL;
    cf_status rc = CF_OK;
    if (!scratch) rc = cf_set_error(CF_ERR_OOM, "%s: out of memory for %zu bytes of scratch", path, bytes * (size_t)(1 + nslots));
    for (int s = -1; rc == CF_OK && s < nslots; s++) {
        char *base = scratch + (size_t)(s + 1) * bytes;
        for (int i = 0; rc == CF_OK && i < ps->count; i++) {
            const cf_param *p = &ps->items[i];
            rc = cf_ckpt_read(r, s < 0 ? NULL : slots[s].name, p->name, ps->dtype, base + p->offset * (int64_t)es);
        }
    }
    if (rc == CF_OK && st) rc = cf_ckpt_read_state(r, &tmp_st);
    if (rc == CF_OK && recipe_text_out && !(recipe = strdup(r->recipe)))
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    if (rc == CF_OK) {
        commit_params(ps, scratch, NULL);
        for (int s = 0; s < nslots; s++) {
            const char *src = scratch + (size_t)(s + 1) * bytes;
            for (int i = 0; i < ps->count; i++) {
                const cf_param *p = &ps->items[i];
                /* the slot's buffer is the caller's writable optimizer state; see checkpoint.h */
                memcpy((char *)(uintptr_t)slots[s].flat + p->offset * (int64_t)es, src + p->offset * (int64_t)es,
                       (size_t)p->numel * es);
            }
        }
        if (st) *st = tmp_st;
        if (recipe_text_out) *recipe_text_out = recipe;
    }
    free(scratch);
    cf_ckpt_close(r);
    return rc;
}

/* snprintf that appends and never overruns; marks truncation with "..." at the end */
static void rep(char *buf, size_t len, size_t *k, const char *fmt, ...) CF_PRINTF(4, 5);
static void rep(char *buf, size_t len, size_t *k, const char *fmt, ...)
{
    if (!buf || len == 0 || *k >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *k, len - *k, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (*k + (size_t)n >= len) {
        *k = len;
        if (len >= 4) memcpy(buf + len - 4, "...", 4);
        return;
    }
    *k += (size_t)n;
}

cf_status cf_checkpoint_init_from(const char *path, cf_params *ps, char *report, size_t report_len)
{
    if (!ps) return cf_set_error(CF_ERR_ARG, "%s: init-from: no parameters", path ? path : "(null)");
    if (report && report_len) report[0] = '\0';
    cf_ckpt_reader *r = cf_ckpt_open(path);
    if (!r) return cf_last_status();
    size_t es = cf_dtype_size(ps->dtype), bytes = (size_t)ps->total * es;
    char *scratch = malloc(bytes ? bytes : 1);
    bool *take = calloc((size_t)(ps->count ? ps->count : 1), sizeof *take);
    cf_status rc = CF_OK;
    int loaded = 0, fresh = 0, differ = 0, unused = 0;
    int64_t nvalues = 0;
    if (!scratch || !take) rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; rc == CF_OK && i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        const cf_ckpt_tensor *t = cf_ckpt_find(r, NULL, p->name);
        if (!t) fresh++;
        else if (!same_shape(t->ndim, t->shape, p->value->ndim, p->value->shape)) differ++;
        else if ((rc = cf_ckpt_read(r, NULL, p->name, ps->dtype, scratch + p->offset * (int64_t)es)) == CF_OK)
            take[i] = true, loaded++, nvalues += p->numel;
    }
    for (int i = 0; i < r->model.n; i++)
        if (!cf_params_find(ps, r->model.t[i].t.name)) unused++;
    if (rc == CF_OK && loaded == 0 && ps->count > 0)
        rc = cf_set_error(CF_ERR_SHAPE, "%s: init-from: no parameter of the model is in the file with the same name and "
                          "shape (%d new, %d with other shapes, %d file tensors unused)", path, fresh, differ, unused);
    if (rc == CF_OK) {
        commit_params(ps, scratch, take);
        size_t k = 0;
        char a[200], b[200];
        rep(report, report_len, &k, "init-from %s: loaded %d of %d parameters (%lld values)", path, loaded, ps->count,
            (long long)nvalues);
        if (fresh) {
            rep(report, report_len, &k, "\n  new in model, not in file (%d):", fresh);
            for (int i = 0; i < ps->count; i++)
                if (!cf_ckpt_find(r, NULL, ps->items[i].name)) rep(report, report_len, &k, " %s", ps->items[i].name);
        }
        if (differ) {
            rep(report, report_len, &k, "\n  shape differs, kept as initialised (%d):", differ);
            for (int i = 0; i < ps->count; i++) {
                const cf_param *p = &ps->items[i];
                const cf_ckpt_tensor *t = cf_ckpt_find(r, NULL, p->name);
                if (!t || take[i]) continue;
                shape_str(t->ndim, t->shape, a, sizeof a);
                shape_str(p->value->ndim, p->value->shape, b, sizeof b);
                rep(report, report_len, &k, " %s (%s in file, %s in model)", p->name, a, b);
            }
        }
        if (unused) {
            rep(report, report_len, &k, "\n  in file, not used (%d):", unused);
            for (int i = 0; i < r->model.n; i++)
                if (!cf_params_find(ps, r->model.t[i].t.name)) rep(report, report_len, &k, " %s", r->model.t[i].t.name);
        }
    }
    free(take);
    free(scratch);
    cf_ckpt_close(r);
    return rc;
}

#else /* no HDF5 in this build */

static cf_status no_hdf5(const char *path)
{
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: checkpoints need HDF5, and this build has none (CF_HDF5=OFF)",
                        path ? path : "(null)");
}

cf_status cf_checkpoint_save(const char *path, const cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text)
{
    (void)ps, (void)nslots, (void)slots, (void)st, (void)recipe_text;
    return no_hdf5(path);
}

cf_status cf_checkpoint_load(const char *path, cf_params *ps, int nslots, cf_ckpt_slot *slots, cf_train_state *st,
                             char **recipe_text_out)
{
    (void)ps, (void)nslots, (void)slots, (void)st, (void)recipe_text_out;
    return no_hdf5(path);
}

cf_status cf_checkpoint_init_from(const char *path, cf_params *ps, char *report, size_t report_len)
{
    (void)ps, (void)report, (void)report_len;
    return no_hdf5(path);
}

cf_ckpt_reader *cf_ckpt_open(const char *path)
{
    no_hdf5(path);
    return NULL;
}
void cf_ckpt_close(cf_ckpt_reader *r) { (void)r; }
const char *cf_ckpt_file(const cf_ckpt_reader *r) { return (void)r, ""; }
int64_t cf_ckpt_format_version(const cf_ckpt_reader *r) { return (void)r, 0; }
const char *cf_ckpt_created_by(const cf_ckpt_reader *r) { return (void)r, ""; }
const char *cf_ckpt_recipe(const cf_ckpt_reader *r) { return (void)r, ""; }
int cf_ckpt_count(const cf_ckpt_reader *r, const char *slot) { return (void)r, (void)slot, -1; }
const cf_ckpt_tensor *cf_ckpt_tensor_at(const cf_ckpt_reader *r, const char *slot, int i)
{
    return (void)r, (void)slot, (void)i, NULL;
}
const cf_ckpt_tensor *cf_ckpt_find(const cf_ckpt_reader *r, const char *slot, const char *name)
{
    return (void)r, (void)slot, (void)name, NULL;
}
int cf_ckpt_nslots(const cf_ckpt_reader *r) { return (void)r, 0; }
const char *cf_ckpt_slot_name(const cf_ckpt_reader *r, int i) { return (void)r, (void)i, NULL; }
cf_status cf_ckpt_read(cf_ckpt_reader *r, const char *slot, const char *name, cf_dtype dt, void *out)
{
    (void)r, (void)slot, (void)dt, (void)out;
    return no_hdf5(name);
}
cf_status cf_ckpt_read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    (void)r, (void)st;
    return no_hdf5(NULL);
}

#endif /* CF_HAVE_HDF5 */

/* ---- run-directory helpers ---- */

cf_status cf_checkpoint_path(const char *dir, int64_t step, char *buf, size_t len)
{
    if (!dir || !buf || len == 0 || step < 0) return cf_set_error(CF_ERR_ARG, "checkpoint path: bad directory, buffer or step");
    size_t n = strlen(dir);
    const char *sep = n == 0 || dir[n - 1] == '/' ? "" : "/";
    int k = snprintf(buf, len, "%s%sstep-%08lld.h5", n ? dir : ".", n ? sep : "/", (long long)step);
    if (k < 0 || (size_t)k >= len) return cf_set_error(CF_ERR_ARG, "%s: checkpoint path does not fit in %zu bytes", dir, len);
    return CF_OK;
}

/* "step-<digits>.h5" exactly; temporary files ("....h5.tmp.123") and anything else do not count. */
static bool parse_step_name(const char *name, int64_t *step)
{
    if (strncmp(name, "step-", 5) != 0) return false;
    const char *p = name + 5, *q = p;
    int64_t v = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*q - '0');
    }
    if (q == p || strcmp(q, ".h5") != 0) return false;
    *step = v;
    return true;
}

typedef struct {
    int64_t step;
    char *name;
} step_file;

static int cmp_step(const void *a, const void *b)
{
    const step_file *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void free_step_files(step_file *f, int n)
{
    for (int i = 0; i < n; i++) free(f[i].name);
    free(f);
}

/* All step files of dir, ascending by step. */
static cf_status scan_dir(const char *dir, step_file **out, int *count)
{
    *out = NULL, *count = 0;
    if (!dir) return cf_set_error(CF_ERR_ARG, "checkpoint list: no directory");
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) {
        if (errno == ENOENT) return CF_OK;
        return cf_set_error(CF_ERR_IO, "%s: cannot list checkpoints: %s", dir, strerror(errno));
    }
    step_file *f = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t step;
        if (!parse_step_name(e->d_name, &step)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            step_file *nf = realloc(f, (size_t)cap * sizeof *nf);
            if (!nf) goto oom;
            f = nf;
        }
        if (!(f[n].name = strdup(e->d_name))) goto oom;
        f[n++].step = step;
    }
    closedir(d);
    if (n > 1) qsort(f, (size_t)n, sizeof *f, cmp_step);
    *out = f, *count = n;
    return CF_OK;
oom:
    closedir(d);
    free_step_files(f, n);
    return cf_set_error(CF_ERR_OOM, "%s: out of memory listing checkpoints", dir);
}

cf_status cf_checkpoint_list(const char *dir, int64_t **steps, int *count)
{
    if (!steps || !count) return cf_set_error(CF_ERR_ARG, "checkpoint list: no output");
    *steps = NULL, *count = 0;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK) return rc;
    int64_t *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) {
        free_step_files(f, n);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory listing checkpoints", dir);
    }
    for (int i = 0; i < n; i++) s[i] = f[i].step;
    free_step_files(f, n);
    *steps = s, *count = n;
    return CF_OK;
}

static cf_status join(const char *dir, const char *name, char *buf, size_t len)
{
    size_t n = strlen(dir);
    int k = snprintf(buf, len, "%s%s%s", n ? dir : ".", n && dir[n - 1] == '/' ? "" : "/", name);
    if (k < 0 || (size_t)k >= len) return cf_set_error(CF_ERR_ARG, "%s/%s: path does not fit in %zu bytes", dir, name, len);
    return CF_OK;
}

cf_status cf_checkpoint_latest(const char *dir, char *buf, size_t len, int64_t *step)
{
    if (!buf || len == 0) return cf_set_error(CF_ERR_ARG, "checkpoint latest: no buffer");
    buf[0] = '\0';
    if (step) *step = -1;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK || n == 0) return rc;
    rc = join(dir, f[n - 1].name, buf, len);
    if (rc == CF_OK && step) *step = f[n - 1].step;
    if (rc != CF_OK) buf[0] = '\0';
    free_step_files(f, n);
    return rc;
}

cf_status cf_checkpoint_prune(const char *dir, int keep)
{
    if (keep <= 0) return CF_OK;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK) return rc;
    char path[4096];
    /* delete every one that fails, but report the first failure */
    for (int i = 0; i < n - keep; i++) {
        cf_status r1 = join(dir, f[i].name, path, sizeof path);
        if (r1 == CF_OK && unlink(path) < 0 && errno != ENOENT)
            r1 = cf_set_error(CF_ERR_IO, "%s: cannot delete old checkpoint: %s", path, strerror(errno));
        if (rc == CF_OK) rc = r1;
    }
    free_step_files(f, n);
    return rc;
}
