/* Building a run from a recipe. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "recipes/run/run.h"

#include "autograd/cf_node.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/limits.h"
#include "recipes/run/paper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path, char *buf, size_t n)
{
    const char *s = strrchr(path, '/');
    snprintf(buf, n, "%s", s ? s + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0)) *dot = '\0';
    return buf;
}

static cf_status read_optim(cf_run *run, bool create)
{
    cf_recipe *r = run->recipe;
    cf_optim_kind kind = CF_OPTIM_ADAMW;
    const char *type = cf_recipe_str(r, "optim.type", "adamw");
    if (type && !cf_optim_kind_parse(type, &kind))
        return cf_recipe_fail(r, "optim.type", CF_ERR_ARG, "unknown optimizer '%s' (choose from sgd, adam, adamw)", type);
    cf_optim_config c = cf_optim_defaults(kind);
    /* lr in (0, 10]; betas, momentum, dampening in [0, 1); eps > 0; decay, clip >= 0 (clip 0: no clipping) */
    run->lr = c.lr = cf_recipe_float_in(r, "optim.lr", kind == CF_OPTIM_SGD ? 0.1 : 3e-4, 0, 10, CF_RANGE_OPEN_LO);
    c.weight_decay = cf_recipe_float_in(r, "optim.weight_decay", c.weight_decay, 0, INFINITY, CF_RANGE_OPEN_HI);
    c.decay_all = cf_recipe_bool(r, "optim.decay_all", false);
    if (kind == CF_OPTIM_SGD) {
        c.momentum = cf_recipe_float_in(r, "optim.momentum", 0.9, 0, 1, CF_RANGE_OPEN_HI);
        c.nesterov = cf_recipe_bool(r, "optim.nesterov", false);
        c.dampening = cf_recipe_float_in(r, "optim.dampening", 0.0, 0, 1, CF_RANGE_OPEN_HI);
    } else {
        c.beta1 = cf_recipe_float_in(r, "optim.beta1", c.beta1, 0, 1, CF_RANGE_OPEN_HI);
        c.beta2 = cf_recipe_float_in(r, "optim.beta2", c.beta2, 0, 1, CF_RANGE_OPEN_HI);
        c.eps = cf_recipe_float_in(r, "optim.eps", c.eps, 0, 1, CF_RANGE_OPEN_LO);
    }
    run->clip = cf_recipe_float_in(r, "optim.clip", 1.0, 0, INFINITY, CF_RANGE_OPEN_HI);
    const char *sched = cf_recipe_str(r, "optim.schedule", "cosine");
    if (sched && !cf_schedule_kind_parse(sched, &run->sched.kind))
        return cf_recipe_fail(r, "optim.schedule", CF_ERR_ARG,
                              "unknown schedule '%s' (choose from constant, cosine, linear, inv_sqrt)", sched);
    run->sched.warmup_steps = cf_recipe_int_in(r, "optim.warmup", 0, 0, CF_MAX_STEPS);
    run->sched.total_steps = cf_recipe_int_in(r, "optim.decay_steps", run->steps, 0, CF_MAX_STEPS);
    run->sched.min_lr_ratio = cf_recipe_float_in(r, "optim.min_lr_ratio", 0.1, 0, 1, CF_RANGE_CLOSED);
    CF_TRY(cf_recipe_status(r));
    run->optim_cfg = c;
    if (!create) return CF_OK; /* evaluation: the keys are read so they count as known, nothing is built */
    run->opt = run->ddp && cf_ddp_zero_stage(run->ddp) == 1 ? cf_zero_new(run->ddp, &c) : cf_optim_new(run->params, &c);
    return run->opt ? CF_OK : cf_last_status();
}

/* The first line of a recipe text the run saved: "# recipe: PATH" (cf_run_recipe_text). */
#define RECIPE_ORIGIN "# recipe: "

char *cf_run_recipe_text(const cf_run *run)
{
    char *text = cf_recipe_resolved(run->recipe);
    if (!text || !run->recipe_file[0]) return text;
    size_t n = strlen(RECIPE_ORIGIN) + strlen(run->recipe_file) + 1 + strlen(text) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s%s\n%s", RECIPE_ORIGIN, run->recipe_file, text);
    else cf_set_error(CF_ERR_OOM, "recipe: out of memory");
    free(text);
    return out;
}

/* The recipe: the file, or the resolved recipe a checkpoint stores (its relative paths resolved against the
 * folder of the file it came from, named on its first line). */
static cf_recipe *load_recipe(cf_run *run, const cf_run_options *o)
{
    if (o->recipe_path) {
        char *abs = realpath(o->recipe_path, NULL);
        snprintf(run->recipe_file, sizeof run->recipe_file, "%s", abs ? abs : o->recipe_path);
        free(abs);
        return cf_recipe_load(o->recipe_path);
    }
    if (!o->recipe_from) {
        cf_set_error(CF_ERR_ARG, "no recipe: give a recipe file or a checkpoint that holds one");
        return NULL;
    }
    cf_ckpt_reader *rd = cf_ckpt_open(o->recipe_from);
    if (!rd) return NULL;
    const char *text = cf_ckpt_recipe(rd);
    cf_recipe *r = NULL;
    if (!text || !text[0]) {
        cf_set_error(CF_ERR_FORMAT, "%s: the checkpoint holds no recipe; give the recipe file", o->recipe_from);
    } else {
        char name[1200];
        snprintf(name, sizeof name, "%s (its recipe)", o->recipe_from);
        r = cf_recipe_parse(text, name);
        size_t ol = strlen(RECIPE_ORIGIN);
        if (r && strncmp(text, RECIPE_ORIGIN, ol) == 0) {
            const char *end = strchr(text + ol, '\n');
            size_t len = end ? (size_t)(end - text - ol) : strlen(text + ol);
            snprintf(run->recipe_file, sizeof run->recipe_file, "%.*s", (int)len, text + ol);
            char dir[1024];
            snprintf(dir, sizeof dir, "%s", run->recipe_file);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0';
            if (slash && cf_recipe_set_base_dir(r, dir) != CF_OK) cf_recipe_free(r), r = NULL;
        }
    }
    cf_ckpt_close(rd);
    return r;
}

/* The run directory: --run-dir, else runs/<recipe name>; evaluating a checkpoint without its recipe file,
 * the run that wrote it (RUN/checkpoints/step-N.h5). */
static void choose_run_dir(cf_run *run, const cf_run_options *o)
{
    char name[1024];
    if (o->run_dir) {
        snprintf(run->run_dir, sizeof run->run_dir, "%s", o->run_dir);
        return;
    }
    if (!o->recipe_path && o->recipe_from) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->recipe_from);
        char *slash = strrchr(buf, '/');
        if (slash) {
            *slash = '\0';
            char *parent = strrchr(buf, '/');
            if (strcmp(parent ? parent + 1 : buf, "checkpoints") == 0) {
                if (parent) *parent = '\0';
                snprintf(run->run_dir, sizeof run->run_dir, "%s", parent ? buf : ".");
                return;
            }
        }
    }
    snprintf(run->run_dir, sizeof run->run_dir, "runs/%.1000s", base_name(run->recipe_file[0] ? run->recipe_file : "run", name, sizeof name));
}

static cf_dataset *open_split(cf_run *run, const char *dtype, const char *split)
{
    cf_recipe *r = run->recipe;
    cf_dataset *ds = cf_dataset_create(dtype, &(cf_dataset_config){.recipe = r, .split = split});
    if (!ds) {
        if (cf_recipe_status(r) != CF_OK) return NULL;
        cf_error_prefix("%s: data: ", cf_recipe_name(r));
    }
    return ds;
}

cf_dataset *cf_run_open_split(cf_run *run, const char *split)
{
    const char *dtype = cf_recipe_str(run->recipe, "data.type", NULL);
    if (!dtype) {
        cf_set_error(CF_ERR_ARG, "%s: no data.type", cf_recipe_name(run->recipe));
        return NULL;
    }
    return open_split(run, dtype, split);
}

/* The eval section's run-level keys (the model reads its own eval.* keys in create). */
static cf_status read_eval(cf_run *run, const cf_model_vtable *mvt)
{
    cf_recipe *r = run->recipe;
    run->eval_every = cf_recipe_int_in(r, "eval.every", 0, 0, CF_MAX_STEPS);       /* 0: no evaluation in training */
    run->eval_batches = cf_recipe_int_in(r, "eval.batches", 0, 0, CF_MAX_COUNT);    /* 0: the whole split */
    run->eval_batch_size = cf_recipe_int_in(r, "eval.batch_size", run->batch_size / run->grad_accum, 1, CF_MAX_ROWS);
    run->eval_split = cf_recipe_str(r, "eval.split", mvt->eval_split ? mvt->eval_split : "val");
    return cf_recipe_status(r);
}

/* The resolved recipe with the command-line options that change what a job does, as one text. */
static char *trajectory_text(const cf_run *run, const cf_run_options *o)
{
    char *recipe = cf_recipe_resolved(run->recipe);
    if (!recipe) return NULL;
    /* (not the run directory: on disks not shared across nodes each rank names its own) */
    char opts[2300];
    snprintf(opts, sizeof opts, "command line:\n  resume: %.1000s\n  init_from: %.1000s\n  stop_at: %lld\n  overwrite: %d\n",
             o->resume ? o->resume : "-", o->init_from ? o->init_from : "-", (long long)o->stop_at, (int)o->overwrite);
    size_t n = strlen(opts) + strlen(recipe) + 1;
    char *text = malloc(n);
    if (text) snprintf(text, n, "%s%s", opts, recipe);
    free(recipe);
    return text;
}

/* Ranks must train the same thing: every rank compares its resolved recipe and command-line options with rank
 * 0's and names what differs; all ranks fail together. */
static cf_status check_ranks_agree(cf_run *run, const cf_run_options *o)
{
    char *mine = trajectory_text(run, o), *root = run->rank == 0 ? mine : NULL;
    if (!mine) cf_pg_abort(run->pg, "out of memory comparing the recipe across ranks");
    CF_TRY(cf_pg_broadcast_text(run->pg, &root, 0));
    char diff[1024];
    double differs = run->rank != 0 && cf_recipe_diff(root, mine, NULL, diff, sizeof diff) != 0;
    if (differs) fprintf(stderr, "cformer: rank %d differs from rank 0 (rank 0's value -> this rank's): %s\n", run->rank, diff);
    if (root != mine) free(root);
    free(mine);
    CF_TRY(cf_pg_allreduce_scalar(run->pg, &differs, CF_REDUCE_MAX));
    if (differs)
        return cf_set_error(CF_ERR_STATE, "the ranks were started with different recipes or options (each rank that "
                            "differs names the keys above); start every rank with the same command");
    return CF_OK;
}

/* distributed.backend: mpi | nccl | auto, for training (evaluation does not communicate). nccl all-reduces the
 * gradients on the GPU (distributed/ddp.h), so it needs train.device: cuda and a build with NCCL (or the
 * emulator's shim); it runs even for one rank. auto is nccl when training on a device over several ranks (or with
 * distributed.zero: 1) in a build with NCCL where each rank on a node sees a GPU of its own (cf_nccl_usable), else
 * mpi. ZeRO-1 on a device needs nccl. train.precision: bf16 works with either (the f32 master gradients are reduced
 * after backward). CF_DIST_VERBOSE=1 prints the choice on rank 0. */
static cf_status read_backend(cf_run *run, const char *backend, bool training, int64_t zero)
{
    cf_recipe *r = run->recipe;
    if (!training) return CF_OK;
    bool nccl = strcmp(backend, "nccl") == 0;
    if (strcmp(backend, "auto") == 0 && run->device != CF_CPU && (run->world > 1 || zero)) {
        int32_t usable = cf_nccl_usable(run->pg); /* every rank must choose alike: nccl only if it suits all */
        CF_TRY(cf_pg_allreduce(run->pg, &usable, 1, CF_I32, CF_REDUCE_MIN));
        nccl = usable;
    }
    if (nccl && run->device == CF_CPU)
        return cf_recipe_fail(r, "distributed.backend", CF_ERR_ARG, "nccl reduces gradients on the GPU: it needs "
                              "train.device: cuda (mpi reduces them on the cpu)");
    if (nccl && !cf_nccl_available())
        return cf_recipe_fail(r, "distributed.backend", CF_ERR_UNSUPPORTED, "nccl: this build has no NCCL (configure "
                              "with CF_CUDA, CF_MPI and libnccl installed, or CF_CUDA_EMU with CF_MPI for the emulator's "
                              "shim); mpi reduces train.device: cuda gradients through the host");
    if (zero && run->device != CF_CPU && !nccl)
        return cf_recipe_fail(r, "distributed.zero", CF_ERR_UNSUPPORTED, "ZeRO-1 with train.device: cuda runs over "
                              "distributed.backend: nccl (the shards' collectives on the GPU); this run reduces over mpi%s",
                              strcmp(backend, "auto") == 0 ? " (auto: NCCL is not built, or a rank has no GPU of its own)"
                                                           : "");
    if (run->rank == 0 && getenv("CF_DIST_VERBOSE"))
        fprintf(stderr, "cformer: distributed.backend %s: gradients reduced over %s (%d rank%s)\n", backend,
                nccl ? "nccl" : "mpi", run->world, run->world > 1 ? "s" : "");
    if (nccl && !(run->nccl = cf_nccl_init(run->pg, -1))) {
        char why[512];
        snprintf(why, sizeof why, "%s", cf_last_error());
        return cf_recipe_fail(r, "distributed.backend", cf_last_status(), "nccl: %s", why);
    }
    return CF_OK;
}

/* train.device: cpu | cuda. Training runs there; evaluation (`cformer eval`, generate) stays on the host. */
static cf_status read_device(cf_run *run, const char *device, bool training)
{
    cf_recipe *r = run->recipe;
    run->device = CF_CPU;
    if (strcmp(device, "cpu") == 0 || !training) return CF_OK;
    if (strcmp(device, "cuda") != 0)
        return cf_recipe_fail(r, "train.device", CF_ERR_ARG, "unknown device '%s' (choose from cpu, cuda)", device);
    if (!cf_backend_table(CF_CUDA))
        return cf_recipe_fail(r, "train.device", CF_ERR_UNSUPPORTED, "cuda: this build has no CUDA backend (configure "
                              "with -DCF_CUDA=ON, or -DCF_CUDA_EMU=ON for the CPU emulator of its kernels)");
    if (!cf_backend_for(CF_CUDA))
        return cf_recipe_fail(r, "train.device", CF_ERR_DEVICE, "cuda: no CUDA device is present");
    run->device = CF_CUDA;
    return CF_OK;
}

/* train.precision: f32 | bf16 (bf16 working copies of f32 master weights, on train.device: cuda). After the
 * optimizer, which holds the master. Evaluation (no optimizer) runs in f32 on the host. */
static cf_status read_precision(cf_run *run, const char *precision, bool training, bool shapes_only)
{
    if (strcmp(precision, "f32") == 0 || !training) return CF_OK;
    if (strcmp(precision, "bf16") != 0)
        return cf_recipe_fail(run->recipe, "train.precision", CF_ERR_ARG, "unknown precision '%s' (choose from f32, bf16)",
                              precision);
    if (run->device == CF_CPU)
        return cf_recipe_fail(run->recipe, "train.precision", CF_ERR_UNSUPPORTED, "bf16 needs train.device: cuda (the CPU "
                              "kernels compute in f32 and f64)");
    if (shapes_only) return CF_OK; /* a check: the working copies are not made */
    if (cf_params_set_compute(run->params, CF_BF16) != CF_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", cf_last_error());
        return cf_recipe_fail(run->recipe, "train.precision", cf_last_status(), "%s", why);
    }
    return CF_OK;
}

cf_status cf_run_open(cf_run *run, const cf_run_options *o, bool with_optimizer)
{
    memset(run, 0, sizeof *run);
    cf_register_builtins();
    run->recipe = load_recipe(run, o);
    if (!run->recipe) return cf_last_status();
    cf_recipe *r = run->recipe;
    for (int i = 0; i < o->n_sets; i++) CF_TRY(cf_recipe_set(r, o->sets[i]));
    if (o->steps > 0) {
        char s[64];
        snprintf(s, sizeof s, "train.steps=%lld", (long long)o->steps);
        CF_TRY(cf_recipe_set(r, s));
    }

    run->steps = cf_recipe_int_in(r, "train.steps", 1000, 0, CF_MAX_STEPS);
    run->batch_size = cf_recipe_int_in(r, "train.batch_size", 8, 1, CF_MAX_ROWS);
    run->grad_accum = cf_recipe_int_in(r, "train.grad_accum", 1, 1, CF_MAX_ROWS);
    run->seed = cf_recipe_int_in(r, "train.seed", 0, 0, CF_MAX_SEED);
    run->threads = cf_recipe_int_in(r, "train.threads", 0, 0, CF_MAX_THREADS); /* 0: the OpenMP default */
    const char *nonfinite = cf_recipe_str(r, "train.nonfinite", "stop");
    const char *recompute = cf_recipe_str(r, "train.recompute", "none");
    const char *device = cf_recipe_str(r, "train.device", "cpu");
    const char *precision = cf_recipe_str(r, "train.precision", "f32");
    run->log_every = cf_recipe_int_in(r, "log.every", 10, 1, CF_MAX_STEPS);
    run->ckpt_every = cf_recipe_int_in(r, "checkpoint.every", 0, 0, CF_MAX_STEPS); /* 0: only at the end */
    run->ckpt_keep = cf_recipe_int_in(r, "checkpoint.keep", 3, 0, 1 << 20);      /* 0: keep every checkpoint */
    run->pg = cf_pg_init(NULL, NULL);
    if (!run->pg) return cf_last_status();
    run->world = cf_pg_world(run->pg), run->rank = cf_pg_rank(run->pg);
    const char *backend = cf_recipe_str(r, "distributed.backend", "auto");
    double bucket_mb = cf_recipe_float_in(r, "distributed.bucket_mb", 25.0, 0, 65536, CF_RANGE_OPEN_LO);
    int64_t zero = cf_recipe_int_in(r, "distributed.zero", 0, 0, 1); /* the ZeRO stage: 0 (none) or 1 */
    double timeout = cf_recipe_float_in(r, "distributed.timeout_s", 1800.0, 0, 1e9, CF_RANGE_OPEN_LO);
    CF_TRY(cf_recipe_status(r));
    if (strcmp(backend, "auto") != 0 && strcmp(backend, "mpi") != 0 && strcmp(backend, "nccl") != 0)
        return cf_recipe_fail(r, "distributed.backend", CF_ERR_ARG, "unknown backend '%s' (choose from auto, mpi, nccl)", backend);
    cf_pg_set_timeout(run->pg, timeout);
    if (strcmp(nonfinite, "stop") != 0 && strcmp(nonfinite, "skip") != 0)
        return cf_recipe_fail(r, "train.nonfinite", CF_ERR_ARG, "unknown value '%s' (choose from stop, skip)", nonfinite);
    run->nonfinite_skip = strcmp(nonfinite, "skip") == 0;
    cf_recompute_mode recompute_mode;
    if (!cf_recompute_mode_parse(recompute, &recompute_mode))
        return cf_recipe_fail(r, "train.recompute", CF_ERR_ARG, "unknown value '%s' (choose from none, attention, block)",
                              recompute);
    if (run->batch_size % (run->grad_accum * run->world))
        return cf_recipe_fail(r, "train.batch_size", CF_ERR_ARG, "%lld is not divisible by train.grad_accum (%lld) x the "
                              "number of ranks (%d)", (long long)run->batch_size, (long long)run->grad_accum, run->world);
    CF_TRY(read_device(run, device, with_optimizer));
    CF_TRY(read_backend(run, backend, with_optimizer, zero)); /* before anything is allocated on the device */
    choose_run_dir(run, o);

    run->ctx = cf_ctx_new(&(cf_ctx_options){.device = run->device, .threads = (int)run->threads, .seed = (uint64_t)run->seed});
    run->params = (o->shapes_only ? cf_params_new_shapes : cf_params_new)(CF_F32, (uint64_t)run->seed);
    if (!run->ctx || !run->params) return cf_last_status();
    cf_set_recompute_mode(run->ctx, recompute_mode); /* the transformer blocks recompute in backward (layers/block.c) */

    /* the data first: the model is built for what the training split holds */
    const char *mtype = cf_recipe_require_str(r, "model.type");
    const char *dtype = cf_recipe_require_str(r, "data.type");
    CF_TRY(cf_recipe_status(r));
    const cf_model_vtable *mvt = cf_model_find(mtype);
    if (!mvt) {
        char known[512] = "";
        for (int i = 0; i < cf_model_count(); i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", cf_model_at(i)->name);
        return cf_recipe_fail(r, "model.type", CF_ERR_ARG, "unknown model '%s' (known: %s)", mtype, known);
    }
    if (!(run->train_set = open_split(run, dtype, "train"))) return cf_last_status();
    if (!(run->val_set = open_split(run, dtype, "val"))) return cf_last_status();
    CF_TRY(read_eval(run, mvt));
    run->model = mvt->create(r, run->params, &run->train_set->info);
    if (!run->model) return cf_recipe_status(r) != CF_OK ? cf_recipe_status(r) : cf_last_status();
    if (run->device != CF_CPU && !o->shapes_only) /* before the optimizer's state */
        CF_TRY(cf_params_to_device(run->params, run->device));
    if (with_optimizer && (run->world > 1 || zero || run->nccl) && o->shapes_only) {
        /* the host parameters of a check: device-side limits were checked with train.device and distributed.backend */
        if (cf_ddp_check(run->params, &(cf_ddp_options){.bucket_mb = bucket_mb, .zero_stage = (int)zero}) != CF_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", cf_last_error());
            return cf_recipe_fail(r, zero ? "distributed.zero" : "distributed.bucket_mb", cf_last_status(), "%s", why);
        }
    } else if (with_optimizer && (run->world > 1 || zero || run->nccl)) {
        /* every rank starts from rank 0's weights; buckets exist before the first backward */
        run->ddp = cf_ddp_new(run->pg, run->params,
                              &(cf_ddp_options){.bucket_mb = bucket_mb, .zero_stage = (int)zero, .nccl = run->nccl});
        if (!run->ddp) return cf_last_status();
        CF_TRY(cf_ddp_broadcast_params(run->ddp));
    }
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = (int)(run->batch_size / (run->grad_accum * run->world));
    lc.seed = (uint64_t)run->seed;
    lc.shuffle = cf_recipe_bool(r, "data.shuffle", true);
    lc.rank = run->rank, lc.world = run->world;
    CF_TRY(cf_recipe_status(r));
    if (with_optimizer) {
        run->loader = cf_loader_create(run->train_set, &lc);
        if (!run->loader) return cf_last_status();
    }
    CF_TRY(read_optim(run, with_optimizer && !o->shapes_only));
    CF_TRY(cf_recipe_status(r));
    CF_TRY(read_precision(run, precision, with_optimizer, o->shapes_only));
    CF_TRY(cf_recipe_check_unknown(r));
    return run->world > 1 ? check_ranks_agree(run, o) : CF_OK;
}

void cf_run_close(cf_run *run)
{
    cf_loader_free(run->loader);
    cf_dataset_free(run->train_set);
    cf_dataset_free(run->val_set);
    if (run->model) run->model->vt->free(run->model);
    cf_optim_free(run->opt);
    cf_ddp_free(run->ddp);
    cf_nccl_free(run->nccl);
    cf_params_free(run->params);
    cf_ctx_free(run->ctx);
    cf_recipe_free(run->recipe);
    cf_pg_finalize(run->pg);
    memset(run, 0, sizeof *run);
}

/* b bytes in MB, or in GB when gb */
static const char *bytes_text(double b, bool gb, char *buf, size_t n)
{
    snprintf(buf, n, gb ? "%.2f GB" : "%.1f MB", gb ? b / 1e9 : b / 1e6);
    return buf;
}

/* What training allocates once per rank for the parameters (cf_run_open with the optimizer): the flat values and
 * gradients, the optimizer's slots (sharded over the ranks with ZeRO-1), bf16 working copies of values and
 * gradients; the step arena comes on top and depends on the batch. */
static void print_memory(const cf_run *run)
{
    const cf_params *ps = run->params;
    double flat = (double)ps->total * (double)cf_dtype_size(ps->dtype);
    const cf_optim_config *c = &run->optim_cfg;
    int slots = c->kind == CF_OPTIM_SGD ? c->momentum != 0 : 2;
    int shards = cf_recipe_int(run->recipe, "distributed.zero", 0) ? run->world : 1;
    double state = flat * slots / shards;
    bool bf16 = strcmp(cf_recipe_str(run->recipe, "train.precision", "f32"), "bf16") == 0;
    double work = bf16 ? 2.0 * (double)ps->total * (double)cf_dtype_size(CF_BF16) : 0;
    /* ZeRO-1 on the device: the NCCL collectives' padded buffer, world x shard stride elements (distributed/zero.h) */
    bool zero_dev = cf_recipe_int(run->recipe, "distributed.zero", 0) && run->device != CF_CPU;
    double pad = zero_dev ? (double)cf_zero_shard_stride(ps->total, run->world) * run->world *
                                (double)cf_dtype_size(ps->dtype) : 0;
    double sum = 2 * flat + state + work + pad;
    bool gb = sum >= 1e10;
    char a[32], b[32], t[32], w[32], pb[32], all[32];
    printf("memory per rank for training on %s: weights %s + gradients %s + optimizer state %s (%d slot%s%s)%s%s%s%s = "
           "%s, plus the step's activations\n", run->device == CF_CPU ? "the host" : "the device",
           bytes_text(flat, gb, a, sizeof a), bytes_text(flat, gb, b, sizeof b), bytes_text(state, gb, t, sizeof t), slots,
           slots == 1 ? "" : "s", shards > 1 ? ", ZeRO-1 over the ranks" : "", bf16 ? " + bf16 working copies " : "",
           bf16 ? bytes_text(work, gb, w, sizeof w) : "", zero_dev ? " + ZeRO-1 collective buffer " : "",
           zero_dev ? bytes_text(pad, gb, pb, sizeof pb) : "", bytes_text(sum, gb, all, sizeof all));
}

cf_status cf_recipe_check(const cf_run_options *o)
{
    cf_run_options so = *o;
    so.shapes_only = true; /* nothing the size of the model is allocated */
    cf_run run;
    cf_status st = cf_run_open(&run, &so, true);
    if (st == CF_OK && run.rank == 0) {
        char *text = cf_recipe_resolved(run.recipe);
        printf("%s: ok (%lld parameters)\n", o->recipe_path, (long long)cf_params_numel(run.params));
        print_memory(&run);
        printf("---\n%s", text ? text : "");
        free(text);
    }
    cf_run_close(&run);
    return st;
}
