/* `cformer export` and `cformer inspect`: checkpoints for other tools and for people. */
#include "tools/cli.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/checkpoint/safetensors.h"

#include <stdio.h>
#include <string.h>

int cf_cmd_export(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        printf("usage: cformer export CKPT --format safetensors [--dtype f32|bf16|f16] -o FILE\n"
               "       cformer export CKPT --format hf [--dtype f32|bf16|f16] -o DIR\n\n"
               "safetensors writes the model's tensors under their checkpoint names (PyTorch state_dict names), loadable\n"
               "with safetensors.torch.load_file. hf writes DIR/config.json + DIR/model.safetensors in the Hugging Face\n"
               "layout of the model's architecture (models with an import, `cformer import --help`).\n");
        return 0;
    }
    const char *ckpt = NULL, *out = NULL, *format = "safetensors";
    cf_dtype dt = CF_F32;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            if (!cf_dtype_parse(argv[++i], &dt) || (dt != CF_F32 && dt != CF_BF16 && dt != CF_F16)) {
                fprintf(stderr, "cformer export: --dtype must be f32, bf16 or f16, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !ckpt) {
            ckpt = argv[i];
        } else {
            fprintf(stderr, "cformer export: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!ckpt || !out) {
        fprintf(stderr, "cformer export: need CKPT and -o FILE (see --help)\n");
        return 2;
    }
    if (strcmp(format, "hf") == 0) return cf_cli_export_hf(ckpt, out, dt);
    if (strcmp(format, "safetensors") != 0) {
        fprintf(stderr, "cformer export: unknown format '%s' (supported: safetensors, hf)\n", format);
        return 2;
    }
    if (cf_export_safetensors(ckpt, out, dt) != CF_OK) {
        fprintf(stderr, "cformer export: %s\n", cf_last_error());
        return 1;
    }
    printf("wrote %s (%s)\n", out, cf_dtype_name(dt));
    return 0;
}

int cf_cmd_inspect(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc != 2) {
        printf("usage: cformer inspect CKPT\n\nPrints a checkpoint's tensors (name, shape, dtype), optimizer state,\n"
               "training state (step, data cursor) and the recipe it was trained with.\n");
        return cf_cli_wants_help(argc, argv) ? 0 : 2;
    }
    if (cf_checkpoint_inspect(argv[1], stdout) != CF_OK) {
        fprintf(stderr, "cformer inspect: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
