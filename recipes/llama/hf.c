/* The Llama / Mistral family to and from the Hugging Face layout (recipes/llama/model.h): config.json
 * <-> recipe keys, safetensors tensors <-> our parameters, one tensor in memory at a time. */
#include "autograd/fileio.h"
#include "autograd/json.h"
#include "autograd/json_read.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/checkpoint/safetensors.h"
#include "recipes/llama/model.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const top_names[][2] = {
    {"embed.weight", "model.embed_tokens.weight"}, {"norm.weight", "model.norm.weight"}, {"head.weight", "lm_head.weight"}};
static const char *const layer_names[][2] = {
    {"attn_norm.weight", "input_layernorm.weight"}, {"mlp_norm.weight", "post_attention_layernorm.weight"},
    {"attn.q.weight", "self_attn.q_proj.weight"},   {"attn.k.weight", "self_attn.k_proj.weight"},
    {"attn.v.weight", "self_attn.v_proj.weight"},   {"attn.o.weight", "self_attn.o_proj.weight"},
    {"mlp.gate.weight", "mlp.gate_proj.weight"},    {"mlp.fc1.weight", "mlp.up_proj.weight"},
    {"mlp.fc2.weight", "mlp.down_proj.weight"}};

bool cf_llama_hf_name(const char *ours, char *hf, size_t n)
{
    for (size_t i = 0; i < sizeof top_names / sizeof top_names[0]; i++)
        if (strcmp(ours, top_names[i][0]) == 0) return snprintf(hf, n, "%s", top_names[i][1]) < (int)n;
    long long layer;
    int used = 0;
    if (sscanf(ours, "layers.%lld.%n", &layer, &used) != 1 || used == 0) return false;
    for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
        if (strcmp(ours + used, layer_names[i][0]) == 0)
            return snprintf(hf, n, "model.layers.%lld.%s", layer, layer_names[i][1]) < (int)n;
    return false;
}

/* ---- config.json ---- */

typedef struct {
    const cf_jv *doc;
    const char *path;
    cf_status st;
} config_reader;

static double num(config_reader *c, const char *key, double dflt, bool required)
{
    const cf_jv *v = cf_jv_get(c->doc, key);
    double d = dflt;
    if (c->st != CF_OK) return dflt;
    if ((!v || cf_jv_kind(v) == CF_JV_NULL) && !required) return dflt;
    if (!cf_jv_number(v, &d) || !isfinite(d) || d < 0)
        c->st = cf_set_error(CF_ERR_FORMAT, "%s: \"%s\" must be a non-negative number%s", c->path, key,
                             v ? "" : " and is missing");
    return d;
}

static int64_t whole(config_reader *c, const char *key, int64_t dflt, bool required, int64_t hi)
{
    double d = num(c, key, (double)dflt, required);
    if (c->st == CF_OK && (d != floor(d) || d > (double)hi))
        c->st = cf_set_error(CF_ERR_FORMAT, "%s: \"%s\" is %g, not a whole number in [0, %lld]", c->path, key, d, (long long)hi);
    return (int64_t)d;
}

static cf_status refuse_if(config_reader *c, const char *key, bool bad, const char *why)
{
    if (c->st == CF_OK && bad) c->st = cf_set_error(CF_ERR_UNSUPPORTED, "%s: \"%s\": %s", c->path, key, why);
    return c->st;
}

static void rope_scaling(config_reader *c, cf_rope_scaling *s)
{
    const cf_jv *rs = cf_jv_get(c->doc, "rope_scaling");
    if (c->st != CF_OK || cf_jv_kind(rs) == CF_JV_NULL) return;
    const char *type = cf_jv_str(cf_jv_get(rs, "rope_type"));
    if (!type) type = cf_jv_str(cf_jv_get(rs, "type")); /* the older key */
    if (cf_jv_kind(rs) != CF_JV_OBJECT || !type) {
        c->st = cf_set_error(CF_ERR_FORMAT, "%s: \"rope_scaling\" must be an object with a \"rope_type\" string", c->path);
        return;
    }
    if (!cf_rope_scaling_parse(type, &s->kind)) {
        c->st = cf_set_error(CF_ERR_UNSUPPORTED, "%s: rope_scaling type \"%s\" is not supported (default, linear, llama3 are)",
                             c->path, type);
        return;
    }
    config_reader sub = {rs, c->path, CF_OK};
    s->factor = num(&sub, "factor", 1, s->kind != CF_ROPE_SCALE_NONE);
    if (s->kind == CF_ROPE_SCALE_LLAMA3) {
        s->low_freq_factor = num(&sub, "low_freq_factor", 1, true);
        s->high_freq_factor = num(&sub, "high_freq_factor", 4, true);
        s->original_max_pos = whole(&sub, "original_max_position_embeddings", 8192, true, CF_MAX_SEQ);
    }
    c->st = sub.st;
}

cf_status cf_llama_hf_config(const char *config_path, cf_llama_config *out, cf_dtype *dtype)
{
    cf_jv *doc = cf_jv_read_file(config_path);
    if (!doc) return cf_last_status();
    config_reader c = {doc, config_path, CF_OK};
    cf_llama_config k = cf_llama_defaults();
    if (cf_jv_kind(doc) != CF_JV_OBJECT) c.st = cf_set_error(CF_ERR_FORMAT, "%s: not a JSON object", config_path);
    k.vocab = whole(&c, "vocab_size", 0, true, INT32_MAX);
    k.dim = whole(&c, "hidden_size", 0, true, 1 << 20);
    k.hidden = whole(&c, "intermediate_size", 0, true, 1 << 22);
    k.layers = whole(&c, "num_hidden_layers", 0, true, 4096);
    k.heads = whole(&c, "num_attention_heads", 0, true, 1 << 20);
    k.kv_heads = whole(&c, "num_key_value_heads", k.heads, false, 1 << 20);
    k.head_dim = whole(&c, "head_dim", 0, false, 1 << 20);
    k.max_seq = whole(&c, "max_position_embeddings", 2048, false, CF_MAX_SEQ);
    k.sliding_window = whole(&c, "sliding_window", 0, false, CF_MAX_SEQ);
    k.norm_eps = num(&c, "rms_norm_eps", 1e-6, false);
    k.rope_theta = num(&c, "rope_theta", 10000.0, false);
    bool flag = false;
    k.tie = cf_jv_bool(cf_jv_get(doc, "tie_word_embeddings"), &flag) && flag;
    rope_scaling(&c, &k.rope_scaling);
    const char *act = cf_jv_str(cf_jv_get(doc, "hidden_act"));
    refuse_if(&c, "hidden_act", act && strcmp(act, "silu") != 0, "only silu (SwiGLU) is this family's activation");
    refuse_if(&c, "attention_bias", cf_jv_bool(cf_jv_get(doc, "attention_bias"), &flag) && flag, "biases are not supported");
    refuse_if(&c, "mlp_bias", cf_jv_bool(cf_jv_get(doc, "mlp_bias"), &flag) && flag, "biases are not supported");
    const char *td = cf_jv_str(cf_jv_get(doc, "torch_dtype"));
    *dtype = CF_F32;
    if (td && strcmp(td, "bfloat16") == 0) *dtype = CF_BF16;
    else if (td && strcmp(td, "float16") == 0) *dtype = CF_F16;
    else refuse_if(&c, "torch_dtype", td && strcmp(td, "float32") != 0, "only bfloat16, float16 and float32 are read");
    cf_jv_free(doc);
    if (c.st == CF_OK && cf_llama_config_check(&k) != CF_OK) {
        cf_error_prefix("%s: ", config_path);
        c.st = CF_ERR_FORMAT;
    }
    if (c.st == CF_OK) *out = k;
    return c.st;
}

/* The architecture named by config.json, for messages and for the check that it is one of ours. */
static cf_status architecture(const char *config_path, char *arch, size_t n)
{
    cf_jv *doc = cf_jv_read_file(config_path);
    if (!doc) return cf_last_status();
    const char *a = cf_jv_str(cf_jv_at(cf_jv_get(doc, "architectures"), 0));
    snprintf(arch, n, "%s", a ? a : "");
    cf_jv_free(doc);
    return CF_OK;
}

/* ---- import ---- */

/* The recipe text of an imported model (malloc'ed; NULL when out of memory). */
static char *recipe_text(const char *src, const char *arch, const cf_llama_config *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *af = open_memstream(&text, &len);
    if (!af) return NULL;
    const cf_rope_scaling *s = &k->rope_scaling;
    fprintf(af,
                     "# %s imported from %s by `cformer import hf`. Fine-tune with\n"
                     "#   cformer train THIS --init-from model.h5 --set data.path=CORPUS\n"
                     "# on a corpus tokenized as the model's tokenizer does (data.tokenizer).\n"
                     "model:\n  type: llama\n  vocab: %lld\n  dim: %lld\n  layers: %lld\n  heads: %lld\n  kv_heads: %lld\n"
                     "  head_dim: %lld\n  hidden: %lld\n  seq: %lld\n  max_pos: %lld\n  sliding_window: %lld\n"
                     "  norm_eps: %.17g\n  rope_theta: %.17g\n  tie: %s\n",
                     arch, src, (long long)k->vocab, (long long)k->dim, (long long)k->layers, (long long)k->heads,
                     (long long)k->kv_heads, (long long)k->head_dim, (long long)k->hidden,
                     (long long)(k->max_seq < 256 ? k->max_seq : 256), (long long)k->max_seq,
                     (long long)k->sliding_window, k->norm_eps, k->rope_theta, k->tie ? "true" : "false");
    if (s->kind != CF_ROPE_SCALE_NONE)
        fprintf(af, "  rope_scaling:\n    type: %s\n    factor: %.17g\n", cf_rope_scaling_name(s->kind), s->factor);
    if (s->kind == CF_ROPE_SCALE_LLAMA3)
        fprintf(af, "    low_freq_factor: %.17g\n    high_freq_factor: %.17g\n    original_max_pos: %lld\n",
                         s->low_freq_factor, s->high_freq_factor, (long long)s->original_max_pos);
    fprintf(af, "data:\n  type: text\n  path:\n  tokenizer: byte\n"
                         "train:\n  steps: 100\n  batch_size: 8\n  seed: 1\n"
                         "optim:\n  type: adamw\n  lr: 1.0e-5\n  weight_decay: 0.0\n  warmup: 10\n  schedule: cosine\n"
                         "checkpoint:\n  every: 50\n  keep: 2\n");
    bool ok = !ferror(af);
    if (fclose(af) != 0 || !ok) free(text), text = NULL;
    return text;
}

/* Every parameter from its Hugging Face tensor (shape and dtype checked), then no tensor left unused. */
static cf_status load_tensors(const cf_st_dir *d, const char *dir, cf_params *ps, cf_dtype want)
{
    static const char *const ignorable[] = {"rotary_emb.inv_freq", "lm_head.weight"}; /* buffers; a tied head */
    char hf[CF_PARAM_NAME_MAX];
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        const char *file = NULL;
        if (!cf_llama_hf_name(p->name, hf, sizeof hf))
            return cf_set_error(CF_ERR_ARG, "llama import: parameter %s has no Hugging Face name", p->name);
        const cf_st_entry *e = cf_st_dir_find(d, hf, &file);
        if (!e) return cf_set_error(CF_ERR_FORMAT, "%s: tensor %s is missing (config.json implies it)", dir, hf);
        bool same = e->ndim == p->value->ndim;
        for (int k = 0; same && k < e->ndim; k++) same = e->shape[k] == p->value->shape[k];
        if (!same) {
            char got[128], need[128];
            int at = 0;
            for (int k = 0; k < e->ndim; k++) at += snprintf(got + at, sizeof got - (size_t)at, k ? ", %lld" : "%lld", (long long)e->shape[k]);
            if (!e->ndim) got[0] = '\0';
            return cf_set_error(CF_ERR_SHAPE, "%s: tensor %s has shape [%s], config.json implies %s", file, hf, got,
                                cf_shape_str(p->value, need, sizeof need));
        }
        if (e->dtype != want)
            return cf_set_error(CF_ERR_DTYPE, "%s: tensor %s is %s, but config.json's torch_dtype says %s", file, hf,
                                cf_dtype_name(e->dtype), cf_dtype_name(want));
        CF_TRY(cf_st_dir_read_f32(d, e, (float *)ps->values + p->offset));
    }
    for (int i = 0; i < cf_st_dir_count(d); i++) {
        const char *file = NULL;
        const cf_st_entry *e = cf_st_dir_at(d, i, &file);
        bool used = false;
        for (int j = 0; j < ps->count && !used; j++) used = cf_llama_hf_name(ps->items[j].name, hf, sizeof hf) && strcmp(hf, e->name) == 0;
        for (size_t j = 0; j < 2 && !used; j++) {
            size_t n = strlen(e->name), m = strlen(ignorable[j]);
            used = n >= m && strcmp(e->name + n - m, ignorable[j]) == 0;
        }
        if (!used)
            return cf_set_error(CF_ERR_FORMAT, "%s: tensor %s is not part of the Llama / Mistral architecture config.json "
                                "describes (another architecture, or biases?)", file, e->name);
    }
    return CF_OK;
}

cf_status cf_llama_hf_import(const char *dir, const char *out_dir)
{
    char config[4096], arch[128], path[4096];
    snprintf(config, sizeof config, "%s/config.json", dir);
    CF_TRY(architecture(config, arch, sizeof arch));
    cf_llama_config k;
    cf_dtype dt;
    CF_TRY(cf_llama_hf_config(config, &k, &dt));
    cf_st_dir *d = cf_st_dir_open(dir);
    if (!d) return cf_last_status();
    cf_params *ps = cf_params_new(CF_F32, 0);
    cf_llama m = {0};
    cf_status st = ps ? cf_llama_init(&m, ps, &k) : cf_last_status();
    if (st == CF_OK) st = load_tensors(d, dir, ps, dt);
    if (st == CF_OK) st = cf_params_check_finite(ps, dir);
    char *text = st == CF_OK ? recipe_text(dir, arch, &k) : NULL;
    if (st == CF_OK && !text) st = cf_set_error(CF_ERR_OOM, "import: out of memory");
    if (st == CF_OK) st = cf_mkdirs(out_dir);
    if (st == CF_OK) {
        snprintf(path, sizeof path, "%s/model.h5", out_dir);
        st = cf_checkpoint_save(path, ps, 0, NULL, NULL, text);
    }
    if (st == CF_OK) { /* the recipe last: a directory with a recipe.yaml holds a finished import */
        snprintf(path, sizeof path, "%s/recipe.yaml", out_dir);
        st = cf_write_file_atomic(path, text, strlen(text));
    }
    free(text);
    cf_llama_free(&m);
    cf_params_free(ps);
    cf_st_dir_close(d);
    return st;
}

/* ---- export ---- */

static cf_status write_config(const char *path, const cf_llama_config *k, cf_dtype dt)
{
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    bool mistral = k->sliding_window > 0;
    cf_json_object(&j);
    cf_json_key(&j, "architectures");
    cf_json_array(&j);
    cf_json_string(&j, mistral ? "MistralForCausalLM" : "LlamaForCausalLM");
    cf_json_end(&j);
    cf_json_kv_string(&j, "model_type", mistral ? "mistral" : "llama");
    cf_json_kv_int(&j, "vocab_size", k->vocab);
    cf_json_kv_int(&j, "hidden_size", k->dim);
    cf_json_kv_int(&j, "intermediate_size", k->hidden);
    cf_json_kv_int(&j, "num_hidden_layers", k->layers);
    cf_json_kv_int(&j, "num_attention_heads", k->heads);
    cf_json_kv_int(&j, "num_key_value_heads", k->kv_heads);
    cf_json_kv_int(&j, "head_dim", k->head_dim);
    cf_json_kv_int(&j, "max_position_embeddings", k->max_seq);
    cf_json_kv_number(&j, "rms_norm_eps", k->norm_eps);
    cf_json_kv_number(&j, "rope_theta", k->rope_theta);
    cf_json_kv_string(&j, "hidden_act", "silu");
    cf_json_key(&j, "tie_word_embeddings");
    cf_json_bool(&j, k->tie);
    cf_json_key(&j, "attention_bias");
    cf_json_bool(&j, false);
    cf_json_key(&j, "sliding_window");
    if (mistral) cf_json_int(&j, k->sliding_window);
    else cf_json_null(&j);
    cf_json_key(&j, "rope_scaling");
    const cf_rope_scaling *s = &k->rope_scaling;
    if (s->kind == CF_ROPE_SCALE_NONE) {
        cf_json_null(&j);
    } else {
        cf_json_object(&j);
        cf_json_kv_string(&j, "rope_type", cf_rope_scaling_name(s->kind));
        cf_json_kv_number(&j, "factor", s->factor);
        if (s->kind == CF_ROPE_SCALE_LLAMA3) {
            cf_json_kv_number(&j, "low_freq_factor", s->low_freq_factor);
            cf_json_kv_number(&j, "high_freq_factor", s->high_freq_factor);
            cf_json_kv_int(&j, "original_max_position_embeddings", s->original_max_pos);
        }
        cf_json_end(&j);
    }
    cf_json_kv_string(&j, "torch_dtype", dt == CF_BF16 ? "bfloat16" : dt == CF_F16 ? "float16" : "float32");
    cf_json_end(&j);
    return cf_json_commit(&j);
}

static cf_status fetch_tensor(void *user, int src, float *out)
{
    cf_ckpt_reader *r = user;
    return cf_ckpt_read(r, NULL, cf_ckpt_tensor_at(r, NULL, src)->name, CF_F32, out);
}

/* The checkpoint's tensors under their Hugging Face names, streamed one at a time; every tensor must be one
 * of the family's and their number what the recipe's shape implies. */
cf_status cf_llama_hf_export(const char *ckpt, const char *out_dir, cf_dtype dtype)
{
    cf_ckpt_reader *r = cf_ckpt_open(ckpt);
    if (!r) return cf_last_status();
    cf_recipe *rec = cf_recipe_parse(cf_ckpt_recipe(r), ckpt);
    cf_llama_config k = cf_llama_defaults();
    cf_status st = rec ? cf_llama_config_from_recipe(rec, &k) : cf_last_status();
    if (st == CF_OK) st = cf_llama_config_check(&k);
    if (st != CF_OK && rec) cf_error_prefix("%s: its recipe: ", ckpt);
    int n = cf_ckpt_count(r, NULL);
    int64_t want = 2 + 9 * k.layers + (k.tie ? 0 : 1);
    if (st == CF_OK && n != want)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %d tensors, but the llama of its recipe (%lld layers, %s) has %lld", ckpt, n,
                          (long long)k.layers, k.tie ? "tied" : "untied", (long long)want);
    cf_st_out *outs = st == CF_OK ? calloc((size_t)n, sizeof *outs) : NULL;
    char (*names)[CF_PARAM_NAME_MAX] = st == CF_OK ? calloc((size_t)n, sizeof *names) : NULL;
    if (st == CF_OK && (!outs || !names)) st = cf_set_error(CF_ERR_OOM, "export: out of memory");
    for (int i = 0; st == CF_OK && i < n; i++) {
        const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, NULL, i);
        if (!cf_llama_hf_name(t->name, names[i], sizeof names[i]))
            st = cf_set_error(CF_ERR_FORMAT, "%s: tensor %s is not a parameter of the llama family", ckpt, t->name);
        outs[i] = (cf_st_out){.name = names[i], .ndim = t->ndim, .src = i};
        memcpy(outs[i].shape, t->shape, sizeof outs[i].shape);
    }
    char path[4096];
    if (st == CF_OK) st = cf_mkdirs(out_dir);
    if (st == CF_OK) {
        snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
        st = cf_safetensors_write(path, n, outs, dtype, fetch_tensor, r);
    }
    if (st == CF_OK) {
        snprintf(path, sizeof path, "%s/config.json", out_dir);
        st = write_config(path, &k, dtype);
    }
    free(outs);
    free(names);
    cf_recipe_free(rec);
    cf_ckpt_close(r);
    return st;
}
