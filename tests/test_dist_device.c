/* Data parallelism with the parameters on the CUDA backend: bf16 mixed precision (f32 master weights) over MPI and
 * over NCCL, and ZeRO-1 over NCCL. Runs on the SIMT emulator (CF_CUDA_EMU with MPI: NCCL is its shim over MPI) and
 * on GPUs; skips (77) without a CUDA backend or device.
 *
 * One executable, modes (argv[1]):
 *   (none)  CTest's direct run, one process: both checks below in a group of one.
 *   probe   prints "mpi=0|1 nccl=0|1 cuda=0|1" for the driver script (tests/test_dist_device_mpi.sh).
 *   mixed   under mpirun -np 2: an MLP trains a few steps with bf16 working copies on every rank, AdamW and SGD with
 *           momentum, its gradients reduced over MPI (host staging) and over NCCL. The f32 master weights are
 *           bit-identical across ranks, bit-identical between the MPI and the NCCL path (both sum the two ranks' f32
 *           master gradients and scale by the same f32 1/2), and close to one process training in bf16 on the
 *           concatenated batch: within 5% of what separates that run from one that saw half the batch
 *           (bf16 rounds a half-batch gradient differently from the full one, so not exactly).
 *   zero    under mpirun -np 2 or 3 (3: uneven shards, the last one short): ncclAllGather and ncclReduceScatter out of
 *           place (the emulator's shim: every part where NCCL puts it), then ZeRO-1 over NCCL (ncclReduceScatter of
 *           the gradients, ncclAllGather of the parameters) against the unsharded NCCL path, f32 and bf16 (with
 *           gradient accumulation), AdamW and SGD: bit-identical parameters after the steps, the same gradient norm
 *           to rounding, the gathered optimizer state bit-identical to the unsharded optimizer's, and the state
 *           scattered back (from a root, and from a full copy on every rank) equal to the shards. */
#include "autograd/cf_node.h"
#include "autograd/cformer.h"
#include "distributed/distributed.h"
#include "layers/params.h"
#include "optim/optim.h"

#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 12 /* rows of a global batch: 1, 2, 3 (and 4, 6) ranks split it evenly */
#define DIN 6
#define STEPS 4

static int g_rank, g_world;
static cf_pg *g_pg;
static cf_nccl *g_nccl; /* NULL: a build without NCCL (the NCCL runs are skipped) */

/* ---- the model: an MLP with a parameter the forward never uses ---- */

typedef struct model {
    cf_params *ps;
    cf_tensor *w1, *b1, *w2, *b2, *w3, *b3;
} model;

static model model_new(bool perturb)
{
    model m;
    m.ps = cf_params_new(CF_F32, 77);
    m.w1 = cf_params_add(m.ps, "l1.weight", CF_SHAPE(16, DIN), true);
    m.b1 = cf_params_add(m.ps, "l1.bias", CF_SHAPE(16), false);
    cf_tensor *unused = cf_params_add(m.ps, "unused.weight", CF_SHAPE(5), true);
    m.w2 = cf_params_add(m.ps, "l2.weight", CF_SHAPE(13, 16), true);
    m.b2 = cf_params_add(m.ps, "l2.bias", CF_SHAPE(13), false);
    m.w3 = cf_params_add(m.ps, "head.weight", CF_SHAPE(1, 13), true);
    m.b3 = cf_params_add(m.ps, "head.bias", CF_SHAPE(1), false);
    cf_init_normal(m.ps, m.w1, 0, perturb ? 1.0 : 0.4); /* another start: the broadcast must replace it */
    cf_init_normal(m.ps, m.b1, 0, 0.1);
    cf_init_normal(m.ps, m.w2, 0, 0.25);
    cf_init_normal(m.ps, m.w3, 0, 0.3);
    cf_init_normal(m.ps, unused, 0, 1);
    return m;
}

/* Global row g of step s: deterministic, so any split of the batch sees the same rows. */
static void rows(int step, int row0, int n, float *x, float *y)
{
    for (int i = 0; i < n; i++) {
        double g = (double)(step * BATCH + row0 + i), acc = 0;
        for (int j = 0; j < DIN; j++) {
            x[i * DIN + j] = (float)(sin(0.37 * g + 1.3 * j) + 0.1 * cos(0.11 * g * (j + 1)));
            acc += x[i * DIN + j] * (j % 3 - 1);
        }
        y[i] = (float)(tanh(0.8 * acc) + 0.1 * cos(g));
    }
}

/* A host array as a tensor of the parameters' compute dtype on the context's device. */
static cf_tensor *input(cf_ctx *ctx, const cf_params *ps, int r, int c, const float *v)
{
    cf_tensor *t = cf_from_data(ctx, CF_F32, CF_SHAPE(r, c), v);
    if (!t || ps->compute == CF_F32) return t;
    cf_tensor *tc = cf_empty(ctx, ps->compute, CF_SHAPE(r, c));
    return tc && cf_copy_(tc, t) == CF_OK ? tc : NULL;
}

/* The mean squared error over rows row0 .. row0 + n - 1 of step `step`'s global batch. */
static cf_tensor *loss_of(cf_ctx *ctx, model *m, int step, int row0, int n)
{
    float x[BATCH * DIN], y[BATCH], w[BATCH];
    rows(step, row0, n, x, y);
    for (int i = 0; i < n; i++) w[i] = 1.0f / (float)n;
    cf_tensor *X = input(ctx, m->ps, n, DIN, x), *Y = input(ctx, m->ps, n, 1, y), *W = input(ctx, m->ps, 1, n, w);
    if (!X || !Y || !W) return NULL;
    cf_tensor *h = cf_gelu(ctx, cf_linear(ctx, X, m->w1, m->b1));
    h = cf_gelu(ctx, cf_linear(ctx, h, m->w2, m->b2));
    cf_tensor *d = cf_sub(ctx, cf_linear(ctx, h, m->w3, m->b3), Y);
    return cf_matmul(ctx, W, cf_mul(ctx, d, d));
}

/* ---- the trainer ---- */

typedef struct run_cfg {
    const char *name;
    bool bf16;
    int zero;   /* -1: one process, no data parallelism; 0: cf_ddp; 1: cf_ddp + ZeRO-1 */
    bool nccl;  /* reduce over NCCL (else MPI through the host) */
    int accum;  /* micro-steps per step */
    cf_optim_kind kind;
    int rows;   /* zero -1 only: the rows of each global batch it trains on (BATCH: all) */
} run_cfg;

typedef struct trainer {
    run_cfg c;
    cf_ctx *ctx;
    model m;
    cf_ddp *ddp;
    cf_optimizer *opt;
    int row0, nrows;
    double norm; /* the last step's gradient norm */
} trainer;

static cf_optim_config optim_cfg(cf_optim_kind kind)
{
    cf_optim_config c = cf_optim_defaults(kind);
    c.lr = kind == CF_OPTIM_SGD ? 0.05 : 0.01, c.weight_decay = 0.05, c.momentum = 0.9;
    return c;
}

/* In run.c's order: device, gradients, cf_ddp and the broadcast, the optimizer, then the bf16 working copies. */
static bool trainer_init(trainer *t, run_cfg c)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->ctx = cf_ctx_new(&(cf_ctx_options){.device = CF_CUDA, .threads = 1});
    t->m = model_new(c.zero >= 0 && g_rank != 0);
    cf_params *ps = t->m.ps;
    int world = c.zero < 0 ? 1 : g_world, rank = c.zero < 0 ? 0 : g_rank;
    t->nrows = c.zero < 0 ? c.rows : BATCH / world, t->row0 = rank * t->nrows;
    if (!t->ctx || cf_params_to_device(ps, CF_CUDA) != CF_OK || cf_params_grads(ps) != CF_OK) return false;
    if (c.zero >= 0) {
        t->ddp = cf_ddp_new(g_pg, ps, &(cf_ddp_options){.bucket_mb = 0.0005, .zero_stage = c.zero, /* 512-byte buckets */
                                                        .nccl = c.nccl ? g_nccl : NULL});
        if (!t->ddp || cf_ddp_broadcast_params(t->ddp) != CF_OK) return false;
    }
    cf_optim_config oc = optim_cfg(c.kind);
    t->opt = c.zero == 1 ? cf_zero_new(t->ddp, &oc) : cf_optim_new(ps, &oc);
    if (!t->opt) return false;
    return !c.bf16 || cf_params_set_compute(ps, CF_BF16) == CF_OK;
}

static void trainer_free(trainer *t)
{
    cf_optim_free(t->opt);
    cf_ddp_free(t->ddp);
    cf_params_free(t->m.ps);
    cf_ctx_free(t->ctx);
}

/* One step as recipes/run/train.c takes it: backward and collect per micro-step, finish, average, step, refresh.
 * No clipping (max_norm 0: the norm is computed, the gradients are left alone), so the sharded and unsharded runs
 * update from the same gradients bit for bit. */
static cf_status train_step(trainer *t, int step)
{
    cf_params *ps = t->m.ps;
    int accum = t->c.accum, micro = t->nrows / accum;
    cf_params_zero_grad(ps);
    for (int k = 0; k < accum; k++) {
        if (t->ddp) cf_ddp_set_sync(t->ddp, k == accum - 1);
        cf_tensor *l = loss_of(t->ctx, &t->m, step, t->row0 + k * micro, micro);
        if (!l) return cf_last_status();
        CF_TRY(cf_backward(t->ctx, l, NULL));
        cf_step_reset(t->ctx);
        CF_TRY(cf_params_collect_grads(ps));
    }
    if (t->ddp) CF_TRY(cf_ddp_finish(t->ddp));
    if (accum > 1) cf_optim_scale_grads(t->opt, 1.0 / accum);
    CF_TRY(cf_optim_clip_grad_norm(t->opt, 0.0, &t->norm));
    CF_TRY(cf_optim_step(t->opt, optim_cfg(t->c.kind).lr * (1.0 - 0.05 * step)));
    return cf_params_refresh(ps);
}

/* Trains STEPS steps; false (reported) when something failed. */
static bool train(trainer *t, run_cfg c)
{
    bool ok = trainer_init(t, c);
    for (int s = 0; ok && s < STEPS; s++) ok = train_step(t, s) == CF_OK;
    CHECK(ok, "rank %d: %s: %s", g_rank, c.name, cf_last_error());
    return ok;
}

/* The f32 master weights, on the host (ps->total floats, owned by the caller). */
static float *master(cf_params *ps)
{
    float *v = malloc((size_t)ps->total * sizeof *v);
    const float *h = cf_params_values_host(ps);
    if (v && h) memcpy(v, h, (size_t)ps->total * sizeof *v);
    return v;
}

/* Whether every rank holds the same n floats as rank 0 (every rank learns the answer). */
static bool same_on_all_ranks(const float *v, int64_t n)
{
    float *r0 = malloc((size_t)n * sizeof *r0);
    memcpy(r0, v, (size_t)n * sizeof *r0);
    int32_t same = cf_pg_broadcast(g_pg, r0, n, CF_F32, 0) == CF_OK && memcmp(r0, v, (size_t)n * sizeof *v) == 0;
    free(r0);
    return cf_pg_allreduce(g_pg, &same, 1, CF_I32, CF_REDUCE_MIN) == CF_OK && same;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - (double)b[i]));
    return w;
}

/* ---- mixed precision: bf16 working copies, the f32 master gradients reduced after backward ---- */

static void mixed_for(cf_optim_kind kind)
{
    const char *kn = kind == CF_OPTIM_SGD ? "sgd" : "adamw";
    trainer ref, half, mpi, nccl;
    bool ok = train(&ref, (run_cfg){"bf16 one process", true, -1, false, 1, kind, BATCH});
    ok &= train(&half, (run_cfg){"bf16 half batch", true, -1, false, 1, kind, BATCH / 2});
    ok &= train(&mpi, (run_cfg){"bf16 ddp mpi", true, 0, false, 1, kind, 0});
    bool with_nccl = g_nccl != NULL;
    if (with_nccl) ok &= train(&nccl, (run_cfg){"bf16 ddp nccl", true, 0, true, 1, kind, 0});
    if (ok) {
        int64_t n = ref.m.ps->total;
        float *vr = master(ref.m.ps), *vh = master(half.m.ps), *vm = master(mpi.m.ps);
        float *vn = with_nccl ? master(nccl.m.ps) : NULL;
        CHECK(same_on_all_ranks(vm, n), "%s: the MPI path's master weights differ across ranks", kn);
        double dp = max_abs_diff(vm, vr, n), hb = max_abs_diff(vh, vr, n);
        if (g_world > 1) /* one process: the half batch is not what the group of one sees */
            CHECK(dp < 0.05 * hb, "%s: data parallel is %g off the one-process bf16 run (a half-batch run: %g)", kn, dp, hb);
        else
            CHECK(dp == 0, "%s: a group of one is %g off the plain run", kn, dp);
        if (g_rank == 0)
            printf("  %s bf16, %d rank(s): |ddp - one process| %.3g, |half batch - one process| %.3g\n", kn, g_world, dp,
                   hb);
        CHECK(mpi.ddp && cf_ddp_stats_get(mpi.ddp).buckets_in_backward == 0 &&
              cf_ddp_stats_get(mpi.ddp).buckets_in_finish == STEPS * cf_ddp_bucket_count(mpi.ddp));
        if (with_nccl) {
            CHECK(same_on_all_ranks(vn, n), "%s: the NCCL path's master weights differ across ranks", kn);
            CHECK(memcmp(vn, vm, (size_t)n * sizeof *vn) == 0, "%s: NCCL and MPI differ by %g", kn,
                  max_abs_diff(vn, vm, n));
        }
        free(vr), free(vh), free(vm), free(vn);
    }
    trainer_free(&ref), trainer_free(&half), trainer_free(&mpi);
    if (with_nccl) trainer_free(&nccl);
}

static void test_mixed(void)
{
    mixed_for(CF_OPTIM_ADAMW);
    mixed_for(CF_OPTIM_SGD);
}

/* ---- ZeRO-1 over NCCL against the unsharded NCCL path ---- */

static void zero_for(bool bf16, int accum, cf_optim_kind kind)
{
    char name[64];
    snprintf(name, sizeof name, "%s %s accum %d", bf16 ? "bf16" : "f32", kind == CF_OPTIM_SGD ? "sgd" : "adamw", accum);
    trainer full, z;
    bool ok = train(&full, (run_cfg){"unsharded nccl", bf16, 0, true, accum, kind, 0});
    ok &= train(&z, (run_cfg){"zero-1 nccl", bf16, 1, true, accum, kind, 0});
    if (ok) {
        cf_params *ps = z.m.ps;
        int64_t n = ps->total;
        float *vf = master(full.m.ps), *vz = master(ps);
        CHECK(memcmp(vz, vf, (size_t)n * sizeof *vz) == 0, "%s: ZeRO-1 parameters differ from the unsharded ones by %g",
              name, max_abs_diff(vz, vf, n));
        CHECK(same_on_all_ranks(vz, n), "%s: ZeRO-1 parameters differ across ranks", name);
        CHECK(fabs(z.norm - full.norm) <= 1e-5 * full.norm, "%s: gradient norm %.9g, unsharded %.9g", name, z.norm,
              full.norm);
        int64_t lo, hi;
        cf_zero_shard(z.opt, &lo, &hi);
        CHECK(cf_optim_slot_count(z.opt) == cf_optim_slot_count(full.opt));
        float *sf = malloc((size_t)n * sizeof *sf), *sz = malloc((size_t)n * sizeof *sz);
        float *shard = malloc((size_t)(hi - lo + 1) * sizeof *shard), *want = malloc((size_t)(hi - lo + 1) * sizeof *want);
        const cf_backend *be = cf_backend_table(CF_CUDA);
        cf_optim_config oc = optim_cfg(kind);
        for (int i = 0; i < cf_optim_slot_count(z.opt); i++) {
            memset(sz, 0xff, (size_t)n * sizeof *sz);
            CHECK(cf_optim_slot_read(full.opt, i, sf) == CF_OK, "%s", cf_last_error());
            CHECK(cf_zero_gather_state(z.opt, i, sz, 0) == CF_OK, "%s", cf_last_error());
            if (g_rank == 0)
                CHECK(memcmp(sz, sf, (size_t)n * sizeof *sz) == 0, "%s: gathered slot %s differs from the unsharded one",
                      name, cf_optim_slot_name(z.opt, i));
            /* the gather on another root, and the scatter back: from rank 0's copy, and from every rank's */
            int root = g_world - 1;
            memset(sz, 0, (size_t)n * sizeof *sz);
            CHECK(cf_zero_gather_state(z.opt, i, g_rank == root ? sz : NULL, root) == CF_OK);
            if (g_rank == root) CHECK(memcmp(sz, sf, (size_t)n * sizeof *sz) == 0, "%s: gathered on rank %d", name, root);
            CHECK(be->to_host(want, cf_zero_slot_shard(z.opt, i), (size_t)(hi - lo) * sizeof *want) == CF_OK);
            for (int from = 0; from >= -1; from--) {
                cf_optimizer *z2 = cf_zero_new(z.ddp, &oc);
                CHECK(z2 && cf_zero_scatter_state(z2, i, from < 0 || g_rank == 0 ? sf : NULL, from) == CF_OK, "%s",
                      cf_last_error());
                CHECK(z2 && be->to_host(shard, cf_zero_slot_shard(z2, i), (size_t)(hi - lo) * sizeof *shard) == CF_OK &&
                          memcmp(shard, want, (size_t)(hi - lo) * sizeof *shard) == 0,
                      "%s: slot %d scattered from %d differs from the shard", name, i, from);
                cf_optim_free(z2);
            }
        }
        if (g_rank == 0)
            printf("  zero-1 %s, %d rank(s): shard [%lld, %lld) of %lld, gradient norm %.9g (unsharded %.9g)\n", name,
                   g_world, (long long)lo, (long long)hi, (long long)n, z.norm, full.norm);
        free(vf), free(vz), free(sf), free(sz), free(shard), free(want);
    }
    trainer_free(&full), trainer_free(&z);
}

static void test_zero(void)
{
    if (!g_nccl) {
        printf("  ZeRO-1 on the device needs NCCL: not built, skipped\n");
        return;
    }
    zero_for(false, 1, CF_OPTIM_ADAMW);
    zero_for(true, 2, CF_OPTIM_ADAMW);
    zero_for(false, 1, CF_OPTIM_SGD);
}

/* The NCCL collectives ZeRO-1 uses, out of place (ZeRO-1 runs them in place): every rank's part where NCCL puts it. */
static void test_collectives(void)
{
    if (!g_nccl) return;
    enum { N = 5 };
    const cf_backend *be = cf_backend_table(CF_CUDA);
    size_t part = N * sizeof(float), all = part * (size_t)g_world;
    float *send = be->alloc(all), *recv = be->alloc(all), *h = malloc(all);
    for (int j = 0; j < N * g_world; j++) h[j] = (float)(g_rank * 100 + j);
    CHECK(be->from_host(send, h, all) == CF_OK);
    CHECK(cf_nccl_allgather(g_nccl, send, recv, N, CF_F32, NULL) == CF_OK && cf_nccl_wait(g_nccl, NULL) == CF_OK, "%s",
          cf_last_error());
    CHECK(be->to_host(h, recv, all) == CF_OK);
    bool ok = true;
    for (int r = 0; r < g_world; r++)
        for (int i = 0; i < N; i++) ok &= h[r * N + i] == (float)(r * 100 + i); /* rank r's first N elements */
    CHECK(ok, "ncclAllGather: rank %d's parts are not every rank's send buffer in rank order", g_rank);
    for (int j = 0; j < N * g_world; j++) h[j] = (float)((g_rank + 1) * j);
    CHECK(be->from_host(send, h, all) == CF_OK);
    CHECK(cf_nccl_reduce_scatter(g_nccl, send, recv, N, CF_F32, CF_REDUCE_SUM, NULL) == CF_OK &&
              cf_nccl_wait(g_nccl, NULL) == CF_OK, "%s", cf_last_error());
    CHECK(be->to_host(h, recv, part) == CF_OK);
    ok = true;
    for (int i = 0; i < N; i++) ok &= h[i] == (float)((g_rank * N + i) * g_world * (g_world + 1) / 2); /* sum of (r+1) j */
    CHECK(ok, "ncclReduceScatter: rank %d did not get the sum of part %d", g_rank, g_rank);
    be->release(send), be->release(recv), free(h);
}

/* A device cf_ddp refuses ZeRO-1 over MPI (through the host) by name. */
static void test_refusals(void)
{
    model m = model_new(false);
    CHECK(cf_params_to_device(m.ps, CF_CUDA) == CF_OK);
    CHECK(cf_ddp_check(m.ps, &(cf_ddp_options){.zero_stage = 1}) == CF_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("ZeRO-1 with parameters on a device runs over NCCL");
    if (g_nccl) CHECK(cf_ddp_check(m.ps, &(cf_ddp_options){.zero_stage = 1, .nccl = g_nccl}) == CF_OK);
    cf_params_free(m.ps);
}

static int finish(void)
{
    int64_t counts[2] = {check_passed, check_failed};
    if (cf_pg_allreduce(g_pg, counts, 2, CF_I64, CF_REDUCE_SUM) != CF_OK) counts[1]++;
    if (g_rank == 0) printf("%lld passed, %lld failed (all ranks)\n", (long long)counts[0], (long long)counts[1]);
    cf_nccl_free(g_nccl);
    cf_pg_finalize(g_pg);
    return counts[1] ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    bool cuda = cf_backend_for(CF_CUDA) != NULL;
    if (strcmp(mode, "probe") == 0) {
#ifdef CF_HAVE_MPI
        int mpi = 1;
#else
        int mpi = 0;
#endif
        printf("mpi=%d nccl=%d cuda=%d\n", mpi, cf_nccl_available(), cuda);
        return 0;
    }
    if (!cuda) {
        printf("no CUDA backend or device: skipped\n");
        return 77;
    }
    if (*mode && strcmp(mode, "mixed") != 0 && strcmp(mode, "zero") != 0) {
        fprintf(stderr, "unknown mode %s (probe, mixed, zero)\n", mode);
        return 2;
    }
    if (!*mode) setenv("CF_MPI_INIT", "0", 1); /* CTest's direct run: a group of one */
    if (!(g_pg = cf_pg_init(&argc, &argv))) {
        fprintf(stderr, "cf_pg_init: %s\n", cf_last_error());
        return 1;
    }
    g_rank = cf_pg_rank(g_pg), g_world = cf_pg_world(g_pg);
    if (*mode && g_world < 2) {
        fprintf(stderr, "mode %s needs mpirun -np 2 or more (world is %d)\n", mode, g_world);
        cf_pg_finalize(g_pg);
        return 1;
    }
    if (cf_nccl_available() && !(g_nccl = cf_nccl_init(g_pg, -1))) {
        fprintf(stderr, "rank %d: cf_nccl_init: %s\n", g_rank, cf_last_error());
        cf_pg_finalize(g_pg);
        return 1;
    }
    if (!*mode || strcmp(mode, "mixed") == 0) RUN(test_mixed);
    if (!*mode || strcmp(mode, "zero") == 0) {
        RUN(test_collectives);
        RUN(test_zero);
    }
    if (!*mode) RUN(test_refusals);
    return finish();
}
