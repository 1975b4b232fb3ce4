/* Strict load (resume) and lenient init-from (fine-tuning), both built on the public reader. */
#include "recipes/checkpoint/checkpoint.h"

#ifdef CF_HAVE_HDF5

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            problem(pr, "%s: %s%s: missing in file (model has shape %s)", cf_ckpt_file(r), prefix, p->name, b);
        } else if (!same_shape(t->ndim, t->shape, p->value->ndim, p->value->shape)) {
            shape_str(t->ndim, t->shape, a, sizeof a);
            problem(pr, "%s: %s%s: shape %s in file, %s in model", cf_ckpt_file(r), prefix, p->name, a, b);
        }
    }
    for (int i = 0; i < cf_ckpt_count(r, slot); i++) {
        const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, slot, i);
        if (!cf_params_find(ps, t->name)) {
            shape_str(t->ndim, t->shape, a, sizeof a);
            problem(pr, "%s: %s%s: in file (shape %s), not in model", cf_ckpt_file(r), prefix, t->name, a);
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

/* Through the host mirror when the parameters live on a device (layers/params.h). */
static cf_status commit_params(cf_params *ps, const char *src, const bool *take)
{
    size_t es = cf_dtype_size(ps->dtype);
    char *values = cf_params_values_host(ps);
    if (!values) return cf_last_status();
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        if (take && !take[i]) continue;
        memcpy(values + p->offset * (int64_t)es, src + p->offset * (int64_t)es, (size_t)p->numel * es);
        cf_bump_version(p->value);
    }
    return cf_params_values_upload(ps);
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
            for (int i = 0; i < cf_ckpt_nslots(r) && k < sizeof have; i++)
                k += (size_t)snprintf(have + k, sizeof have - k, "%s%s", i ? ", " : "", cf_ckpt_slot_name(r, i));
            problem(&pr, "%s: optimizer state '%s' missing in file (file has: %s)", path, slots[s].name,
                    cf_ckpt_nslots(r) ? have : "none");
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
    /* an impossible or damaged state fails every load, not only the resumes that use it */
    if (rc == CF_OK && (st || cf_ckpt_has_state(r))) rc = cf_ckpt_read_state(r, &tmp_st);
    if (rc == CF_OK && recipe_text_out && !(recipe = strdup(cf_ckpt_recipe(r))))
        rc = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    if (rc == CF_OK) rc = commit_params(ps, scratch, NULL);
    if (rc == CF_OK) {
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
    int nfile = cf_ckpt_count(r, NULL);
    for (int i = 0; i < nfile; i++)
        if (!cf_params_find(ps, cf_ckpt_tensor_at(r, NULL, i)->name)) unused++;
    if (rc == CF_OK && loaded == 0 && ps->count > 0)
        rc = cf_set_error(CF_ERR_SHAPE, "%s: init-from: no parameter of the model is in the file with the same name and "
                          "shape (%d new, %d with other shapes, %d file tensors unused)", path, fresh, differ, unused);
    if (rc == CF_OK) rc = commit_params(ps, scratch, take);
    if (rc == CF_OK) {
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
            for (int i = 0; i < nfile; i++) {
                const char *name = cf_ckpt_tensor_at(r, NULL, i)->name;
                if (!cf_params_find(ps, name)) rep(report, report_len, &k, " %s", name);
            }
        }
    }
    free(take);
    free(scratch);
    cf_ckpt_close(r);
    return rc;
}

#endif /* CF_HAVE_HDF5 */
