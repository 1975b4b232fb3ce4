/* The cformer command's subcommands. Each returns a process exit code. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include "autograd/clock.h"      /* cf_now: the commands' timings */
#include "recipes/run/cli_args.h" /* cf_cli_int, cf_cli_float: every numeric option */
#include "recipes/run/limits.h"   /* the ranges options share with recipe keys */

#include <stdbool.h>
#include <stdio.h>

int cf_cmd_demo(int argc, char **argv);
int cf_cmd_bench(int argc, char **argv);
int cf_cmd_list(int argc, char **argv);
int cf_cmd_train(int argc, char **argv);
int cf_cmd_eval(int argc, char **argv);
int cf_cmd_recipe(int argc, char **argv);
int cf_cmd_bench_train(int argc, char **argv);
int cf_cmd_bench_loader(int argc, char **argv);
int cf_cmd_bench_norm(int argc, char **argv);
int cf_cmd_plot_confusion(int argc, char **argv);
int cf_cmd_plot_forecast(int argc, char **argv);
int cf_cmd_generate(int argc, char **argv);
int cf_cmd_export(int argc, char **argv);
int cf_cmd_inspect(int argc, char **argv);
int cf_cmd_tokenizer(int argc, char **argv);
int cf_cmd_data(int argc, char **argv);
int cf_cmd_import(int argc, char **argv);
/* `cformer export CKPT --format hf -o DIR` (cmd_hf.c), through the paper that registers the model. */
int cf_cli_export_hf(const char *ckpt, const char *out, cf_dtype dt);
int cf_cmd_run(int argc, char **argv);
/* The papers' `cformer run` commands with their usage lines (for `run --help` and `list commands`). */
void cf_list_commands(FILE *f);

/* argv[i] is "--help" or "-h" for some i. */
bool cf_cli_wants_help(int argc, char **argv);

#endif
