/* Recipe YAML and --set assignments. The input is the recipe text; when it holds NUL bytes, each piece after
 * the first NUL is one `--set` assignment applied before anything is read (at most 8). Then a few getters of
 * every type read the result, unknown keys are checked, and the resolved recipe must parse again and give the
 * same values for the same keys (recipe.h: "Parsing it and reading the same keys gives the same values"). */
#include "recipes/recipe/recipe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t i, ilist[8];
    double f, flist[8];
    bool b;
    const char *s, *slist[8];
    int ni, nf, ns;
} values;

static void read_keys(cf_recipe *r, values *v)
{
    static const int64_t dims[2] = {64, 128};
    static const double betas[2] = {0.9, 0.95};
    v->i = cf_recipe_int(r, "train.steps", 1000);
    v->f = cf_recipe_float(r, "optim.lr", 3e-4);
    v->b = cf_recipe_bool(r, "model.attn.causal", true);
    v->s = cf_recipe_str(r, "model.type", "transformer");
    v->ni = cf_recipe_int_list(r, "model.dims", v->ilist, 8, dims, 2);
    v->nf = cf_recipe_float_list(r, "optim.betas", v->flist, 8, betas, 2);
    v->ns = cf_recipe_str_list(r, "data.files", v->slist, 8);
    (void)cf_recipe_str(r, "data.path", NULL);
    (void)cf_recipe_require_int(r, "checkpoint.every");
}

static bool same_double(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static bool same(const values *a, const values *b)
{
    if (a->i != b->i || !same_double(a->f, b->f) || a->b != b->b || strcmp(a->s, b->s) != 0 || a->ni != b->ni ||
        a->nf != b->nf || a->ns != b->ns)
        return false;
    for (int k = 0; k < a->ni && k < 8; k++)
        if (a->ilist[k] != b->ilist[k]) return false;
    for (int k = 0; k < a->nf && k < 8; k++)
        if (!same_double(a->flist[k], b->flist[k])) return false;
    for (int k = 0; k < a->ns && k < 8; k++)
        if (strcmp(a->slist[k], b->slist[k]) != 0) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cf_recipe *r = cf_recipe_parse(text, "fuzz.yaml");
    if (r) {
        size_t at = strlen(text) + 1;
        for (int k = 0; k < 8 && at < size; k++) {
            (void)cf_recipe_set(r, text + at);
            at += strlen(text + at) + 1;
        }
        values v;
        read_keys(r, &v);
        (void)cf_recipe_has(r, "model.attn.window");
        const char *origin;
        int line;
        (void)cf_recipe_where(r, "train.steps", &origin, &line);
        (void)cf_recipe_check_unknown(r);
        (void)cf_recipe_hash(r);
        (void)cf_recipe_error(r);
        char *resolved = cf_recipe_resolved(r);
        if (resolved && cf_recipe_status(r) == CF_OK) {
            cf_recipe *again = cf_recipe_parse(resolved, "resolved.yaml");
            if (!again) abort(); /* the resolved text of a valid recipe must parse */
            values w;
            read_keys(again, &w);
            if (cf_recipe_status(again) != CF_OK || !same(&v, &w)) abort();
            cf_recipe_free(again);
        }
        free(resolved);
        cf_recipe_free(r);
    }
    free(text);
    return 0;
}
