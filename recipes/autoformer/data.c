/* The `series_csv` dataset for recipes: the data.* keys of an ETT-layout CSV and its forecasting windows
 * (data/series/csv_dataset.h); data.generate writes the synthetic series (synth.c) when the file is missing. */
#include "data/series/csv_dataset.h"
#include "recipes/autoformer/model.h"
#include "recipes/run/limits.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* reads the data.* keys into s (strings stay valid until the recipe is freed) */
static void spec_keys(cf_recipe *r, cf_series_spec *s)
{
    *s = cf_series_spec_defaults();
    s->date_col = cf_recipe_str(r, "data.date_column", s->date_col);
    s->target = cf_recipe_str(r, "data.target", s->target);
    s->freq = cf_recipe_str(r, "data.freq", s->freq);
    cf_recipe_str_list(r, "data.columns", s->columns, CF_SERIES_MAX_COLUMNS - 1);
    const char *f = cf_recipe_str(r, "data.features", "M"), *sp = cf_recipe_str(r, "data.split", "ratio"),
               *nan = cf_recipe_str(r, "data.nan", "refuse");
    if (f && !cf_series_features_parse(f, &s->features))
        cf_recipe_fail(r, "data.features", CF_ERR_ARG, "unknown value '%s' (choose from M, S, MS)", f);
    if (sp && !cf_series_split_parse(sp, &s->split))
        cf_recipe_fail(r, "data.split", CF_ERR_ARG, "unknown value '%s' (choose from ratio, ett_h, ett_m)", sp);
    if (nan && !cf_nan_policy_parse(nan, &s->nan))
        cf_recipe_fail(r, "data.nan", CF_ERR_ARG, "unknown value '%s' (choose from refuse, ffill, linear)", nan);
    if (s->freq && cf_time_features(s->freq) < 0)
        cf_recipe_fail(r, "data.freq", CF_ERR_ARG, "unknown value '%s' (choose from t, h, d)", s->freq);
    s->seq_len = cf_recipe_int_in(r, "data.seq_len", s->seq_len, 1, CF_MAX_SEQ);
    s->label_len = cf_recipe_int_in(r, "data.label_len", s->label_len, 0, s->seq_len);
    s->pred_len = cf_recipe_int_in(r, "data.pred_len", s->pred_len, 1, CF_MAX_SEQ);
}

cf_dataset *cf_series_csv_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048];
    const char *path = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), pbuf, sizeof pbuf);
    cf_series_spec s;
    spec_keys(r, &s);
    int64_t rows = cf_recipe_int_in(r, "data.generate.rows", 8000, 2, CF_MAX_COUNT);
    int64_t seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    bool generate = cf_recipe_has(r, "data.generate");
    if (cf_recipe_status(r) != CF_OK) return NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (!generate) {
            cf_recipe_fail(r, "data.path", CF_ERR_IO, "%s: %s (give data.generate to write the synthetic series, or "
                           "run `cformer data series --out %s`)", path, strerror(errno), path);
            return NULL;
        }
        if (cf_series_synth_write(path, rows, (uint64_t)seed) != CF_OK) {
            cf_recipe_fail(r, "data.generate", cf_last_status(), "%s", cf_last_error());
            return NULL;
        }
    }
    return cf_series_dataset_open(path, &s, split);
}
