/* `data.type: spikes`: the data.* keys, the simulate-when-missing fallback, the split datasets with
 * behaviour standardised on the training ranges, and the few-shot subset (data.train_fraction). */
#include "autograd/fileio.h"
#include "data/spikes/simulate_spikes.h"
#include "recipes/neuroformer/model.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const sim_keys[] = {"data.simulate.neurons",      "data.simulate.hubs",       "data.simulate.seconds",
                                       "data.simulate.seed",         "data.simulate.stimulus",   "data.simulate.trial_s",
                                       "data.simulate.base_rate_hz", "data.simulate.hub_rate_hz", "data.simulate.hub_weight",
                                       "data.simulate.edge_prob",    "data.simulate.movie",      "data.simulate.movie_gain",
                                       "data.simulate.movie_lag"};

/* Reads the data.simulate.* keys (only when one is present, so recipes without them do not list them) and
 * simulates the file when it is missing. */
static cf_status maybe_simulate(cf_recipe *r, cf_spike_source *src)
{
    bool any = false;
    for (size_t i = 0; i < sizeof sim_keys / sizeof sim_keys[0]; i++) any |= cf_recipe_has(r, sim_keys[i]);
    if (!any) return CF_OK;
    cf_sim_config c = cf_sim_defaults();
    /* the ranges of cf_sim_check (data/spikes/simulate_spikes.h) where they do not depend on other keys */
    c.n_neurons = (int)cf_recipe_int_in(r, "data.simulate.neurons", c.n_neurons, 1, 4096);
    c.n_hubs = (int)cf_recipe_int_in(r, "data.simulate.hubs", c.n_hubs, 0, 4096); /* at most the neurons */
    c.seconds = cf_recipe_float_in(r, "data.simulate.seconds", c.seconds, 0, 1e9, CF_RANGE_OPEN_LO);
    c.seed = (uint64_t)cf_recipe_int_in(r, "data.simulate.seed", 0, 0, CF_MAX_SEED);
    c.stim_gain = cf_recipe_float_in(r, "data.simulate.stimulus", 0.0, -INFINITY, INFINITY, CF_RANGE_OPEN);
    c.trial_s = cf_recipe_float_in(r, "data.simulate.trial_s", 0.0, 0, INFINITY, CF_RANGE_OPEN_HI);
    c.base_rate_hz = cf_recipe_float_in(r, "data.simulate.base_rate_hz", c.base_rate_hz, 0, INFINITY, CF_RANGE_OPEN);
    c.hub_rate_hz = cf_recipe_float_in(r, "data.simulate.hub_rate_hz", c.hub_rate_hz, 0, INFINITY, CF_RANGE_OPEN);
    c.hub_weight = cf_recipe_float_in(r, "data.simulate.hub_weight", c.hub_weight, -INFINITY, INFINITY, CF_RANGE_OPEN);
    c.edge_prob = cf_recipe_float_in(r, "data.simulate.edge_prob", c.edge_prob, 0, 1, CF_RANGE_CLOSED);
    int64_t movie[2] = {0, 0};
    int nm = cf_recipe_int_list_in(r, "data.simulate.movie", movie, 2, movie, 2, 0, 1024);
    c.movie_gain = cf_recipe_float_in(r, "data.simulate.movie_gain", c.movie_gain, -INFINITY, INFINITY, CF_RANGE_OPEN);
    c.movie_lag = cf_recipe_float_in(r, "data.simulate.movie_lag", c.movie_lag, 0, INFINITY, CF_RANGE_OPEN_HI);
    CF_TRY(cf_recipe_status(r));
    if (nm != 2)
        return cf_recipe_fail(r, "data.simulate.movie", CF_ERR_ARG, "expected [height, width] in pixels (e.g. [8, 8])");
    c.movie_h = (int)movie[0], c.movie_w = (int)movie[1];
    if (c.n_hubs > c.n_neurons) c.n_hubs = c.n_neurons;
    if (c.hub_targets > c.n_neurons - 1) c.hub_targets = c.n_neurons - 1;
    if (cf_sim_check(&c) != CF_OK) return cf_recipe_fail(r, "data.simulate.neurons", CF_ERR_ARG, "%s", cf_last_error());
    if (access(src->path, F_OK) == 0) return CF_OK;
    cf_spikes *s = NULL;
    double *w = malloc(sizeof(double) * (size_t)c.n_neurons * (size_t)c.n_neurons);
    cf_status st = w ? cf_mkdirs_for(src->path) : cf_set_error(CF_ERR_OOM, "simulate: out of memory");
    if (st == CF_OK) st = cf_simulate_spikes(&c, &s, w);
    if (st == CF_OK) st = cf_spikes_write_nwb(s, src->path, w, c.n_neurons, &c);
    if (st != CF_OK) cf_error_prefix("data.simulate: ");
    cf_spikes_free(s);
    free(w);
    return st;
}

cf_status cf_spike_source_from_recipe(cf_recipe *r, cf_spike_source *src)
{
    memset(src, 0, sizeof *src);
    const char *raw = cf_recipe_require_str(r, "data.path");
    CF_TRY(cf_recipe_status(r));
    char buf[2048];
    snprintf(src->path, sizeof src->path, "%s", cf_recipe_path(r, "data.path", raw, buf, sizeof buf));
    cf_spike_options *o = &src->opts;
    *o = cf_spike_options_defaults();
    o->path = src->path;
    src->csv = cf_spikes_csv_defaults();
    src->csv.remap_ids = cf_recipe_bool(r, "data.remap_ids", false);
    src->csv.limits.max_units = cf_recipe_int_in(r, "data.max_units", CF_SPIKES_MAX_UNITS, 1, CF_SPIKES_UNITS_CEILING);
    src->csv.limits.max_seconds = cf_recipe_float_in(r, "data.max_seconds", CF_SPIKES_MAX_SECONDS, 0, INFINITY, CF_RANGE_OPEN);
    src->csv.limits.key_prefix = "data.";
    o->csv = &src->csv;
    cf_spike_token_config *t = &o->tokens;
    /* tokens: the ranges of cf_spike_vocab_make (data/spikes/spikes.h); windows are multiples of dt */
    t->dt = cf_recipe_float_in(r, "data.dt", t->dt, 0, INFINITY, CF_RANGE_OPEN);
    t->window_curr = cf_recipe_float_in(r, "data.window.curr", t->window_curr, 0, INFINITY, CF_RANGE_OPEN);
    t->window_prev = cf_recipe_float_in(r, "data.window.prev", t->window_prev, 0, INFINITY, CF_RANGE_OPEN);
    t->block_size = (int)cf_recipe_int_in(r, "data.block_size.id", t->block_size, 2, 1 << 20);
    t->prev_block_size = (int)cf_recipe_int_in(r, "data.block_size.prev_id", t->prev_block_size, 2, 1 << 20);
    t->use_trials = cf_recipe_bool(r, "data.use_trials", t->use_trials);
    t->behavior = cf_recipe_bool(r, "data.behavior", t->behavior);
    o->train_frac = cf_recipe_float_in(r, "data.train_frac", o->train_frac, 0, 1, CF_RANGE_CLOSED);
    o->val_frac = cf_recipe_float_in(r, "data.val_frac", o->val_frac, 0, 1, CF_RANGE_CLOSED);
    /* split blocks of block_s seconds; <= 0: one contiguous split */
    o->block_s = cf_recipe_float_in(r, "data.block_s", o->block_s, -INFINITY, INFINITY, CF_RANGE_OPEN);
    o->split_seed = (uint64_t)cf_recipe_int_in(r, "data.split_seed", 0, 0, CF_MAX_SEED);
    src->train_fraction = cf_recipe_float_in(r, "data.train_fraction", 1.0, 0, 1, CF_RANGE_OPEN_LO);
    src->shuffle_prev = cf_recipe_bool(r, "data.shuffle_prev", false);
    /* the frames: read when the model has frame layers (model.frame_layers: 0 turns them off, data and all) */
    bool frames = cf_recipe_int_in(r, "model.frame_layers", 0, 0, CF_MAX_LAYERS) > 0;
    int frame_count = (int)cf_recipe_int_in(r, "data.frames.count", 20, 1, 100000);
    t->frames_official_offset = cf_recipe_bool(r, "data.frames.official_offset", false);
    const char *fname = cf_recipe_str(r, "data.frames.name", NULL);
    int64_t size[2] = {0, 0};
    int ns = cf_recipe_int_list_in(r, "data.frames.size", size, 2, size, 2, 0, 1 << 16); /* 0: the file's size */
    CF_TRY(cf_recipe_status(r));
    if (ns != 2)
        return cf_recipe_fail(r, "data.frames.size", CF_ERR_ARG, "expected [height, width] in pixels");
    t->frames = frames ? frame_count : 0;
    src->frame_size[0] = (int)size[0], src->frame_size[1] = (int)size[1];
    snprintf(src->frames_name, sizeof src->frames_name, "%s", fname ? fname : "");
    o->frames_name = src->frames_name[0] ? src->frames_name : NULL;
    cf_spike_vocab v;
    if (cf_spike_vocab_make(1, t, &v) != CF_OK) return cf_recipe_fail(r, "data.window.curr", CF_ERR_ARG, "%s", cf_last_error());
    return CF_OK;
}

/* ---- a subset of another dataset (few-shot fine-tuning) ---- */
typedef struct {
    cf_dataset base;
    cf_dataset *inner;
    int64_t *index;
} subset_ds;

static cf_status subset_get(cf_dataset *ds, int64_t i, cf_batch *b, int row)
{
    subset_ds *d = (subset_ds *)ds;
    return d->inner->vt->get(d->inner, d->index[i], b, row);
}

static cf_status subset_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    subset_ds *d = (subset_ds *)ds;
    CF_TRY(d->inner->vt->make_batch(d->inner, rows, b));
    b->owner = ds;
    return CF_OK;
}

static void subset_free(cf_dataset *ds)
{
    subset_ds *d = (subset_ds *)ds;
    cf_dataset_free(d->inner);
    free(d->index);
    free(d);
}

static const cf_dataset_vtable subset_vt = {"spikes-subset", subset_get, subset_make_batch, subset_free};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* round(fraction * len) windows (at least 1) drawn without replacement by a seeded Fisher-Yates, kept in time order. */
static cf_dataset *subset(cf_dataset *inner, double fraction, uint64_t seed)
{
    int64_t n = (int64_t)llround(fraction * (double)inner->len);
    if (n < 1) n = 1;
    if (n >= inner->len) return inner;
    subset_ds *d = calloc(1, sizeof *d);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)inner->len);
    if (!d || !perm) {
        free(d);
        free(perm);
        cf_dataset_free(inner);
        cf_set_error(CF_ERR_OOM, "spikes: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < inner->len; i++) perm[i] = i;
    cf_philox_key key = cf_rng_key(seed, 0x5ab5e7);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i + (int64_t)(cf_rng_uniform(key, 0, (uint64_t)i) * (double)(inner->len - i));
        if (j >= inner->len) j = inner->len - 1;
        int64_t tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    qsort(perm, (size_t)n, sizeof *perm, cmp_i64);
    d->base.vt = &subset_vt;
    d->base.len = n;
    d->inner = inner;
    d->index = perm;
    d->base.info = inner->info;
    snprintf(d->base.name, sizeof d->base.name, "%.200s (%lld windows)", inner->name, (long long)n);
    return &d->base;
}

/* Mean and standard deviation of each behaviour variable over its samples inside the ranges. */
static void behavior_stats(const cf_spikes *s, const cf_time_ranges *r, double *mean, double *sd)
{
    for (int j = 0; j < s->beh_dim; j++) {
        double sum = 0, sq = 0, n = 0;
        for (int64_t i = 0; i < s->beh_len; i++) {
            bool in = false;
            for (int k = 0; k < r->n && !in; k++) in = s->beh_t[i] >= r->from[k] && s->beh_t[i] < r->to[k];
            if (!in) continue;
            double v = s->beh[i * s->beh_dim + j];
            sum += v, sq += v * v, n += 1;
        }
        mean[j] = n > 0 ? sum / n : 0;
        double var = n > 1 ? (sq - sum * sum / n) / (n - 1) : 0;
        sd[j] = var > 1e-12 ? sqrt(var) : 1.0;
    }
}

cf_status cf_spike_source_frames(const cf_spike_source *src, cf_spikes *s)
{
    if (src->opts.tokens.frames <= 0) return CF_OK;
    if (cf_spikes_load_frames(s, src->path, src->opts.frames_name) != CF_OK) {
        cf_error_prefix("model.frame_layers asks for the stimulus frames: ");
        return cf_last_status();
    }
    const cf_frames *f = s->frames;
    if (src->frame_size[0] > 0 && src->frame_size[1] > 0 && (f->h != src->frame_size[0] || f->w != src->frame_size[1]))
        return cf_set_error(CF_ERR_ARG, "%s: the frames '%s' are %d x %d pixels, data.frames.size says %d x %d", src->path,
                            f->name, f->h, f->w, src->frame_size[0], src->frame_size[1]);
    return CF_OK;
}

cf_dataset *cf_spike_source_open(const cf_spike_source *src, const char *split, bool use_subset)
{
    int which = strcmp(split, "train") == 0 ? 0 : strcmp(split, "val") == 0 ? 1 : strcmp(split, "test") == 0 ? 2 : -1;
    if (which < 0) {
        cf_set_error(CF_ERR_ARG, "%s: split '%s' (spike datasets have train, val and test)", src->path, split);
        return NULL;
    }
    cf_spikes *s = cf_spikes_load(src->path, src->opts.csv);
    if (!s) return NULL;
    if (cf_spike_source_frames(src, s) != CF_OK) {
        cf_spikes_free(s);
        return NULL;
    }
    cf_time_ranges r[3];
    cf_dataset *ds = NULL;
    const cf_spike_options *o = &src->opts;
    if (cf_spikes_split_blocks(s, o->train_frac, o->val_frac, o->block_s, o->split_seed, &r[0], &r[1], &r[2]) == CF_OK) {
        cf_spike_token_config t = o->tokens;
        double *stats = s->beh_dim > 0 ? malloc(sizeof(double) * 2 * (size_t)s->beh_dim) : NULL;
        if (stats) {
            behavior_stats(s, &r[0], stats, stats + s->beh_dim);
            t.behavior_mean = stats, t.behavior_std = stats + s->beh_dim;
        }
        ds = cf_spike_dataset_open_ranges(s, &t, &r[which], NULL);
        if (ds) {
            snprintf(ds->name, sizeof ds->name, "spikes %.200s [%s]", src->path, split);
            /* the dataset keeps the recording for the evaluation (rates, trial averages, ground truth); the
             * movie's clips are copied already */
            cf_frames_free(s->frames);
            s->frames = NULL;
            cf_spike_dataset_keep_recording(ds, s);
            s = NULL;
        } else {
            cf_error_prefix("%s [%s]: ", src->path, split);
        }
        free(stats);
        for (int k = 0; k < 3; k++) cf_time_ranges_free(&r[k]);
    } else {
        cf_error_prefix("%s: ", src->path);
    }
    cf_spikes_free(s);
    if (ds && use_subset && which == 0 && src->train_fraction < 1) ds = subset(ds, src->train_fraction, o->split_seed);
    return ds;
}

cf_dataset *cf_spike_source_full(cf_dataset *ds) { return ds && ds->vt == &subset_vt ? ((subset_ds *)ds)->inner : ds; }

cf_dataset *cf_spikes_factory(void *rl, const char *split)
{
    cf_spike_source src;
    if (cf_spike_source_from_recipe(rl, &src) != CF_OK || maybe_simulate(rl, &src) != CF_OK) return NULL;
    return cf_spike_source_open(&src, split, true);
}
