/* `cformer generate` for any decoder LM (lm_generate.h): text sampled after a prompt with the model's tokenizer and
 * the KV cache. */
#include "recipes/run/lm_generate.h"

#include "data/text/text.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cf_lm_generate_cmd(cf_run *run, const cf_lm *lm, int argc, char **argv)
{
    const char *prompt = "\n";
    int64_t n_new = 200;
    cf_sample_opts so = {.temperature = 0.8, .top_k = 0, .top_p = 1.0, .seed = 1, .use_cache = true};
    cf_cli_sampling sm = {.temperature = so.temperature, .top_p = so.top_p, .top_k = so.top_k, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc, ok = true;
        int sampling = cf_cli_sampling_arg(argc, argv, &i, &sm);
        if (sampling) ok = sampling > 0;
        else if (strcmp(s, "--prompt") == 0 && v) prompt = argv[++i];
        else if (strcmp(s, "--tokens") == 0 && v) ok = cf_cli_int("generate", s, argv[++i], 0, 1 << 20, &n_new);
        else if (strcmp(s, "--no-cache") == 0) so.use_cache = false;
        else {
            fprintf(stderr, "cformer generate: unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
        if (!ok) return 2;
    }
    so.temperature = sm.temperature, so.top_p = sm.top_p, so.top_k = sm.top_k, so.seed = (uint64_t)sm.seed;
    cf_status st = CF_OK;
    const cf_tokenizer *tok = NULL;
    if (strcmp(run->val_set->vt->kind, "text") == 0) tok = cf_text_dataset_tokenizer(run->val_set);
    size_t plen = strlen(prompt);
    int32_t *ids32 = malloc(sizeof(int32_t) * (cf_tokenizer_max_tokens(tok, plen) + 1));
    int64_t *ids = malloc(sizeof(int64_t) * (plen + (size_t)n_new + 1));
    size_t n_ids = 0;
    if (!ids32 || !ids) st = cf_set_error(CF_ERR_OOM, "out of memory");
    if (st == CF_OK) {
        if (tok) st = cf_tokenizer_encode(tok, (const uint8_t *)prompt, plen, ids32, &n_ids);
        else for (n_ids = 0; n_ids < plen; n_ids++) ids32[n_ids] = (uint8_t)prompt[n_ids];
    }
    for (size_t i = 0; st == CF_OK && i < n_ids; i++) ids[i] = ids32[i];
    if (st == CF_OK) st = cf_lm_generate(run->ctx, lm, ids, (int64_t)n_ids, n_new, &so, ids);
    if (st == CF_OK) {
        int64_t total = (int64_t)n_ids + n_new;
        int32_t *all = malloc(sizeof(int32_t) * (size_t)total);
        uint8_t *text = malloc((size_t)total * 64 + 1);
        size_t n_text = 0;
        for (int64_t i = 0; all && i < total; i++) all[i] = (int32_t)ids[i];
        if (!all || !text) st = cf_set_error(CF_ERR_OOM, "out of memory");
        else if (tok) st = cf_tokenizer_decode(tok, all, (size_t)total, text, (size_t)total * 64, &n_text);
        else for (n_text = 0; n_text < (size_t)total; n_text++) text[n_text] = (uint8_t)all[n_text];
        if (st == CF_OK) fwrite(text, 1, n_text, stdout), printf("\n");
        free(all);
        free(text);
    }
    free(ids32);
    free(ids);
    if (st != CF_OK) {
        fprintf(stderr, "cformer generate: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
