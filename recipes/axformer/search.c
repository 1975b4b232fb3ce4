/* `cformer run axformer-search`: AxFormer's approximation search (Nagarajan et al., arXiv 2010.03688, Sec.
 * "accuracy-driven pruning" and "selective hard attention") on a fine-tuned checkpoint:
 *   for each granularity (layers, then attention/FFN blocks, then heads):
 *     L* = validation loss; score every surviving element e by the validation loss without it (L_e); try them
 *     in ascending L_e (most harmful first) and keep a removal when, re-evaluated on the current model, the
 *     validation loss stays <= L* + model.search.tolerance and the validation accuracy does not drop (then L* and
 *     the accuracy move to the new values); re-fine-tune for model.search.refit_steps when something was removed;
 *   then, layer by layer, switch on top-k attention (k = model.search.hard_k) and keep it under the same rule.
 * Decisions use the validation split only; the test split is scored after each step for the report. Writes
 * OUT/search.json (rewritten after every step) and OUT/pruned.h5 (a checkpoint `cformer eval` scores). */
#include "recipes/axformer/model.h"

#include "autograd/fileio.h"
#include "autograd/json.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 1024

typedef struct {
    char what[48];  /* "layer 5", "ffn 3", "head 2.1", "hard 4 k=4", "refit", "unpruned" */
    char stage[16];
    cf_axf_score val, test;
    double test_seconds; /* best of timing_reps passes */
} step_rec;

typedef struct {
    cf_run run;
    cf_dataset *test;
    cf_axformer *enc;
    const cf_axf_search_config *cfg;
    const char *out, *recipe;
    int n_sets;
    const char *const *sets;
    step_rec steps[MAX_STEPS];
    int n;
    cf_axf_score cur;               /* the current model on val */
    double ms_unpruned, ms_pruned; /* back-to-back timing at the end (0 until then) */
} search;

static cf_status score(search *s, cf_dataset *ds, cf_axf_score *out)
{
    return cf_axf_score_split(s->run.model, s->run.ctx, ds, s->run.eval_batch_size, out);
}

static const char *switch_name(cf_axf_switch w)
{
    static const char *names[] = {"layer", "attn", "ffn", "head", "hard"};
    return names[w];
}

static cf_status write_json(search *s)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/search.json", s->out);
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    cf_json_key(&j, "removal_order"), cf_json_array(&j);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->steps[i].stage, "refit") != 0 && strcmp(s->steps[i].stage, "start") != 0)
            cf_json_string(&j, s->steps[i].what);
    cf_json_end(&j);
    cf_json_key(&j, "steps"), cf_json_array(&j);
    for (int i = 0; i < s->n; i++) {
        const step_rec *r = &s->steps[i];
        cf_json_object(&j);
        cf_json_kv_string(&j, "stage", r->stage);
        cf_json_kv_string(&j, "element", r->what);
        cf_json_kv_number(&j, "val_loss", r->val.loss);
        cf_json_kv_number(&j, "val_accuracy", r->val.accuracy);
        cf_json_kv_number(&j, "test_accuracy", r->test.accuracy);
        cf_json_kv_number(&j, "flops_per_example", r->test.flops_per_example);
        cf_json_kv_number(&j, "ms_per_example", 1e3 * r->test_seconds / (double)r->test.examples);
        cf_json_end(&j);
    }
    cf_json_end(&j);
    const step_rec *a = &s->steps[0], *z = &s->steps[s->n - 1];
    cf_json_kv_number(&j, "unpruned_test_accuracy", a->test.accuracy);
    cf_json_kv_number(&j, "pruned_test_accuracy", z->test.accuracy);
    cf_json_kv_number(&j, "flops_ratio", a->test.flops_per_example / z->test.flops_per_example);
    if (s->ms_pruned > 0) { /* measured back to back in this process, so the two are comparable */
        cf_json_kv_number(&j, "ms_per_example_unpruned", s->ms_unpruned);
        cf_json_kv_number(&j, "ms_per_example_pruned", s->ms_pruned);
        cf_json_kv_number(&j, "wallclock_ratio", s->ms_unpruned / s->ms_pruned);
    }
    cf_json_key(&j, "hard_layers"), cf_json_array(&j);
    for (int64_t l = 0; l < s->enc->cfg.layers; l++)
        if (cf_axf_get(s->enc, CF_AXF_LAYER, l, 0) != 0 && cf_axf_get(s->enc, CF_AXF_ATTN, l, 0) != 0 &&
            cf_axf_get(s->enc, CF_AXF_HARD, l, 0) > 0)
            cf_json_int(&j, l);
    cf_json_end(&j);
    cf_json_end(&j);
    return cf_json_commit(&j);
}

/* Scores the current model on val and test, appends a step, rewrites search.json. */
static cf_status record(search *s, const char *stage, const char *what)
{
    if (s->n == MAX_STEPS) return cf_set_error(CF_ERR_ARG, "axformer search: more than %d steps", MAX_STEPS);
    step_rec *r = &s->steps[s->n];
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    snprintf(r->what, sizeof r->what, "%s", what);
    CF_TRY(score(s, s->run.val_set, &r->val));
    r->test_seconds = INFINITY;
    for (int64_t i = 0; i < s->cfg->timing_reps; i++) {
        CF_TRY(score(s, s->test, &r->test));
        if (r->test.seconds < r->test_seconds) r->test_seconds = r->test.seconds;
    }
    s->cur = r->val;
    s->n++;
    printf("%-8s %-12s val loss %.4f acc %.4f | test acc %.4f | %.3g FLOPs/example, %.3f ms/example\n", stage, what,
           r->val.loss, r->val.accuracy, r->test.accuracy, r->test.flops_per_example,
           1e3 * r->test_seconds / (double)r->test.examples);
    fflush(stdout);
    return write_json(s);
}

static bool acceptable(const search *s, const cf_axf_score *v, const cf_axf_score *ref)
{
    return v->loss <= ref->loss + s->cfg->tolerance && v->accuracy >= ref->accuracy;
}

typedef struct {
    cf_axf_switch w;
    int64_t l, h;
    double loss;
} cand;

static int by_loss(const void *a, const void *b)
{
    double x = ((const cand *)a)->loss, y = ((const cand *)b)->loss;
    return x < y ? -1 : x > y;
}

/* The surviving elements of one granularity. */
static int candidates(const cf_axformer *e, int stage, cand *c)
{
    int n = 0;
    for (int64_t l = 0; l < e->cfg.layers; l++) {
        if (cf_axf_get(e, CF_AXF_LAYER, l, 0) == 0) continue;
        if (stage == 0) c[n++] = (cand){CF_AXF_LAYER, l, 0, 0};
        if (stage == 1)
            for (cf_axf_switch w = CF_AXF_ATTN; w <= CF_AXF_FFN; w++)
                if (cf_axf_get(e, w, l, 0) != 0) c[n++] = (cand){w, l, 0, 0};
        if (stage == 2 && cf_axf_get(e, CF_AXF_ATTN, l, 0) != 0)
            for (int64_t h = 0; h < e->cfg.heads; h++)
                if (cf_axf_get(e, CF_AXF_HEAD, l, h) != 0) c[n++] = (cand){CF_AXF_HEAD, l, h, 0};
    }
    return n;
}

static void name_of(const cand *c, char *buf, size_t n)
{
    if (c->w == CF_AXF_HEAD) snprintf(buf, n, "head %lld.%lld", (long long)c->l, (long long)c->h);
    else snprintf(buf, n, "%s %lld", switch_name(c->w), (long long)c->l);
}

/* Re-fine-tunes the current model for refit_steps with the recipe's training setup (a fresh `cformer train`
 * run in OUT/refit-<stage> started from the current weights and switches), then loads its result. */
static cf_status refit(search *s, const char *stage)
{
    if (s->cfg->refit_steps == 0) return CF_OK;
    char dir[2048], init[2200], last[2300];
    snprintf(dir, sizeof dir, "%s/refit-%s", s->out, stage);
    snprintf(init, sizeof init, "%s/start.h5", s->out);
    char *text = cf_run_recipe_text(&s->run);
    cf_status st = cf_checkpoint_save(init, s->run.params, 0, NULL, NULL, text);
    free(text);
    CF_TRY(st);
    cf_run_options o = {.recipe_path = s->recipe, .n_sets = s->n_sets, .sets = s->sets, .run_dir = dir,
                        .overwrite = true, .init_from = init, .steps = s->cfg->refit_steps, .quiet = true};
    CF_TRY(cf_train(&o));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/checkpoints");
    CF_TRY(cf_checkpoint_latest(dir, last, sizeof last, NULL));
    if (!last[0]) return cf_set_error(CF_ERR_IO, "axformer search: the refit in %s left no checkpoint", dir);
    CF_TRY(cf_checkpoint_init_from(last, s->run.params, NULL, 0));
    remove(init);
    return record(s, "refit", stage);
}

static cf_status prune_stage(search *s, int stage)
{
    static const char *stages[] = {"layers", "blocks", "heads"};
    int cap = (int)(s->enc->cfg.layers * (s->enc->cfg.heads + 2)), n;
    cand *c = malloc((size_t)cap * sizeof *c);
    if (!c) return cf_set_error(CF_ERR_OOM, "axformer search: out of memory");
    n = candidates(s->enc, stage, c);
    cf_status st = CF_OK;
    for (int i = 0; i < n && st == CF_OK; i++) { /* significance: the validation loss without e */
        cf_axf_score v;
        st = cf_axf_set(s->enc, c[i].w, c[i].l, c[i].h, 0);
        if (st == CF_OK) st = score(s, s->run.val_set, &v);
        if (st == CF_OK) st = cf_axf_set(s->enc, c[i].w, c[i].l, c[i].h, 1);
        c[i].loss = v.loss;
    }
    qsort(c, (size_t)n, sizeof *c, by_loss);
    int removed = 0;
    for (int i = 0; i < n && st == CF_OK; i++) {
        cf_axf_score v, ref = s->cur;
        st = cf_axf_set(s->enc, c[i].w, c[i].l, c[i].h, 0);
        if (st == CF_OK) st = score(s, s->run.val_set, &v);
        if (st != CF_OK) break;
        if (!acceptable(s, &v, &ref)) {
            st = cf_axf_set(s->enc, c[i].w, c[i].l, c[i].h, 1);
            continue;
        }
        char what[48];
        name_of(&c[i], what, sizeof what);
        st = record(s, stages[stage], what);
        removed++;
    }
    free(c);
    if (st == CF_OK && removed) st = refit(s, stages[stage]);
    return st;
}

static cf_status hard_stage(search *s)
{
    int64_t k = s->cfg->hard_k;
    if (k == 0) return CF_OK;
    int accepted = 0;
    for (int64_t l = 0; l < s->enc->cfg.layers; l++) {
        if (cf_axf_get(s->enc, CF_AXF_LAYER, l, 0) == 0 || cf_axf_get(s->enc, CF_AXF_ATTN, l, 0) == 0) continue;
        cf_axf_score v, ref = s->cur;
        CF_TRY(cf_axf_set(s->enc, CF_AXF_HARD, l, 0, (double)k));
        CF_TRY(score(s, s->run.val_set, &v));
        if (!acceptable(s, &v, &ref)) {
            CF_TRY(cf_axf_set(s->enc, CF_AXF_HARD, l, 0, 0));
            continue;
        }
        char what[48];
        snprintf(what, sizeof what, "hard %lld k=%lld", (long long)l, (long long)k);
        CF_TRY(record(s, "hard", what));
        accepted++;
    }
    return accepted ? refit(s, "hard") : CF_OK;
}

/* Every switch of the encoder, in a fixed order: per layer the layer, attention, FFN and hard-k switches, then its
 * heads; v holds layers * (heads + 4) values. put = false reads them into v, put = true writes v back. */
static cf_status switches(cf_axformer *e, double *v, bool put)
{
    static const cf_axf_switch per_layer[4] = {CF_AXF_LAYER, CF_AXF_ATTN, CF_AXF_FFN, CF_AXF_HARD};
    int64_t H = e->cfg.heads;
    for (int64_t l = 0; l < e->cfg.layers; l++)
        for (int64_t i = 0; i < H + 4; i++) {
            cf_axf_switch w = i < 4 ? per_layer[i] : CF_AXF_HEAD;
            int64_t h = i < 4 ? 0 : i - 4;
            double *x = &v[l * (H + 4) + i];
            if (put) CF_TRY(cf_axf_set(e, w, l, h, *x));
            else *x = cf_axf_get(e, w, l, h);
        }
    return CF_OK;
}

/* The wall-clock ratio: the unpruned switches (all kept, no top-k) and the pruned ones timed over the test split
 * alternately in this process, timing_reps passes each, the best of each kept (per-step times taken minutes
 * apart on a shared machine are not comparable). The weights do not change the work, only the switches do. */
static cf_status time_back_to_back(search *s)
{
    size_t n = (size_t)(s->enc->cfg.layers * (s->enc->cfg.heads + 4));
    double *pruned = malloc(n * sizeof *pruned), *full = malloc(n * sizeof *full);
    cf_status st = pruned && full ? switches(s->enc, pruned, false)
                                  : cf_set_error(CF_ERR_OOM, "axformer search: out of memory");
    for (size_t i = 0; st == CF_OK && i < n; i++) /* every mask 1, hard-k (slot 3 of each layer) 0 */
        full[i] = i % (size_t)(s->enc->cfg.heads + 4) == 3 ? 0 : 1;
    double best[2] = {INFINITY, INFINITY};
    for (int64_t r = 0; st == CF_OK && r < 2 * s->cfg->timing_reps; r++) {
        cf_axf_score t;
        st = switches(s->enc, r % 2 ? pruned : full, true);
        if (st == CF_OK) st = score(s, s->test, &t);
        if (st == CF_OK && 1e3 * t.seconds / (double)t.examples < best[r % 2])
            best[r % 2] = 1e3 * t.seconds / (double)t.examples;
    }
    if (pruned && st == CF_OK) st = switches(s->enc, pruned, true);
    free(pruned), free(full);
    CF_TRY(st);
    s->ms_unpruned = best[0], s->ms_pruned = best[1];
    printf("timing   back to back: unpruned %.3f ms/example, pruned %.3f ms/example (%.2fx)\n", best[0], best[1],
           best[0] / best[1]);
    return write_json(s);
}

static cf_status run_search(search *s, const char *ckpt)
{
    char path[2048];
    CF_TRY(cf_checkpoint_init_from(ckpt, s->run.params, NULL, 0));
    CF_TRY(cf_params_check_finite(s->run.params, ckpt));
    s->enc = cf_axf_encoder_of(s->run.model);
    s->cfg = cf_axf_search_of(s->run.model);
    if (!s->enc) return cf_set_error(CF_ERR_ARG, "axformer search: %s: model.type is not axformer", s->recipe);
    s->test = cf_run_open_split(&s->run, "test");
    if (!s->test) return cf_last_status();
    CF_TRY(record(s, "start", "unpruned"));
    for (int stage = 0; stage < 3; stage++) CF_TRY(prune_stage(s, stage));
    CF_TRY(hard_stage(s));
    CF_TRY(time_back_to_back(s));
    snprintf(path, sizeof path, "%s/pruned.h5", s->out);
    char *text = cf_run_recipe_text(&s->run);
    cf_status st = cf_checkpoint_save(path, s->run.params, 0, NULL, NULL, text);
    free(text);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer run axformer-search RECIPE --checkpoint CKPT --out DIR [--set section.key=value]...\n\n"
               "AxFormer's search on a fine-tuned checkpoint: remove layers, then attention/FFN blocks, then heads,\n"
               "greedily by validation loss and accuracy, re-fine-tuning (model.search.refit_steps) after each granularity;\n"
               "then top-k attention (model.search.hard_k) layer by layer. Writes DIR/search.json (removal order, accuracy,\n"
               "counted FLOPs and measured wall-clock after each step) and DIR/pruned.h5.\n\n"
               "  cformer run axformer-search recipes/axformer/search.yaml --checkpoint runs/finetune/checkpoints/step-00000400.h5 --out runs/search\n");
}

static int search_cmd(int argc, char **argv)
{
    const char *recipe = NULL, *ckpt = NULL, *out = NULL, *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        bool val = i + 1 < argc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--checkpoint") == 0 && val) ckpt = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && val) out = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && val && n_sets < 64) sets[n_sets++] = argv[++i];
        else if (argv[i][0] != '-' && !recipe) recipe = argv[i];
        else {
            fprintf(stderr, "cformer run axformer-search: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!recipe || !ckpt || !out) {
        fprintf(stderr, "cformer run axformer-search: needs RECIPE, --checkpoint and --out\n\n");
        usage(stderr);
        return 2;
    }
    search *s = calloc(1, sizeof *s);
    if (!s) return 1;
    s->out = out, s->recipe = recipe, s->n_sets = n_sets, s->sets = sets;
    char evaldir[2048];
    snprintf(evaldir, sizeof evaldir, "%s/scoring", out);
    cf_run_options o = {.recipe_path = recipe, .n_sets = n_sets, .sets = sets, .run_dir = evaldir, .quiet = true};
    cf_status st = cf_mkdirs(out);
    if (st == CF_OK) st = cf_run_open(&s->run, &o, false);
    bool opened = st == CF_OK;
    if (st == CF_OK) st = run_search(s, ckpt);
    if (st != CF_OK) fprintf(stderr, "cformer run axformer-search: %s\n", cf_last_error());
    else printf("wrote %s/search.json and %s/pruned.h5\n", out, out);
    if (s->test) cf_dataset_free(s->test);
    if (opened) cf_run_close(&s->run);
    free(s);
    return st == CF_OK ? 0 : 1;
}

const cf_paper_command cf_axformer_commands[] = {
    {.name = "axformer-search",
     .summary = "AxFormer's pruning + hard-attention search on a fine-tuned checkpoint; writes search.json",
     .usage = "RECIPE --checkpoint CKPT --out DIR [--set key=value]...",
     .run = search_cmd},
    {0},
};
