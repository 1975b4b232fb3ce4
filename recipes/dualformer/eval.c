/* Dualformer evaluation (Su et al., ICLR 2025): for each task, k sampled outputs per decoding mode (slow = forced
 * `create`, fast = forced `plan`, auto = the model's choice), checked against the task's A* plan with
 * data/mazes/maze.h's checker; 1-Solved-k, 1-Optimal-k, 3-Optimal-k, SWC, reasoning steps, plan diversity and
 * auto mode's slow fraction (overall and for short vs long optimal plans), with 95% confidence
 * intervals. The table goes to stdout; write_eval writes the per-mode JSON. */
#include "autograd/clock.h"
#include "autograd/json.h"
#include "recipes/dualformer/model.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const MODE_NAME[3] = {"auto", "slow", "fast"};

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int64_t tasks, S;
    int k;
    int64_t cap;
    cf_maze *mazes;
    int *optimal;
    int64_t *task_ids;
    int64_t *outputs, *lens;
    cf_plan_check *checks, *sub_checks;
    int *sub_optimal;
} eval_buf;

static void buf_free(eval_buf *e)
{
    free(e->mazes);
    free(e->optimal);
    free(e->task_ids);
    free(e->outputs);
    free(e->lens);
    free(e->checks);
    free(e->sub_checks);
    free(e->sub_optimal);
}

/* Mean loss over the evaluated tasks (rows of the filled batch), in chunks of `chunk` rows. */
static cf_status mean_loss(cf_ctx *ctx, const cf_dualformer *sf, const cf_batch *b, int64_t tasks, int64_t chunk,
                           double *out)
{
    cf_tensor *f[4] = {cf_batch_get(b, "src"), cf_batch_get(b, "src_pad"), cf_batch_get(b, "tgt_in"),
                       cf_batch_get(b, "tgt_out")};
    if (!f[0] || !f[1] || !f[2] || !f[3]) return cf_last_status();
    double sum = 0;
    for (int64_t t0 = 0; t0 < tasks; t0 += chunk) {
        int64_t n = tasks - t0 < chunk ? tasks - t0 : chunk;
        cf_tensor *s[4];
        for (int i = 0; i < 4; i++) s[i] = cf_slice(ctx, f[i], 0, t0, t0 + n, 1);
        cf_tensor *l = cf_dualformer_loss(ctx, sf, s[0], s[1], s[2], s[3], true, 4);
        if (!l) return cf_last_status();
        sum += cf_item(l) * (double)n;
        cf_step_reset(ctx);
    }
    *out = sum / (double)tasks;
    return CF_OK;
}

/* A create/close token after the first plan token of a sampled row (fast mode must have none). */
static bool trace_after_plan(const int64_t *row, int64_t n)
{
    bool plan = false;
    for (int64_t i = 0; i < n && row[i] != CF_MAZE_TOK_EOS; i++) {
        if (row[i] == CF_MAZE_TOK_PLAN) plan = true;
        else if (plan && (row[i] == CF_MAZE_TOK_CREATE || row[i] == CF_MAZE_TOK_CLOSE)) return true;
    }
    return false;
}

/* slow_fraction over the tasks whose optimal plan is (long ? longer than : at most) the median. */
static cf_maze_stat slow_fraction_of(eval_buf *e, int median, bool long_plans)
{
    int64_t n = 0;
    for (int64_t t = 0; t < e->tasks; t++) {
        if ((e->optimal[t] > median) != long_plans) continue;
        memcpy(e->sub_checks + n * e->k, e->checks + t * e->k, (size_t)e->k * sizeof *e->checks);
        e->sub_optimal[n++] = e->optimal[t];
    }
    cf_maze_metrics m;
    if (n == 0 || cf_maze_metrics_compute(e->sub_checks, e->sub_optimal, n, e->k, &m) != CF_OK)
        return (cf_maze_stat){NAN, NAN, NAN, 0};
    return m.slow_fraction;
}

/* Auto mode's prior (cf_dualformer_mode_eval.prior_*): for each task, 64 draws of its training sequence
 * under the data's draw config, each weighted as the loss weighs its row. */
static void auto_prior(const cf_maze_file *file, const cf_maze_draw_config *draw, bool sequence_mean, eval_buf *e,
                       cf_dualformer_mode_eval *res)
{
    double sum[3] = {0}, n[3] = {0};
    cf_maze_file_info info = cf_maze_file_get_info(file);
    int cap = (int)info.max_trace + (int)info.max_plan + 1;
    uint16_t *seq = malloc((size_t)cap * sizeof *seq);
    res->prior_slow = res->prior_short = res->prior_long = NAN;
    for (int64_t t = 0; seq && draw && t < e->tasks; t++) {
        cf_maze_record r;
        if (cf_maze_file_record(file, e->task_ids[t], &r) != CF_OK || cf_maze_decoder_max_len(&r, draw) > cap) continue;
        double w_slow = 0, w_all = 0;
        for (int64_t epoch = 0; epoch < 64; epoch++) {
            int len = cf_maze_decoder_sequence(&r, draw, e->task_ids[t], epoch, seq, cap, NULL);
            if (len <= 0) continue;
            double w = sequence_mean ? 1.0 / len : 1.0;
            w_all += w;
            w_slow += seq[0] != CF_MAZE_TOK_PLAN ? w : 0;
        }
        if (w_all <= 0) continue;
        int bucket = e->optimal[t] > res->median_nodes ? 2 : 1;
        sum[0] += w_slow / w_all, n[0] += 1;
        sum[bucket] += w_slow / w_all, n[bucket] += 1;
    }
    cf_clear_error();
    free(seq);
    if (n[0] > 0) res->prior_slow = sum[0] / n[0];
    if (n[1] > 0) res->prior_short = sum[1] / n[1];
    if (n[2] > 0) res->prior_long = sum[2] / n[2];
}

static cf_status eval_mode(cf_ctx *ctx, const cf_dualformer *sf, cf_tensor *src, cf_tensor *src_pad, eval_buf *e,
                           cf_maze_mode mode, const cf_dualformer_sample_opts *base, const cf_maze_file *file,
                           const cf_maze_draw_config *draw, bool sequence_mean, cf_dualformer_mode_eval *res)
{
    cf_dualformer_sample_opts o = *base;
    o.first_token = cf_maze_mode_token(mode);
    o.seed = base->seed * 3 + (uint64_t)mode; /* independent draws per mode */
    CF_TRY(cf_dualformer_sample(ctx, sf, src, src_pad, e->k, e->task_ids, &o, e->outputs, e->lens));
    int64_t N = e->tasks * e->k, mixed = 0, eos = 0;
    for (int64_t i = 0; i < N; i++) {
        const int64_t *row = e->outputs + i * e->cap;
        e->checks[i] = cf_maze_check_plan(&e->mazes[i / e->k], e->optimal[i / e->k], row, e->lens[i]);
        mixed += trace_after_plan(row, e->lens[i]);
        eos += e->checks[i].has_eos;
    }
    memset(res, 0, sizeof *res);
    res->done = true;
    res->mode = mode;
    CF_TRY(cf_maze_metrics_compute(e->checks, e->optimal, e->tasks, e->k, &res->all));
    int *sorted = e->sub_optimal; /* scratch */
    memcpy(sorted, e->optimal, (size_t)e->tasks * sizeof *sorted);
    qsort(sorted, (size_t)e->tasks, sizeof *sorted, cmp_int);
    res->median_nodes = sorted[(e->tasks - 1) / 2];
    res->slow_short = slow_fraction_of(e, res->median_nodes, false);
    res->slow_long = slow_fraction_of(e, res->median_nodes, true);
    if (mode == CF_MAZE_MODE_AUTO) auto_prior(file, draw, sequence_mean, e, res);
    res->trace_after_plan = cf_maze_wilson(mixed, N);
    res->eos = cf_maze_wilson(eos, N);
    return CF_OK;
}

static void print_stat(cf_maze_stat s, int prec)
{
    char b[64];
    snprintf(b, sizeof b, "%.*f [%.*f,%.*f]", prec, s.value, prec, s.lo, prec, s.hi);
    printf(" %-22s", b);
}

static void print_table(const cf_dualformer_report *rep)
{
    printf("dualformer eval: %lld tasks x %d samples, temperature %g, cap %lld tokens, %.1f s\n", (long long)rep->tasks,
           rep->k, rep->temperature, (long long)rep->max_len, rep->seconds);
    if (!isnan(rep->loss)) printf("loss %.4f\n", rep->loss);
    printf("%-5s %-22s %-22s %-22s %-22s %-22s %-22s %-22s\n", "mode", " 1-Solved-k", " 1-Optimal-k", " 3-Optimal-k",
           " SWC", " reasoning steps", " diversity", " slow fraction");
    static const cf_maze_mode order[3] = {CF_MAZE_MODE_SLOW, CF_MAZE_MODE_FAST, CF_MAZE_MODE_AUTO};
    for (int i = 0; i < 3; i++) {
        const cf_dualformer_mode_eval *m = &rep->mode[order[i]];
        if (!m->done) continue;
        printf("%-5s", MODE_NAME[m->mode]);
        print_stat(m->all.solved1, 3);
        print_stat(m->all.optimal1, 3);
        print_stat(m->all.optimal3, 3);
        print_stat(m->all.swc, 3);
        print_stat(m->all.reasoning, 1);
        print_stat(m->all.diversity_correct, 2);
        print_stat(m->all.slow_fraction, 3);
        printf("\n");
    }
    const cf_dualformer_mode_eval *a = &rep->mode[CF_MAZE_MODE_AUTO];
    if (a->done) {
        printf("auto slow fraction: plans <= %d nodes", a->median_nodes);
        print_stat(a->slow_short, 3);
        printf(" plans > %d nodes", a->median_nodes);
        print_stat(a->slow_long, 3);
        printf("\nauto slow fraction of a model that learned the training data's first token exactly: %.3f (plans <= %d "
               "nodes %.3f, > %d nodes %.3f)\n", a->prior_slow, a->median_nodes, a->prior_short, a->median_nodes,
               a->prior_long);
    }
    const cf_dualformer_mode_eval *f = &rep->mode[CF_MAZE_MODE_FAST];
    if (f->done)
        printf("fast mode: samples with create/close after plan %.4f, ended with eos %.4f\n", f->trace_after_plan.value,
               f->eos.value);
    fflush(stdout);
}

static void set_flat(cf_metrics *out, const cf_dualformer_mode_eval *m)
{
    const char *n = MODE_NAME[m->mode];
    char key[32];
#define SET(suffix, v) (snprintf(key, sizeof key, "%s_%s", n, suffix), cf_metrics_set(out, key, (v)))
    SET("solved_1", m->all.solved1.value);
    SET("optimal_1", m->all.optimal1.value);
    SET("optimal_3", m->all.optimal3.value);
    SET("swc", m->all.swc.value);
    SET("steps", m->all.reasoning.value);
    SET("diversity", m->all.diversity_correct.value);
    if (m->mode == CF_MAZE_MODE_AUTO) {
        SET("slow_fraction", m->all.slow_fraction.value);
        SET("slow_frac_short", m->slow_short.value);
        SET("slow_frac_long", m->slow_long.value);
        SET("slow_prior", m->prior_slow);
        SET("slow_prior_short", m->prior_short);
        SET("slow_prior_long", m->prior_long);
    }
    if (m->mode == CF_MAZE_MODE_FAST) SET("trace_after_plan", m->trace_after_plan.value);
#undef SET
}

cf_status cf_dualformer_eval_config_from_recipe(cf_recipe *r, cf_dualformer_eval_config *c)
{
    memset(c, 0, sizeof *c);
    c->tasks = cf_recipe_int_in(r, "eval.tasks", 100, 1, CF_MAX_COUNT);
    c->k = (int)cf_recipe_int_in(r, "eval.samples", 8, 1, 1024);
    c->temperature = cf_recipe_float_in(r, "eval.temperature", 1.0, 0, 1e6, CF_RANGE_CLOSED); /* 0: greedy */
    c->max_len = cf_recipe_int_in(r, "eval.max_len", 0, 0, CF_MAX_SEQ);                      /* 0: the model's */
    c->rows = cf_recipe_int_in(r, "eval.rows", 64, 1, CF_MAX_ROWS);
    c->seed = cf_recipe_int_in(r, "eval.seed", 0, 0, CF_MAX_SEED);
    c->ban_trace = cf_recipe_bool(r, "eval.ban_trace", false);
    c->loss = cf_recipe_bool(r, "eval.loss", true);
    const char *names[8];
    int nm = cf_recipe_str_list(r, "eval.modes", names, 8);
    CF_TRY(cf_recipe_status(r));
    for (int j = 0; j < 3; j++) c->modes[j] = nm == 0;
    for (int i = 0; i < nm; i++) {
        int j = 0;
        while (j < 3 && strcmp(names[i], MODE_NAME[j]) != 0) j++;
        if (j == 3) return cf_recipe_fail(r, "eval.modes", CF_ERR_ARG, "unknown mode '%s' (slow, fast, auto)", names[i]);
        c->modes[j] = true;
    }
    return CF_OK;
}

cf_status cf_dualformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_dataset *ds = in->split;
    cf_dualformer *sf = cf_dualformer_of(mb);
    cf_dualformer_report *rep = cf_dualformer_report_of(mb);
    const cf_dualformer_eval_config *ec = cf_dualformer_eval_config_of(mb);
    const cf_maze_file *file = cf_maze_dataset_file(ds);
    if (!sf || !rep || !ec) return cf_set_error(CF_ERR_ARG, "dualformer eval: not a searchformer model");
    if (!file) return cf_set_error(CF_ERR_ARG, "dualformer eval: %s is not a maze dataset (data.type: mazes)", ds->name);
    int64_t tasks = ec->tasks, max_len = ec->max_len, rows = ec->rows;
    int k = ec->k;
    double temp = ec->temperature;
    const bool *want = ec->modes;
    double t_start = cf_now();
    cf_maze_file_info info = cf_maze_file_get_info(file);
    eval_buf e = {0};
    e.tasks = tasks < ds->len ? tasks : ds->len;
    e.k = k;
    e.cap = max_len > 0 ? max_len : 4 * ((int64_t)info.max_trace + info.max_plan + 1); /* cformer's cap */
    int64_t N = e.tasks * k;
    e.mazes = malloc((size_t)e.tasks * sizeof *e.mazes);
    e.optimal = malloc((size_t)e.tasks * sizeof *e.optimal);
    e.sub_optimal = malloc((size_t)e.tasks * sizeof *e.sub_optimal);
    e.task_ids = malloc((size_t)e.tasks * sizeof *e.task_ids);
    e.outputs = malloc((size_t)(N * e.cap) * sizeof *e.outputs);
    e.lens = malloc((size_t)N * sizeof *e.lens);
    e.checks = malloc((size_t)N * sizeof *e.checks);
    e.sub_checks = malloc((size_t)N * sizeof *e.sub_checks);
    cf_batch b = {0};
    cf_status st = CF_OK;
    if (!e.mazes || !e.optimal || !e.sub_optimal || !e.task_ids || !e.outputs || !e.lens || !e.checks || !e.sub_checks) {
        st = cf_set_error(CF_ERR_OOM, "dualformer eval: out of memory for %lld tasks x %d samples x %lld tokens",
                          (long long)e.tasks, k, (long long)e.cap);
        goto done;
    }
    if ((st = cf_dataset_make_batch(ds, (int)e.tasks, &b)) != CF_OK) goto done;
    for (int64_t t = 0; t < e.tasks && st == CF_OK; t++) {
        st = cf_dataset_get(ds, t, &b, (int)t);
        e.task_ids[t] = cf_maze_dataset_record(ds, t);
        if (st == CF_OK) st = cf_maze_file_maze(file, e.task_ids[t], &e.mazes[t], &e.optimal[t]);
    }
    if (st != CF_OK) goto done;
    memset(rep, 0, sizeof *rep);
    rep->tasks = e.tasks, rep->k = k, rep->temperature = temp, rep->max_len = e.cap, rep->loss = NAN;
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    if (ec->loss) st = mean_loss(ctx, sf, &b, e.tasks, 32, &rep->loss);
    cf_dualformer_sample_opts o = cf_dualformer_sample_defaults();
    o.temperature = temp;
    o.max_len = e.cap;
    o.stop_token = CF_MAZE_TOK_EOS;
    o.pad_token = CF_MAZE_TOK_PAD;
    o.seed = (uint64_t)ec->seed;
    o.max_rows = rows;
    if (ec->ban_trace) {
        o.ban_after = CF_MAZE_TOK_PLAN;
        o.ban[0] = CF_MAZE_TOK_CREATE, o.ban[1] = CF_MAZE_TOK_CLOSE, o.n_ban = 2;
    }
    cf_tensor *src = cf_batch_get(&b, "src"), *src_pad = cf_batch_get(&b, "src_pad");
    static const cf_maze_mode order[3] = {CF_MAZE_MODE_SLOW, CF_MAZE_MODE_FAST, CF_MAZE_MODE_AUTO};
    for (int i = 0; i < 3 && st == CF_OK; i++)
        if (want[order[i]])
            st = eval_mode(ctx, sf, src, src_pad, &e, order[i], &o, file, cf_maze_dataset_draw(ds), ec->sequence_mean,
                           &rep->mode[order[i]]);
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    if (st != CF_OK) goto done;
    rep->seconds = cf_now() - t_start;
    print_table(rep);
    if (!isnan(rep->loss)) cf_metrics_set(out, "loss", rep->loss);
    for (int i = 0; i < 3; i++)
        if (rep->mode[order[i]].done) set_flat(out, &rep->mode[order[i]]);
done:
    cf_batch_free(&b);
    buf_free(&e);
    return st;
}

/* ---- JSON ---- */

static void stat_json(cf_json *j, const char *name, cf_maze_stat s)
{
    char ci[64];
    snprintf(ci, sizeof ci, "%s_ci", name);
    cf_json_kv_number(j, name, s.value);
    cf_json_key(j, ci);
    cf_json_array(j);
    cf_json_number(j, s.lo);
    cf_json_number(j, s.hi);
    cf_json_end(j);
}

static void mode_json(cf_json *j, const cf_dualformer_mode_eval *m)
{
    cf_json_key(j, MODE_NAME[m->mode]);
    cf_json_object(j);
    stat_json(j, "solved_1", m->all.solved1);
    stat_json(j, "solved_3", m->all.solved3);
    stat_json(j, "optimal_1", m->all.optimal1);
    stat_json(j, "optimal_3", m->all.optimal3);
    stat_json(j, "swc", m->all.swc);
    stat_json(j, "steps", m->all.reasoning);
    stat_json(j, "diversity", m->all.diversity_correct);
    stat_json(j, "diversity_optimal", m->all.diversity_optimal);
    stat_json(j, "correct_rate", m->all.correct_rate);
    stat_json(j, "optimal_rate", m->all.optimal_rate);
    stat_json(j, "slow_fraction", m->all.slow_fraction);
    stat_json(j, "slow_fraction_short", m->slow_short);
    stat_json(j, "slow_fraction_long", m->slow_long);
    if (m->mode == CF_MAZE_MODE_AUTO) {
        cf_json_kv_number(j, "slow_fraction_prior", m->prior_slow);
        cf_json_kv_number(j, "slow_fraction_prior_short", m->prior_short);
        cf_json_kv_number(j, "slow_fraction_prior_long", m->prior_long);
    }
    stat_json(j, "trace_after_plan", m->trace_after_plan);
    stat_json(j, "eos", m->eos);
    cf_json_kv_int(j, "median_plan_nodes", m->median_nodes);
    cf_json_kv_int(j, "tasks", m->all.tasks);
    cf_json_kv_int(j, "k", m->all.k);
    cf_json_end(j);
}

cf_status cf_dualformer_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    const cf_dualformer_report *rep = cf_dualformer_report_of(mb);
    if (!rep || !path) return cf_set_error(CF_ERR_ARG, "dualformer eval: not a searchformer model (or no path)");
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    cf_json_kv_string(&j, "format", "cformer-dualformer-eval");
    cf_json_kv_int(&j, "version", 1);
    cf_json_kv_int(&j, "tasks", rep->tasks);
    cf_json_kv_int(&j, "k", rep->k);
    cf_json_kv_number(&j, "temperature", rep->temperature);
    cf_json_kv_int(&j, "max_len", rep->max_len);
    cf_json_kv_number(&j, "loss", rep->loss);
    static const cf_maze_mode order[3] = {CF_MAZE_MODE_SLOW, CF_MAZE_MODE_FAST, CF_MAZE_MODE_AUTO};
    for (int i = 0; i < 3; i++)
        if (rep->mode[order[i]].done) mode_json(&j, &rep->mode[order[i]]);
    /* the flat metrics too (step, loss, slow_optimal_1, ...), for tools that read eval.json's numbers */
    for (int i = 0; flat && i < flat->n; i++)
        if (strcmp(flat->name[i], "loss") != 0) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    cf_json_end(&j);
    return cf_json_commit(&j);
}
