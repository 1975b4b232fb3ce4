/* distributed/ in a group of one: the process group's local paths, bucket layout (reverse parameter
 * order, sizes, slice boundaries), the gradient-final hook counting during backward, sync on/off,
 * unused and frozen parameters, the ZeRO-1 shard layout and update (against optim's cf_optim_step),
 * both optimizers driven through the one optimizer interface, the NCCL stub, and in the SIMT emulator build the
 * emulator's NCCL shim and DDP over it. Runs without mpirun. */
#include "autograd/cformer.h"
#include "autograd/cf_node.h"
#include "distributed/distributed.h"
#include "layers/params.h"
#include "optim/optim.h"

#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

/* ---- process group ---- */

static void test_pg_local(void)
{
    cf_pg *pg = cf_pg_init(NULL, NULL);
    CHECK(pg != NULL);
    if (!pg) return;
    CHECK(cf_pg_rank(pg) == 0 && cf_pg_world(pg) == 1);
    CHECK(cf_pg_local_rank(pg) == 0 && cf_pg_local_world(pg) == 1);
    CHECK(!cf_pg_uses_mpi(pg)); /* no launcher in the environment: no MPI_Init */
    CHECK(cf_pg_device(pg, 4) == 0 && cf_pg_device(pg, 1) == 0 && cf_pg_device(pg, 0) == -1);

    float f[3] = {1, -2, 3};
    CHECK(cf_pg_allreduce(pg, f, 3, CF_F32, CF_REDUCE_SUM) == CF_OK && f[1] == -2);
    CHECK(cf_pg_allreduce(pg, f, 3, CF_F32, CF_REDUCE_AVG) == CF_OK && f[2] == 3);
    int64_t iv[2] = {5, 7};
    CHECK(cf_pg_allreduce(pg, iv, 2, CF_I64, CF_REDUCE_MAX) == CF_OK && iv[0] == 5);
    CHECK(cf_pg_allreduce(pg, iv, 2, CF_I64, CF_REDUCE_AVG) == CF_ERR_DTYPE);
    CHECK_ERROR_HAS("average of i64");
    CHECK(cf_pg_allreduce(pg, iv, 2, CF_BF16, CF_REDUCE_SUM) == CF_ERR_DTYPE);
    CHECK(cf_pg_broadcast(pg, f, 3, CF_F32, 0) == CF_OK);
    CHECK(cf_pg_broadcast(pg, f, 3, CF_F32, 1) == CF_ERR_ARG);
    CHECK_ERROR_HAS("root 1");

    double send[2] = {4, 5}, recv[2] = {0, 0};
    CHECK(cf_pg_allgather(pg, send, recv, 2, CF_F64) == CF_OK && recv[0] == 4 && recv[1] == 5);
    CHECK(cf_pg_allgather(pg, NULL, recv, 2, CF_F64) == CF_OK && recv[1] == 5);
    recv[0] = recv[1] = 0;
    CHECK(cf_pg_reduce_scatter(pg, send, recv, 2, CF_F64, CF_REDUCE_SUM) == CF_OK && recv[0] == 4 && recv[1] == 5);

    double loss = 2.5;
    CHECK(cf_pg_allreduce_scalar(pg, &loss, CF_REDUCE_AVG) == CF_OK && loss == 2.5);

    cf_pg_request req;
    memset(&req, 0, sizeof req);
    bool done = false;
    CHECK(cf_pg_iallreduce(pg, f, 3, CF_F32, CF_REDUCE_AVG, &req) == CF_OK);
    CHECK(cf_pg_test(&req, &done) == CF_OK && done);
    CHECK(cf_pg_wait(&req) == CF_OK && !req.active && f[0] == 1);

    CHECK(cf_pg_check_same(pg, 42, "recipe") == CF_OK);
    CHECK(cf_pg_hash("a", 1) == 0xaf63dc4c8601ec8cull); /* FNV-1a 64 of "a" */
    CHECK(cf_pg_barrier(pg) == CF_OK);

    cf_pg_set_timeout(pg, 12.5);
    CHECK(cf_pg_timeout(pg) == 12.5);
    cf_pg_set_timeout(pg, -1);
    CHECK(cf_pg_timeout(pg) == 0);
    cf_pg_finalize(pg);
    cf_pg_finalize(NULL);
}

/* CF_MPI_INIT=0 keeps a launcher's ranks as independent single-process jobs (on purpose). */
static void test_pg_env(void)
{
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    setenv("CF_MPI_INIT", "0", 1);
    cf_pg *pg = cf_pg_init(NULL, NULL);
    CHECK(pg && cf_pg_world(pg) == 1 && !cf_pg_uses_mpi(pg));
    cf_pg_finalize(pg);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("CF_DIST_TIMEOUT", "7", 1);
    pg = cf_pg_init(NULL, NULL);
    CHECK(pg && cf_pg_timeout(pg) == 7);
    cf_pg_finalize(pg);
    unsetenv("CF_DIST_TIMEOUT");
}

/* ---- bucket layout ---- */

static cf_params *six_params(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    const int64_t sizes[6] = {100, 3, 300, 5, 1000, 7};
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        cf_params_add(ps, name, 1, &sizes[i], true);
    }
    return ps;
}

/* Buckets tile [0, total) in decreasing offset order; each parameter lies inside its bucket. */
static void check_tiling(cf_ddp *ddp, const cf_params *ps)
{
    int nb = cf_ddp_bucket_count(ddp);
    int64_t end = ps->total;
    for (int k = 0; k < nb; k++) {
        cf_ddp_bucket_info b = cf_ddp_bucket(ddp, k);
        CHECK(b.offset + b.numel == end);
        CHECK(b.first_param <= b.last_param);
        if (k > 0) CHECK(b.last_param == cf_ddp_bucket(ddp, k - 1).first_param - 1);
        for (int i = b.first_param; i <= b.last_param; i++) {
            CHECK(cf_ddp_bucket_of(ddp, i) == k);
            CHECK(ps->items[i].offset >= b.offset && ps->items[i].offset + ps->items[i].numel <= b.offset + b.numel);
        }
        end = b.offset;
    }
    CHECK(end == 0);
    CHECK(cf_ddp_bucket(ddp, 0).last_param == ps->count - 1);
    CHECK(cf_ddp_bucket(ddp, nb - 1).first_param == 0);
}

static void test_bucket_layout(void)
{
    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_params *ps = six_params();
    /* 1600-byte buckets, walking back from p5: {p5 28 B, p4 4000 B} closes; {p3, p2, p1, p0} = 1632 B */
    cf_ddp *ddp = cf_ddp_new(pg, ps, &(cf_ddp_options){.bucket_mb = 1600.0 / 1048576.0});
    CHECK(ddp != NULL);
    if (ddp) {
        CHECK(cf_ddp_bucket_count(ddp) == 2);
        cf_ddp_bucket_info b0 = cf_ddp_bucket(ddp, 0), b1 = cf_ddp_bucket(ddp, 1);
        CHECK(b0.first_param == 4 && b0.last_param == 5);
        CHECK(b0.offset == ps->items[4].offset && b0.offset + b0.numel == ps->total);
        CHECK(b1.first_param == 0 && b1.last_param == 3 && b1.offset == 0 && b1.numel == ps->items[4].offset);
        check_tiling(ddp, ps);
        CHECK(cf_ddp_bucket(ddp, 2).first_param == -1 && cf_ddp_bucket_of(ddp, 6) == -1);
        cf_ddp_free(ddp);
    }
    /* default 25 MiB: one bucket */
    ddp = cf_ddp_new(pg, ps, NULL);
    CHECK(ddp && cf_ddp_bucket_count(ddp) == 1);
    if (ddp) check_tiling(ddp, ps);
    cf_ddp_free(ddp);
    /* tiny: one parameter per bucket, bucket k = parameter count - 1 - k */
    ddp = cf_ddp_new(pg, ps, &(cf_ddp_options){.bucket_mb = 1e-9});
    CHECK(ddp && cf_ddp_bucket_count(ddp) == 6);
    if (ddp) {
        check_tiling(ddp, ps);
        for (int k = 0; k < 6; k++) CHECK(cf_ddp_bucket(ddp, k).first_param == 5 - k);
    }
    cf_ddp_free(ddp);
    /* hooks are removed with the ddp */
    CHECK(ps->items[0].value->hook == NULL);

    CHECK(cf_ddp_new(pg, ps, &(cf_ddp_options){.bucket_mb = -1}) == NULL);
    CHECK_ERROR_HAS("bucket_mb");
    CHECK(cf_ddp_new(pg, ps, &(cf_ddp_options){.zero_stage = 2}) == NULL);
    CHECK_ERROR_HAS("zero_stage 2");
    CHECK(cf_ddp_new(pg, ps, &(cf_ddp_options){.mpi_chunk = -1}) == NULL);
    CHECK_ERROR_HAS("mpi_chunk -1 is not an MPI count");
    CHECK(cf_ddp_check(ps, &(cf_ddp_options){.zero_stage = 1, .mpi_chunk = (int64_t)1 << 31}) == CF_ERR_ARG);
    CHECK_ERROR_HAS("mpi_chunk 2147483648 is not an MPI count");
    cf_params_free(ps);
    /* ZeRO-1 takes any parameter count (past 2^31 its collectives go in pieces): 3 x 2^30 elements, shapes only */
    ps = cf_params_new_shapes(CF_F32, 1);
    for (int i = 0; i < 3; i++) cf_params_add(ps, i == 0 ? "a" : i == 1 ? "b" : "c", 2, (int64_t[]){1 << 15, 1 << 15}, true);
    CHECK(ps->total == 3 * ((int64_t)1 << 30));
    CHECK(cf_ddp_check(ps, &(cf_ddp_options){.zero_stage = 1}) == CF_OK);
    cf_params_free(ps);
    cf_pg_finalize(pg);
}

/* ---- hooks during backward ---- */

typedef struct mlp {
    cf_params *ps;
    cf_tensor *w1, *b1, *unused, *w2, *b2;
} mlp;

static mlp mlp_new(void)
{
    mlp m;
    m.ps = cf_params_new(CF_F64, 7);
    m.w1 = cf_params_add(m.ps, "l1.weight", 2, (int64_t[]){6, 4}, true);
    m.b1 = cf_params_add(m.ps, "l1.bias", 1, (int64_t[]){6}, false);
    m.unused = cf_params_add(m.ps, "unused.weight", 1, (int64_t[]){5}, true);
    m.w2 = cf_params_add(m.ps, "l2.weight", 2, (int64_t[]){1, 6}, true);
    m.b2 = cf_params_add(m.ps, "l2.bias", 1, (int64_t[]){1}, false);
    cf_init_normal(m.ps, m.w1, 0, 0.5);
    cf_init_normal(m.ps, m.b1, 0, 0.1);
    cf_init_normal(m.ps, m.w2, 0, 0.5);
    return m;
}

/* mean over rows of (mlp(x) - y)^2, as a [1, 1] tensor built from engine ops */
static cf_tensor *mlp_loss(cf_ctx *ctx, mlp *m, int rows)
{
    double x[8 * 4], y[8], ones[8];
    for (int i = 0; i < rows * 4; i++) x[i] = sin(0.7 * i + 0.3);
    for (int i = 0; i < rows; i++) y[i] = cos(0.5 * i), ones[i] = 1.0 / rows;
    cf_tensor *X = cf_from_data(ctx, CF_F64, 2, (int64_t[]){rows, 4}, x);
    cf_tensor *Y = cf_from_data(ctx, CF_F64, 2, (int64_t[]){rows, 1}, y);
    cf_tensor *W = cf_from_data(ctx, CF_F64, 2, (int64_t[]){1, rows}, ones);
    cf_tensor *h = cf_gelu(ctx, cf_linear(ctx, X, m->w1, m->b1));
    cf_tensor *d = cf_sub(ctx, cf_linear(ctx, h, m->w2, m->b2), Y);
    return cf_matmul(ctx, W, cf_mul(ctx, d, d));
}

/* A hook wrapped around cf_ddp's: records how many buckets had started after each parameter fired. */
typedef struct spy {
    cf_grad_hook inner;
    void *inner_user;
    cf_ddp *ddp;
    int param;
    int *log, *nlog; /* pairs (param, buckets started) */
} spy;

static void spy_hook(cf_tensor *leaf, void *user)
{
    spy *s = user;
    s->inner(leaf, s->inner_user);
    s->log[(*s->nlog)++] = s->param;
    s->log[(*s->nlog)++] = cf_ddp_buckets_started(s->ddp);
}

static int started_after(const int *log, int nlog, int param)
{
    for (int i = 0; i < nlog; i += 2)
        if (log[i] == param) return log[i + 1];
    return -1;
}

static void test_hooks(void)
{
    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_ctx *ctx = cf_ctx_new(NULL);
    mlp m = mlp_new();
    /* one parameter per bucket: bucket 0 = l2.bias, 1 = l2.weight, 2 = unused.weight, 3 = l1.bias,
     * 4 = l1.weight */
    cf_ddp *ddp = cf_ddp_new(pg, m.ps, &(cf_ddp_options){.bucket_mb = 1e-9});
    CHECK(ddp && cf_ddp_bucket_count(ddp) == 5);
    if (!ddp) return;
    spy spies[5];
    int log[64], nlog = 0;
    for (int i = 0; i < 5; i++) {
        cf_tensor *v = m.ps->items[i].value;
        spies[i] = (spy){v->hook, v->hook_user, ddp, i, log, &nlog};
        cf_set_grad_hook(v, spy_hook, &spies[i]);
    }

    /* a synchronised step: every bucket starts during backward, in order */
    cf_params_zero_grad(m.ps);
    cf_tensor *loss = mlp_loss(ctx, &m, 8);
    CHECK(cf_backward(ctx, loss, NULL) == CF_OK);
    CHECK(nlog == 8); /* four used parameters fired once each; unused.weight never */
    CHECK(started_after(log, nlog, 2) == -1);
    /* l2's parameters fire first (backward reaches the last layer first); once both have, buckets 0-2
     * (l2.bias, l2.weight, and unused.weight, marked ready at the first hook) have started */
    CHECK(log[0] == 3 || log[0] == 4);
    CHECK(started_after(log, nlog, 3) >= 2 || started_after(log, nlog, 4) >= 2);
    CHECK(started_after(log, nlog, 0) >= 3 && started_after(log, nlog, 1) >= 3);
    CHECK(cf_ddp_buckets_started(ddp) == 5);
    size_t gbytes = (size_t)m.ps->total * sizeof(double);
    double *before = malloc(gbytes);
    memcpy(before, m.ps->grads, gbytes);
    CHECK(cf_ddp_finish(ddp) == CF_OK);
    CHECK(memcmp(before, m.ps->grads, gbytes) == 0); /* the average over one rank */
    CHECK(cf_ddp_buckets_started(ddp) == 0);
    cf_ddp_stats st = cf_ddp_stats_get(ddp);
    CHECK(st.steps == 1 && st.buckets_in_backward == 5 && st.buckets_in_finish == 0 && st.params_unused == 1);
    CHECK(st.bytes == (double)gbytes && st.wait_s >= 0 && st.window_s >= st.wait_s);
    cf_step_reset(ctx);

    /* sync off (an accumulation micro-step): hooks count nothing, finish does nothing */
    cf_ddp_set_sync(ddp, false);
    CHECK(!cf_ddp_sync(ddp));
    nlog = 0;
    CHECK(cf_backward(ctx, mlp_loss(ctx, &m, 8), NULL) == CF_OK);
    CHECK(nlog == 8 && cf_ddp_buckets_started(ddp) == 0);
    CHECK(cf_ddp_finish(ddp) == CF_OK && cf_ddp_stats_get(ddp).steps == 1);
    cf_step_reset(ctx);
    cf_ddp_set_sync(ddp, true);

    /* no backward on this rank (an empty micro-batch): finish reduces every bucket */
    cf_ddp_stats_reset(ddp);
    CHECK(cf_ddp_finish(ddp) == CF_OK);
    st = cf_ddp_stats_get(ddp);
    CHECK(st.steps == 1 && st.buckets_in_finish == 5 && st.buckets_in_backward == 0);

    /* a frozen parameter does not hold its bucket back */
    cf_requires_grad_(m.b1, false);
    cf_ddp_stats_reset(ddp);
    CHECK(cf_backward(ctx, mlp_loss(ctx, &m, 8), NULL) == CF_OK);
    CHECK(cf_ddp_buckets_started(ddp) == 5);
    CHECK(cf_ddp_finish(ddp) == CF_OK && cf_ddp_stats_get(ddp).buckets_in_backward == 5);
    cf_step_reset(ctx);
    cf_requires_grad_(m.b1, true);

    /* hooks fire once per step (tape generation): a second backward in the same step fires none, so it
     * cannot start anything twice (ddp.h: one backward per synchronised micro-step) */
    cf_ddp_stats_reset(ddp);
    cf_tensor *l1 = mlp_loss(ctx, &m, 8), *l2 = mlp_loss(ctx, &m, 4);
    CHECK(cf_backward(ctx, l1, NULL) == CF_OK && cf_backward(ctx, l2, NULL) == CF_OK);
    CHECK(cf_ddp_finish(ddp) == CF_OK && cf_ddp_stats_get(ddp).buckets_in_backward == 5);
    cf_step_reset(ctx);

    /* the broadcast from rank 0 is a no-op here but bumps versions */
    uint32_t v0 = m.w1->storage->version;
    CHECK(cf_ddp_broadcast_params(ddp) == CF_OK && m.w1->storage->version != v0);
    CHECK(cf_ddp_pg(ddp) == pg && cf_ddp_params(ddp) == m.ps && cf_ddp_zero_stage(ddp) == 0);
    free(before);
    cf_ddp_free(ddp);
    CHECK(m.w1->hook == spy_hook); /* someone else's hook is left alone */
    cf_params_free(m.ps);
    cf_ctx_free(ctx);
    cf_pg_finalize(pg);
}

/* ---- ZeRO-1 ---- */

static void test_shard_range(void)
{
    int64_t lo, hi;
    cf_zero_shard_range(100, 3, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 48);
    cf_zero_shard_range(100, 3, 1, &lo, &hi);
    CHECK(lo == 48 && hi == 96);
    cf_zero_shard_range(100, 3, 2, &lo, &hi);
    CHECK(lo == 96 && hi == 100);
    cf_zero_shard_range(10, 4, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 10);
    cf_zero_shard_range(10, 4, 3, &lo, &hi);
    CHECK(lo == 10 && hi == 10);
    /* every split tiles the buffer with 16-aligned starts */
    for (int64_t total = 0; total < 300; total += 37)
        for (int w = 1; w <= 9; w++) {
            int64_t at = 0;
            for (int r = 0; r < w; r++) {
                cf_zero_shard_range(total, w, r, &lo, &hi);
                CHECK(lo == at && hi >= lo && (lo % 16 == 0 || lo == total));
                at = hi;
            }
            CHECK(at == total);
        }
}

/* cf_zero at world 1 follows cf_optim_step exactly (same kernels, whole buffer as the shard). */
static void run_zero_vs_optim(cf_optim_config cfg)
{
    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_params *a = six_params(), *b = six_params();
    for (int i = 0; i < 6; i++) {
        cf_init_normal(a, a->items[i].value, 0, 1);
        cf_init_normal(b, b->items[i].value, 0, 1);
    }
    b->items[3].decay = a->items[3].decay = false;
    cf_optimizer *opt = cf_optim_new(a, &cfg);
    cf_ddp *ddp = cf_ddp_new(pg, b, &(cf_ddp_options){.zero_stage = 1});
    cf_zero *z = cf_zero_new(ddp, &cfg);
    CHECK(opt && ddp && z);
    if (!opt || !ddp || !z) return;
    int64_t lo, hi;
    cf_zero_shard(z, &lo, &hi);
    CHECK(lo == 0 && hi == b->total);
    CHECK(cf_zero_slot_count(z) == cf_optim_slot_count(opt));
    for (int s = 0; s < cf_zero_slot_count(z); s++)
        CHECK(strcmp(cf_zero_slot_name(z, s), cf_optim_slot_name(opt, s)) == 0);
    for (int step = 0; step < 5; step++) {
        for (int64_t i = 0; i < a->total; i++) {
            float g = (float)sin(0.1 * (double)i + step);
            ((float *)a->grads)[i] = ((float *)b->grads)[i] = g;
        }
        double na = cf_clip_grad_norm(a, 3.0), nb = -1;
        CHECK(cf_zero_clip_grad_norm(z, 3.0, &nb) == CF_OK);
        CHECK_NEAR(nb, na, 1e-9 * na);
        CHECK(cf_optim_step(opt, 0.01) == CF_OK && cf_zero_step(z, 0.01) == CF_OK);
    }
    CHECK(memcmp(a->values, b->values, (size_t)a->total * sizeof(float)) == 0);
    CHECK(cf_zero_steps_taken(z) == 5);
    /* full state round trip at world 1 */
    for (int s = 0; s < cf_zero_slot_count(z); s++) {
        float *full = calloc((size_t)b->total, sizeof *full);
        CHECK(cf_zero_gather_state(z, s, full, 0) == CF_OK);
        CHECK(memcmp(full, cf_optim_slot_data(opt, s), (size_t)b->total * sizeof *full) == 0);
        full[0] += 1;
        CHECK(cf_zero_scatter_state(z, s, full, -1) == CF_OK);
        CHECK(((float *)cf_zero_slot_shard(z, s))[0] == full[0]);
        CHECK(cf_zero_scatter_state(z, s, full, 0) == CF_OK);
        free(full);
    }
    CHECK(cf_zero_gather_state(z, 7, NULL, 0) == CF_ERR_ARG);
    CHECK_ERROR_HAS("slot 7");
    cf_zero_set_steps_taken(z, 9);
    CHECK(cf_zero_steps_taken(z) == 9 && cf_zero_gather_seconds(z) == 0);
    cf_zero_free(z);
    cf_ddp_free(ddp);
    cf_optim_free(opt);
    cf_params_free(a);
    cf_params_free(b);
    cf_pg_finalize(pg);
}

static void test_zero_world1(void)
{
    cf_optim_config adamw = cf_optim_defaults(CF_OPTIM_ADAMW);
    adamw.weight_decay = 0.1;
    run_zero_vs_optim(adamw);
    run_zero_vs_optim(cf_optim_defaults(CF_OPTIM_ADAM));
    cf_optim_config sgd = cf_optim_defaults(CF_OPTIM_SGD);
    sgd.momentum = 0.9, sgd.nesterov = true, sgd.weight_decay = 1e-3;
    run_zero_vs_optim(sgd);
    run_zero_vs_optim(cf_optim_defaults(CF_OPTIM_SGD)); /* no slots */

    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_params *ps = six_params();
    cf_ddp *ddp = cf_ddp_new(pg, ps, NULL);
    CHECK(cf_zero_new(ddp, &adamw) == NULL);
    CHECK_ERROR_HAS("zero_stage 0");
    cf_ddp_free(ddp);
    cf_params_free(ps);
    cf_pg_finalize(pg);
}

/* One training step through the optimizer interface only, as the trainer drives it. */
static double interface_step(cf_optimizer *o, cf_params *ps, int step)
{
    for (int64_t i = 0; i < ps->total; i++) ((float *)ps->grads)[i] = (float)sin(0.07 * (double)i - step);
    double norm = -1;
    cf_optim_scale_grads(o, 1.0 / 3.0); /* three accumulated micro-batches */
    CHECK(cf_optim_clip_grad_norm(o, 2.0, &norm) == CF_OK);
    CHECK(cf_optim_step(o, 0.02) == CF_OK);
    return norm;
}

/* Both implementations behind one interface: the replicated optimizer and ZeRO-1 at world 1 take the same
 * calls and end with the same parameters, steps and checkpoint slots; a full state written into each
 * reads back the same and steers the next updates the same way. */
static void run_interface(cf_optim_config cfg)
{
    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_params *ps[2] = {six_params(), six_params()};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 6; i++) cf_init_normal(ps[k], ps[k]->items[i].value, 0, 1);
        ps[k]->items[1].decay = false;
    }
    cf_ddp *ddp = cf_ddp_new(pg, ps[1], &(cf_ddp_options){.zero_stage = 1});
    cf_optimizer *opt[2] = {cf_optim_new(ps[0], &cfg), cf_zero_new(ddp, &cfg)};
    CHECK(ddp && opt[0] && opt[1]);
    if (!ddp || !opt[0] || !opt[1]) return;
    int64_t total = ps[0]->total;
    size_t bytes = (size_t)total * sizeof(float);
    CHECK(cf_optim_slot_count(opt[0]) == cf_optim_slot_count(opt[1]));
    CHECK(cf_optim_shards(opt[0]) == 1 && cf_optim_shards(opt[1]) == 1);
    CHECK(cf_optim_slot_data(opt[1], 0) == NULL); /* a sharded state is read through cf_optim_slot_read */

    for (int step = 0; step < 4; step++) {
        double n0 = interface_step(opt[0], ps[0], step), n1 = interface_step(opt[1], ps[1], step);
        CHECK(n0 > 0 && fabs(n0 - n1) <= 1e-12 * n0, "step %d: norms %.17g vs %.17g", step, n0, n1);
    }
    CHECK(memcmp(ps[0]->values, ps[1]->values, bytes) == 0);
    CHECK(cf_optim_steps_taken(opt[0]) == 4 && cf_optim_steps_taken(opt[1]) == 4);

    int ns = cf_optim_slot_count(opt[0]);
    float *full[2] = {calloc((size_t)total, sizeof(float)), calloc((size_t)total, sizeof(float))};
    for (int i = 0; i < ns; i++) {
        CHECK(strcmp(cf_optim_slot_name(opt[0], i), cf_optim_slot_name(opt[1], i)) == 0);
        for (int k = 0; k < 2; k++) CHECK(cf_optim_slot_read(opt[k], i, full[k]) == CF_OK);
        CHECK(memcmp(full[0], full[1], bytes) == 0, "slot %s differs", cf_optim_slot_name(opt[0], i));
        CHECK(memcmp(full[0], cf_optim_slot_data(opt[0], i), bytes) == 0);
        bool moved = false;
        for (int64_t e = 0; e < total; e++) moved |= full[0][e] != 0;
        CHECK(moved, "slot %s is still zero after 4 steps", cf_optim_slot_name(opt[0], i));
        /* a checkpoint's state (here: a changed one) goes into both and reads back unchanged */
        for (int64_t e = 0; e < total; e++) full[0][e] = full[0][e] * 0.5f + (i ? 1e-4f : 1e-3f);
        for (int k = 0; k < 2; k++) CHECK(cf_optim_slot_write(opt[k], i, full[0]) == CF_OK);
        CHECK(cf_optim_slot_read(opt[1], i, full[1]) == CF_OK && memcmp(full[0], full[1], bytes) == 0);
        CHECK(cf_optim_slot_read(opt[0], i, NULL) == CF_OK); /* a rank that only takes part */
    }
    for (int k = 0; k < 2; k++) cf_optim_set_steps_taken(opt[k], 20);
    for (int step = 4; step < 6; step++) interface_step(opt[0], ps[0], step), interface_step(opt[1], ps[1], step);
    CHECK(memcmp(ps[0]->values, ps[1]->values, bytes) == 0);
    CHECK(cf_optim_steps_taken(opt[1]) == 22);

    /* bad slots and buffers name what is wrong; ZeRO's own calls refuse another optimizer */
    for (int k = 0; k < 2; k++) {
        CHECK(cf_optim_slot_read(opt[k], ns, full[0]) == CF_ERR_ARG);
        CHECK_ERROR_HAS("does not exist");
        CHECK(cf_optim_slot_write(opt[k], -1, full[0]) == CF_ERR_ARG);
        CHECK(cf_optim_slot_name(opt[k], ns) == NULL && cf_optim_slot_data(opt[k], ns) == NULL);
        if (ns > 0) {
            CHECK(cf_optim_slot_write(opt[k], 0, NULL) == CF_ERR_ARG);
            CHECK_ERROR_HAS("NULL buffer");
        }
    }
    CHECK(cf_zero_gather_state(opt[0], 0, full[0], 0) == CF_ERR_ARG);
    CHECK_ERROR_HAS("not a ZeRO-1 optimizer");
    CHECK(cf_zero_scatter_state(opt[0], 0, full[0], -1) == CF_ERR_ARG);
    int64_t lo = -1, hi = -1;
    cf_zero_shard(opt[0], &lo, &hi);
    CHECK(lo == 0 && hi == 0 && cf_zero_slot_shard(opt[0], 0) == NULL && cf_zero_gather_seconds(opt[0]) == 0);
    free(full[0]);
    free(full[1]);
    for (int k = 0; k < 2; k++) cf_optim_free(opt[k]);
    cf_ddp_free(ddp);
    for (int k = 0; k < 2; k++) cf_params_free(ps[k]);
    cf_pg_finalize(pg);
}

static void test_optim_interface(void)
{
    cf_optim_config cfgs[4] = {cf_optim_defaults(CF_OPTIM_ADAMW), cf_optim_defaults(CF_OPTIM_ADAM),
                               cf_optim_defaults(CF_OPTIM_SGD), cf_optim_defaults(CF_OPTIM_SGD)};
    cfgs[0].weight_decay = 0.05;
    cfgs[2].momentum = 0.9, cfgs[2].dampening = 0.1, cfgs[2].weight_decay = 1e-3; /* cfgs[3]: no slots */
    for (int i = 0; i < 4; i++) run_interface(cfgs[i]);

    cf_params *ps = six_params();
    cf_optim_config bad = cf_optim_defaults(CF_OPTIM_ADAM);
    bad.kind = (cf_optim_kind)9;
    CHECK(cf_optim_new(ps, &bad) == NULL && cf_last_status() == CF_ERR_ARG);
    CHECK_ERROR_HAS("unknown optimizer kind 9");
    cf_optim_free(NULL);
    cf_params_free(ps);
}

static void test_nccl_stub(void)
{
#ifndef CF_HAVE_NCCL
    CHECK(!cf_nccl_available());
    cf_pg *pg = cf_pg_init(NULL, NULL);
    CHECK(cf_nccl_init(pg, 0) == NULL);
    CHECK(cf_last_status() == CF_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("without NCCL");
    CHECK(cf_nccl_allreduce(NULL, NULL, 0, CF_F32, CF_REDUCE_SUM, NULL) == CF_ERR_UNSUPPORTED);
    cf_pg_finalize(pg);
#endif
}

/* The emulator build's NCCL (distributed/nccl_emu.c) in a group of one: collectives on emulated device memory,
 * a host pointer refused by name (the host-staging bug it is there to catch), and the DDP path over it. */
static void test_nccl_emulated(void)
{
#if defined(CF_HAVE_NCCL) && defined(CF_CUDA_EMU)
    CHECK(cf_nccl_available());
    const cf_backend *be = cf_backend_for(CF_CUDA);
    cf_pg *pg = cf_pg_init(NULL, NULL);
    cf_nccl *nc = cf_nccl_init(pg, -1);
    CHECK(nc != NULL, "%s", cf_last_error());
    if (!nc || !be) {
        cf_pg_finalize(pg);
        return;
    }
    float h[4] = {1, -2, 3.5f, 4}, back[4];
    float *d = be->alloc(sizeof h);
    CHECK(be->from_host(d, h, sizeof h) == CF_OK);
    CHECK(cf_nccl_allreduce(nc, d, 4, CF_F32, CF_REDUCE_SUM, NULL) == CF_OK, "%s", cf_last_error());
    CHECK(cf_nccl_allreduce(nc, d, 4, CF_F32, CF_REDUCE_AVG, NULL) == CF_OK);
    CHECK(cf_nccl_broadcast(nc, d, 4, CF_F32, 0, NULL) == CF_OK && cf_nccl_wait(nc, NULL) == CF_OK);
    CHECK(be->to_host(back, d, sizeof back) == CF_OK && memcmp(back, h, sizeof h) == 0); /* one rank: unchanged */
    CHECK(cf_nccl_allreduce(nc, h, 4, CF_F32, CF_REDUCE_SUM, NULL) == CF_ERR_IO);
    CHECK_ERROR_HAS("is not 16 bytes of emulated device memory");
    CHECK(cf_nccl_allreduce(nc, d, 5, CF_F32, CF_REDUCE_SUM, NULL) == CF_ERR_IO); /* past the allocation's end */
    CHECK(cf_nccl_broadcast(nc, d, 4, CF_F32, 1, NULL) == CF_ERR_IO);             /* no rank 1 */
    CHECK(cf_nccl_allreduce(nc, d, 2, CF_BF16, CF_REDUCE_SUM, NULL) == CF_ERR_IO);
    CHECK_ERROR_HAS("bf16 reductions are not emulated");
    be->release(d);

    /* DDP over it: device parameters' gradients reduced on the device (one rank: the average is themselves) */
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_params_add(ps, "a", CF_SHAPE(3), true);
    cf_params_add(ps, "b", CF_SHAPE(2), false);
    CHECK(cf_params_grads(ps) == CF_OK);
    CHECK(cf_ddp_new(pg, ps, &(cf_ddp_options){.nccl = nc}) == NULL); /* host parameters */
    CHECK_ERROR_HAS("parameters are on the host");
    CHECK(cf_params_to_device(ps, CF_CUDA) == CF_OK, "%s", cf_last_error());
    cf_ddp *ddp = cf_ddp_new(pg, ps, &(cf_ddp_options){.nccl = nc});
    CHECK(ddp != NULL, "%s", cf_last_error());
    if (ddp) {
        size_t bytes = (size_t)ps->total * sizeof(float);
        float *g = calloc((size_t)ps->total, sizeof *g), *g2 = calloc((size_t)ps->total, sizeof *g2);
        g[ps->items[0].offset + 1] = 0.25f, g[ps->items[1].offset] = -3;
        CHECK(be->from_host(ps->grads, g, bytes) == CF_OK);
        CHECK(cf_ddp_broadcast_params(ddp) == CF_OK && cf_ddp_finish(ddp) == CF_OK, "%s", cf_last_error());
        CHECK(be->to_host(g2, ps->grads, bytes) == CF_OK && memcmp(g, g2, bytes) == 0);
        CHECK(cf_ddp_stats_get(ddp).steps == 1 && cf_ddp_stats_get(ddp).bytes == (double)bytes);
        free(g), free(g2);
    }
    cf_ddp_free(ddp);
    cf_params_free(ps);
    cf_nccl_free(nc);
    cf_pg_finalize(pg);
#endif
}

int main(void)
{
    /* this test is the group of one without MPI by definition, whatever launched it */
    setenv("CF_MPI_INIT", "0", 1);
    RUN(test_pg_local);
    RUN(test_pg_env);
    RUN(test_bucket_layout);
    RUN(test_hooks);
    RUN(test_shard_range);
    RUN(test_zero_world1);
    RUN(test_optim_interface);
    RUN(test_nccl_stub);
    RUN(test_nccl_emulated);
    TEST_MAIN_END();
}
