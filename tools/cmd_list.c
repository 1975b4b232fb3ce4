/* `cformer list ops|papers|...|env`: what the engine provides and the environment it runs under. */
#include "autograd/cf_node.h"
#include "autograd/cpu/cpu_env.h"
#include "tools/cli.h"
#include "recipes/run/paper.h"
#ifdef CF_HAVE_CUDA
#include "autograd/cuda/cuda_api.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The variables of autograd/cpu/cpu_env.h as this process sees them: "(set by cformer)" when main's
 * re-execution set them, "(plan)" for what it would set (e.g. when CF_CPU_ENV=keep). */
static int list_env(void)
{
    static const char *const vars[] = {"OPENBLAS_CORETYPE", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                       "OPENBLAS_NUM_THREADS", "CF_CPU_ENV"};
    const char *applied = getenv("CF_CPU_ENV");
    bool by_us = applied && strcmp(applied, "applied") == 0;
    printf("openblas_core\t%s\nopenblas_config\t%s\n", cf_cpu_blas_core(), cf_cpu_blas_config());
    const char *better = cf_cpu_blas_better_core();
    if (better) printf("openblas_better_core\t%s\n", better);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v) printf("%s\t%s\n", vars[i], v);
    }
    if (by_us) printf("(CF_CPU_ENV=applied: cformer set the variables its plan names; CF_CPU_ENV=keep turns that off)\n");
    cf_env_setting s[4];
    int n = cf_cpu_env_plan(s, 4);
    for (int i = 0; i < n; i++) printf("plan\t%s=%s\t%s\n", s[i].name, s[i].value, s[i].why);
#ifdef CF_HAVE_CUDA
    /* the CUDA devices train.device: cuda would use (device 0), as the runtime describes them */
    int devices = cf_cuda_device_count();
    for (int d = 0; d < devices; d++) {
        char desc[256];
        if (cf_cuda_describe(d, desc, sizeof desc) == 0) printf("cuda_device\t%d\t%s\n", d, desc);
    }
    if (devices == 0) printf("cuda_device\tnone\t(a CUDA build, no device present)\n");
#endif
    return 0;
}

int cf_cmd_list(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc < 2) {
        printf("usage: cformer list papers|models|datasets|commands|ops|env\n\nLists the papers (recipes/papers.def: one line each,\n"
               "tab-separated: folder, models, datasets, data generators, whether every model has its own evaluation,\n"
               "the smoke recipe and its CI-sized overrides, the title), the models a recipe's model.type can name, the\n"
               "datasets data.type can name, the papers' `cformer run` commands, or the differentiable ops and the backends with kernels for each,\n"
               "or the CPU environment (OpenBLAS's kernels, OpenMP's waiting), what cformer set there and the CUDA devices.\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "ops") == 0) {
        /* the tables as built, whether or not a device is present; "fwd+comp": the backward is the op's
         * composite one (CF_COMPOSITE_BWD in the op list), run from the backend's forward kernels */
        const cf_backend *be[2] = {cf_backend_table(CF_CPU), cf_backend_table(CF_CUDA)};
        printf("%-20s %-9s %-9s\n", "op", "cpu", "cuda");
        for (int i = 0; i < CF_OP_COUNT; i++) {
            const char *col[2];
            for (int k = 0; k < 2; k++) {
                bool f = be[k] && be[k]->fwd[i], own = be[k] && be[k]->bwd[i], comp = be[k] && cf_backend_bwd(be[k], i);
                col[k] = !f ? "-" : own ? "fwd+bwd" : comp ? "fwd+comp" : "fwd";
            }
            printf("%-20s %-9s %-9s\n", cf_op_name(i), col[0], col[1]);
        }
        printf("%d ops\n", CF_OP_COUNT);
        return 0;
    }
    if (strcmp(argv[1], "env") == 0) return list_env();
    cf_register_builtins();
    if (strcmp(argv[1], "papers") == 0) {
        for (int i = 0; i < cf_paper_count(); i++) {
            const cf_paper *p = cf_paper_at(i);
            bool evaluator = p->models && p->models[0];
            printf("%s\t", p->name);
            for (const cf_model_vtable *const *m = p->models; m && *m; m++) {
                printf("%s%s", m == p->models ? "" : ",", (*m)->name);
                evaluator &= (*m)->evaluate != NULL;
            }
            printf("%s\t", p->models && p->models[0] ? "" : "-"); /* "-": none (empty columns would merge) */
            for (const cf_dataset_entry *d = p->datasets; d && d->name; d++) printf("%s%s", d == p->datasets ? "" : ",", d->name);
            printf("%s\t", p->datasets && p->datasets[0].name ? "" : "-");
            for (const cf_data_generator *g = p->generators; g && g->name; g++)
                printf("%s%s", g == p->generators ? "" : ",", g->name);
            printf("%s", p->generators && p->generators[0].name ? "" : "-");
            printf("\t%s\t%s\t%s\t%s\n", evaluator ? "evaluator" : "no-evaluator", p->smoke_recipe ? p->smoke_recipe : "-",
                   p->smoke_sets ? p->smoke_sets : "-", p->title);
        }
        return 0;
    }
    if (strcmp(argv[1], "models") == 0) {
        for (int i = 0; i < cf_model_count(); i++) printf("%-16s %s\n", cf_model_at(i)->name, cf_model_at(i)->summary);
        return 0;
    }
    if (strcmp(argv[1], "commands") == 0) {
        cf_list_commands(stdout);
        return 0;
    }
    if (strcmp(argv[1], "datasets") == 0) {
        cf_dataset_list(stdout);
        return 0;
    }
    fprintf(stderr, "cformer list: unknown list '%s' (try: papers, models, datasets, commands, ops, env)\n", argv[1]);
    return 2;
}
