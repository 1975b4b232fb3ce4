/* `cformer import hf DIR -o OUT` and `cformer export CKPT --format hf -o DIR`: pretrained models in the
 * Hugging Face layout (config.json + model.safetensors or an index and its shards), converted by the paper
 * that registers the checkpoint's architecture (cf_paper.hf_architectures, hf_import, hf_export). */
#include "autograd/json_read.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/paper.h"
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

static void list_architectures(FILE *f)
{
    const char *sep = "";
    for (int i = 0; i < cf_paper_count(); i++)
        for (const char *const *a = cf_paper_at(i)->hf_architectures; a && *a; a++) fprintf(f, "%s%s", sep, *a), sep = ", ";
    fprintf(f, "\n");
}

int cf_cmd_import(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        printf("usage: cformer import hf DIR -o OUTDIR\n\n"
               "Converts a pretrained model in the Hugging Face layout once: DIR/config.json with DIR/model.safetensors,\n"
               "or DIR/model.safetensors.index.json with the shards it names (bf16, f16 or f32). Writes\n"
               "OUTDIR/model.h5 (a cformer checkpoint, f32) and OUTDIR/recipe.yaml (the model keys from config.json),\n"
               "so that `cformer train OUTDIR/recipe.yaml --init-from OUTDIR/model.h5 --set data.path=...` fine-tunes it.\n"
               "Architectures: ");
        list_architectures(stdout);
        return 0;
    }
    const char *dir = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "cformer import: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (argc < 2 || strcmp(argv[1], "hf") != 0 || !dir || !out) {
        fprintf(stderr, "cformer import: usage: cformer import hf DIR -o OUTDIR (see --help)\n");
        return 2;
    }
    cf_register_builtins();
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", dir);
    cf_jv *doc = cf_jv_read_file(config);
    if (!doc) {
        fprintf(stderr, "cformer import: %s\n", cf_last_error());
        return 1;
    }
    const char *arch = cf_jv_str(cf_jv_at(cf_jv_get(doc, "architectures"), 0));
    const cf_paper *p = cf_paper_for_hf_architecture(arch);
    if (!p || !p->hf_import) {
        fprintf(stderr, "cformer import: %s: architecture %s%s%s is not supported; supported: ", config, arch ? "\"" : "",
                arch ? arch : "(no \"architectures\" list)", arch ? "\"" : "");
        list_architectures(stderr);
        cf_jv_free(doc);
        return 1;
    }
    printf("importing %s (%s, paper %s)\n", dir, arch, p->name);
    cf_jv_free(doc);
    if (p->hf_import(dir, out) != CF_OK) {
        fprintf(stderr, "cformer import: %s\n", cf_last_error());
        return 1;
    }
    printf("wrote %s/model.h5 and %s/recipe.yaml\n", out, out);
    return 0;
}

int cf_cli_export_hf(const char *ckpt, const char *out, cf_dtype dt)
{
    cf_register_builtins();
    cf_ckpt_reader *r = cf_ckpt_open(ckpt);
    if (!r) {
        fprintf(stderr, "cformer export: %s\n", cf_last_error());
        return 1;
    }
    cf_recipe *rec = cf_recipe_parse(cf_ckpt_recipe(r), ckpt);
    const char *type = rec ? cf_recipe_str(rec, "model.type", NULL) : NULL;
    const cf_paper *p = cf_paper_of_model(type);
    int rc = 0;
    if (!p || !p->hf_export) {
        fprintf(stderr, "cformer export: %s: model type '%s' has no Hugging Face export (importable architectures: ",
                ckpt, type ? type : "(none in the checkpoint's recipe)");
        list_architectures(stderr);
        rc = 1;
    }
    cf_recipe_free(rec);
    cf_ckpt_close(r);
    if (rc == 0 && p->hf_export(ckpt, out, dt) != CF_OK) {
        fprintf(stderr, "cformer export: %s\n", cf_last_error());
        rc = 1;
    }
    if (rc == 0) printf("wrote %s/config.json and %s/model.safetensors (%s)\n", out, out, cf_dtype_name(dt));
    return rc;
}
