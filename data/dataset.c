/* Batches, the checked dataset wrappers and the registry of dataset factories by name. */
#include "data/dataset.h"

#include "data/text/text.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ---- */

cf_status cf_batch_add(cf_batch *b, const char *name, cf_dtype dt, int ndim, const int64_t *shape)
{
    if (!b || !name || !shape || ndim < 1)
        return cf_set_error(CF_ERR_ARG, "cf_batch_add: NULL batch/name/shape or ndim < 1");
    if (b->nfields >= CF_BATCH_MAX_FIELDS)
        return cf_set_error(CF_ERR_ARG, "cf_batch_add: field '%s': a batch holds at most %d fields", name,
                            CF_BATCH_MAX_FIELDS);
    if (strlen(name) >= CF_BATCH_NAME_MAX)
        return cf_set_error(CF_ERR_ARG, "cf_batch_add: field name '%s' longer than %d bytes", name,
                            CF_BATCH_NAME_MAX - 1);
    for (int i = 0; i < b->nfields; i++)
        if (strcmp(b->names[i], name) == 0)
            return cf_set_error(CF_ERR_ARG, "cf_batch_add: duplicate field '%s'", name);
    if (shape[0] > INT32_MAX) return cf_set_error(CF_ERR_ARG, "cf_batch_add: field '%s': too many rows", name);
    if (b->nfields > 0 && shape[0] != b->capacity)
        return cf_set_error(CF_ERR_SHAPE, "cf_batch_add: field '%s' has %" PRId64 " rows, the batch has %d", name,
                            shape[0], b->capacity);
    cf_tensor *t = cf_tensor_alloc(dt, ndim, shape);
    if (!t) {
        cf_error_prefix("cf_batch_add: field '%s': ", name);
        return cf_last_status();
    }
    if (b->nfields == 0) {
        b->capacity = (int)shape[0];
        b->rows = (int)shape[0];
        b->epoch = b->position = -1;
    }
    snprintf(b->names[b->nfields], CF_BATCH_NAME_MAX, "%s", name);
    b->fields[b->nfields++] = t;
    return CF_OK;
}

cf_tensor *cf_batch_get(const cf_batch *b, const char *name)
{
    if (!b || !name) {
        cf_set_error(CF_ERR_ARG, "cf_batch_get: NULL batch or name");
        return NULL;
    }
    for (int i = 0; i < b->nfields; i++)
        if (strcmp(b->names[i], name) == 0) return b->fields[i];
    cf_set_error(CF_ERR_ARG, "cf_batch_get: the batch has no field '%s'", name);
    return NULL;
}

void cf_batch_free(cf_batch *b)
{
    if (!b) return;
    for (int i = 0; i < b->nfields; i++) {
        /* restore the allocated row count so the tensor is freed with the shape it was made with */
        if (b->fields[i]) b->fields[i]->shape[0] = b->capacity;
        cf_tensor_free(b->fields[i]);
    }
    memset(b, 0, sizeof *b);
}

cf_status cf_batch_set_rows(cf_batch *b, int rows)
{
    if (!b || rows < 0 || rows > b->capacity)
        return cf_set_error(CF_ERR_ARG, "cf_batch_set_rows: %d rows for a batch of capacity %d", rows,
                            b ? b->capacity : 0);
    /* the row is the outermost dimension of a contiguous tensor, so shrinking shape[0] leaves a valid
     * contiguous view of the first rows without touching strides or storage */
    for (int i = 0; i < b->nfields; i++) b->fields[i]->shape[0] = rows;
    b->rows = rows;
    return CF_OK;
}

/* ---- checked dataset calls ---- */

cf_status cf_dataset_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    if (!ds || !b) return cf_set_error(CF_ERR_ARG, "cf_dataset_get: NULL dataset or batch");
    if (index < 0 || index >= ds->len)
        return cf_set_error(CF_ERR_ARG, "%s: index %" PRId64 " out of range [0, %" PRId64 ")", ds->name, index,
                            ds->len);
    if (b->owner != ds)
        return cf_set_error(CF_ERR_ARG, "%s: batch was not made by this dataset's make_batch", ds->name);
    if (row < 0 || row >= b->capacity)
        return cf_set_error(CF_ERR_ARG, "%s: row %d out of range for a batch of %d rows", ds->name, row,
                            b->capacity);
    return ds->vt->get(ds, index, b, row);
}

cf_status cf_dataset_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    if (!ds || !b) return cf_set_error(CF_ERR_ARG, "cf_dataset_make_batch: NULL dataset or batch");
    if (rows < 1) return cf_set_error(CF_ERR_ARG, "%s: batch of %d rows (need at least 1)", ds->name, rows);
    memset(b, 0, sizeof *b);
    cf_status st = ds->vt->make_batch(ds, rows, b);
    if (st == CF_OK && (b->nfields == 0 || b->capacity != rows))
        st = cf_set_error(CF_ERR_INTERNAL, "%s: make_batch built %d fields of %d rows, asked for %d rows", ds->name,
                          b->nfields, b->capacity, rows);
    if (st != CF_OK) {
        cf_batch_free(b);
        return st;
    }
    b->owner = ds;
    b->epoch = b->position = -1;
    return CF_OK;
}

void cf_dataset_free(cf_dataset *ds)
{
    if (ds && ds->vt && ds->vt->free) ds->vt->free(ds);
}

/* ---- registry ---- */

#define MAX_FACTORIES 64
#define NAME_MAX_LEN 64

static struct {
    char name[NAME_MAX_LEN];
    cf_dataset_factory fn;
} registry[MAX_FACTORIES];
static int registry_n;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NAME_MAX_LEN) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return true;
}

static cf_status register_locked(const char *name, cf_dataset_factory fn)
{
    int slot = -1;
    for (int i = 0; i < registry_n; i++)
        if (strcmp(registry[i].name, name) == 0) slot = i;
    if (slot < 0) {
        if (registry_n >= MAX_FACTORIES)
            return cf_set_error(CF_ERR_ARG, "cf_dataset_register: '%s': registry full (%d datasets)", name,
                                MAX_FACTORIES);
        /* keep the table sorted by name so listing and lookup order never depend on registration order */
        slot = registry_n;
        while (slot > 0 && strcmp(registry[slot - 1].name, name) > 0) {
            registry[slot] = registry[slot - 1];
            slot--;
        }
        registry_n++;
        snprintf(registry[slot].name, NAME_MAX_LEN, "%s", name);
    }
    registry[slot].fn = fn;
    return CF_OK;
}

/* Formats built into the data library. */
static void register_builtins(void)
{
    pthread_mutex_lock(&registry_mu);
    register_locked("text", cf_text_factory);
    pthread_mutex_unlock(&registry_mu);
}

cf_status cf_dataset_register(const char *name, cf_dataset_factory fn)
{
    if (!name || !fn) return cf_set_error(CF_ERR_ARG, "cf_dataset_register: NULL name or factory");
    if (!valid_name(name))
        return cf_set_error(CF_ERR_ARG, "cf_dataset_register: bad name '%s' (1-%d of [A-Za-z0-9_.-])", name,
                            NAME_MAX_LEN - 1);
    pthread_once(&builtins_once, register_builtins);
    pthread_mutex_lock(&registry_mu);
    cf_status st = register_locked(name, fn);
    pthread_mutex_unlock(&registry_mu);
    return st;
}

cf_dataset *cf_dataset_create(const char *name, const cf_dataset_config *cfg)
{
    if (!name) {
        cf_set_error(CF_ERR_ARG, "cf_dataset_create: NULL name");
        return NULL;
    }
    pthread_once(&builtins_once, register_builtins);
    cf_dataset_factory fn = NULL;
    char known[512] = "";
    size_t k = 0;
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < registry_n; i++) {
        if (strcmp(registry[i].name, name) == 0) fn = registry[i].fn;
        if (k < sizeof known)
            k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", registry[i].name);
    }
    pthread_mutex_unlock(&registry_mu);
    if (!fn) {
        cf_set_error(CF_ERR_ARG, "unknown dataset '%s' (known: %s)", name, known);
        return NULL;
    }
    cf_dataset *ds = fn(cfg ? cfg->recipe : NULL, cfg && cfg->split ? cfg->split : "train");
    if (!ds && cf_last_status() == CF_OK) cf_set_error(CF_ERR_INTERNAL, "dataset '%s': factory failed", name);
    return ds;
}

int cf_dataset_count(void)
{
    pthread_once(&builtins_once, register_builtins);
    pthread_mutex_lock(&registry_mu);
    int n = registry_n;
    pthread_mutex_unlock(&registry_mu);
    return n;
}

const char *cf_dataset_name_at(int i)
{
    pthread_once(&builtins_once, register_builtins);
    pthread_mutex_lock(&registry_mu);
    /* entries are never removed, but a registration shifts the sorted table: valid until the next one */
    const char *s = (i >= 0 && i < registry_n) ? registry[i].name : NULL;
    pthread_mutex_unlock(&registry_mu);
    return s;
}

void cf_dataset_list(FILE *f)
{
    int n = cf_dataset_count();
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", cf_dataset_name_at(i));
}

const cf_batch *cf_batch_on_device(cf_ctx *ctx, const cf_batch *b, cf_batch *out)
{
    cf_device dev = cf_ctx_device(ctx);
    if (!b || dev == CF_CPU) return b;
    *out = *b;
    for (int i = 0; i < b->nfields; i++)
        if (b->fields[i] && !(out->fields[i] = cf_tensor_to(ctx, b->fields[i], dev))) return NULL;
    return out;
}
