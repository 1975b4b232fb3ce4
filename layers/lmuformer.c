/* The LMUFormer network: parameters, the three variants' forward passes, streaming state (layers/lmuformer.h). */
#include "layers/lmuformer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- parameters ---- */

static cf_status conv_init(cf_params *ps, const char *name, cf_lmuf_conv *c, int64_t in, int64_t out, int64_t k)
{
    c->k = k;
    cf_params_push(ps, "%s", name);
    c->w = cf_params_add(ps, "weight", CF_SHAPE(out, in, k), true);
    cf_params_pop(ps);
    if (!c->w) return cf_last_status();
    double bound = 1.0 / sqrt((double)(in * k)); /* PyTorch's Conv1d default (kaiming_uniform, a = sqrt 5) */
    return cf_init_uniform(ps, c->w, -bound, bound);
}

cf_status cf_lmuf_build(cf_lmuf *m, cf_params *ps)
{
    int64_t D = m->D, F = m->F;
    cf_status st = CF_OK;
    char name[32];
    if (m->variant == CF_LMUF_LMU_ONLY) {
        st = conv_init(ps, "in_proj", &m->in_proj, F, D, 1);
    } else {
        for (int i = 0; i < 4 && st == CF_OK; i++) {
            snprintf(name, sizeof name, "embed.conv%d", i);
            st = conv_init(ps, name, &m->pe[i], i ? D : F, D, 3);
            snprintf(name, sizeof name, "embed.bn%d", i);
            if (st == CF_OK && (i < 3 || m->variant == CF_LMUF_LMUFORMER)) st = cf_batch_norm_layer_init(&m->pe_bn[i], ps, name, D);
        }
        if (st == CF_OK) st = conv_init(ps, "embed.rpe", &m->rpe, D, D, 3);
        if (st == CF_OK && m->variant == CF_LMUF_SPIKING) st = cf_batch_norm_layer_init(&m->rpe_bn, ps, "embed.rpe_bn", D);
    }
    if (st == CF_OK && m->variant == CF_LMUF_SPIKING) {
        st = cf_lmu_memory_init(&m->mem, ps->dtype, m->d, m->theta);
        if (st == CF_OK) st = cf_batch_norm_layer_init(&m->in_bn, ps, "lmu.in_bn", D);
        if (st == CF_OK) st = conv_init(ps, "lmu.enc", &m->wu, D, 1, 1);
        if (st == CF_OK) st = cf_batch_norm_layer_init(&m->u_bn, ps, "lmu.enc_bn", 1);
        if (st == CF_OK) st = cf_batch_norm_layer_init(&m->m_bn, ps, "lmu.mem_bn", m->d);
        if (st == CF_OK) st = conv_init(ps, "lmu.hid", &m->wh, m->d + D, D, 1);
        if (st == CF_OK) st = cf_batch_norm_layer_init(&m->h_bn, ps, "lmu.hid_bn", D);
    } else if (st == CF_OK) {
        st = cf_lmu_cell_init(&m->cell, ps, "lmu.cell", D, m->d, m->theta, D);
    }
    if (st == CF_OK) st = conv_init(ps, "lmu.proj", &m->proj, D, D, 1);
    if (st == CF_OK) st = cf_batch_norm_layer_init(&m->proj_bn, ps, "lmu.proj_bn", D);
    if (st == CF_OK && m->variant != CF_LMUF_LMU_ONLY) {
        st = conv_init(ps, "ffn.fc1", &m->fc1, D, 4 * D, 1);
        if (st == CF_OK) st = conv_init(ps, "ffn.fc2", &m->fc2, 4 * D, D, 1);
        if (st == CF_OK) st = cf_batch_norm_layer_init(&m->fc1_bn, ps, "ffn.bn1", 4 * D);
        if (st == CF_OK && m->variant == CF_LMUF_LMUFORMER) st = cf_batch_norm_layer_init(&m->fc2_bn, ps, "ffn.bn2", D);
        if (st == CF_OK && m->variant == CF_LMUF_SPIKING) st = cf_batch_norm_layer_init(&m->ffn_bn, ps, "ffn.in_bn", D);
    }
    if (st == CF_OK && m->variant == CF_LMUF_SPIKING) st = cf_batch_norm_layer_init(&m->head_bn, ps, "head.bn", D);
    if (st == CF_OK) {
        cf_params_push(ps, "head");
        m->head_w = cf_params_add(ps, "weight", CF_SHAPE(m->classes, D), true);
        m->head_b = cf_params_add(ps, "bias", CF_SHAPE(m->classes), false);
        cf_params_pop(ps);
        double bound = 1.0 / sqrt((double)D);
        st = m->head_w && m->head_b ? cf_init_uniform(ps, m->head_w, -bound, bound) : cf_last_status();
        if (st == CF_OK) st = cf_init_uniform(ps, m->head_b, -bound, bound);
    }
    return st;
}

/* ---- forward ---- */

static cf_tensor *bn_fwd(cf_lmuf_pass *p, const cf_batch_norm_layer *n, cf_tensor *x)
{
    return cf_batch_norm_layer_fwd(p->ctx, n, x);
}

/* k = 3: causal (2 frames on the left: zeros, or the carried frames when streaming) or the paper's padding 1 */
static cf_tensor *conv_fwd(cf_lmuf_pass *p, const cf_lmuf_conv *c, cf_tensor *x)
{
    if (!x) return NULL;
    if (c->k == 1) return cf_conv1d(p->ctx, x, c->w, NULL, 1, 0, 1, 1);
    if (!p->m->causal) return cf_conv1d(p->ctx, x, c->w, NULL, 1, c->k / 2, 1, 1);
    int64_t keep = c->k - 1;
    if (!p->st) return cf_conv1d(p->ctx, cf_pad(p->ctx, x, 1, (int64_t[]){keep, 0}, 0), c->w, NULL, 1, 0, 1, 1);
    if (p->conv_i >= CF_LMUF_SLOTS) {
        cf_set_error(CF_ERR_INTERNAL, "lmuformer: more streamed convolutions than %d slots", CF_LMUF_SLOTS);
        return NULL;
    }
    cf_tensor **buf = &p->st->buf[p->conv_i++];
    if (!*buf) *buf = cf_tensor_alloc(x->dtype, CF_SHAPE(x->shape[0], x->shape[1], keep));
    cf_tensor *prev = *buf ? cf_empty(p->ctx, x->dtype, 3, (*buf)->shape) : NULL;
    if (!prev || cf_copy_(prev, *buf) != CF_OK) return NULL;
    cf_tensor *win = cf_concat(p->ctx, 2, (cf_tensor *[]){prev, x}, 2);
    if (!win || cf_copy_(*buf, cf_narrow(p->ctx, win, 2, win->shape[2] - keep, keep)) != CF_OK) return NULL;
    return cf_conv1d(p->ctx, win, c->w, NULL, 1, 0, 1, 1);
}

static cf_tensor *lif(cf_lmuf_pass *p, double threshold, cf_tensor *x)
{
    cf_lif_config c = cf_lif_threshold(threshold);
    if (p->st && p->lif_i >= CF_LMUF_SLOTS) {
        cf_set_error(CF_ERR_INTERNAL, "lmuformer: more streamed LIF layers than %d slots", CF_LMUF_SLOTS);
        return NULL;
    }
    return cf_lif_fwd(p->ctx, &c, x, p->st ? &p->st->lif[p->lif_i++] : NULL);
}

static cf_lmu_mode mode(cf_lmuf_pass *p) { return p->st ? CF_LMU_RECURRENT : CF_LMU_PARALLEL; }
static cf_tensor **mem_state(cf_lmuf_pass *p) { return p->st ? &p->st->mem : NULL; }

static cf_tensor *embed(cf_lmuf_pass *p, cf_tensor *x)
{
    cf_lmuf *m = p->m;
    if (m->variant == CF_LMUF_LMU_ONLY) return conv_fwd(p, &m->in_proj, x);
    if (m->variant == CF_LMUF_LMUFORMER) {
        for (int i = 0; i < 4; i++) x = bn_fwd(p, &m->pe_bn[i], cf_relu(p->ctx, conv_fwd(p, &m->pe[i], x)));
        return cf_add(p->ctx, x, conv_fwd(p, &m->rpe, x));
    }
    for (int i = 0; i < 3; i++) x = lif(p, 1.0, bn_fwd(p, &m->pe_bn[i], conv_fwd(p, &m->pe[i], x)));
    x = conv_fwd(p, &m->pe[3], x);
    return cf_add(p->ctx, x, conv_fwd(p, &m->rpe, lif(p, 1.0, bn_fwd(p, &m->rpe_bn, x))));
}

static cf_tensor *lmu_block(cf_lmuf_pass *p, cf_tensor *x)
{
    cf_lmuf *m = p->m;
    cf_tensor *h;
    if (m->variant != CF_LMUF_SPIKING) {
        h = cf_lmu_cell_fwd(p->ctx, &m->cell, x, mode(p), mem_state(p));
    } else {
        cf_tensor *s = lif(p, 0.5, bn_fwd(p, &m->in_bn, x));
        cf_tensor *u = lif(p, 1.0, bn_fwd(p, &m->u_bn, conv_fwd(p, &m->wu, s)));
        cf_tensor *mm = u ? cf_lmu_memory_fwd(p->ctx, &m->mem, cf_squeeze(p->ctx, u, 1), mode(p), mem_state(p)) : NULL;
        mm = lif(p, 1.0, bn_fwd(p, &m->m_bn, mm));
        h = mm ? lif(p, 1.0, bn_fwd(p, &m->h_bn, conv_fwd(p, &m->wh, cf_concat(p->ctx, 2, (cf_tensor *[]){mm, s}, 1))))
               : NULL;
    }
    return cf_add(p->ctx, x, bn_fwd(p, &m->proj_bn, conv_fwd(p, &m->proj, h)));
}

static cf_tensor *ffn(cf_lmuf_pass *p, cf_tensor *x)
{
    cf_lmuf *m = p->m;
    if (m->variant == CF_LMUF_LMU_ONLY) return x;
    cf_tensor *y;
    if (m->variant == CF_LMUF_LMUFORMER) {
        y = cf_gelu(p->ctx, bn_fwd(p, &m->fc1_bn, conv_fwd(p, &m->fc1, x)));
        y = cf_relu(p->ctx, bn_fwd(p, &m->fc2_bn, conv_fwd(p, &m->fc2, y)));
    } else {
        y = lif(p, 1.0, bn_fwd(p, &m->fc1_bn, conv_fwd(p, &m->fc1, lif(p, 1.0, bn_fwd(p, &m->ffn_bn, x)))));
        y = conv_fwd(p, &m->fc2, y);
    }
    return cf_add(p->ctx, x, y);
}

/* features [B, D, n] of x [B, F, n] */
static cf_tensor *features(cf_lmuf_pass *p, cf_tensor *x)
{
    cf_tensor *f = ffn(p, lmu_block(p, embed(p, x)));
    return p->m->variant == CF_LMUF_SPIKING ? lif(p, 1.0, bn_fwd(p, &p->m->head_bn, f)) : f;
}

static cf_tensor *head(cf_lmuf_pass *p, cf_tensor *feat /* [..., D] */)
{
    return cf_linear(p->ctx, feat, p->m->head_w, p->m->head_b);
}

/* logits after each frame, [B, n, classes]: the head on the cumulative mean of the features (with the
 * carried sum and frame count when streaming) */
cf_tensor *cf_lmuf_logits_all(cf_lmuf_pass *p, cf_tensor *x)
{
    cf_ctx *ctx = p->ctx;
    cf_tensor *f = features(p, x);
    if (!f) return NULL;
    if (p->m->pool_last) return head(p, cf_transpose(ctx, f, 1, 2));
    int64_t bsz = f->shape[0], D = f->shape[1], n = f->shape[2], seen = p->st ? p->st->seen : 0;
    cf_tensor *cs = cf_cumsum(ctx, f, 2);
    if (p->st && p->st->sum) {
        cf_tensor *prev = cf_empty(ctx, f->dtype, CF_SHAPE(bsz, D, 1));
        if (!prev || cf_copy_(prev, cf_unsqueeze(ctx, p->st->sum, 2)) != CF_OK) return NULL;
        cs = cf_add(ctx, cs, prev);
    }
    cf_tensor *inv = cf_empty(ctx, f->dtype, CF_SHAPE(n));
    if (!cs || !inv) return NULL;
    for (int64_t t = 0; t < n; t++) cf_set_flat(inv, t, 1.0 / (double)(seen + t + 1));
    if (p->st) {
        if (!p->st->sum) p->st->sum = cf_tensor_alloc(f->dtype, CF_SHAPE(bsz, D));
        if (!p->st->sum || cf_copy_(p->st->sum, cf_squeeze(ctx, cf_narrow(ctx, cs, 2, n - 1, 1), 2)) != CF_OK)
            return NULL;
        p->st->seen += n;
    }
    return head(p, cf_transpose(ctx, cf_mul(ctx, cs, inv), 1, 2));
}

cf_tensor *cf_lmuf_sequence_logits(cf_ctx *ctx, cf_lmuf *m, cf_tensor *x)
{
    cf_lmuf_pass p = {ctx, m, NULL, 0, 0};
    cf_tensor *f = features(&p, x);
    if (!f) return NULL;
    /* mean pooling: = the mean over time of per-frame logits; last: the last frame's */
    return head(&p, m->pool_last ? cf_squeeze(ctx, cf_narrow(ctx, f, 2, f->shape[2] - 1, 1), 2)
                                 : cf_mean(ctx, f, 1, (int[]){2}, false));
}

void cf_lmuf_free(cf_lmuf *m)
{
    cf_lmu_cell_free(&m->cell);
    cf_lmu_memory_free(&m->mem);
}

/* ---- streams ---- */

void cf_lmuf_stream_free(cf_lmuf_stream *s)
{
    for (int i = 0; i < CF_LMUF_SLOTS; i++) cf_tensor_free(s->buf[i]), cf_lif_state_free(&s->lif[i]);
    cf_tensor_free(s->mem), cf_tensor_free(s->sum);
    memset(s, 0, sizeof *s);
}

static int64_t bytes(const cf_tensor *t) { return t ? cf_numel(t) * (int64_t)cf_dtype_size(t->dtype) : 0; }

int64_t cf_lmuf_stream_bytes(const cf_lmuf_stream *s)
{
    int64_t n = bytes(s->mem) + bytes(s->sum);
    for (int i = 0; i < CF_LMUF_SLOTS; i++) n += bytes(s->buf[i]) + bytes(s->lif[i].v);
    return n;
}

