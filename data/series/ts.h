/* UEA / UCR time-series archive files (.ts, the sktime format used by the UEA multivariate archive that
 * ShapeFormer, Le et al., KDD 2024, Sec. 4 evaluates on): a header of @-keys, then one case per line.
 *
 *     # comment                      '#' lines and blank lines are ignored everywhere
 *     @problemName BasicMotions      header keys are case-insensitive, each at most once
 *     @timeStamps false              true: values are written "(timestamp,value)"
 *     @missing false                 true: '?' marks a missing value (stored as NaN); false: '?' is an error
 *     @univariate false              true: exactly one dimension
 *     @dimensions 6                  optional: else taken from the first case
 *     @equalLength true              true: every series of every case has the same length ...
 *     @seriesLength 100              ... which is this one (only with @equalLength true)
 *     @classLabel true Standing Running Walking Badminton     or  @classLabel false
 *     @targetLabel false             regression targets (a number as the last field) when true
 *     @data
 *     -0.4,0.1,...:0.3,...: ... :Standing     dims fields separated by ':', values by ',', then the label
 *
 * Unequal lengths are allowed across cases and across the dimensions of one case (@equalLength false). Label
 * ids follow the sorted label strings (strcmp order, as scikit-learn's LabelEncoder), not the header order.
 * Every malformed case is an error "FILE:LINE: what is wrong" (CF_ERR_FORMAT), never a crash.
 *
 *     cf_ts_set *s = cf_ts_read("data/train.ts");          // NULL with the error set
 *     float *x = malloc(s->cases * s->dims * T * sizeof *x);
 *     cf_ts_dense(s, T, CF_TS_PAD_ZERO, CF_TS_MISSING_NOISE, seed, x);   // [cases, dims, T]
 *     ... s->label[i] in [0, s->nlabels), the name s->labels[s->label[i]]
 *     cf_ts_write("copy.ts", s);                           // atomic; reads back to the same set
 *     cf_ts_free(s);
 */
#ifndef CF_DATA_TS_H
#define CF_DATA_TS_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stdint.h>

#define CF_TS_NAME_MAX 128   /* @problemName and each class label, bytes including the NUL */
#define CF_TS_MAX_LABELS 4096
#define CF_TS_MAX_DIMS 100000

typedef struct cf_ts_set {
    char problem[CF_TS_NAME_MAX]; /* "" when the header has none */
    bool timestamps, missing, univariate, equal_length, class_label, target_label;
    int64_t dims;          /* V >= 1 */
    int64_t series_length; /* @seriesLength, 0 when absent */
    int nlabels;           /* class_label: the header's labels, sorted; label id i is labels[i] */
    char (*labels)[CF_TS_NAME_MAX];
    int64_t cases;
    int64_t *len;   /* [cases * dims]: points of series (case i, dim d) at i * dims + d, each >= 1 */
    int64_t *off;   /* [cases * dims]: where that series starts in values */
    double *values; /* every series' points one after another; NaN where the file has '?' */
    int64_t *label; /* [cases] label ids (class_label), else NULL */
    double *target; /* [cases] regression targets (target_label), else NULL */
    int64_t max_len; /* the longest series */
    int64_t missing_count; /* '?' values read */
} cf_ts_set;

/* Reads and checks a whole .ts file. */
cf_ts_set *cf_ts_read(const char *path);
/* The same from text in memory; `what` names it in messages (as a path would). */
cf_ts_set *cf_ts_parse(const char *text, size_t n, const char *what);
void cf_ts_free(cf_ts_set *s); /* NULL is fine */

/* Writes s as a .ts file (atomically: an existing file is replaced only by a complete one). Values are
 * printed with 9 significant digits (exact for float32), NaN as '?'; timestamps are not written. */
cf_status cf_ts_write(const char *path, const cf_ts_set *s);

/* What a series shorter than the dense length is filled with (a recipe's data.padding). */
typedef enum cf_ts_pad {
    CF_TS_PAD_ZERO,   /* zeros after the last point (ShapeFormer's loader) */
    CF_TS_PAD_EDGE,   /* the last point repeated */
    CF_TS_PAD_REFUSE, /* every series must have exactly the dense length */
} cf_ts_pad;
/* What a missing value becomes (a recipe's data.missing). */
typedef enum cf_ts_missing {
    CF_TS_MISSING_NOISE,  /* U(0, 1e-3), as ShapeFormer's loader */
    CF_TS_MISSING_ZERO,
    CF_TS_MISSING_REFUSE, /* a file with '?' is an error */
} cf_ts_missing;
bool cf_ts_pad_parse(const char *s, cf_ts_pad *out);         /* "zero", "edge", "refuse" */
bool cf_ts_missing_parse(const char *s, cf_ts_missing *out); /* "noise", "zero", "refuse" */

/* out [cases, dims, T] (float32) from s: each series copied, then padded to T by `pad`; '?' replaced by
 * `missing` (noise drawn from `seed`, deterministic). A series longer than T is an error naming the case
 * (nothing is truncated silently). */
cf_status cf_ts_dense(const cf_ts_set *s, int64_t T, cf_ts_pad pad, cf_ts_missing missing, uint64_t seed,
                      float *out);

/* An empty set to fill by hand before cf_ts_write (generators): cases x dims series of `length` points each
 * (equal length), values zeroed, labels copied (nlabels > 0: a classification set; they must be distinct).
 * label[] and values are the caller's to fill. */
cf_ts_set *cf_ts_new_equal(const char *problem, int64_t cases, int64_t dims, int64_t length, int nlabels,
                           const char *const *labels);

#endif
