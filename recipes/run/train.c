/* The training loop: micro-batches with gradient accumulation, clipping, the optimizer and schedule,
 * logging, periodic evaluation and atomic checkpoints; resume continues bit-exactly.
 *
 * Nothing saved is lost: the run directory is locked for the job's life and a fresh run refuses a directory
 * that holds an earlier run (recipes/run/rundir.h); a step whose loss or gradient norm is not finite never
 * updates the weights (train.nonfinite: stop ends the run, skip drops the step and counts it) and a checkpoint
 * is never written from non-finite weights; SIGTERM or SIGUSR1 (a scheduler's time limit or preemption, e.g.
 * Slurm's --signal=USR1@300) ends the job after the current step with a checkpoint, to continue with
 * --resume latest. */
#include "autograd/clock.h"
#include "autograd/fileio.h"
#include "recipes/run/progress.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/rundir.h"
#include "recipes/run/run.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void free_slots(cf_ckpt_slot *slots, int n)
{
    for (int i = 0; i < n; i++) free((void *)slots[i].flat);
}

/* The optimizer's checkpoint slots: names, and (want) zeroed full buffers in the parameters' flat layout
 * for cf_optim_slot_read / _write; without want, NULL buffers (ranks that only take part in a gather). */
static cf_status alloc_slots(cf_run *run, cf_ckpt_slot *slots, int *n, bool want)
{
    *n = cf_optim_slot_count(run->opt);
    size_t bytes = (size_t)(run->params->total ? run->params->total : 1) * cf_dtype_size(run->params->dtype);
    for (int i = 0; i < *n; i++) {
        slots[i] = (cf_ckpt_slot){cf_optim_slot_name(run->opt, i), want ? calloc(1, bytes) : NULL};
        if (want && !slots[i].flat) {
            free_slots(slots, i);
            return cf_set_error(CF_ERR_OOM, "checkpoint: out of memory for optimizer state");
        }
    }
    return CF_OK;
}

/* Collective when ranks > 1 (ZeRO gathers its shards); rank 0 writes. The data cursor is stored as a
 * global position so a run can resume on another number of ranks. */
static cf_status save(cf_run *run, int64_t step)
{
    char dir[1200], path[1300], what[1400];
    snprintf(dir, sizeof dir, "%s/checkpoints", run->run_dir);
    snprintf(what, sizeof what, "step %lld: not saved (the last checkpoint stays)", (long long)step);
    CF_TRY(cf_params_check_finite(run->params, what));
    cf_ckpt_slot slots[4];
    int n;
    CF_TRY(alloc_slots(run, slots, &n, run->rank == 0));
    cf_status s = CF_OK;
    for (int i = 0; i < n && s == CF_OK; i++) s = cf_optim_slot_read(run->opt, i, (void *)slots[i].flat);
    if (s == CF_OK && run->rank == 0) {
        s = cf_mkdirs(dir);
        cf_checkpoint_path(dir, step, path, sizeof path);
        cf_train_state st = {.step = step, .seed = (uint64_t)run->seed, .world_size = run->world};
        cf_loader_cursor(run->loader, &st.epoch, &st.cursor);
        st.cursor *= run->world;
        cf_train_state_set(&st, "optim_steps", (double)cf_optim_steps_taken(run->opt));
        char *text = cf_run_recipe_text(run);
        if (s == CF_OK) s = cf_checkpoint_save(path, run->params, n, slots, &st, text);
        free(text);
        if (s == CF_OK && run->ckpt_keep > 0) s = cf_checkpoint_prune(dir, (int)run->ckpt_keep);
    }
    free_slots(slots, n);
    return s;
}

/* Keys a resume may change without changing the trajectory: what is logged, saved and evaluated, and how the
 * work is spread (threads, ranks, ZeRO sharding, buckets, the device: the same steps, bit for bit or to
 * rounding) or stored (activation recomputation: bit for bit). */
static bool resume_may_change(const char *key)
{
    static const char *const prefixes[] = {"log.", "checkpoint.", "eval.", "train.threads", "train.recompute",
                                           "train.device", "distributed."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

/* Rank 0's half of a resume: finds and reads the checkpoint into params and the full slot buffers, and checks
 * it continues this run. *found is false for `latest` in a directory without checkpoints (a fresh run). */
static cf_status read_resume(cf_run *run, const cf_run_options *o, cf_ckpt_slot *slots, int n, cf_train_state *st,
                             char *path, size_t cap, bool *found)
{
    char dir[1200], newest[1300];
    int64_t latest = -1;
    snprintf(dir, sizeof dir, "%s/checkpoints", run->run_dir);
    CF_TRY(cf_checkpoint_latest(dir, newest, sizeof newest, &latest));
    *found = strcmp(o->resume, "latest") != 0 || latest >= 0;
    if (!*found) return CF_OK;
    snprintf(path, cap, "%s", strcmp(o->resume, "latest") == 0 ? newest : o->resume);
    char *stored = NULL;
    CF_TRY(cf_checkpoint_load(path, run->params, n, slots, st, &stored));
    /* checkpoints of this directory past the resume point belong to another trajectory: continuing here would
     * mix the two (and --resume latest would later pick theirs) */
    cf_status s = CF_OK;
    if (latest > st->step)
        s = cf_set_error(CF_ERR_STATE, "%s is step %lld, but %s holds %s, a later step of another run; resuming here "
                         "would mix the two: resume into another --run-dir", path, (long long)st->step, run->run_dir, newest);
    /* the same trajectory: the recipe may change only in what is logged, saved and evaluated */
    char *now = s == CF_OK ? cf_recipe_resolved(run->recipe) : NULL, diff[1024];
    int changed = now ? cf_recipe_diff(stored, now, resume_may_change, diff, sizeof diff) : 0;
    if (s == CF_OK && changed > 0 && !o->allow_recipe_change)
        s = cf_set_error(CF_ERR_STATE, "%s was trained with another recipe (checkpoint's value -> now): %s; resuming "
                         "would change the run's trajectory: restore them, or pass --allow-recipe-change", path, diff);
    else if (s == CF_OK && changed > 0)
        fprintf(stderr, "resuming with recipe changes (--allow-recipe-change): %s\n", diff);
    free(now);
    free(stored);
    return s;
}

/* Resume (--resume latest|CKPT): rank 0 reads the checkpoint and every rank takes its weights, optimizer state
 * and data position from rank 0, so a run directory that only rank 0 sees (not shared across nodes) resumes
 * every rank alike, and a rank never starts from other weights. */
static cf_status resume(cf_run *run, const cf_run_options *o, int64_t *start)
{
    cf_ckpt_slot slots[4];
    int n;
    CF_TRY(alloc_slots(run, slots, &n, true));
    cf_train_state st = {0};
    char path[1300] = "";
    bool found = false;
    cf_status s = run->rank == 0 ? read_resume(run, o, slots, n, &st, path, sizeof path, &found) : CF_OK;
    double t = 0;
    cf_train_state_get(&st, "optim_steps", &t);
    int64_t head[6] = {s != CF_OK ? -1 : found, st.step, st.epoch, st.cursor, (int64_t)t, st.world_size};
    if (run->world > 1) {
        cf_status b = cf_pg_broadcast(run->pg, head, 6, CF_I64, 0);
        if (b == CF_OK && head[0] < 0 && run->rank != 0)
            s = cf_set_error(CF_ERR_STATE, "rank 0 could not resume (its message says why)");
        if (b == CF_OK && head[0] == 1) {
            void *values = cf_params_values_host(run->params); /* on a device: its host mirror */
            b = values ? cf_pg_broadcast(run->pg, values, run->params->total, run->params->dtype, 0) : cf_last_status();
            if (b == CF_OK) b = cf_params_values_upload(run->params);
            for (int i = 0; i < n && b == CF_OK; i++)
                b = cf_pg_broadcast(run->pg, (void *)slots[i].flat, run->params->total, run->params->dtype, 0);
        }
        if (s == CF_OK) s = b;
    }
    if (s == CF_OK && head[0] == 1)
        for (int i = 0; i < n && s == CF_OK; i++) s = cf_optim_slot_write(run->opt, i, slots[i].flat);
    free_slots(slots, n);
    CF_TRY(s);
    if (head[0] == 0) return *start = 0, CF_OK; /* nothing to resume: a fresh run */
    cf_optim_set_steps_taken(run->opt, head[4]);
    if (head[3] % run->world != 0)
        return cf_set_error(CF_ERR_STATE, "%s: data position %lld does not split over %d ranks; resume with a world size "
                            "that divides train.batch_size", run->rank == 0 ? path : "the checkpoint", (long long)head[3],
                            run->world);
    CF_TRY(cf_loader_seek(run->loader, head[2], head[3] / run->world));
    *start = head[1];
    if (run->rank == 0)
        printf("resumed from %s at step %lld (saved by %lld rank%s, now %d)\n", path, (long long)head[1], (long long)head[5],
               head[5] == 1 ? "" : "s", run->world);
    return CF_OK;
}

/* SIGTERM / SIGUSR1: finish the step, checkpoint, stop. */
static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig) { stop_signal = sig; }

typedef struct {
    struct sigaction term, usr1;
} saved_handlers;

static void catch_stop_signals(saved_handlers *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGTERM, &sa, &old->term);
    sigaction(SIGUSR1, &sa, &old->usr1);
}

static void restore_signals(const saved_handlers *old)
{
    sigaction(SIGTERM, &old->term, NULL);
    sigaction(SIGUSR1, &old->usr1, NULL);
}

/* The run directory's guards (rank 0): the lock, the fresh-run check, stale temporary files. */
static cf_status guard_run_dir(cf_run *run, const cf_run_options *o, cf_run_lock *lock)
{
    if (run->rank != 0) return CF_OK;
    CF_TRY(cf_run_dir_lock(run->run_dir, lock));
    if (!o->resume) CF_TRY(cf_run_dir_fresh(run->run_dir, o->overwrite));
    cf_run_dir_remove_stale(run->run_dir);
    return CF_OK;
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

cf_status cf_train(const cf_run_options *o)
{
    cf_run run;
    cf_status st = cf_run_open(&run, o, true);
    if (st != CF_OK) {
        if (run.pg && cf_pg_world(run.pg) > 1) cf_pg_abort(run.pg, "%s", cf_last_error());
        cf_run_close(&run);
        return st;
    }
    int64_t start = 0;
    cf_progress prog = {0};
    cf_run_lock lock = {-1};
    saved_handlers handlers;
    if (!o->bench) {
        st = guard_run_dir(&run, o, &lock);
        catch_stop_signals(&handlers);
    }
    if (st == CF_OK && !o->bench && run.rank == 0) {
        st = cf_mkdirs(run.run_dir);
        char *text = cf_run_recipe_text(&run);
        if (st == CF_OK && text) {
            char path[1200];
            snprintf(path, sizeof path, "%s/recipe.yaml", run.run_dir);
            st = cf_write_file_atomic(path, text, strlen(text));
            if (st == CF_OK && !o->quiet) printf("--- resolved recipe (%s)\n%s---\n", path, text);
        }
        free(text);
    }
    if (!o->bench) {
        if (st == CF_OK && o->init_from) {
            char report[4096];
            st = cf_checkpoint_init_from(o->init_from, run.params, report, sizeof report);
            if (st == CF_OK) printf("init from %s:\n%s\n", o->init_from, report);
        }
        if (st == CF_OK && o->resume) st = resume(&run, o, &start);
        if (st == CF_OK && run.rank == 0) st = cf_progress_open(&prog, run.run_dir, run.steps, o->quiet);
    }
    if (st == CF_OK && !o->quiet && run.rank == 0)
        printf("model %s: %lld parameters; %lld steps of batch %lld on %d threads; run dir %s\n",
               run.model->vt->name, (long long)cf_params_numel(run.params), (long long)run.steps,
               (long long)run.batch_size, cf_get_threads(run.ctx), run.run_dir);
    if (st == CF_OK && !o->quiet && run.rank == 0 && run.world > 1)
        printf("data parallel over %d ranks (%s), %lld rows per rank per micro-step%s\n", run.world, "mpi",
               (long long)(run.batch_size / run.grad_accum / run.world), cf_optim_shards(run.opt) > 1 ? ", ZeRO-1 optimizer state" : "");

    cf_model *m = run.model;
    double t0 = cf_now(), t_log = t0, bench_t0 = 0, items_since = 0, bench_items = 0;
    /* the data loader's share: seconds the steps spent in cf_loader_next (a ready batch costs microseconds;
     * more is the prefetch thread behind, or on an oversubscribed machine the step's thread descheduled), and
     * the loader's own count of batches not ready when asked for (cf_loader_stalls) */
    double data_wait = 0, bench_stall_s0 = 0;
    int64_t batches = 0, bench_batches = 0, bench_stalls0 = 0;
    int64_t bench_steps = 0, skipped = 0;
    cf_metrics metrics = {0};
    cf_batch device_batch; /* each batch's copy on train.device */
    int64_t end = o->stop_at > 0 && o->stop_at < run.steps ? o->stop_at : run.steps;
    for (int64_t step = start; st == CF_OK && step < end; step++) {
        if (o->bench && step - start == o->bench_warmup) {
            bench_t0 = cf_now(), bench_items = 0, bench_steps = 0, data_wait = 0, bench_batches = 0;
            cf_loader_stalls(run.loader, &bench_stalls0, &bench_stall_s0);
            if (o->profile && (st = cf_ctx_profile(run.ctx, true)) != CF_OK) break;
            cf_ctx_profile_reset(run.ctx);
        }
        double lr = cf_schedule_lr(&run.sched, run.lr, step), loss_sum = 0;
        cf_params_zero_grad(run.params);
        metrics.n = 0;
        for (int64_t a = 0; a < run.grad_accum && st == CF_OK; a++) {
            double tw = cf_now();
            const cf_batch *b = cf_loader_next(run.loader);
            data_wait += cf_now() - tw, batches++, bench_batches++;
            const cf_batch *db = cf_batch_on_device(run.ctx, b, &device_batch);
            cf_ctx_set_step(run.ctx, (uint64_t)(step * run.grad_accum + a)); /* dropout masks follow the step */
            if (run.ddp) cf_ddp_set_sync(run.ddp, a == run.grad_accum - 1); /* only the last micro-step talks */
            cf_tensor *loss = db ? m->vt->loss(m, run.ctx, db, &metrics) : NULL;
            if (!loss || (st = cf_backward(run.ctx, loss, NULL)) != CF_OK ||
                (st = cf_params_collect_grads(run.params)) != CF_OK) { /* train.precision bf16: into the master */
                st = cf_last_status() != CF_OK ? cf_last_status() : CF_ERR_INTERNAL;
                break;
            }
            loss_sum += cf_item(loss);
            double items = (double)m->vt->items(m, b) * run.world;
            items_since += items, bench_items += items;
            cf_step_reset(run.ctx);
        }
        if (st == CF_OK && run.ddp) st = cf_ddp_finish(run.ddp);
        if (st != CF_OK) break;
        /* the mean loss over ranks and whether any rank was asked to stop, in one all-reduce (every rank must
         * agree to stop, at the same step); sum then 1/world is what CF_REDUCE_AVG computes */
        double shared[2] = {loss_sum / (double)run.grad_accum, stop_signal != 0}, gnorm = NAN;
        if (run.world > 1) {
            if ((st = cf_pg_allreduce(run.pg, shared, 2, CF_F64, CF_REDUCE_SUM)) != CF_OK) break;
            shared[0] *= 1.0 / run.world;
        }
        double loss = shared[0];
        bool stop = shared[1] > 0;
        /* the update only from a finite loss and a finite gradient norm (the norm is the same on every rank) */
        if (isfinite(loss)) {
            if (run.grad_accum > 1) cf_optim_scale_grads(run.opt, 1.0 / (double)run.grad_accum);
            if ((st = cf_optim_clip_grad_norm(run.opt, run.clip, &gnorm)) != CF_OK) break;
        }
        if (isfinite(loss) && isfinite(gnorm)) {
            if ((st = cf_optim_step(run.opt, lr)) != CF_OK || (st = cf_params_refresh(run.params)) != CF_OK) break;
        } else if (run.nonfinite_skip) {
            skipped++;
            if (run.rank == 0)
                fprintf(stderr, "step %lld: the %s is %g: the step is dropped (train.nonfinite: skip; %lld so far)\n",
                        (long long)step + 1, isfinite(loss) ? "gradient norm" : "loss", isfinite(loss) ? gnorm : loss,
                        (long long)skipped);
        } else {
            st = cf_set_error(CF_ERR_STATE, "step %lld: the %s is %g; the weights were not updated and the last checkpoint "
                              "is kept (lower optim.lr, check the data, or set train.nonfinite: skip to drop such steps)",
                              (long long)step + 1, isfinite(loss) ? "gradient norm" : "loss", isfinite(loss) ? gnorm : loss);
            break;
        }
        if (skipped) cf_metrics_set(&metrics, "nonfinite_skipped", (double)skipped);
        bench_steps++;
        int64_t done = step + 1;
        if (!o->bench && run.rank == 0 && (done % run.log_every == 0 || done == end || done == start + 1)) {
            double t = cf_now(), rate = items_since / (t - t_log), stall_s;
            int64_t stalls;
            cf_loader_stalls(run.loader, &stalls, &stall_s);
            cf_metrics_set(&metrics, "data_wait_s", data_wait); /* totals since the job started */
            cf_metrics_set(&metrics, "data_stalls", (double)stalls);
            if ((st = cf_progress_log(&prog, done, loss, lr, gnorm, rate, t - t0, (t - t0) / (double)(done - start) * (double)(run.steps - done), &metrics)) != CF_OK) break;
            t_log = t, items_since = 0;
        }
        if (!o->bench && run.eval_every > 0 && done % run.eval_every == 0) {
            cf_metrics ev = {0};
            st = cf_run_validate(&run, run.val_set, "", &ev); /* logged as val_loss, val_items */
            if (st == CF_OK && run.rank == 0) st = cf_progress_log_eval(&prog, done, &ev);
        }
        bool saved = false;
        if (!o->bench && st == CF_OK && ((run.ckpt_every > 0 && done % run.ckpt_every == 0) || done == end))
            st = save(&run, done), saved = true;
        if (!o->bench && st == CF_OK && stop) {
            if (!saved) st = save(&run, done);
            if (st == CF_OK)
                st = cf_set_error(CF_ERR_INTERRUPTED, "stopped by %s after step %lld, which is saved in %s/checkpoints; "
                                  "continue with --resume latest", stop_signal == SIGTERM ? "SIGTERM" : stop_signal == SIGUSR1
                                  ? "SIGUSR1" : "a signal to another rank", (long long)done, run.run_dir);
            break;
        }
    }
    if (!o->bench) cf_progress_close(&prog);
    if (st == CF_OK && !o->bench && !o->quiet && run.rank == 0 && batches > 0) {
        double t = cf_now() - t0, stall_s;
        int64_t stalls;
        cf_loader_stalls(run.loader, &stalls, &stall_s);
        printf("data loader: the steps spent %.3f s of %.1f s getting their batches (%.2f%%); %lld of %lld batches were "
               "not ready when asked for (%.3f s blocked, the first one included)\n", data_wait, t, 100.0 * data_wait / t,
               (long long)stalls, (long long)batches, stall_s);
    }
    /* never leave the others waiting (an interruption is collective: every rank stops at the same step) */
    if (st != CF_OK && st != CF_ERR_INTERRUPTED && run.world > 1) cf_pg_abort(run.pg, "%s", cf_last_error());
    if (!o->bench) restore_signals(&handlers);
    cf_run_dir_unlock(&lock);
    if (run.ddp && run.rank == 0 && (!o->quiet || o->bench)) {
        cf_ddp_stats ds = cf_ddp_stats_get(run.ddp);
        printf("communication: %.3f s blocked (not hidden by backward) over %lld steps, %.1f MB reduced per rank\n", ds.wait_s,
               (long long)ds.steps, ds.bytes / 1e6);
    }
    if (st == CF_OK && o->bench && bench_steps > 0 && run.rank == 0) {
        double dt = cf_now() - bench_t0;
        double tps = bench_items / dt, step_ms = 1e3 * dt / (double)bench_steps;
        double fpi = m->vt->flops_per_item ? m->vt->flops_per_item(m) : 0;
        if (fpi > 0) printf("model flops per token %.3g: %.1f GFLOP/s\n", fpi, fpi * tps * 1e-9);
        static const char *const recompute[] = {"none", "attention", "block"};
        /* the high-water covers the forward and, with recomputation, one segment's rerun inside backward */
        printf("step arena high-water %.1f MB (train.recompute: %s), parameters + gradients + optimizer state %.1f MB\n",
               (double)cf_ctx_arena_high_water(run.ctx) / 1e6, recompute[cf_recompute_mode_of(run.ctx)],
               (double)run.params->total * (double)cf_dtype_size(run.params->dtype) * (2 + cf_optim_slot_count(run.opt)) / 1e6);
        long rss = peak_rss_mb(); /* training's, before the report's own buffers */
        if (o->profile) cf_ctx_profile_print(stdout, run.ctx, bench_steps, dt);
        if (o->bench_report) o->bench_report(o->bench_user, bench_items / (double)bench_steps, dt / (double)bench_steps, end - start);
        double stall_s;
        int64_t stalls;
        cf_loader_stalls(run.loader, &stalls, &stall_s);
        printf("data loader: %.3f ms per step getting the batch; %lld of %lld batches not ready when asked for (%.3f ms "
               "blocked)\n", 1e3 * data_wait / (double)bench_steps, (long long)(stalls - bench_stalls0),
               (long long)bench_batches, 1e3 * (stall_s - bench_stall_s0));
        printf("tokens_per_s=%.1f step_ms=%.2f peak_rss_mb=%ld\n", tps, step_ms, rss);
    }
    cf_run_close(&run);
    return st;
}
