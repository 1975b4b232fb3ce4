/* `cformer generate` for the decoder language models: a model's vtable generate gives its cf_lm
 * (layers/generate.h: the cached logits and the facts the sampling loop needs) to cf_lm_generate_cmd:
 *
 *     static int generate(cf_run *run, int argc, char **argv)
 *     {
 *         cf_lm lm = my_decoder_lm(my_net_of(run->model));
 *         return cf_lm_generate_cmd(run, &lm, argc, argv);
 *     }
 *     ... .generate = generate, .generate_usage = CF_LM_GENERATE_USAGE ...
 *
 * The prompt is encoded with the validation split's tokenizer when the data is text (data.tokenizer), as
 * bytes otherwise; the prompt and the sampled tokens are decoded back and printed. */
#ifndef CF_LM_GENERATE_H
#define CF_LM_GENERATE_H

#include "layers/generate.h"
#include "recipes/run/run.h"

/* Parses argv (argv[0] "generate"; the arguments of CF_LM_GENERATE_USAGE), samples, prints; an exit code. */
int cf_lm_generate_cmd(cf_run *run, const cf_lm *lm, int argc, char **argv);
#define CF_LM_GENERATE_USAGE \
    "  [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--no-cache]\n" \
    "Samples N tokens (default 200) after the prompt with the model's tokenizer; temperature 0 is greedy.\n" \
    "--no-cache recomputes the whole prefix for every token (the reference the KV cache is checked against).\n"

#endif
