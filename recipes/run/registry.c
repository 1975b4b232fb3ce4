/* The registry: every paper of recipes/papers.def, and the built-in datasets. */
#include "recipes/run/registry_internal.h"

#include <string.h>

#define CF_PAPER(folder) &cf_paper_##folder,
static const cf_paper *const papers[] = {
#include "recipes/papers.def"
};
#undef CF_PAPER

#define N_PAPERS ((int)(sizeof papers / sizeof papers[0]))

int cf_paper_count(void) { return N_PAPERS; }
const cf_paper *cf_paper_at(int i) { return i >= 0 && i < N_PAPERS ? papers[i] : NULL; }

const cf_paper *cf_paper_find(const char *name)
{
    for (int i = 0; name && i < N_PAPERS; i++)
        if (strcmp(papers[i]->name, name) == 0) return papers[i];
    return NULL;
}

const cf_data_generator *cf_data_generator_find(const char *name)
{
    for (int i = 0; name && i < N_PAPERS; i++)
        for (const cf_data_generator *g = papers[i]->generators; g && g->name; g++)
            if (strcmp(g->name, name) == 0) return g;
    return NULL;
}

const cf_paper *cf_paper_for_hf_architecture(const char *arch)
{
    for (int i = 0; arch && i < N_PAPERS; i++)
        for (const char *const *a = papers[i]->hf_architectures; a && *a; a++)
            if (strcmp(*a, arch) == 0) return papers[i];
    return NULL;
}

const cf_paper *cf_paper_of_model(const char *name)
{
    for (int i = 0; name && i < N_PAPERS; i++)
        for (const cf_model_vtable *const *m = papers[i]->models; m && *m; m++)
            if (strcmp((*m)->name, name) == 0) return papers[i];
    return NULL;
}

const cf_paper_command *cf_paper_command_find(const char *name)
{
    for (int i = 0; name && i < N_PAPERS; i++)
        for (const cf_paper_command *c = papers[i]->commands; c && c->name; c++)
            if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

void cf_register_builtins(void)
{
    static bool done;
    if (done) return;
    done = true;
    cf_register_builtin_datasets();
    for (int i = 0; i < N_PAPERS; i++) {
        for (const cf_model_vtable *const *m = papers[i]->models; m && *m; m++) cf_model_register(*m);
        for (const cf_dataset_entry *d = papers[i]->datasets; d && d->name; d++) cf_dataset_register(d->name, d->factory);
    }
}
