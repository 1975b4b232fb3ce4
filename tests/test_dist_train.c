/* Data-parallel training equivalence, ZeRO-1 checkpoints across world sizes, collectives and faults.
 *
 * One executable, several modes (argv[1]):
 *   (none)        CTest's direct run, one process: the trainer below with cf_ddp / cf_zero in a group of
 *                 one must follow a plain single-process run, and a ZeRO-1 checkpoint resumes.
 *   probe         prints "mpi=1" or "mpi=0" (whether the build has MPI), for the driver script.
 *   mpi [CKPT]    under mpirun -np 2: collectives; 20 steps of an MLP with global batch B on 2 ranks (B/2
 *                 rows each) against one process with batch B, for ZeRO 0 and 1, with and without
 *                 gradient accumulation, f64 and f32; ZeRO-1 state gathered to rank 0 at step 10 and
 *                 saved to CKPT; scatter back; recipe-hash mismatch naming the rank.
 *   pieces        under mpirun -np 2 or 3: the piecewise MPI path (cf_ddp_options.mpi_chunk = 7, which a flat
 *                 buffer of 2^31 elements or more takes) against the one-call path (v-collectives, one reduction per
 *                 bucket) and an unsharded run: bit-identical parameters after some steps, bit-identical gathered and
 *                 scattered optimizer state, and the number of MPI calls each path issued.
 *   resume CKPT   one process: loads the checkpoint the 2 ranks saved and continues the same curve,
 *                 with a plain optimizer and with cf_zero in a group of one.
 *   fail-exit | fail-kill | fail-abort | fail-hang
 *                 under mpirun -np 2: rank 1 exits with 3 / is killed / calls cf_pg_abort / hangs at step
 *                 3; tests/test_dist_faults.sh checks that the job ends, non-zero, in bounded time.
 * tests/test_dist_mpi.sh and test_dist_faults.sh drive the mpirun modes. */
#include "autograd/cformer.h"
#include "distributed/distributed.h"
#include "layers/params.h"
#include "optim/optim.h"
#include "recipes/checkpoint/checkpoint.h"

#include "tests/check.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEPS 20
#define SAVE_AT 10
#define BATCH 8
#define DIN 6

static int g_rank;

/* ---- the model: a 3-layer MLP from engine ops, with one parameter the forward never uses ---- */

typedef struct model {
    cf_params *ps;
    cf_tensor *w1, *b1, *w2, *b2, *w3, *b3;
} model;

static model model_new(cf_dtype dt)
{
    model m;
    m.ps = cf_params_new(dt, 1234);
    m.w1 = cf_params_add(m.ps, "l1.weight", 2, (int64_t[]){16, DIN}, true);
    m.b1 = cf_params_add(m.ps, "l1.bias", 1, (int64_t[]){16}, false);
    cf_params_add(m.ps, "unused.weight", 1, (int64_t[]){3}, true);
    m.w2 = cf_params_add(m.ps, "l2.weight", 2, (int64_t[]){12, 16}, true);
    m.b2 = cf_params_add(m.ps, "l2.bias", 1, (int64_t[]){12}, false);
    m.w3 = cf_params_add(m.ps, "head.weight", 2, (int64_t[]){1, 12}, true);
    m.b3 = cf_params_add(m.ps, "head.bias", 1, (int64_t[]){1}, false);
    cf_init_normal(m.ps, m.w1, 0, 0.4);
    cf_init_normal(m.ps, m.b1, 0, 0.1);
    cf_init_normal(m.ps, m.w2, 0, 0.25);
    cf_init_normal(m.ps, m.w3, 0, 0.3);
    cf_init_normal(m.ps, cf_params_find(m.ps, "unused.weight")->value, 0, 1);
    return m;
}

/* Global row g of step s: deterministic, so any split of the batch sees the same rows. */
static void rows(int step, int row0, int n, double *x, double *y)
{
    for (int i = 0; i < n; i++) {
        double g = (double)(step * BATCH + row0 + i), acc = 0;
        for (int j = 0; j < DIN; j++) {
            x[i * DIN + j] = sin(0.37 * g + 1.3 * j) + 0.1 * cos(0.11 * g * (j + 1));
            acc += x[i * DIN + j] * (j % 3 - 1);
        }
        y[i] = tanh(0.8 * acc) + 0.1 * cos(g);
    }
}

/* Mean over the n rows of (mlp(x) - y)^2, as a [1, 1] tensor. */
static cf_tensor *loss_of(cf_ctx *ctx, model *m, int step, int row0, int n)
{
    double x[BATCH * DIN], y[BATCH], w[BATCH];
    rows(step, row0, n, x, y);
    for (int i = 0; i < n; i++) w[i] = 1.0 / n;
    cf_dtype dt = m->ps->dtype;
    cf_tensor *X = cf_cast(ctx, cf_from_data(ctx, CF_F64, 2, (int64_t[]){n, DIN}, x), dt);
    cf_tensor *Y = cf_cast(ctx, cf_from_data(ctx, CF_F64, 2, (int64_t[]){n, 1}, y), dt);
    cf_tensor *W = cf_cast(ctx, cf_from_data(ctx, CF_F64, 2, (int64_t[]){1, n}, w), dt);
    cf_tensor *h = cf_gelu(ctx, cf_linear(ctx, X, m->w1, m->b1));
    h = cf_tanh(ctx, cf_linear(ctx, h, m->w2, m->b2));
    cf_tensor *d = cf_sub(ctx, cf_linear(ctx, h, m->w3, m->b3), Y);
    return cf_matmul(ctx, W, cf_mul(ctx, d, d));
}

/* ---- the trainer under test ---- */

typedef struct run_cfg {
    const char *name;
    cf_dtype dt;
    int zero;         /* -1: plain single process (the reference); 0: ddp; 1: ddp + ZeRO-1 */
    int accum;        /* micro-steps per step; only the last synchronises */
    double bucket_mb;
    int64_t mpi_chunk; /* cf_ddp_options.mpi_chunk: > 0 forces MPI calls of at most this many elements */
} run_cfg;

typedef struct trainer {
    run_cfg cfg;
    cf_pg *pg;
    cf_ctx *ctx;
    model m;
    cf_ddp *ddp;
    cf_zero *z;
    cf_optimizer *opt;
    int row0, nrows; /* this rank's rows of each global batch */
} trainer;

static cf_optim_config optim_cfg(void)
{
    cf_optim_config c = cf_optim_defaults(CF_OPTIM_ADAMW);
    c.lr = 0.02, c.weight_decay = 0.05;
    return c;
}

static bool trainer_init(trainer *t, cf_pg *pg, run_cfg cfg)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg, t->pg = pg;
    t->ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    t->m = model_new(cfg.dt);
    cf_optim_config oc = optim_cfg();
    int world = cfg.zero < 0 ? 1 : cf_pg_world(pg), rank = cfg.zero < 0 ? 0 : cf_pg_rank(pg);
    t->nrows = BATCH / world, t->row0 = rank * t->nrows;
    if (cfg.zero >= 0) {
        t->ddp = cf_ddp_new(pg, t->m.ps, &(cf_ddp_options){.bucket_mb = cfg.bucket_mb, .zero_stage = cfg.zero,
                                                           .mpi_chunk = cfg.mpi_chunk});
        if (!t->ddp) return false;
        /* a different start on every rank: the broadcast must make them equal */
        if (rank != 0) cf_init_normal(t->m.ps, t->m.w1, 1, 1);
        if (cf_ddp_broadcast_params(t->ddp) != CF_OK) return false;
    }
    if (cfg.zero == 1) t->z = cf_zero_new(t->ddp, &oc);
    else t->opt = cf_optim_new(t->m.ps, &oc);
    return t->z || t->opt;
}

static void trainer_free(trainer *t)
{
    cf_zero_free(t->z);
    cf_optim_free(t->opt);
    cf_ddp_free(t->ddp);
    cf_params_free(t->m.ps);
    cf_ctx_free(t->ctx);
}

/* One optimizer step on this rank's rows; *loss is the global mean loss. */
static cf_status train_step(trainer *t, int step, double *loss)
{
    cf_params *ps = t->m.ps;
    int accum = t->cfg.accum, micro = t->nrows / accum;
    double sum = 0;
    cf_params_zero_grad(ps);
    for (int k = 0; k < accum; k++) {
        if (t->ddp) cf_ddp_set_sync(t->ddp, k == accum - 1);
        cf_tensor *l = loss_of(t->ctx, &t->m, step, t->row0 + k * micro, micro);
        if (!l) return cf_last_status();
        sum += cf_item(l);
        cf_status st = cf_backward(t->ctx, l, NULL);
        cf_step_reset(t->ctx);
        if (st != CF_OK) return st;
    }
    *loss = sum / accum;
    if (t->ddp) {
        if (cf_ddp_finish(t->ddp) != CF_OK) return cf_last_status();
        if (cf_pg_allreduce_scalar(t->pg, loss, CF_REDUCE_AVG) != CF_OK) return cf_last_status();
    }
    double lr = optim_cfg().lr * (1.0 - 0.02 * step), norm;
    if (t->z) {
        cf_zero_scale_grads(t->z, 1.0 / accum);
        if (cf_zero_clip_grad_norm(t->z, 1.0, &norm) != CF_OK) return cf_last_status();
        return cf_zero_step(t->z, lr);
    }
    cf_scale_grads(ps, 1.0 / accum);
    cf_clip_grad_norm(ps, 1.0);
    return cf_optim_step(t->opt, lr);
}

/* The reference curve: one process, plain optimizer, full batch. */
static void reference(cf_dtype dt, double *losses)
{
    trainer t;
    CHECK(trainer_init(&t, NULL, (run_cfg){"reference", dt, -1, 1, 0, 0}));
    for (int s = 0; s < STEPS; s++) CHECK(train_step(&t, s, &losses[s]) == CF_OK);
    trainer_free(&t);
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* Trains cfg for STEPS on the group and compares each step's loss with the reference. With save_path,
 * a ZeRO-1 run gathers its state at step SAVE_AT and rank 0 writes a checkpoint there. */
static void run_and_compare(cf_pg *pg, run_cfg cfg, const double *ref, double tol, const char *save_path)
{
    trainer t;
    bool ok = trainer_init(&t, pg, cfg);
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "rank %d: %s: %s\n", g_rank, cfg.name, cf_last_error());
        return;
    }
    double worst = 0;
    for (int s = 0; s < STEPS; s++) {
        if (save_path && s == SAVE_AT) {
#ifdef CF_HAVE_HDF5
            cf_params *ps = t.m.ps;
            int ns = cf_zero_slot_count(t.z);
            void *full[2] = {NULL, NULL};
            cf_ckpt_slot slots[2];
            for (int i = 0; i < ns; i++) {
                full[i] = calloc((size_t)ps->total, cf_dtype_size(ps->dtype));
                CHECK(cf_zero_gather_state(t.z, i, g_rank == 0 ? full[i] : NULL, 0) == CF_OK);
                slots[i] = (cf_ckpt_slot){cf_zero_slot_name(t.z, i), full[i]};
            }
            if (g_rank == 0) {
                cf_train_state st = {.step = s, .seed = 1234, .world_size = cf_pg_world(pg)};
                cf_status rc = cf_checkpoint_save(save_path, ps, ns, slots, &st, "zero: 1\n");
                CHECK(rc == CF_OK);
                if (rc != CF_OK) fprintf(stderr, "save: %s\n", cf_last_error());
            }
            /* scatter back into a second sharded optimizer: same shard as the live one */
            cf_optim_config oc = optim_cfg();
            cf_zero *z2 = cf_zero_new(t.ddp, &oc);
            for (int i = 0; i < ns; i++) {
                int64_t lo, hi;
                cf_zero_shard(t.z, &lo, &hi);
                size_t bytes = (size_t)(hi - lo) * cf_dtype_size(ps->dtype);
                CHECK(cf_zero_scatter_state(z2, i, g_rank == 0 ? full[i] : NULL, 0) == CF_OK);
                CHECK(memcmp(cf_zero_slot_shard(z2, i), cf_zero_slot_shard(t.z, i), bytes) == 0);
                memset(cf_zero_slot_shard(z2, i), 0, bytes);
                CHECK(cf_pg_broadcast(pg, full[i], ps->total, ps->dtype, 0) == CF_OK);
                CHECK(cf_zero_scatter_state(z2, i, full[i], -1) == CF_OK);
                CHECK(memcmp(cf_zero_slot_shard(z2, i), cf_zero_slot_shard(t.z, i), bytes) == 0);
                free(full[i]);
            }
            cf_zero_free(z2);
#endif
        }
        double loss = 0;
        cf_status st = train_step(&t, s, &loss);
        CHECK(st == CF_OK);
        if (st != CF_OK) {
            fprintf(stderr, "rank %d: %s step %d: %s\n", g_rank, cfg.name, s, cf_last_error());
            break;
        }
        double r = rel(loss, ref[s]);
        if (r > worst) worst = r;
        if (r >= tol) fprintf(stderr, "rank %d: %s step %d: loss %.12g, reference %.12g\n", g_rank, cfg.name, s, loss, ref[s]);
        CHECK(r < tol);
    }
    /* every rank ends with the same parameters, bit for bit */
    cf_params *ps = t.m.ps;
    CHECK(cf_pg_check_same(pg, cf_pg_hash(ps->values, (size_t)ps->total * cf_dtype_size(ps->dtype)),
                           "parameters") == CF_OK);
    cf_ddp_stats ds = cf_ddp_stats_get(t.ddp);
    CHECK(ds.steps == STEPS);
    CHECK(ds.buckets_in_backward > 0);
    CHECK(ds.params_unused == STEPS); /* unused.weight, once per synchronised step */
    if (g_rank == 0)
        printf("%-22s world %d: %d buckets, worst relative loss difference %.2e; waited %.3f ms of a %.3f ms "
               "communication window\n",
               cfg.name, cf_pg_world(pg), cf_ddp_bucket_count(t.ddp), worst, 1e3 * ds.wait_s, 1e3 * ds.window_s);
    trainer_free(&t);
}

static const run_cfg configs[] = {
    {"f64 zero0", CF_F64, 0, 1, 1e-9, 0},         /* one parameter per bucket */
    {"f64 zero0 accum2", CF_F64, 0, 2, 1e-3, 0},  /* ~1 KiB buckets spanning parameters */
    {"f64 zero1", CF_F64, 1, 1, 1e-9, 0},
    {"f64 zero1 accum2", CF_F64, 1, 2, 0, 0},     /* one 25 MiB bucket */
    {"f32 zero0", CF_F32, 0, 1, 5e-4, 0},
    {"f32 zero1", CF_F32, 1, 1, 5e-4, 0},
};

static void test_equivalence(cf_pg *pg, const char *save_path)
{
    double ref64[STEPS], ref32[STEPS];
    reference(CF_F64, ref64);
    reference(CF_F32, ref32);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const run_cfg *c = &configs[i];
        bool f64 = c->dt == CF_F64;
        /* f32: different summation orders of the split batch; f64 shows the algorithm is exact */
        run_and_compare(pg, *c, f64 ? ref64 : ref32, f64 ? 1e-10 : 1e-5,
                        c->zero == 1 && f64 && c->accum == 1 ? save_path : NULL);
    }
}

/* ---- resume a ZeRO-1 checkpoint in one process ---- */

#ifdef CF_HAVE_HDF5
static void resume_from(const char *path, int expect_world)
{
    double ref[STEPS];
    reference(CF_F64, ref);
    for (int sharded = 0; sharded < 2; sharded++) {
        cf_pg *pg = cf_pg_init(NULL, NULL);
        trainer t;
        CHECK(trainer_init(&t, pg, (run_cfg){"resume", CF_F64, sharded ? 1 : -1, 1, 1e-9, 0}));
        cf_params *ps = t.m.ps;
        int ns = sharded ? cf_zero_slot_count(t.z) : cf_optim_slot_count(t.opt);
        cf_ckpt_slot slots[2];
        void *full[2] = {NULL, NULL};
        for (int i = 0; i < ns; i++) {
            full[i] = calloc((size_t)ps->total, sizeof(double));
            slots[i].name = sharded ? cf_zero_slot_name(t.z, i) : cf_optim_slot_name(t.opt, i);
            slots[i].flat = sharded ? full[i] : cf_optim_slot_data(t.opt, i);
        }
        cf_train_state st;
        cf_status rc = cf_checkpoint_load(path, ps, ns, slots, &st, NULL);
        CHECK(rc == CF_OK);
        if (rc != CF_OK) fprintf(stderr, "load %s: %s\n", path, cf_last_error());
        CHECK(st.step == SAVE_AT && st.world_size == expect_world);
        for (int i = 0; sharded && i < ns; i++) CHECK(cf_zero_scatter_state(t.z, i, full[i], -1) == CF_OK);
        if (sharded) cf_zero_set_steps_taken(t.z, st.step);
        else cf_optim_set_steps_taken(t.opt, st.step);
        for (int s = (int)st.step; s < STEPS && rc == CF_OK; s++) {
            double loss = 0;
            CHECK(train_step(&t, s, &loss) == CF_OK);
            if (rel(loss, ref[s]) >= 1e-10)
                fprintf(stderr, "resume (%s) step %d: loss %.12g, reference %.12g\n", sharded ? "zero" : "plain", s, loss,
                        ref[s]);
            CHECK(rel(loss, ref[s]) < 1e-10);
        }
        for (int i = 0; i < ns; i++) free(full[i]);
        trainer_free(&t);
        cf_pg_finalize(pg);
    }
}
#endif

/* ---- collectives on 2+ ranks ---- */

static void test_collectives(cf_pg *pg)
{
    int r = cf_pg_rank(pg), w = cf_pg_world(pg);
    CHECK(cf_pg_uses_mpi(pg));
    CHECK(cf_pg_local_rank(pg) == r && cf_pg_local_world(pg) == w); /* one node */
    CHECK(cf_pg_device(pg, 1) == 0 && cf_pg_device(pg, 2) == r % 2);
    CHECK(cf_pg_barrier(pg) == CF_OK);

    float f[5];
    for (int i = 0; i < 5; i++) f[i] = (float)(r + i);
    CHECK(cf_pg_allreduce(pg, f, 5, CF_F32, CF_REDUCE_SUM) == CF_OK);
    for (int i = 0; i < 5; i++) CHECK(f[i] == (float)(w * i + w * (w - 1) / 2));
    double d[3] = {r * 2.0, 1, -r};
    CHECK(cf_pg_allreduce(pg, d, 3, CF_F64, CF_REDUCE_AVG) == CF_OK);
    CHECK_NEAR(d[0], w - 1.0, 1e-15);
    CHECK_NEAR(d[2], -(w - 1) / 2.0, 1e-15);
    int64_t iv[2] = {r * 10, -r};
    CHECK(cf_pg_allreduce(pg, iv, 2, CF_I64, CF_REDUCE_MAX) == CF_OK && iv[0] == (w - 1) * 10 && iv[1] == 0);
    int64_t mn = r + 5;
    CHECK(cf_pg_allreduce(pg, &mn, 1, CF_I64, CF_REDUCE_MIN) == CF_OK && mn == 5);
    int32_t i32 = 3;
    CHECK(cf_pg_allreduce(pg, &i32, 1, CF_I32, CF_REDUCE_SUM) == CF_OK && i32 == 3 * w);
    CHECK(cf_pg_allreduce(pg, iv, 2, CF_I64, CF_REDUCE_AVG) == CF_ERR_DTYPE);

    double b[2] = {r == 1 ? 7.5 : 0, r == 1 ? -1 : 0};
    CHECK(cf_pg_broadcast(pg, b, 2, CF_F64, 1) == CF_OK && b[0] == 7.5 && b[1] == -1);

    int64_t mine[2] = {r, r * r}, all[2 * 16];
    CHECK(w <= 16);
    CHECK(cf_pg_allgather(pg, mine, all, 2, CF_I64) == CF_OK);
    for (int q = 0; q < w; q++) CHECK(all[2 * q] == q && all[2 * q + 1] == q * q);
    memset(all, 0, sizeof all);
    all[2 * r] = 100 + r, all[2 * r + 1] = 200 + r;
    CHECK(cf_pg_allgather(pg, NULL, all, 2, CF_I64) == CF_OK);
    for (int q = 0; q < w; q++) CHECK(all[2 * q] == 100 + q && all[2 * q + 1] == 200 + q);

    double send[3 * 16], recv[3];
    for (int k = 0; k < w; k++)
        for (int j = 0; j < 3; j++) send[k * 3 + j] = r * 100 + k * 10 + j;
    CHECK(cf_pg_reduce_scatter(pg, send, recv, 3, CF_F64, CF_REDUCE_SUM) == CF_OK);
    for (int j = 0; j < 3; j++) CHECK(recv[j] == 100.0 * w * (w - 1) / 2 + w * (r * 10 + j));
    CHECK(cf_pg_reduce_scatter(pg, send, recv, 3, CF_F64, CF_REDUCE_AVG) == CF_OK);
    CHECK_NEAR(recv[0], 100.0 * (w - 1) / 2 + r * 10, 1e-12);

    double loss = r + 1.0;
    CHECK(cf_pg_allreduce_scalar(pg, &loss, CF_REDUCE_AVG) == CF_OK);
    CHECK_NEAR(loss, (w + 1) / 2.0, 1e-15);

    /* non-blocking: test until done, then wait is a no-op */
    float big[4096];
    for (int i = 0; i < 4096; i++) big[i] = (float)(r + 1);
    cf_pg_request req;
    memset(&req, 0, sizeof req);
    CHECK(cf_pg_iallreduce(pg, big, 4096, CF_F32, CF_REDUCE_AVG, &req) == CF_OK && req.active);
    CHECK(cf_pg_iallreduce(pg, big, 4096, CF_F32, CF_REDUCE_AVG, &req) == CF_ERR_STATE);
    bool done = false;
    for (int it = 0; it < 10000000 && !done; it++) CHECK(cf_pg_test(&req, &done) == CF_OK);
    CHECK(done && !req.active);
    CHECK(cf_pg_wait(&req) == CF_OK);
    CHECK_NEAR(big[4095], (w + 1) / 2.0, 1e-6);
    CHECK(cf_pg_iallreduce(pg, big, 4096, CF_F32, CF_REDUCE_SUM, &req) == CF_OK);
    CHECK(cf_pg_wait(&req) == CF_OK);
    CHECK_NEAR(big[0], w * (w + 1) / 2.0, 1e-5);

    /* the start-up recipe check names the ranks that differ */
    uint64_t h = cf_pg_hash("recipe text", 11);
    CHECK(cf_pg_check_same(pg, h, "recipe") == CF_OK);
    CHECK(cf_pg_check_same(pg, r == 1 ? h + 1 : h, "recipe") == CF_ERR_STATE);
    CHECK_ERROR_HAS("recipe differs across ranks");
    CHECK_ERROR_HAS("rank 1 has other values (1: 0x");
}

/* ---- the piecewise MPI path against the one-call path and an unsharded run ---- */

#define PIECE_STEPS 6
#define PIECE 7 /* elements per MPI call: cuts parameters, buckets and shards unevenly */

typedef struct piece_run {
    void *values;   /* the parameters after PIECE_STEPS steps, on every rank */
    void *state[2]; /* the optimizer's full state: gathered to the root (ZeRO-1), or the replicated slots */
    int nslots;
    int64_t ddp_calls, zero_calls, nb, bucket_pieces; /* MPI calls issued; buckets, and their pieces of PIECE */
} piece_run;

/* ceil(n / PIECE) */
static int64_t pieces_of(int64_t n) { return (n + PIECE - 1) / PIECE; }

/* Trains PIECE_STEPS steps (ZeRO `zero`, MPI calls of at most `chunk` elements; no clipping, so the only
 * reductions are the gradients'), then gathers the ZeRO-1 state to `root` and scatters it back from there into a
 * second optimizer on the same cf_ddp, which must then hold this rank's live shard. */
static void piece_train(cf_pg *pg, cf_dtype dt, int zero, int64_t chunk, int root, piece_run *out)
{
    memset(out, 0, sizeof *out);
    trainer t;
    bool ok = trainer_init(&t, pg, (run_cfg){"pieces", dt, zero, 1, 0.0005, chunk}); /* 512-byte buckets */
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "rank %d: pieces (zero %d, chunk %lld): %s\n", g_rank, zero, (long long)chunk, cf_last_error());
        return;
    }
    cf_params *ps = t.m.ps;
    size_t bytes = (size_t)ps->total * cf_dtype_size(dt);
    for (int s = 0; s < PIECE_STEPS; s++) {
        cf_params_zero_grad(ps);
        cf_tensor *l = loss_of(t.ctx, &t.m, s, t.row0, t.nrows);
        CHECK(l && cf_backward(t.ctx, l, NULL) == CF_OK);
        cf_step_reset(t.ctx);
        CHECK(cf_ddp_finish(t.ddp) == CF_OK);
        CHECK(cf_optim_step(t.z ? t.z : t.opt, 0.02) == CF_OK);
    }
    out->values = malloc(bytes);
    memcpy(out->values, ps->values, bytes);
    out->nslots = cf_optim_slot_count(t.z ? t.z : t.opt);
    CHECK(out->nslots == 2); /* AdamW */
    for (int i = 0; i < out->nslots && i < 2; i++) {
        out->state[i] = calloc(1, bytes);
        if (!t.z) {
            memcpy(out->state[i], cf_optim_slot_data(t.opt, i), bytes);
            continue;
        }
        CHECK(cf_zero_gather_state(t.z, i, g_rank == root ? out->state[i] : NULL, root) == CF_OK);
        cf_optim_config oc = optim_cfg();
        cf_zero *z2 = cf_zero_new(t.ddp, &oc);
        CHECK(cf_zero_scatter_state(z2, i, g_rank == root ? out->state[i] : NULL, root) == CF_OK);
        int64_t lo, hi;
        cf_zero_shard(t.z, &lo, &hi);
        CHECK(memcmp(cf_zero_slot_shard(z2, i), cf_zero_slot_shard(t.z, i), (size_t)(hi - lo) * cf_dtype_size(dt)) == 0);
        out->zero_calls += cf_zero_mpi_calls(z2);
        cf_zero_free(z2);
    }
    out->ddp_calls = cf_ddp_stats_get(t.ddp).mpi_calls;
    if (t.z) out->zero_calls += cf_zero_mpi_calls(t.z);
    out->nb = cf_ddp_bucket_count(t.ddp);
    for (int k = 0; k < out->nb; k++) out->bucket_pieces += pieces_of(cf_ddp_bucket(t.ddp, k).numel);
    trainer_free(&t);
}

static void piece_free(piece_run *r)
{
    free(r->values);
    for (int i = 0; i < 2; i++) free(r->state[i]);
}

static void test_pieces(cf_pg *pg)
{
    int w = cf_pg_world(pg), root = w - 1; /* a root other than 0 where there are several ranks */
    bool comm = cf_pg_uses_mpi(pg) && w > 1;
    const cf_dtype dts[2] = {CF_F64, CF_F32};
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = dts[d];
        piece_run v, p, u, up; /* ZeRO-1 v-collectives, ZeRO-1 in pieces, unsharded, unsharded in pieces */
        piece_train(pg, dt, 1, 0, root, &v);
        piece_train(pg, dt, 1, PIECE, root, &p);
        piece_train(pg, dt, 0, 0, root, &u);
        piece_train(pg, dt, 0, PIECE, root, &up);
        model m0 = model_new(dt);
        int64_t total = m0.ps->total;
        size_t bytes = (size_t)total * cf_dtype_size(dt);
        if (v.values && p.values && u.values && up.values) {
            CHECK(memcmp(v.values, m0.ps->values, bytes) != 0); /* training moved the parameters */
            CHECK(memcmp(p.values, v.values, bytes) == 0);
            CHECK(memcmp(u.values, v.values, bytes) == 0);
            CHECK(memcmp(up.values, u.values, bytes) == 0);
            CHECK(cf_pg_check_same(pg, cf_pg_hash(p.values, bytes), "parameters (ZeRO-1 in pieces)") == CF_OK);
            for (int i = 0; i < 2 && g_rank == root; i++) {
                CHECK(memcmp(p.state[i], v.state[i], bytes) == 0);
                CHECK(memcmp(u.state[i], v.state[i], bytes) == 0);
                CHECK(memcmp(up.state[i], u.state[i], bytes) == 0);
            }
        }
        /* each path issued the MPI calls it should: one per bucket and collective, or one per piece */
        int64_t bcasts = 0, moved = 0;
        for (int r = 0; r < w; r++) {
            int64_t lo, hi;
            cf_zero_shard_range(total, w, r, &lo, &hi);
            bcasts += pieces_of(hi - lo);
            if (g_rank == root ? r != root : r == g_rank) moved += pieces_of(hi - lo);
        }
        CHECK(v.ddp_calls == (comm ? PIECE_STEPS * v.nb : 0));
        CHECK(u.ddp_calls == (comm ? PIECE_STEPS * u.nb : 0));
        CHECK(p.ddp_calls == (comm ? PIECE_STEPS * p.bucket_pieces : 0));
        CHECK(up.ddp_calls == (comm ? PIECE_STEPS * up.bucket_pieces : 0));
        CHECK(v.zero_calls == (comm ? PIECE_STEPS + 2 * 2 : 0)); /* all-gathers, then a gather and a scatter per slot */
        CHECK(p.zero_calls == (comm ? PIECE_STEPS * bcasts + 2 * 2 * moved : 0));
        if (g_rank == 0)
            printf("%s world %d: %lld elements; one-call path %lld + %lld MPI calls, pieces of %d %lld + %lld: "
                   "identical parameters and state\n",
                   cf_dtype_name(dt), w, (long long)total, (long long)v.ddp_calls, (long long)v.zero_calls, PIECE,
                   (long long)p.ddp_calls, (long long)p.zero_calls);
        cf_params_free(m0.ps);
        piece_free(&v), piece_free(&p), piece_free(&u), piece_free(&up);
    }
}

/* ---- faults: rank 1 misbehaves at step 3 of a data-parallel run ---- */

static int fault_run(cf_pg *pg, const char *mode)
{
    trainer t;
    if (!trainer_init(&t, pg, (run_cfg){"fault", CF_F32, 0, 1, 1e-9, 0}))
        cf_pg_abort(pg, "trainer: %s", cf_last_error());
    for (int s = 0; s < 50; s++) {
        if (g_rank == 1 && s == 3) {
            fprintf(stderr, "rank 1: injecting %s at step %d\n", mode, s);
            fflush(stderr);
            if (strcmp(mode, "fail-exit") == 0) exit(3);
            if (strcmp(mode, "fail-kill") == 0) raise(SIGKILL);
            if (strcmp(mode, "fail-abort") == 0) cf_pg_abort(pg, "injected failure: data shard unreadable at step %d", s);
            if (strcmp(mode, "fail-hang") == 0) sleep(120);
        }
        double loss;
        cf_pg_check(pg, train_step(&t, s, &loss), "train step");
    }
    trainer_free(&t);
    return 0; /* not reached by a correct library on rank 0 */
}

static cf_pg *g_pg;
static const char *g_save;
static void test_collectives_mpi(void) { test_collectives(g_pg); }
static void test_equivalence_mpi(void) { test_equivalence(g_pg, g_save); }
static void test_pieces_mpi(void) { test_pieces(g_pg); }

/* Sums the failures over ranks so every rank exits with the same verdict; rank 0 prints the line. */
static int finish_mpi(cf_pg *pg)
{
    int64_t counts[2] = {check_passed, check_failed};
    if (cf_pg_allreduce(pg, counts, 2, CF_I64, CF_REDUCE_SUM) != CF_OK) {
        fprintf(stderr, "rank %d: %s\n", g_rank, cf_last_error());
        counts[1]++;
    }
    if (g_rank == 0) printf("%lld passed, %lld failed (all ranks)\n", (long long)counts[0], (long long)counts[1]);
    cf_pg_finalize(pg);
    return counts[1] ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "probe") == 0) {
#ifdef CF_HAVE_MPI
        printf("mpi=1\n");
#else
        printf("mpi=0\n");
#endif
#ifdef CF_HAVE_HDF5
        printf("hdf5=1\n");
#else
        printf("hdf5=0\n");
#endif
        return 0;
    }
    if (strcmp(mode, "resume") == 0) {
#ifdef CF_HAVE_HDF5
        if (argc < 3) return fprintf(stderr, "usage: %s resume CKPT\n", argv[0]), 2;
        resume_from(argv[2], 2);
        printf("%-40s %s\n", "resume a 2-rank ZeRO-1 checkpoint", check_failed ? "FAILED" : "ok");
        TEST_MAIN_END();
#else
        return 77;
#endif
    }

    cf_pg *pg = cf_pg_init(&argc, &argv);
    if (!pg) {
        fprintf(stderr, "cf_pg_init: %s\n", cf_last_error());
        return 1;
    }
    g_pg = pg;
    g_rank = cf_pg_rank(pg);
    if (strncmp(mode, "fail-", 5) == 0) {
        int rc = fault_run(pg, mode);
        cf_pg_finalize(pg);
        return rc;
    }
    if (strcmp(mode, "mpi") == 0) {
        if (cf_pg_world(pg) < 2) {
            fprintf(stderr, "mode mpi needs mpirun -np 2 or more (world is %d)\n", cf_pg_world(pg));
            cf_pg_finalize(pg);
            return 1;
        }
        g_save = argc > 2 ? argv[2] : NULL;
        RUN(test_collectives_mpi);
        RUN(test_equivalence_mpi);
        return finish_mpi(pg);
    }
    if (strcmp(mode, "pieces") == 0) {
        RUN(test_pieces_mpi);
        return finish_mpi(pg);
    }
    if (*mode) {
        fprintf(stderr, "unknown mode %s (probe, mpi [CKPT], pieces, resume CKPT, fail-exit|kill|abort|hang)\n", mode);
        cf_pg_finalize(pg);
        return 2;
    }

    /* CTest's direct run: a group of one through the same trainer, then save and resume */
    CHECK(cf_pg_world(pg) == 1);
    char dir[] = "/tmp/cf_dist_XXXXXX", path[64] = "";
    if (mkdtemp(dir)) snprintf(path, sizeof path, "%s/zero1.h5", dir);
    g_save = path[0] ? path : NULL;
    RUN(test_equivalence_mpi);
    RUN(test_pieces_mpi);
#ifdef CF_HAVE_HDF5
    if (g_save) {
        resume_from(path, 1);
        printf("%-40s %s\n", "resume a 1-rank ZeRO-1 checkpoint", check_failed ? "FAILED" : "ok");
        unlink(path);
    }
#endif
    if (path[0]) rmdir(dir);
    cf_pg_finalize(pg);
    TEST_MAIN_END();
}
