/* `model.type: neuroformer` and `data.type: spikes` from a recipe: the spike data source (with the
 * simulate-when-missing fallback and the stimulus frames), the model as the trainer sees it, its evaluation (next-token CE against
 * the unigram baseline, window F1 against a rate-matched Poisson baseline, PSTH correlation, behaviour
 * decoding, connectivity recovery from the history attention) and generation over a split.
 *
 * ---- data keys (data.type: spikes) ----
 *   data.path              spike file (NWB-style HDF5, counts HDF5 or CSV; cf_spikes_load) or a directory in
 *                          the official Visnav .npy layout (cf_spikes_read_visnav: spikerates_dt_<dt>.npy,
 *                          <name>_dt_<dt>.npy behaviour, stimulus.npy frames at 20 Hz, sel*.csv); relative to
 *                          the recipe file's folder
 *   data.simulate.*        when present and data.path does not exist, the file is SIMULATED there first
 *                          (cf_simulate_spikes + cf_spikes_write_nwb: deterministic in the seed, atomic, the
 *                          ground-truth weights stored in /simulation): neurons (40), hubs (3), seconds (1000),
 *                          seed (0), stimulus (shared-stimulus gain, 0 = none), trial_s (0), base_rate_hz (5),
 *                          hub_rate_hz (15), hub_weight (2.5), edge_prob (0.03), movie ([h, w] in pixels: a
 *                          movie-driven circuit, see data/spikes/simulate_spikes.h; [0, 0] = none), movie_gain (2),
 *                          movie_lag (0.05). An existing file is used as is: delete it to simulate again.
 *   data.max_units (100000), data.max_seconds (1e6 = 11.6 days)   bounds on the data: a file with more units
 *                          (a CSV: a unit id at or above it) or a longer recording span is refused, naming the
 *                          row (one outlier row would otherwise make gigabytes of bins or vocabulary)
 *   data.remap_ids (false)  a CSV's unit ids are labels: the distinct ids are numbered 0, 1, ... in order
 *   data.dt (0.01), data.window.curr (0.05), data.window.prev (0.10), data.block_size.id (32),
 *   data.block_size.prev_id (64), data.use_trials (true), data.behavior (true)   tokenization (Neuroformer's)
 *   data.train_frac (0.8), data.val_frac (0.1), data.block_s (0), data.split_seed (0)   time-block splits
 *   data.train_fraction (1)  use this fraction of the training windows (few-shot fine-tuning), drawn by
 *                          data.split_seed
 *   data.shuffle_prev (false) cformer's connectivity ablation: every window's previous-window unit IDs are relabelled
 *                          by a random permutation of the units (fixed per window), in training, evaluation
 *                          and generation, so the model never learns who fired in the past
 *   data.frames.count (20)  frames per window's clip (official: 20 = 1 s at 20 Hz), read only when
 *                          model.frame_layers > 0 (so model.frame_layers: 0 is the ablation without frames)
 *   data.frames.official_offset (false)  the official clip, shifted by window.curr (its last frame lies past
 *                          the window); by default the clip ends at the window's end. Frames before the
 *                          recording (or outside the window's trial) are blank: zeros.
 *   data.frames.name       the ImageSeries under /stimulus/presentation (absent: the only one; the counts
 *                          format's /frames); a series the recipe names that the file lacks is an error
 *   data.frames.size       [h, w]: the frames must have this size (absent: whatever the file has)
 * Behaviour variables are standardised with the mean and standard deviation of their samples inside the
 * training time ranges.
 *
 * ---- model keys (model.type: neuroformer) ----
 *   model.dim (64), model.heads (4), model.state_layers (1), model.hist_layers (1), model.beh_layers (1),
 *   model.final_layers (1), model.dropout (0.1), model.init_std (0.02)
 *   model.frame_layers (0)  L_stim: frame self-attention and stimulus cross-attention blocks over the Conv3d
 *                          frame tokens (0: no frames); the clip's size comes from the data
 *   model.frame_kernel ([3, 5, 5])  the Conv3d kernel [frames, height, width]
 *   model.frame_stride (= the kernel)  only a stride equal to the kernel is supported (non-overlapping
 *                          patches); another one is an error naming this key
 *   model.predict          name of a behaviour variable to regress (absent: none)
 *   model.behavior_inputs  (true) the other behaviour variables are inputs (cross-attention tokens)
 *   model.contrastive (true), model.clip_temp (0.5), model.clip_symmetric (true), model.clip_separate (false):
 *                          the (id, behaviour) and (id, frames) pairs, averaged
 *   model.loss_id (0.6), model.loss_dt (0.4), model.loss_contrastive (0.25), model.loss_behavior (1)
 * ---- evaluation keys (eval.*) ----
 *   eval.split ("test"), eval.rows (64: windows generated together), eval.temperature (1), eval.top_k (0),
 *   eval.top_p (1), eval.seed (0), eval.free_seconds (10: own-past generation length), eval.max_windows
 *   (0: all), eval.xcorr_lag (5 bins), eval.psth_bin (0.5 s)
 *   eval.ablation_checkpoint  a checkpoint of the same model trained with data.shuffle_prev: true (the
 *                          connectivity ablation); its connectivity AUC is reported as conn_auc_shuffled
 * The neuron count and the dt vocabulary come from the data (the file is read when the model is built). */
#ifndef CF_MODEL_NEUROFORMER_H
#define CF_MODEL_NEUROFORMER_H

#include "data/spikes/spikes.h"
#include "layers/neuroformer.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_neuroformer_model;

/* The `spikes` dataset factory (recipe_like is a cf_recipe *): reads the data.* keys, simulates the file when
 * it is missing and data.simulate.* is given, and opens the split (its info: units, behaviour names, frames). */
cf_dataset *cf_spikes_factory(void *recipe_like, const char *split);
/* The whole training split behind a few-shot subset (data.train_fraction < 1); ds itself otherwise. */
cf_dataset *cf_spike_source_full(cf_dataset *ds);

/* The data.* keys resolved: the options for cf_spike_factory (path points into this struct) and the split
 * settings. Simulates the file first when data.path is missing and data.simulate.* keys are given. */
typedef struct cf_spike_source {
    char path[2048];
    cf_spike_options opts;
    cf_spikes_csv_options csv; /* opts.csv points here: data.remap_ids and the bounds data.max_units, data.max_seconds */
    double train_fraction;
    bool shuffle_prev; /* the ablation: past-window unit IDs relabelled by a random permutation per window */
    char frames_name[128]; /* data.frames.name ("": the only movie in the file) */
    int frame_size[2];     /* data.frames.size (0 x 0: whatever the file has) */
} cf_spike_source;
cf_status cf_spike_source_from_recipe(cf_recipe *r, cf_spike_source *src);
/* When the recipe uses frames (opts.tokens.frames > 0): reads them from the file into s and checks them
 * against data.frames.size; the error says that model.frame_layers asked for them. */
cf_status cf_spike_source_frames(const cf_spike_source *src, cf_spikes *s);
/* Opens one split ("train", "val", "test") as a spike dataset, behaviour standardised on the training
 * ranges; with subset, the train split is cut to data.train_fraction. */
cf_dataset *cf_spike_source_open(const cf_spike_source *src, const char *split, bool subset);

/* The cf_neuroformer inside a model made by cf_neuroformer_model.create; NULL for other models. */
cf_neuroformer *cf_neuroformer_of(cf_model *m);

/* Generation over a split's windows in time order (window by window, as the official code). */
typedef struct cf_nf_gen_options {
    cf_nf_sample_opts sample;
    bool true_past;    /* condition every window on the true previous window (windows are then batched) */
    double seconds;    /* generate the first `seconds` of the split (<= 0: all of it) */
    int64_t batch;     /* rows per batch with true_past */
} cf_nf_gen_options;

typedef struct cf_nf_generation {
    int64_t windows;
    double *t_end;                      /* [windows] */
    int64_t *gen_off, *true_off;        /* [windows + 1]: window w's spikes are [off[w], off[w+1]) */
    int32_t *gen_unit, *true_unit;      /* units in token order */
    double *gen_time, *true_time;       /* seconds */
    double t_from, t_to;                /* the span covered (first window start, last window end) */
} cf_nf_generation;

/* Generates over ds (a spike dataset of the model's recipe). Without true_past a window's previous window
 * is rebuilt from the model's own spikes where they exist (true spikes before the first generated window
 * of each contiguous run). The true spikes of each window are those of its tokens (at most T - 2). */
cf_status cf_neuroformer_generate_split(cf_model *m, cf_ctx *ctx, cf_dataset *ds, const cf_nf_gen_options *o,
                                        cf_nf_generation *out);
void cf_nf_generation_free(cf_nf_generation *g);
/* The generated (or, with truth, the true) spikes as a cf_spikes over [t_from, t_to). */
cf_spikes *cf_nf_generation_spikes(const cf_nf_generation *g, int n_units, bool truth);

/* The model's evaluation (the vtable's evaluate); exposed for the demo and tests. */
cf_status cf_neuroformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

/* `cformer data spikes` (simulate_cmd.c) and `cformer demo` (demo.c): argv[0] is the command's name. */
int cf_neuroformer_simulate_cmd(int argc, char **argv);
int cf_neuroformer_demo(int argc, char **argv);

/* `cformer generate` for a Neuroformer recipe (the vtable's generate; generate.c). */
int cf_neuroformer_generate_cmd(struct cf_run *run, int argc, char **argv);
#define CF_NEUROFORMER_GENERATE_USAGE \
    "  -o GEN.h5 [--seconds S] [--true-past] [--split test|val|train] [--temperature T] [--top-k K] [--top-p P]\n" \
    "  [--seed S] [--batch B] [--no-cache]\n" \
    "Generates the spikes of the split's windows in time order (default: the first 10 s of the test split), token by\n" \
    "token with the KV cache. Each window is conditioned on the model's OWN previous window (true spikes only before\n" \
    "the first generated window), or on the true one with --true-past. Spike time = window start + dt class x dt. A\n" \
    "model with frame layers sees each window's frame clip. Writes the generated spikes (NWB-style:\n" \
    "/units/spike_times) and prints the window F1 against the true spikes. --no-cache recomputes the prefix at every\n" \
    "token (the reference).\n"

#endif
