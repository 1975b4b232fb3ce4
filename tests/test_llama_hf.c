/* Reading the Hugging Face layout: the JSON reader, safetensors directories (single file, index + shards,
 * malformed headers, missing shards, an index that lies) and the Llama importer's refusals (shape, dtype,
 * missing or foreign tensors, unsupported config values), each error naming the file and the tensor or key.
 * With HDF5, a good import is loaded back and compared with the values written. */
#define CHECK_SHOW_LAST_ERROR
#include "tests/check.h"
#include "tests/tmpdir.h"
#include "autograd/json_read.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/checkpoint/safetensors.h"
#include "recipes/llama/model.h"

static bool has(const char *needle) { return strstr(cf_last_error(), needle) != NULL; }

static void test_json(void)
{
    const char *doc = "{\"a\": [1, -2.5e3, true, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"o\": {\"k\": false}}";
    cf_jv *v = cf_jv_parse(doc, strlen(doc), "doc");
    double d = 0;
    bool b = true;
    CHECK(v && cf_jv_kind(v) == CF_JV_OBJECT && cf_jv_len(v) == 3);
    CHECK(cf_jv_number(cf_jv_at(cf_jv_get(v, "a"), 1), &d) && d == -2500);
    CHECK(cf_jv_kind(cf_jv_at(cf_jv_get(v, "a"), 3)) == CF_JV_NULL && !cf_jv_at(cf_jv_get(v, "a"), 4));
    CHECK(cf_jv_str(cf_jv_get(v, "s")) && strcmp(cf_jv_str(cf_jv_get(v, "s")), "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    CHECK(cf_jv_bool(cf_jv_get(cf_jv_get(v, "o"), "k"), &b) && !b);
    CHECK(!cf_jv_get(v, "missing") && !cf_jv_str(cf_jv_get(v, "a")) && strcmp(cf_jv_key_at(v, 2), "o") == 0);
    cf_jv_free(v);
    const char *bad[] = {"{\"a\": 1,}", "[1 2]", "{\"a\": \"open", "01", "1.", "-", "{\"a\": tru}", "[1] x", "\"\\q\"", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = cf_jv_parse(bad[i], strlen(bad[i]), "bad.json");
        CHECK(!v && cf_last_status() == CF_ERR_FORMAT && has("bad.json:1:"), "refused with its line and column: %s", bad[i]);
        cf_jv_free(v);
    }
    char deep[400];
    memset(deep, '[', sizeof deep);
    v = cf_jv_parse(deep, sizeof deep, "deep");
    CHECK(!v && has("nesting deeper than"));
}

/* ---- a random-weight model written in the Hugging Face layout ---- */

typedef struct {
    const char *arch, *torch_dtype, *extra; /* extra: config members first ("\"key\": value, "), so they win */
    int shards;
    const char *skip;   /* a tensor left out */
    const char *added;  /* a tensor added (shape [2]) */
    int64_t hidden_in_config; /* 0: the true one */
} hf_case;

static cf_llama_config small(void)
{
    cf_llama_config c = cf_llama_defaults();
    c.vocab = 11, c.dim = 8, c.layers = 2, c.heads = 2, c.kv_heads = 1, c.hidden = 12, c.max_seq = 32;
    return c;
}

static cf_status fetch(void *user, int src, float *out)
{
    const cf_params *ps = user;
    if (src >= ps->count) return out[0] = out[1] = 1, CF_OK; /* the added tensor */
    memcpy(out, (const float *)ps->values + ps->items[src].offset, (size_t)ps->items[src].numel * sizeof *out);
    return CF_OK;
}

/* Writes dir/config.json and the tensors of ps (shards files, with an index when > 1). */
static void write_hf(const char *dir, const cf_params *ps, const hf_case *k)
{
    mkdir(dir, 0755);
    cf_llama_config c = small();
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{%s\"architectures\": [\"%s\"], \"vocab_size\": %lld, \"hidden_size\": %lld, \"intermediate_size\": %lld, "
               "\"num_hidden_layers\": %lld, \"num_attention_heads\": %lld, \"num_key_value_heads\": %lld, "
               "\"rms_norm_eps\": 1e-05, \"hidden_act\": \"silu\", \"torch_dtype\": \"%s\"}\n",
            k->extra ? k->extra : "", k->arch ? k->arch : "LlamaForCausalLM", (long long)c.vocab, (long long)c.dim,
            (long long)(k->hidden_in_config ? k->hidden_in_config : c.hidden), (long long)c.layers, (long long)c.heads,
            (long long)c.kv_heads, k->torch_dtype ? k->torch_dtype : "float32");
    fclose(f);
    int n = 0, shards = k->shards > 0 ? k->shards : 1;
    cf_st_out *outs = calloc((size_t)ps->count + 1, sizeof *outs);
    char (*names)[CF_PARAM_NAME_MAX] = calloc((size_t)ps->count + 1, sizeof *names);
    for (int i = 0; i < ps->count; i++) {
        cf_llama_hf_name(ps->items[i].name, names[n], sizeof names[n]);
        if (k->skip && strcmp(names[n], k->skip) == 0) continue;
        outs[n] = (cf_st_out){.name = names[n], .ndim = ps->items[i].value->ndim, .src = i};
        memcpy(outs[n].shape, ps->items[i].value->shape, sizeof outs[n].shape);
        n++;
    }
    if (k->added) {
        snprintf(names[n], sizeof names[n], "%s", k->added);
        outs[n] = (cf_st_out){.name = names[n], .ndim = 1, .shape = {2}, .src = ps->count};
        n++;
    }
    cf_dtype dt = k->torch_dtype && strcmp(k->torch_dtype, "bfloat16") == 0 ? CF_BF16 : CF_F32;
    if (shards == 1) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        CHECK(cf_safetensors_write(path, n, outs, dt, fetch, (void *)ps) == CF_OK);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        FILE *idx = fopen(path, "w");
        fprintf(idx, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
        for (int s = 0; s < shards; s++) {
            cf_st_out part[64];
            int m = 0;
            for (int i = s; i < n; i += shards) {
                part[m++] = outs[i];
                fprintf(idx, "%s\"%s\": \"model-%05d-of-%05d.safetensors\"", i ? ", " : "", outs[i].name, s + 1, shards);
            }
            snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, s + 1, shards);
            CHECK(cf_safetensors_write(path, m, part, dt, fetch, (void *)ps) == CF_OK);
        }
        fprintf(idx, "}}\n");
        fclose(idx);
    }
    free(outs);
    free(names);
}

static cf_params *model(cf_llama *m)
{
    cf_params *ps = cf_params_new(CF_F32, 42);
    cf_llama_config c = small();
    CHECK(cf_llama_init(m, ps, &c) == CF_OK);
    return ps;
}

static void test_shards(const cf_params *ps)
{
    const char *dir = tmp_path("sharded");
    write_hf(dir, ps, &(hf_case){.shards = 3});
    cf_st_dir *d = cf_st_dir_open(dir);
    CHECK(d && cf_st_dir_count(d) == ps->count);
    const char *file = NULL;
    const cf_st_entry *e = cf_st_dir_find(d, "model.layers.1.mlp.down_proj.weight", &file);
    float got[8 * 12];
    CHECK(e && strstr(file, "-of-00003.safetensors") && cf_st_dir_read_f32(d, e, got) == CF_OK);
    const cf_param *p = cf_params_find(ps, "layers.1.mlp.fc2.weight");
    CHECK(e && memcmp(got, (const float *)ps->values + p->offset, sizeof got) == 0, "shard values as written");
    cf_st_dir_close(d);

    /* a shard gone */
    char path[600];
    snprintf(path, sizeof path, "%s/model-00002-of-00003.safetensors", dir);
    rename(path, tmp_path("away.safetensors"));
    d = cf_st_dir_open(dir);
    CHECK(!d && has("model-00002-of-00003.safetensors: missing shard") && has("model.layers."));
    rename(tmp_path("away.safetensors"), path);
    /* an index that places a tensor in a shard that does not hold it */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00003.safetensors\", "
               "\"model.embed_tokens.weight\": \"model-00002-of-00003.safetensors\", "
               "\"model.layers.0.self_attn.q_proj.weight\": \"model-00003-of-00003.safetensors\"}}");
    fclose(f);
    d = cf_st_dir_open(dir);
    bool lied = !d && has("is mapped to");
    CHECK(lied, "index and shards disagree");
    cf_st_dir_close(d);
    f = fopen(path, "w");
    fprintf(f, "{\"weight_map\": {\"model.norm.weight\": \"../model.safetensors\"}}");
    fclose(f);
    d = cf_st_dir_open(dir);
    CHECK(!d && has("weight_map[\"model.norm.weight\"] is not a shard file name"));
    d = cf_st_dir_open(tmp_path("nowhere"));
    CHECK(!d && has("neither model.safetensors nor model.safetensors.index.json"));
}

/* Overwrites bytes of a file. */
static void poke(const char *path, long at, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, at, SEEK_SET);
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void test_malformed_headers(const cf_params *ps)
{
    const char *dir = tmp_path("malformed");
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct {
        long at;
        const char *bytes;
        size_t n;
        const char *says;
    } cases[] = {
        {0, "\xff\xff\xff\xff\x00\x00\x00\x00", 8, "does not fit the file"}, /* header length past the end */
        {8, "[", 1, "expected '{'"},
        {9, "x", 1, "expected a string"},                                  /* {x__metadata__": ... */
        {10, "X", 1, "lacks dtype, shape or data_offsets"},                 /* "X_metadata__" read as a tensor */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_hf(dir, ps, &(hf_case){0});
        poke(path, cases[i].at, cases[i].bytes, cases[i].n);
        cf_clear_error();
        cf_st_dir *d = cf_st_dir_open(dir);
        CHECK(!d && has("model.safetensors") && has(cases[i].says), "malformed header %zu", i);
        cf_st_dir_close(d);
    }
    /* data_offsets that do not match the shape: the first tensor claims one byte less */
    write_hf(dir, ps, &(hf_case){0});
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t hl = (size_t)(unsigned char)buf[0] | (size_t)(unsigned char)buf[1] << 8;
    buf[8 + hl < n ? 8 + hl : n - 1] = '\0'; /* the JSON header as a string */
    char *off = strstr(buf + 8, "\"data_offsets\": [0, ");
    CHECK(off != NULL);
    if (off) {
        char *num = off + 20;
        char *end = strchr(num, ']');
        long v = strtol(num, NULL, 10) - 1;
        char repl[32];
        int w = snprintf(repl, sizeof repl, "%*ld", (int)(end - num), v); /* same width: the header keeps its length */
        poke(path, num - buf, repl, (size_t)w);
        cf_st_dir *d = cf_st_dir_open(dir);
        CHECK(!d && has("data_offsets") && has("do not match its shape"));
        cf_st_dir_close(d);
    }
}

/* A file cut short: the last tensor's bytes lie past its end. */
static void test_truncated(const cf_params *ps)
{
    const char *dir = tmp_path("truncated");
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_hf(dir, ps, &(hf_case){0});
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 4) == 0);
    cf_st_dir *d = cf_st_dir_open(dir);
    CHECK(!d && has("model.safetensors: tensor") && has("past the end of the file"));
    cf_st_dir_close(d);
}

static void test_import_refusals(const cf_params *ps)
{
    struct {
        hf_case k;
        cf_status st;
        const char *says[2];
    } cases[] = {
        {{.torch_dtype = "bfloat16", .extra = "\"torch_dtype_note\": 1, "}, CF_OK, {"", ""}},
        {{.hidden_in_config = 13}, CF_ERR_SHAPE, {"model.safetensors: tensor model.layers.0.mlp.up_proj.weight has shape [12, 8]", "config.json implies [13, 8]"}},
        {{.skip = "model.layers.1.self_attn.v_proj.weight"}, CF_ERR_FORMAT, {"tensor model.layers.1.self_attn.v_proj.weight is missing", ""}},
        {{.added = "model.layers.0.self_attn.q_proj.bias"}, CF_ERR_FORMAT, {"model.safetensors: tensor model.layers.0.self_attn.q_proj.bias is not part", ""}},
        {{.extra = "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}, "}, CF_ERR_UNSUPPORTED, {"config.json: rope_scaling type \"yarn\" is not supported", ""}},
        {{.extra = "\"hidden_act\": \"gelu\", "}, CF_ERR_UNSUPPORTED, {"config.json: \"hidden_act\"", ""}},
        {{.extra = "\"attention_bias\": true, "}, CF_ERR_UNSUPPORTED, {"\"attention_bias\"", ""}},
        {{.extra = "\"num_key_value_heads\": 3, "}, CF_ERR_FORMAT, {"config.json", "kv_heads 3 does not divide heads 2"}},
        {{.extra = "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}, "}, CF_ERR_FORMAT, {"\"low_freq_factor\" must be", ""}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "case%zu", i);
        const char *d = tmp_path(dir);
        write_hf(d, ps, &cases[i].k);
        cf_status st = cf_llama_hf_import(d, tmp_path("out"));
        if (cases[i].st == CF_OK && st == CF_ERR_UNSUPPORTED) continue; /* no HDF5 for the checkpoint */
        CHECK(st == cases[i].st && has(cases[i].says[0]) && has(cases[i].says[1]), "case %zu: status %d", i, (int)st);
    }
    /* a torch_dtype the tensors do not have */
    const char *d = tmp_path("dtype");
    write_hf(d, ps, &(hf_case){0});
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", d);
    FILE *f = fopen(path, "r+");
    char text[2048];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    char *at = strstr(text, "\"float32\"");
    memcpy(at, "\"float16\"", 9);
    rewind(f);
    fwrite(text, 1, n, f);
    fclose(f);
    CHECK(cf_llama_hf_import(d, tmp_path("out2")) == CF_ERR_DTYPE && has("tensor model.embed_tokens.weight is f32") &&
          has("torch_dtype says f16"));
}

/* A good import, loaded back: f32 values as written, bf16 as rounded. */
static void test_import_values(const cf_params *ps)
{
    const char *d = tmp_path("good"), *out = tmp_path("good-out");
    write_hf(d, ps, &(hf_case){.shards = 2, .torch_dtype = "bfloat16"});
    cf_status st = cf_llama_hf_import(d, out);
    if (st == CF_ERR_UNSUPPORTED) return; /* no HDF5 */
    CHECK(st == CF_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/recipe.yaml", out);
    cf_recipe *r = cf_recipe_load(path);
    cf_llama_config c;
    CHECK(r && cf_llama_config_from_recipe(r, &c) == CF_OK && c.kv_heads == 1 && c.hidden == 12 && !c.tie);
    cf_params *back = cf_params_new(CF_F32, 0);
    cf_llama m;
    CHECK(cf_llama_init(&m, back, &c) == CF_OK);
    snprintf(path, sizeof path, "%s/model.h5", out);
    CHECK(cf_checkpoint_load(path, back, 0, NULL, NULL, NULL) == CF_OK);
    int64_t wrong = 0;
    for (int64_t i = 0; i < ps->total; i++) {
        float want = cf_bf16_to_f32(cf_f32_to_bf16(((const float *)ps->values)[i]));
        wrong += ((float *)back->values)[i] != want;
    }
    CHECK(back->total == ps->total && wrong == 0, "%lld of %lld values differ from the bf16 written", (long long)wrong,
          (long long)ps->total);
    cf_llama_free(&m);
    cf_params_free(back);
    cf_recipe_free(r);
}

int main(void)
{
    if (!test_dir_make("llama_hf")) return 1;
    test_json();
    cf_llama m;
    cf_params *ps = model(&m);
    test_shards(ps);
    test_malformed_headers(ps);
    test_truncated(ps);
    test_import_refusals(ps);
    test_import_values(ps);
    cf_llama_free(&m);
    cf_params_free(ps);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
