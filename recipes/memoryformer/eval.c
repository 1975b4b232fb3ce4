/* The MemoryFormer evaluation of a split: next-token cross-entropy over every window, the blocks' FLOPs
 * per token, and how evenly each hash table's buckets are used ("MemoryFormer", Section 4 and its figure of
 * bucket usage: near-uniform use is what keeps the tables' capacity). */
#include "autograd/json.h"
#include "recipes/memoryformer/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const site_names[3] = {"qkv", "ml1", "ml2"};

/* tau bits of site s (0 qkv, 1 ml1, 2 ml2) */
static int64_t site_tau(const cf_mf_model *m, int64_t s) { return m->mcfg.tau + (s % 3 == 2 ? m->mcfg.extra_bits : 0); }

/* sum of the token losses (targets != -100) of one batch, and their count */
static cf_status score_batch(cf_ctx *ctx, cf_mf_model *m, cf_batch *b, double *sum, double *count)
{
    cf_ce_opts each = CF_CE_DEFAULTS;
    each.reduction = CF_REDUCTION_NONE;
    cf_tensor *tgt = cf_batch_get(b, "targets");
    cf_tensor *l = cf_cross_entropy_last(ctx, cf_mf_logits(ctx, m, cf_batch_get(b, "tokens"), &m->usage), tgt, &each);
    if (!l) return cf_last_status();
    for (int64_t i = 0, n = cf_numel(tgt); i < n; i++)
        if (cf_get_flat(tgt, i) != -100) *sum += cf_get_flat(l, i), *count += 1;
    return CF_OK;
}

static void entropy_metrics(const cf_mf_model *m, cf_metrics *out)
{
    double lo = INFINITY, total = 0;
    int64_t n = 0, K = m->dim / m->mcfg.tau;
    for (int64_t s = 0; s < m->usage.sites; s++)
        for (int64_t k = 0; k < K; k++) {
            double f = cf_memory_usage_entropy(&m->usage, s, k, site_tau(m, s)) / (double)site_tau(m, s);
            lo = f < lo ? f : lo, total += f, n++;
        }
    if (n) {
        cf_metrics_set(out, "bucket_entropy_min", lo);
        cf_metrics_set(out, "bucket_entropy_mean", total / (double)n);
    }
}

cf_status cf_mf_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_mf_model *m = (cf_mf_model *)mb;
    cf_dataset *ds = in->split;
    if (ds->len < 1)
        return cf_set_error(CF_ERR_ARG, "memoryformer eval: the %s split has no windows to score", in->split_name);
    cf_memory_usage_free(&m->usage);
    if (m->memory) {
        int64_t K = m->dim / m->mcfg.tau;
        CF_TRY(cf_memory_usage_new(&m->usage, 3 * m->layers, K << (m->mcfg.tau + m->mcfg.extra_bits)));
    }
    /* windows scored: all, or eval.windows of them at an even stride through the split */
    int64_t total = m->eval_windows && m->eval_windows < ds->len ? m->eval_windows : ds->len;
    int64_t stride = ds->len / total, rows = in->batch_size < total ? in->batch_size : total;
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, (int)rows, &b));
    bool grad = cf_set_grad_enabled(ctx, false), train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    double sum = 0, count = 0;
    cf_status st = CF_OK;
    for (int64_t at = 0; at < total && st == CF_OK; at += rows) {
        int64_t n = total - at < rows ? total - at : rows;
        for (int64_t i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, (at + i) * stride, &b, (int)i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, (int)n);
        if (st == CF_OK) st = score_batch(ctx, m, &b, &sum, &count);
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, train);
    cf_set_grad_enabled(ctx, grad);
    cf_batch_free(&b);
    if (st != CF_OK) return st;
    cf_metrics_set(out, "ce", sum / count);
    cf_metrics_set(out, "perplexity", exp(sum / count));
    cf_metrics_set(out, "tokens", count);
    cf_metrics_set(out, "flops_per_token_nonattn", cf_mf_flops_nonattn(m));
    cf_metrics_set(out, "flops_per_token_attn", cf_mf_flops_attn(m, m->seq));
    if (m->memory) entropy_metrics(m, out);
    return CF_OK;
}

cf_status cf_mf_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    cf_mf_model *m = (cf_mf_model *)mb;
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    cf_json_kv_string(&j, "block", m->memory ? "memory" : "dense");
    for (int i = 0; flat && i < flat->n; i++) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    if (m->memory && m->usage.counts) {
        /* bits per table, one array per hashed site; log2(2^tau) = tau is uniform use */
        cf_json_key(&j, "bucket_entropy");
        cf_json_object(&j);
        int64_t K = m->dim / m->mcfg.tau;
        for (int64_t s = 0; s < m->usage.sites; s++) {
            char key[48];
            snprintf(key, sizeof key, "blocks.%lld.%s", (long long)(s / 3), site_names[s % 3]);
            cf_json_key(&j, key);
            cf_json_array(&j);
            for (int64_t k = 0; k < K; k++) cf_json_number(&j, cf_memory_usage_entropy(&m->usage, s, k, site_tau(m, s)));
            cf_json_end(&j);
        }
        cf_json_end(&j);
    }
    cf_json_end(&j);
    return cf_json_commit(&j);
}
