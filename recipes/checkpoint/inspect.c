/* `cformer inspect CKPT`: a human-readable summary of a checkpoint, built on the checkpoint reader only. */
#include "recipes/checkpoint/checkpoint.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_shape(FILE *out, const cf_ckpt_tensor *t, int width)
{
    char buf[200];
    size_t k = (size_t)snprintf(buf, sizeof buf, "[");
    for (int i = 0; i < t->ndim && k < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < sizeof buf) snprintf(buf + k, sizeof buf - k, "]");
    fprintf(out, "%-*s", width, buf);
}

static void print_tensors(FILE *out, const cf_ckpt_reader *r, const char *slot)
{
    int n = cf_ckpt_count(r, slot), wname = 4;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(cf_ckpt_tensor_at(r, slot, i)->name);
        if (l > wname) wname = l;
    }
    if (wname > 60) wname = 60;
    fprintf(out, "  %-*s  %-20s  %-5s  %12s\n", wname, "name", "shape", "dtype", "numel");
    for (int i = 0; i < n; i++) {
        const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, slot, i);
        fprintf(out, "  %-*s  ", wname, t->name);
        print_shape(out, t, 20);
        fprintf(out, "  %-5s  %12lld%s\n", cf_dtype_name(t->dtype), (long long)t->numel, t->compressed ? "  deflate" : "");
    }
}

/* The first error of the inspection, kept while later calls overwrite cf_last_error(). */
typedef struct {
    cf_status status;
    char msg[1024];
} first_error;

static void keep_error(first_error *e, cf_status st)
{
    if (st == CF_OK || e->status != CF_OK) return;
    e->status = st;
    snprintf(e->msg, sizeof e->msg, "%s", cf_last_error());
}

/* Reads every tensor of /model and each slot, so that each chunk's checksum is verified. */
static void verify_tensors(FILE *out, cf_ckpt_reader *r, first_error *err)
{
    int bad = 0, n = 0;
    for (int s = -1; s < cf_ckpt_nslots(r); s++) {
        const char *slot = s < 0 ? NULL : cf_ckpt_slot_name(r, s);
        for (int i = 0; i < cf_ckpt_count(r, slot); i++, n++) {
            const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, slot, i);
            double *buf = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *buf);
            cf_status st = buf ? cf_ckpt_read(r, slot, t->name, CF_F64, buf)
                               : cf_set_error(CF_ERR_OOM, "%s: out of memory reading %s", cf_ckpt_file(r), t->name);
            free(buf);
            if (st != CF_OK) fprintf(out, "DAMAGED      %s\n", cf_last_error()), bad++;
            keep_error(err, st);
        }
    }
    int unchecked = cf_ckpt_unchecked(r), total = cf_ckpt_datasets(r);
    if (unchecked)
        fprintf(out, "checksums    %d of %d datasets have no checksum (an earlier cformer or another tool wrote them); "
                "saving again adds them\n", unchecked, total);
    else
        fprintf(out, "checksums    all %d datasets checksummed\n", total);
    fprintf(out, "verified     %d of %d tensors read back intact\n", n - bad, n);
}

static int64_t total_numel(const cf_ckpt_reader *r, const char *slot)
{
    int64_t s = 0;
    for (int i = 0; i < cf_ckpt_count(r, slot); i++) s += cf_ckpt_tensor_at(r, slot, i)->numel;
    return s;
}

cf_status cf_checkpoint_inspect(const char *path, FILE *out)
{
    if (!out) return cf_set_error(CF_ERR_ARG, "inspect: no output stream");
    cf_ckpt_reader *r = cf_ckpt_open(path);
    if (!r) return cf_last_status();
    struct stat sb;
    fprintf(out, "checkpoint   %s", path);
    if (stat(path, &sb) == 0) fprintf(out, " (%.2f MiB)", (double)sb.st_size / (1024.0 * 1024.0));
    fprintf(out, "\nformat       %s version %lld, created by %s\n", CF_CHECKPOINT_FORMAT,
            (long long)cf_ckpt_format_version(r), cf_ckpt_created_by(r)[0] ? cf_ckpt_created_by(r) : "(unknown)");

    first_error err = {CF_OK, ""};
    cf_train_state st;
    cf_status sst = cf_ckpt_has_state(r) ? cf_ckpt_read_state(r, &st) : CF_ERR_FORMAT;
    if (sst == CF_OK) {
        fprintf(out, "train state  step %lld, epoch %lld, cursor %lld, seed %llu, world_size %d\n", (long long)st.step,
                (long long)st.epoch, (long long)st.cursor, (unsigned long long)st.seed, st.world_size);
        if (st.n_rng) {
            fprintf(out, "             rng");
            for (int i = 0; i < st.n_rng; i++) fprintf(out, " %016llx", (unsigned long long)st.rng[i]);
            fprintf(out, "\n");
        }
        for (int i = 0; i < st.n_extra; i++) fprintf(out, "             %s = %.17g\n", st.extra[i].key, st.extra[i].value);
    } else if (cf_ckpt_has_state(r)) {
        fprintf(out, "train state  DAMAGED: %s\n", cf_last_error());
        keep_error(&err, sst);
    } else {
        fprintf(out, "train state  (none: the file has no /train_state)\n");
    }

    int64_t nparams = total_numel(r, NULL);
    fprintf(out, "model        %d tensors, %lld parameters\n", cf_ckpt_count(r, NULL), (long long)nparams);
    print_tensors(out, r, NULL);

    int ns = cf_ckpt_nslots(r);
    if (ns == 0) fprintf(out, "optimizer    (no state)\n");
    for (int s = 0; s < ns; s++) {
        const char *name = cf_ckpt_slot_name(r, s);
        fprintf(out, "%s%-12s %d tensors, %lld values\n", s ? "             " : "optimizer    ", name,
                cf_ckpt_count(r, name), (long long)total_numel(r, name));
    }

    const char *recipe = cf_ckpt_recipe(r);
    fprintf(out, "recipe%s\n", recipe[0] ? "" : "       (none)");
    /* indent every line so the recipe stands apart from the summary */
    for (const char *p = recipe; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(out, "  %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
    verify_tensors(out, r, &err);
    cf_ckpt_close(r);
    if (err.status != CF_OK) return cf_set_error(err.status, "%s", err.msg);
    return ferror(out) ? cf_set_error(CF_ERR_IO, "inspect %s: writing the summary failed", path) : CF_OK;
}
