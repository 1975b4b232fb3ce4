/* `model.type: llama`: the Llama / Mistral decoder (layers/llama.h) as the trainer sees it, and the
 * conversion to and from the Hugging Face layout (config.json + safetensors; hf.c).
 *
 * Recipe keys (model.*): vocab, dim, layers, heads, kv_heads (0: heads), head_dim (0: dim / heads), hidden,
 * seq (training rows), max_pos (positions the model was trained for), sliding_window (0: full causal),
 * norm_eps, rope_theta, rope_scaling.{type, factor, low_freq_factor, high_freq_factor, original_max_pos},
 * tie, init_std. */
#ifndef CF_MODEL_LLAMA_H
#define CF_MODEL_LLAMA_H

#include "layers/llama.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_llama_model;

/* Reads every model.* key above into c (ranges checked; errors are the recipe's sticky error). */
cf_status cf_llama_config_from_recipe(cf_recipe *r, cf_llama_config *c);
/* The cf_llama inside a model made by cf_llama_model.create; NULL for other models. */
cf_llama *cf_llama_of(cf_model *m);

/* ---- Hugging Face layout (hf.c) ----
 * Our parameter name <-> the Hugging Face LlamaForCausalLM / MistralForCausalLM name:
 *   embed.weight <-> model.embed_tokens.weight          norm.weight <-> model.norm.weight
 *   head.weight <-> lm_head.weight (absent when tied)
 *   layers.<i>.attn_norm / mlp_norm      <-> model.layers.<i>.input_layernorm / post_attention_layernorm
 *   layers.<i>.attn.{q,k,v,o}            <-> model.layers.<i>.self_attn.{q,k,v,o}_proj
 *   layers.<i>.mlp.{gate,fc1,fc2}        <-> model.layers.<i>.mlp.{gate,up,down}_proj
 * The q/k rows are used as stored: Hugging Face keeps them in the rotate-half rotary layout our RoPE uses.
 * false when ours is not a parameter name of the family. */
bool cf_llama_hf_name(const char *ours, char *hf, size_t n);
/* config.json -> config (CF_ERR_FORMAT / CF_ERR_UNSUPPORTED naming the file and key: an activation other
 * than silu, attention or MLP biases, an unknown rope scaling type). *dtype gets torch_dtype (CF_F32 when
 * absent). */
cf_status cf_llama_hf_config(const char *config_path, cf_llama_config *c, cf_dtype *dtype);
/* `cformer import hf DIR -o OUT`: writes OUT/recipe.yaml and OUT/model.h5 (f32). */
cf_status cf_llama_hf_import(const char *dir, const char *out_dir);
/* `cformer export CKPT --format hf -o DIR`: DIR/config.json and DIR/model.safetensors in dtype. */
cf_status cf_llama_hf_export(const char *ckpt, const char *out_dir, cf_dtype dtype);

#endif
