/* The cformer command: one entry point for every job, `cformer <command> --help` for each. */
#include "autograd/cformer.h"
#include "autograd/cpu/cpu_env.h"
#include "tools/cli.h"
#include "tools/plot.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"demo", cf_cmd_demo, "train a small model on generated data (the quickstart job)"},
    {"train", cf_cmd_train, "train the model of a YAML recipe (resumable, checkpointed)"},
    {"eval", cf_cmd_eval, "evaluate a checkpoint; writes eval.json"},
    {"generate", cf_cmd_generate, "sample from a trained model (text, spike trains, ...: the model's generation)"},
    {"export", cf_cmd_export, "convert a checkpoint for other tools (safetensors, Hugging Face layout)"},
    {"import", cf_cmd_import, "`import hf DIR -o OUT`: a pretrained Hugging Face model as a recipe + checkpoint"},
    {"inspect", cf_cmd_inspect, "show a checkpoint's tensors, state and recipe"},
    {"recipe", cf_cmd_recipe, "`recipe check FILE`: validate a recipe and print it resolved"},
    {"bench", cf_cmd_bench, "`bench ops` (core ops vs BLAS/memcpy), `bench train RECIPE` (throughput)"},
    {"tokenizer", cf_cmd_tokenizer, "`tokenizer train FILE --vocab N -o VOCAB`: learn a BPE vocabulary"},
    {"plot", cf_cmd_plot, "draw the curves in a run's metrics.jsonl to a PNG: `plot RUN_DIR`"},
    {"data", cf_cmd_data, "`data <generator>`: write generated or simulated data (`data --help` lists them)"},
    {"run", cf_cmd_run, "`run <command>`: a paper's own job, e.g. a search (`run --help` lists them)"},
    {"list", cf_cmd_list, "list what is built in: papers, models, datasets, ops"},
};

bool cf_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

static void usage(FILE *f)
{
    fprintf(f, "cformer %d.%d.%d: a deep-learning training framework in C\n\nusage: cformer <command> [args]\n\n",
            CF_VERSION_MAJOR, CF_VERSION_MINOR, CF_VERSION_PATCH);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`cformer <command> --help` describes each command.\n");
}

int main(int argc, char **argv)
{
    cf_cpu_env_reexec(argv); /* before any GEMM or parallel region: see autograd/cpu/cpu_env.h */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("cformer %d.%d.%d\n", CF_VERSION_MAJOR, CF_VERSION_MINOR, CF_VERSION_PATCH);
        return 0;
    }
    /* older spellings: `simulate <generator>` is `data <generator>`, `spikes generate` is `generate` */
    if (strcmp(argv[1], "simulate") == 0) return cf_cmd_data(argc - 1, argv + 1);
    if (strcmp(argv[1], "spikes") == 0 && argc >= 3 && strcmp(argv[2], "generate") == 0) return cf_cmd_generate(argc - 2, argv + 2);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "cformer: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
