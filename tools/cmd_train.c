/* `cformer train`, `eval`, `recipe check`, and `bench train`: the jobs a recipe drives. */
#include "tools/bench_gemm_bound.h"
#include "tools/cli.h"
#include "recipes/run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 128

typedef struct {
    cf_run_options o;
    const char *sets[MAX_SETS];
    const char *checkpoint, *out;
} job_args;

/* Parses RECIPE and the options every recipe job shares; returns false (after printing why) on bad
 * arguments. `extra` lists the options this command accepts beyond --set. */
static bool parse(int argc, char **argv, job_args *a, const char *cmd, const char *extra)
{
    memset(a, 0, sizeof *a);
    a->o.sets = a->sets;
    a->o.bench_warmup = 3;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool has_val = i + 1 < argc;
#define OPT(name) (strcmp(s, name) == 0 && strstr(extra, name) && has_val)
        if (strcmp(s, "--set") == 0 && has_val) {
            if (a->o.n_sets == MAX_SETS) {
                fprintf(stderr, "cformer %s: at most %d --set options\n", cmd, MAX_SETS);
                return false;
            }
            a->sets[a->o.n_sets++] = argv[++i];
        } else if (strncmp(s, "--set=", 6) == 0 && a->o.n_sets < MAX_SETS) {
            a->sets[a->o.n_sets++] = s + 6;
        } else if (OPT("--run-dir")) {
            a->o.run_dir = argv[++i];
        } else if (OPT("--resume")) {
            a->o.resume = argv[++i];
        } else if (OPT("--init-from")) {
            a->o.init_from = argv[++i];
        } else if (OPT("--steps")) { /* the range of train.steps, without 0 (0 means "the recipe's") */
            if (!cf_cli_int(cmd, s, argv[++i], 1, CF_MAX_STEPS, &a->o.steps)) return false;
        } else if (OPT("--stop-at")) {
            if (!cf_cli_int(cmd, s, argv[++i], 1, CF_MAX_STEPS, &a->o.stop_at)) return false;
        } else if (OPT("--warmup")) {
            if (!cf_cli_int(cmd, s, argv[++i], 0, CF_MAX_STEPS, &a->o.bench_warmup)) return false;
        } else if (OPT("--checkpoint")) {
            a->checkpoint = argv[++i];
        } else if (OPT("--out")) {
            a->out = argv[++i];
        } else if (strcmp(s, "--quiet") == 0 && strstr(extra, "--quiet")) {
            a->o.quiet = true;
        } else if (strcmp(s, "--profile") == 0 && strstr(extra, "--profile")) {
            a->o.profile = true;
        } else if (strcmp(s, "--overwrite") == 0 && strstr(extra, "--overwrite")) {
            a->o.overwrite = true;
        } else if (strcmp(s, "--allow-recipe-change") == 0 && strstr(extra, "--allow-recipe-change")) {
            a->o.allow_recipe_change = true;
        } else if (s[0] == '-' || a->o.recipe_path) {
            fprintf(stderr, "cformer %s: unexpected argument '%s' (see cformer %s --help)\n", cmd, s, cmd);
            return false;
        } else {
            a->o.recipe_path = s;
        }
#undef OPT
    }
    if (!a->o.recipe_path && !(strstr(extra, "--checkpoint") && a->checkpoint)) {
        fprintf(stderr, "cformer %s: no recipe given (see cformer %s --help)\n", cmd, cmd);
        return false;
    }
    return true;
}

/* Exit codes: 1 a failure, 75 (EX_TEMPFAIL) a job stopped by SIGTERM / SIGUSR1 after saving its checkpoint. */
#define EXIT_INTERRUPTED 75

static int fail(const char *cmd)
{
    fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
    return cf_last_status() == CF_ERR_INTERRUPTED ? EXIT_INTERRUPTED : 1;
}

int cf_cmd_train(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        printf("usage: cformer train RECIPE [--set section.key=value]... [--run-dir DIR] [--overwrite]\n"
               "                     [--resume latest|CKPT [--allow-recipe-change]] [--init-from CKPT] [--steps N] [--stop-at N]\n"
               "                     [--quiet]\n\n"
               "Trains the model of a YAML recipe. Writes DIR/recipe.yaml (the resolved recipe), DIR/metrics.jsonl\n"
               "(one JSON object per logged step) and DIR/checkpoints/step-NNNNNNNN.h5 (every checkpoint.every\n"
               "steps and at the end, keeping checkpoint.keep). DIR defaults to runs/<recipe name>.\n"
               "--resume latest continues the newest checkpoint in DIR bit-exactly (a fresh run when there is\n"
               "none); a recipe that differs from the checkpoint's in a key that changes the trajectory (anything\n"
               "but log.*, checkpoint.*, eval.*, train.threads, train.recompute, distributed.*) is refused, naming\n"
               "the keys, unless --allow-recipe-change. Every rank resumes from what rank 0 reads. --init-from loads the\n"
               "matching weights of another run (fine-tuning) and reports the rest.\n"
               "--stop-at N ends the job after step N with a checkpoint, as a time-boxed or killed job would.\n"
               "DIR is locked while the job runs (a second job on it is refused, naming the holder). A fresh run\n"
               "(no --resume) refuses a DIR that holds an earlier run; --overwrite removes that run's checkpoints and\n"
               "metrics first. SIGTERM or SIGUSR1 (Slurm: #SBATCH --signal=USR1@300) ends the job after the current\n"
               "step with a checkpoint and exit code 75; continue with --resume latest. A step whose loss or gradient\n"
               "is not finite never updates the weights: train.nonfinite: stop (default) ends the run, skip drops it.\n");
        return 0;
    }
    job_args a;
    if (!parse(argc, argv, &a, "train", "--run-dir --resume --init-from --steps --stop-at --quiet --overwrite --allow-recipe-change")) return 2;
    return cf_train(&a.o) == CF_OK ? 0 : fail("train");
}

int cf_cmd_eval(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        printf("usage: cformer eval [RECIPE] --checkpoint CKPT [--out FILE] [--set section.key=value]... [--run-dir DIR]\n\n"
               "Evaluates a checkpoint on the split eval.split names (by default the model type's choice: val for most)\n"
               "with the model's own evaluation (the validation loss for a model without one), prints a\n"
               "table and writes every metric as one JSON object to FILE (default RUN_DIR/eval.json). Without RECIPE\n"
               "the resolved recipe stored in the checkpoint is used (its relative paths resolved as in the recipe file\n"
               "it came from; RUN_DIR is then the run that wrote CKPT); --set overrides either.\n");
        return 0;
    }
    job_args a;
    if (!parse(argc, argv, &a, "eval", "--run-dir --checkpoint --out")) return 2;
    if (!a.checkpoint) {
        fprintf(stderr, "cformer eval: --checkpoint CKPT is required\n");
        return 2;
    }
    return cf_evaluate(&a.o, a.checkpoint, a.out) == CF_OK ? 0 : fail("eval");
}

int cf_cmd_recipe(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc < 2 || strcmp(argv[1], "check") != 0) {
        printf("usage: cformer recipe check RECIPE [--set section.key=value]...\n\n"
               "Opens the data and builds the model of a recipe with its parameters as shapes only (no memory for their\n"
               "values, so a model of any size is checked in the memory of a small one), checks every key and limit the\n"
               "optimizer, devices and ranks would, and prints the parameter count, the memory training needs per rank\n"
               "and the resolved recipe (every key with its value or default); unknown or misspelt keys are reported\n"
               "with file:line.\n");
        return cf_cli_wants_help(argc, argv) ? 0 : 2;
    }
    job_args a;
    if (!parse(argc - 1, argv + 1, &a, "recipe check", "")) return 2;
    return cf_recipe_check(&a.o) == CF_OK ? 0 : fail("recipe check");
}

int cf_cmd_bench_train(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        printf("usage: cformer bench train RECIPE [--steps N] [--warmup W] [--profile] [--set section.key=value]...\n\n"
               "Trains N steps after W warm-up steps (default 3) without checkpoints; reports the model's FLOP rate, the\n"
               "step arena's high-water, the GEMM bound at the model's own shapes (its GEMMs replayed through threaded\n"
               "cblas), with --profile the time of each op forward and backward per step, and as its last line\n"
               "tokens_per_s=<x> step_ms=<y> peak_rss_mb=<z>.\n");
        return 0;
    }
    job_args a;
    if (!parse(argc, argv, &a, "bench train", "--steps --warmup --profile")) return 2;
    a.o.bench = true;
    a.o.quiet = true;
    a.o.steps = (a.o.steps > 0 ? a.o.steps : 20) + a.o.bench_warmup;
    cf_gemm_bound gb;
    cf_gemm_bound_start(&gb);
    a.o.bench_report = cf_gemm_bound_report, a.o.bench_user = &gb;
    cf_status st = cf_train(&a.o);
    cf_gemm_bound_stop();
    return st == CF_OK ? 0 : fail("bench train");
}
