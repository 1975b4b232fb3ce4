/* The .ts writer and the builder of equal-length sets (format in data/series/ts.h). */
#include "autograd/fileio.h"
#include "data/series/ts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tf(bool b) { return b ? "true" : "false"; }

cf_status cf_ts_write(const char *path, const cf_ts_set *s)
{
    if (!s || s->cases < 1 || s->dims < 1) return cf_set_error(CF_ERR_ARG, "%s: no cases to write", path);
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    if (s->problem[0]) cf_atomic_printf(af, "@problemName %s\n", s->problem);
    cf_atomic_printf(af, "@timeStamps false\n@missing %s\n@univariate %s\n@dimensions %lld\n@equalLength %s\n",
                     tf(s->missing_count > 0 || s->missing), tf(s->dims == 1), (long long)s->dims, tf(s->equal_length));
    if (s->equal_length) cf_atomic_printf(af, "@seriesLength %lld\n", (long long)s->len[0]);
    if (s->class_label) {
        cf_atomic_printf(af, "@classLabel true");
        for (int k = 0; k < s->nlabels; k++) cf_atomic_printf(af, " %s", s->labels[k]);
        cf_atomic_printf(af, "\n");
    } else {
        cf_atomic_printf(af, "@classLabel false\n");
    }
    if (s->target_label) cf_atomic_printf(af, "@targetLabel true\n");
    cf_atomic_printf(af, "@data\n");
    for (int64_t i = 0; i < s->cases; i++) {
        for (int64_t d = 0; d < s->dims; d++) {
            const double *v = s->values + s->off[i * s->dims + d];
            for (int64_t t = 0; t < s->len[i * s->dims + d]; t++) {
                if (isnan(v[t])) cf_atomic_printf(af, "%s?", t ? "," : "");
                else cf_atomic_printf(af, "%s%.9g", t ? "," : "", v[t]);
            }
            cf_atomic_printf(af, "%s", d + 1 < s->dims || s->class_label || s->target_label ? ":" : "");
        }
        if (s->class_label) cf_atomic_printf(af, "%s", s->labels[s->label[i]]);
        else if (s->target_label) cf_atomic_printf(af, "%.17g", s->target[i]);
        cf_atomic_printf(af, "\n");
    }
    return cf_atomic_commit(af);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

cf_ts_set *cf_ts_new_equal(const char *problem, int64_t cases, int64_t dims, int64_t length, int nlabels,
                           const char *const *labels)
{
    if (cases < 1 || dims < 1 || length < 1 || nlabels < 0 || nlabels > CF_TS_MAX_LABELS) {
        cf_set_error(CF_ERR_ARG, "ts: bad set size (cases %lld, dims %lld, length %lld, labels %d)", (long long)cases,
                     (long long)dims, (long long)length, nlabels);
        return NULL;
    }
    cf_ts_set *s = calloc(1, sizeof *s);
    int64_t series = cases * dims;
    if (s) {
        s->len = malloc((size_t)series * sizeof *s->len), s->off = malloc((size_t)series * sizeof *s->off);
        s->values = calloc((size_t)(series * length), sizeof *s->values);
        s->label = calloc((size_t)cases, sizeof *s->label);
        s->labels = calloc((size_t)(nlabels ? nlabels : 1), sizeof *s->labels);
    }
    if (!s || !s->len || !s->off || !s->values || !s->label || !s->labels) {
        cf_ts_free(s);
        cf_set_error(CF_ERR_OOM, "ts: out of memory");
        return NULL;
    }
    snprintf(s->problem, sizeof s->problem, "%s", problem ? problem : "");
    s->dims = dims, s->cases = cases, s->series_length = length, s->max_len = length;
    s->equal_length = true, s->univariate = dims == 1;
    for (int64_t k = 0; k < series; k++) s->len[k] = length, s->off[k] = k * length;
    const char **sorted = nlabels ? malloc((size_t)nlabels * sizeof *sorted) : NULL;
    if (nlabels && !sorted) {
        cf_ts_free(s);
        cf_set_error(CF_ERR_OOM, "ts: out of memory");
        return NULL;
    }
    for (int k = 0; k < nlabels; k++) sorted[k] = labels[k];
    if (nlabels) qsort(sorted, (size_t)nlabels, sizeof *sorted, cmp_str);
    for (int k = 0; k < nlabels; k++) snprintf(s->labels[k], CF_TS_NAME_MAX, "%s", sorted[k]);
    free(sorted);
    s->nlabels = nlabels, s->class_label = nlabels > 0;
    return s;
}
