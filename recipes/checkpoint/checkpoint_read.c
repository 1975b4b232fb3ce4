/* The checkpoint reader: opens a file, checks its format attributes, lists and describes every tensor
 * up front (so inspect, load and init-from can look before they read), then reads tensors and the
 * training state on request. */
#include "recipes/checkpoint/checkpoint_internal.h"

#ifdef CF_HAVE_HDF5

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    cf_ckpt_tensor t;
    bool coded16; /* uint16 storage decoded by us (bf16/f16 "dtype" attribute) */
} rtensor;

/* The datasets of the file by whether HDF5 verifies a checksum over their bytes when they are read. */
typedef struct {
    int checked, unchecked;
    char first_unchecked[2 * CF_PARAM_NAME_MAX + 16];
} census;

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
    bool has_state;
    census sums;
};

/* Whether HDF5 checks the bytes of dataset d (create plist pl) on every read: a compact dataset lives in
 * its object header, which has a checksum from header version 2 on (the HDF5 1.8 format, which our writer
 * uses); a chunked one needs the fletcher32 filter; a contiguous one is never checked. */
static bool dataset_checked(hid_t d, hid_t pl)
{
    H5D_layout_t layout = H5Pget_layout(pl);
    if (layout == H5D_CHUNKED) {
        int nf = H5Pget_nfilters(pl);
        for (int i = 0; i < nf; i++) {
            unsigned flags, cd[8];
            size_t ncd = 8;
            if (H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32) return true;
        }
        return false;
    }
    H5O_info_t oi;
    return layout == H5D_COMPACT && H5Oget_info2(d, &oi, H5O_INFO_HDR) >= 0 && oi.hdr.version >= 2;
}

static void count_dataset(census *c, bool checked, const char *gname, const char *name)
{
    if (checked) {
        c->checked++;
    } else if (c->unchecked++ == 0) {
        snprintf(c->first_unchecked, sizeof c->first_unchecked, "%s/%s", gname, name);
    }
}

/* A variable-length UTF-8 string type, for reading the string attributes that h5py writes that way. */
static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) cf_h5_close(&t);
    return t;
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
        return cf_set_error(CF_ERR_FORMAT, "%s: cannot list %s%s", path, gname, ckpt_h5_detail(why, sizeof why));
    }
    /* our own order (bytewise), whatever the file's index order is */
    if (l->n > 1) qsort(l->names, (size_t)l->n, sizeof *l->names, cmp_str);
    return CF_OK;
}

/* Describes dataset gname/name into t and counts it in sums; names what is wrong on failure. Opening the
 * dataset loads its header, so a damaged header (or compact data) fails here. */
static cf_status describe(const char *path, hid_t g, const char *gname, const char *name, rtensor *t, census *sums)
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
        cf_set_error(rc, "%s: %s/%s: not a readable dataset%s", path, gname, name, ckpt_h5_detail(why, sizeof why));
        goto done;
    }
    if ((sp = H5Dget_space(d)) < 0 || (ty = H5Dget_type(d)) < 0 || (pl = H5Dget_create_plist(d)) < 0) {
        cf_set_error(rc, "%s: %s/%s: unreadable dataset header%s", path, gname, name, ckpt_h5_detail(why, sizeof why));
        goto done;
    }
    count_dataset(sums, dataset_checked(d, pl), gname, name);
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
    if (!cf_h5_numeric_type_ok(ty)) {
        cf_set_error(rc, "%s: %s/%s: not a well-formed numeric type (HDF5 type class %d, %zu bytes, precision %zu)",
                     path, gname, name, (int)cls, sz, H5Tget_precision(ty));
        goto done;
    }
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
        rc = describe(r->path, g, gname, l.names[i], &out->t[i], &r->sums);
        if (rc == CF_OK) out->n++;
    }
    free_names(&l);
    return rc;
}

/* Opens every object under g (the training state: scalars, rng, extra/<key>), which verifies the checksums
 * of their headers and of compact data, and counts the datasets in r->sums. Values are read on request. */
static cf_status survey(cf_ckpt_reader *r, hid_t g, const char *gname)
{
    name_list l;
    char why[256], sub[CF_PARAM_NAME_MAX + 32];
    cf_status rc = list_group(r->path, g, gname, &l);
    for (int i = 0; rc == CF_OK && i < l.n; i++) {
        H5O_info_t oi;
        hid_t o = -1, pl = -1;
        if (H5Oget_info_by_name2(g, l.names[i], &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
            (o = H5Oopen(g, l.names[i], H5P_DEFAULT)) < 0) {
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s/%s: unreadable (damaged file?)%s", r->path, gname, l.names[i],
                              ckpt_h5_detail(why, sizeof why));
        } else if (oi.type == H5O_TYPE_GROUP) {
            snprintf(sub, sizeof sub, "%s/%s", gname, l.names[i]);
            rc = survey(r, o, sub);
        } else if (oi.type == H5O_TYPE_DATASET && (pl = H5Dget_create_plist(o)) >= 0) {
            count_dataset(&r->sums, dataset_checked(o, pl), gname, l.names[i]);
        } else {
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s/%s: neither a dataset nor a group%s", r->path, gname, l.names[i],
                              ckpt_h5_detail(why, sizeof why));
        }
        cf_h5_close(&pl), cf_h5_close(&o);
    }
    free_names(&l);
    return rc;
}

/* The recipe text stored as the byte dataset /recipe (a text too long for the root attribute); counted in
 * r->sums. */
static cf_status read_recipe_dataset(cf_ckpt_reader *r)
{
    char why[256];
    hid_t d = H5Dopen2(r->file, "recipe", H5P_DEFAULT), ty = -1, sp = -1, pl = -1;
    cf_status rc = CF_ERR_FORMAT;
    hssize_t n = -1;
    if (d < 0 || (ty = H5Dget_type(d)) < 0 || (sp = H5Dget_space(d)) < 0 || (pl = H5Dget_create_plist(d)) < 0 ||
        H5Tget_class(ty) != H5T_INTEGER || H5Tget_size(ty) != 1 || H5Sget_simple_extent_ndims(sp) != 1 ||
        (n = H5Sget_simple_extent_npoints(sp)) < 0) {
        cf_set_error(rc, "%s: /recipe: damaged, or not the recipe text as a 1-D byte dataset%s", r->path,
                     ckpt_h5_detail(why, sizeof why));
        goto done;
    }
    count_dataset(&r->sums, dataset_checked(d, pl), "", "recipe");
    if (!(r->recipe = malloc((size_t)n + 1))) {
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory for the %lld-byte recipe", r->path, (long long)n);
    } else if (n > 0 && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->recipe) < 0) {
        cf_set_error(rc, "%s: /recipe: reading the recipe text failed (damaged file?)%s", r->path,
                     ckpt_h5_detail(why, sizeof why));
    } else {
        r->recipe[n] = '\0';
        if (strlen(r->recipe) == (size_t)n) rc = CF_OK;
        else cf_set_error(rc, "%s: /recipe: the recipe text holds a NUL byte at offset %zu", r->path, strlen(r->recipe));
    }
done:
    cf_h5_close(&pl), cf_h5_close(&sp), cf_h5_close(&ty), cf_h5_close(&d);
    return rc;
}

/* Opens the file at path into r->file. */
static cf_status open_file(const char *path, cf_ckpt_reader *r)
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
                            ckpt_h5_detail(why, sizeof why));
    return CF_OK;
}

/* Checks the format attributes of the open r->file and describes every tensor. */
static cf_status read_index(cf_ckpt_reader *r)
{
    const char *path = r->path;
    char why[256];
    /* the root group's header holds the root attributes; loading it verifies their checksum */
    H5O_info_t root;
    if (H5Oget_info2(r->file, &root, H5O_INFO_HDR) < 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: the root group's header, which holds the format and the recipe text, "
                            "is damaged or unreadable%s", path, ckpt_h5_detail(why, sizeof why));
    count_dataset(&r->sums, root.hdr.version >= 2, "", "(root attributes: format, recipe)");
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
    static const char *const strs[] = {"created_by", "recipe"};
    char **dst[] = {&r->created_by, &r->recipe};
    for (int i = 0; i < 2; i++)
        if (attr_read_str(r->file, strs[i], dst[i]) < 0)
            return cf_set_error(CF_ERR_FORMAT, "%s: root attribute %s is damaged or not a string%s", path, strs[i],
                                ckpt_h5_detail(why, sizeof why));
    cf_status rc = CF_OK;
    if (!r->recipe && H5Lexists(r->file, "recipe", H5P_DEFAULT) > 0 && (rc = read_recipe_dataset(r)) != CF_OK) return rc;
    if ((!r->created_by && !(r->created_by = strdup(""))) || (!r->recipe && !(r->recipe = strdup(""))))
        return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);

    if (H5Lexists(r->file, "model", H5P_DEFAULT) <= 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: no /model group", path);
    hid_t g = H5Gopen2(r->file, "model", H5P_DEFAULT);
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /model is not a group%s", path, ckpt_h5_detail(why, sizeof why));
    snprintf(r->model.name, sizeof r->model.name, "/model");
    rc = load_group(r, g, "/model", &r->model);
    cf_h5_close(&g);
    if (rc != CF_OK) return rc;

    if ((r->has_state = H5Lexists(r->file, "train_state", H5P_DEFAULT) > 0)) {
        if ((g = H5Gopen2(r->file, "train_state", H5P_DEFAULT)) < 0)
            return cf_set_error(CF_ERR_FORMAT, "%s: /train_state is not a group%s", path, ckpt_h5_detail(why, sizeof why));
        rc = survey(r, g, "/train_state");
        cf_h5_close(&g);
        if (rc != CF_OK) return rc;
    }

    if (H5Lexists(r->file, "optim", H5P_DEFAULT) <= 0) return CF_OK;
    hid_t og = H5Gopen2(r->file, "optim", H5P_DEFAULT);
    if (og < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /optim is not a group%s", path, ckpt_h5_detail(why, sizeof why));
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

/* The reader of the file at path (buf NULL) or of the n bytes at buf, named path in messages. */
static cf_ckpt_reader *open_reader(const char *path, const void *buf, size_t n)
{
    cf_ckpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    r->file = -1;
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status rc = CF_OK;
    if (!buf) rc = open_file(path, r);
    else if ((r->file = cf_h5_open_image(buf, n, path)) < 0) rc = cf_last_status();
    if (rc == CF_OK) rc = read_index(r);
    cf_h5_quiet_off(q);
    if (rc != CF_OK) {
        cf_ckpt_close(r);
        return NULL;
    }
    if (r->sums.unchecked)
        fprintf(stderr,
                "warning: %s: %d of %d datasets (%s, ...) have no checksum: the file was written by an earlier cformer "
                "or another tool, and damage in them cannot be detected; saving it again with cformer adds checksums\n",
                path, r->sums.unchecked, r->sums.checked + r->sums.unchecked, r->sums.first_unchecked);
    return r;
}

cf_ckpt_reader *cf_ckpt_open(const char *path)
{
    if (!path || !path[0]) {
        cf_set_error(CF_ERR_ARG, "checkpoint: no path given");
        return NULL;
    }
    return open_reader(path, NULL, 0);
}

cf_ckpt_reader *cf_ckpt_open_mem(const void *buf, size_t n, const char *what)
{
    static const char none; /* a NULL buffer is an empty one (cf_h5_open_image refuses it), not a path */
    return open_reader(what ? what : "(checkpoint buffer)", buf ? buf : &none, buf ? n : 0);
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
bool cf_ckpt_has_state(const cf_ckpt_reader *r) { return r->has_state; }
int cf_ckpt_unchecked(const cf_ckpt_reader *r) { return r->sums.unchecked; }
int cf_ckpt_datasets(const cf_ckpt_reader *r) { return r->sums.checked + r->sums.unchecked; }
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
        rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot open dataset%s", r->path, gpath,
                          ckpt_h5_detail(why, sizeof why));
    } else if (!t->coded16) {
        if (H5Dread(d, ckpt_mem_type_of(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: reading the dataset failed (corrupt or truncated file?)%s",
                              r->path, gpath, ckpt_h5_detail(why, sizeof why));
    } else {
        uint16_t *raw = malloc((size_t)t->t.numel * sizeof *raw);
        if (!raw) {
            rc = cf_set_error(CF_ERR_OOM, "%s: %s: out of memory", r->path, gpath);
        } else if (H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            rc = cf_set_error(CF_ERR_FORMAT, "%s: %s: reading the dataset failed (corrupt or truncated file?)%s",
                              r->path, gpath, ckpt_h5_detail(why, sizeof why));
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

/* Reads a dataset of 1 to max values (max 1: a scalar); the count, or -1 when absent or wrong. */
static int read_small(hid_t g, const char *name, hid_t mtype, int max, void *v)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), s = -1, t = -1;
    hssize_t n = -1;
    if (d >= 0 && (t = H5Dget_type(d)) >= 0 && cf_h5_numeric_type_ok(t) && (s = H5Dget_space(d)) >= 0 &&
        (n = H5Sget_simple_extent_npoints(s)) >= 1 && n <= max && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        n = -1;
    cf_h5_close(&t), cf_h5_close(&s), cf_h5_close(&d);
    return n >= 1 && n <= max ? (int)n : -1;
}

static cf_status read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    memset(st, 0, sizeof *st);
    if (H5Lexists(r->file, "train_state", H5P_DEFAULT) <= 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: no /train_state group", r->path);
    hid_t g = H5Gopen2(r->file, "train_state", H5P_DEFAULT), x = -1;
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /train_state is not a group", r->path);
    cf_status rc = CF_ERR_FORMAT;
    char why[256];
    int32_t ws = 0;
    static const char *const names[] = {"step", "seed", "epoch", "cursor", "world_size"};
    void *dst[] = {&st->step, &st->seed, &st->epoch, &st->cursor, &ws};
    hid_t mt[] = {H5T_NATIVE_INT64, H5T_NATIVE_UINT64, H5T_NATIVE_INT64, H5T_NATIVE_INT64, H5T_NATIVE_INT32};
    for (int i = 0; i < 5; i++)
        if (read_small(g, names[i], mt[i], 1, dst[i]) < 0) {
            cf_set_error(rc, "%s: /train_state/%s is missing, damaged or not a single number%s", r->path, names[i],
                         ckpt_h5_detail(why, sizeof why));
            goto done;
        }
    st->world_size = ws;
    if (H5Lexists(g, "rng", H5P_DEFAULT) > 0 &&
        (st->n_rng = read_small(g, "rng", H5T_NATIVE_UINT64, CF_CKPT_RNG_WORDS, st->rng)) < 0) {
        cf_set_error(rc, "%s: /train_state/rng is damaged, empty or longer than %d words%s", r->path, CF_CKPT_RNG_WORDS,
                     ckpt_h5_detail(why, sizeof why));
        goto done;
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
            if (st->n_extra >= CF_CKPT_EXTRA_MAX || !ckpt_key_ok(l.names[i]) ||
                read_small(x, l.names[i], H5T_NATIVE_DOUBLE, 1, &v) < 0) {
                cf_set_error(rc, "%s: /train_state/extra/%s: damaged, not a number, a bad key, or more than %d extras%s",
                             r->path, l.names[i], CF_CKPT_EXTRA_MAX, ckpt_h5_detail(why, sizeof why));
                free_names(&l);
                goto done;
            }
            snprintf(st->extra[st->n_extra].key, CF_CKPT_KEY_MAX, "%s", l.names[i]);
            st->extra[st->n_extra++].value = v;
        }
        free_names(&l);
    }
    rc = ckpt_state_check(st, r->path, CF_ERR_FORMAT);
done:
    cf_h5_close(&x), cf_h5_close(&g);
    if (rc != CF_OK) memset(st, 0, sizeof *st);
    return rc;
}

cf_status cf_ckpt_read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status rc = read_state(r, st);
    cf_h5_quiet_off(q);
    return rc;
}

#endif /* CF_HAVE_HDF5 */
