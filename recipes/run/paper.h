/* A paper as cformer registers it: what one folder recipes/<paper>/ adds to the framework. Each paper's
 * recipes/<paper>/paper.c defines one cf_paper; recipes/papers.def lists them (one line each) and this header
 * declares every one of them from that list, so the compiler checks each definition against its declaration.
 *
 *     // recipes/mypaper/paper.c
 *     #include "recipes/run/paper.h"
 *     static const cf_model_vtable *const models[] = {&my_model, NULL};
 *     static const cf_dataset_entry datasets[] = {{"mydata", my_factory}, {0}};
 *     const cf_paper cf_paper_mypaper = {
 *         .name = "mypaper", .title = "My Paper (Someone et al., 2025)",
 *         .models = models, .datasets = datasets, .smoke_recipe = "small.yaml",
 *     };
 *     // recipes/papers.def
 *     CF_PAPER(mypaper)
 *
 * The generic commands reach a paper only through this table: `cformer data <generator>`, `cformer demo`,
 * `cformer generate` (the model's generate), `cformer run <command>`, `cformer eval` (the model's evaluate), `cformer list`. */
#ifndef CF_PAPER_H
#define CF_PAPER_H

#include "recipes/run/model.h"

#include <stdio.h>

typedef struct cf_dataset_entry {
    const char *name;           /* a recipe's data.type */
    cf_dataset_factory factory; /* recipe_like is the run's cf_recipe * */
} cf_dataset_entry;

/* `cformer data <name> [args]`: writes data files (generated or simulated data in the format real data uses). */
typedef struct cf_data_generator {
    const char *name;
    const char *summary; /* one line for `cformer data --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the generator's name; returns a process exit code */
    /* Optional, for `cformer data info FILE`: describes a file of this generator's format on stdout and
     * returns 0; returns -1 without printing when the file is not of its format; >0 on a damaged file (the
     * error printed). */
    int (*describe)(const char *path);
} cf_data_generator;

/* `cformer run <name> [args]`: a paper's own job that is neither training nor evaluation (a search, a sweep). */
typedef struct cf_paper_command {
    const char *name;
    const char *summary; /* one line for `cformer run --help` and `cformer list` */
    const char *usage;   /* its argument synopsis ("--checkpoint CKPT --out DIR"), for `cformer run --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command's name; returns a process exit code */
} cf_paper_command;

typedef struct cf_paper {
    const char *name;                      /* = its folder under recipes/ */
    const char *title;                     /* the paper: title, authors, venue */
    const cf_model_vtable *const *models;  /* NULL-terminated */
    const cf_dataset_entry *datasets;      /* terminated by an entry with name NULL; may be NULL */
    const cf_data_generator *generators;   /* terminated by an entry with name NULL; may be NULL */
    const cf_paper_command *commands;      /* terminated by an entry with name NULL; may be NULL */
    /* The quickstart job (`cformer demo`), optional: argv[0] is "demo"; returns a process exit code. */
    int (*demo)(int argc, char **argv);
    /* A recipe file of the folder (relative to it) that the test suite trains for a few steps and evaluates
     * (tests/test_papers.sh): every paper has one. */
    const char *smoke_recipe;
    /* --set overrides that make the smoke recipe CI-sized (space-separated "key=value"; may be NULL). */
    const char *smoke_sets;
    /* Pretrained weights in the Hugging Face layout (optional): the config.json "architectures" names this
     * paper converts (NULL-terminated); `cformer import hf DIR -o OUT` calls hf_import (writes OUT/recipe.yaml
     * and the checkpoint OUT/model.h5), `cformer export CKPT --format hf -o DIR` calls hf_export for a
     * checkpoint whose model.type is one of the paper's models (writes config.json + model.safetensors). */
    const char *const *hf_architectures;
    cf_status (*hf_import)(const char *dir, const char *out_dir);
    cf_status (*hf_export)(const char *ckpt, const char *out_dir, cf_dtype dtype);
} cf_paper;

#define CF_PAPER(folder) extern const cf_paper cf_paper_##folder;
#include "recipes/papers.def"
#undef CF_PAPER

/* The papers in papers.def order. */
int cf_paper_count(void);
const cf_paper *cf_paper_at(int i);
const cf_paper *cf_paper_find(const char *name);
/* The paper whose hf_architectures holds arch, or NULL. */
const cf_paper *cf_paper_for_hf_architecture(const char *arch);
/* The paper registering the model type name, or NULL. */
const cf_paper *cf_paper_of_model(const char *name);
/* The data generator called name across every paper, or NULL. */
const cf_data_generator *cf_data_generator_find(const char *name);
/* The `cformer run` command called name across every paper, or NULL. */
const cf_paper_command *cf_paper_command_find(const char *name);

#endif
