/* Gradient buckets, the gradient-final hook that starts their reduction during backward, and the
 * finish that completes it. See ddp.h for the contract. */
#include "distributed/ddp.h"

#include "autograd/cf_node.h"
#include "distributed/ddp_internal.h"
#include "distributed/pg_internal.h"
#include "distributed/zero.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct hook_ctx {
    cf_ddp *ddp;
    int param;
} hook_ctx;

typedef struct bucket {
    int64_t off, n;
    int first, last;  /* parameter indices, first <= last */
    int expected;     /* trainable parameters in it, this step */
    int ready;        /* of those, how many fired their hook this step */
    bool started, done;
#ifdef CF_HAVE_MPI
    /* The reduction goes in npieces MPI calls over consecutive pieces of `piece` elements (the last one
     * shorter): one piece of n, unless n passes MPI's int count or opt.mpi_chunk forces pieces. */
    int npieces;
    int64_t piece;
    int done_pieces;   /* pieces known complete (poke) */
    MPI_Request *req;  /* npieces */
    int *counts;       /* zero_stage 1: npieces x world, each piece's elements in each rank's shard */
    int64_t *recv_off; /* zero_stage 1: npieces, where this rank's part of a piece lands in the shard scratch */
#endif
} bucket;

struct cf_ddp {
    cf_pg *pg;
    cf_params *ps;
    cf_ddp_options opt;
    bucket *b;
    int nb;
    int *bucket_of;          /* per parameter */
    hook_ctx *hk;            /* per parameter */
    unsigned char *fired;    /* per parameter, this step */
    bool sync;
    bool scanned;            /* this step's unused parameters were marked ready */
    int next_start;          /* buckets start in index order; the next one to start */
    int in_flight;           /* oldest started bucket that may not be done yet */
    double t_first;          /* when this step's first bucket started (0: none yet) */
    cf_status err;           /* first error raised inside a hook, reported by cf_ddp_finish */
    char errmsg[512];
    int64_t lo, hi;          /* zero_stage 1: this rank's shard */
    void *shard;             /* zero_stage 1: the reduce-scatter's receive buffer, hi - lo elements */
    /* gradients on a device (cf_params_to_device): each bucket is copied to this host staging buffer (total
     * elements) when it starts, reduced there over MPI, and the whole buffer copied back at finish */
    const cf_backend *dev;
    void *staging;
    /* ZeRO-1 over NCCL (ddp_internal.h): the reduce-scatter's and the all-gather's buffer, world x stride elements
     * on the device */
    void *pad;
    int64_t stride;
    cf_ddp_stats stats;
};

/* NCCL reduces even in a group of one (a copy), so that path runs wherever it is chosen */
static bool comm_active(const cf_ddp *d) { return d->opt.nccl || (cf_pg_uses_mpi(d->pg) && cf_pg_world(d->pg) > 1); }

/* ZeRO-1 with device parameters: one ncclReduceScatter of the whole flat buffer in cf_ddp_finish. */
static bool zero_nccl(const cf_ddp *d) { return d->opt.nccl && d->opt.zero_stage == 1; }

/* The buckets wait for cf_ddp_finish instead of starting during backward: with bf16 working copies the
 * gradients reduced (the f32 master, ps->grads) are filled only after backward (cf_params_collect_grads); with
 * ZeRO-1 over NCCL the reduce-scatter is one collective over the whole buffer. Read at every hook: the working
 * copies may be made after cf_ddp_new. */
static bool deferred(const cf_ddp *d) { return d->ps->compute != d->ps->dtype || zero_nccl(d); }

/* Keeps the first error raised inside a hook (hooks cannot return one). */
static void hook_error(cf_ddp *d, cf_status st)
{
    if (d->err != CF_OK) return;
    d->err = st;
    snprintf(d->errmsg, sizeof d->errmsg, "%s", cf_last_error());
}

/* ---- layout ---- */

static cf_status build_buckets(cf_ddp *d)
{
    const cf_params *ps = d->ps;
    size_t es = cf_dtype_size(ps->dtype);
    double mb = d->opt.bucket_mb > 0 ? d->opt.bucket_mb : 25.0;
    double cap = mb * 1048576.0;
    d->b = calloc((size_t)(ps->count ? ps->count : 1), sizeof *d->b);
    if (!d->b) return cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory");
    /* walk parameters last to first, closing a bucket once it holds cap bytes */
    int last = ps->count - 1;
    double bytes = 0;
    for (int i = ps->count - 1; i >= 0; i--) {
        bytes += (double)ps->items[i].numel * (double)es;
        if (bytes >= cap || i == 0) {
            bucket *bk = &d->b[d->nb++];
            bk->first = i, bk->last = last;
            last = i - 1, bytes = 0;
        }
    }
    /* tile [0, total): bucket k ends where bucket k - 1 begins; padding goes with the bucket below it */
    for (int k = 0; k < d->nb; k++) {
        bucket *bk = &d->b[k];
        int64_t start = k == d->nb - 1 ? 0 : ps->items[bk->first].offset;
        int64_t end = k == 0 ? ps->total : d->b[k - 1].off;
        bk->off = start, bk->n = end - start;
        for (int i = bk->first; i <= bk->last; i++) d->bucket_of[i] = k;
    }
    return CF_OK;
}

#ifdef CF_HAVE_MPI
/* Each bucket's pieces (see bucket) and, for zero_stage 1, each piece's element counts per rank shard for
 * MPI_Ireduce_scatter. All allocated here: starting a bucket allocates nothing. */
static cf_status build_pieces(cf_ddp *d)
{
    int world = cf_pg_world(d->pg), me = cf_pg_rank(d->pg);
    int64_t chunk = cf_ddp_mpi_chunk(d);
    for (int k = 0; k < d->nb; k++) {
        bucket *bk = &d->b[k];
        bool split = cf_ddp_mpi_chunk_forced(d) || bk->n > INT_MAX;
        bk->piece = split ? chunk : bk->n;
        int64_t np = bk->n > 0 && split ? (bk->n + chunk - 1) / chunk : 1;
        if (np > INT_MAX) return cf_set_error(CF_ERR_ARG, "cf_ddp_new: bucket %d needs %lld MPI calls", k, (long long)np);
        bk->npieces = (int)np;
        bk->req = malloc((size_t)np * sizeof *bk->req);
        if (!bk->req) return cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory");
        for (int p = 0; p < bk->npieces; p++) bk->req[p] = MPI_REQUEST_NULL;
        if (d->opt.zero_stage != 1) continue;
        bk->counts = calloc((size_t)np * (size_t)world, sizeof *bk->counts);
        bk->recv_off = calloc((size_t)np, sizeof *bk->recv_off);
        if (!bk->counts || !bk->recv_off) return cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory");
        for (int p = 0; p < bk->npieces; p++) {
            int64_t a0 = bk->off + p * bk->piece, e0 = bk->off + bk->n;
            if (e0 - a0 > bk->piece) e0 = a0 + bk->piece;
            int *counts = bk->counts + (size_t)p * (size_t)world;
            for (int r = 0; r < world; r++) {
                int64_t lo, hi;
                cf_zero_shard_range(d->ps->total, world, r, &lo, &hi);
                int64_t a = a0 > lo ? a0 : lo, e = e0 < hi ? e0 : hi;
                counts[r] = e > a ? (int)(e - a) : 0; /* at most a piece: fits an int */
            }
            /* no part of this piece is ours: MPI writes nothing, but keep the pointer inside the buffer */
            bk->recv_off[p] = counts[me] > 0 ? (a0 > d->lo ? a0 : d->lo) - d->lo : 0;
        }
    }
    return CF_OK;
}
#endif

/* ---- per-step state ---- */

/* Each bucket waits for its trainable parameters; frozen ones never fire. */
static void count_expected(cf_ddp *d)
{
    for (int k = 0; k < d->nb; k++) {
        bucket *bk = &d->b[k];
        bk->expected = 0;
        for (int i = bk->first; i <= bk->last; i++) bk->expected += d->ps->items[i].value->requires_grad;
    }
}

static void reset_step(cf_ddp *d)
{
    const cf_params *ps = d->ps;
    for (int k = 0; k < d->nb; k++) {
        bucket *bk = &d->b[k];
        bk->ready = 0;
        bk->started = bk->done = false;
#ifdef CF_HAVE_MPI
        bk->done_pieces = 0;
#endif
    }
    count_expected(d);
    memset(d->fired, 0, (size_t)(ps->count ? ps->count : 1));
    d->next_start = d->in_flight = 0;
    d->t_first = 0;
    d->scanned = false;
}

static cf_status start_bucket(cf_ddp *d, int k, bool in_backward)
{
    bucket *bk = &d->b[k];
    size_t es = cf_dtype_size(d->ps->dtype);
    if (d->t_first == 0) d->t_first = cf_now();
    bk->started = true;
    bk->done = true;
    if (in_backward) d->stats.buckets_in_backward++;
    else d->stats.buckets_in_finish++;
    d->stats.bytes += (double)bk->n * (double)es;
    if (d->opt.nccl) /* summed in place on the device, ordered after backward's kernels on the stream */
        return cf_nccl_allreduce(d->opt.nccl, (char *)d->ps->grads + (size_t)bk->off * es, bk->n, d->ps->dtype,
                                 CF_REDUCE_SUM, NULL);
#ifdef CF_HAVE_MPI
    if (comm_active(d)) {
        cf_pg *pg = d->pg;
        void *g = (char *)d->ps->grads + (size_t)bk->off * es;
        if (d->dev) { /* the device's bucket, on the host */
            void *h = (char *)d->staging + (size_t)bk->off * es;
            CF_TRY(d->dev->to_host(h, g, (size_t)bk->n * es));
            g = h;
        }
        MPI_Datatype t = cf_pg_mpi_type(d->ps->dtype);
        int world = cf_pg_world(pg);
        bk->done = false; /* pieces not started stay MPI_REQUEST_NULL: finish's wait passes them */
        for (int p = 0; p < bk->npieces; p++) {
            int64_t at = p * bk->piece, c = bk->n - at < bk->piece ? bk->n - at : bk->piece;
            char *gp = (char *)g + (size_t)at * es;
            int rc;
            if (d->opt.zero_stage == 1)
                rc = MPI_Ireduce_scatter(gp, (char *)d->shard + (size_t)bk->recv_off[p] * es,
                                         bk->counts + (size_t)p * (size_t)world, t, MPI_SUM, cf_pg_comm_of(pg), &bk->req[p]);
            else
                rc = MPI_Iallreduce(MPI_IN_PLACE, gp, (int)c, t, MPI_SUM, cf_pg_comm_of(pg), &bk->req[p]);
            if (rc != MPI_SUCCESS)
                return cf_pg_mpi_fail(pg, rc, d->opt.zero_stage == 1 ? "MPI_Ireduce_scatter" : "MPI_Iallreduce");
            d->stats.mpi_calls++;
        }
    }
#endif
    return CF_OK;
}

/* Starts every complete bucket that is next in index order. */
static cf_status start_ready(cf_ddp *d)
{
    while (d->next_start < d->nb) {
        bucket *bk = &d->b[d->next_start];
        if (bk->ready < bk->expected) break;
        cf_status st = start_bucket(d, d->next_start, true);
        d->next_start++;
        if (st != CF_OK) return st;
    }
    return CF_OK;
}

/* One test of the oldest reduction in flight: lets MPI move data while backward computes. */
static cf_status poke(cf_ddp *d)
{
#ifdef CF_HAVE_MPI
    while (d->in_flight < d->next_start) {
        bucket *bk = &d->b[d->in_flight];
        if (!bk->done) {
            bool done = true;
            while (done && bk->done_pieces < bk->npieces) {
                CF_DIST_TRY(cf_pg_test_mpi(d->pg, &bk->req[bk->done_pieces], &done, "gradient bucket reduction"));
                bk->done_pieces += done;
            }
            if (!done) break;
            bk->done = true;
        }
        d->in_flight++;
    }
#else
    (void)d;
#endif
    return CF_OK;
}

/* At the first hook of a backward: a trainable parameter that this step's forward never used (its leaf
 * carries an older tape generation than the leaf now firing) will get no gradient and no hook, so count
 * it ready now instead of holding its bucket -- and, buckets starting in order, all later ones -- until
 * cf_ddp_finish. (PyTorch's find_unused_parameters, read off the tape's first-use marks.) */
static void mark_unused(cf_ddp *d, uint64_t gen)
{
    d->scanned = true;
    count_expected(d); /* parameters may have been frozen or unfrozen since the last step */
    for (int i = 0; i < d->ps->count; i++) {
        const cf_tensor *v = d->ps->items[i].value;
        if (d->fired[i] || !v->requires_grad || v->tape_gen == gen) continue;
        d->fired[i] = 1;
        d->b[d->bucket_of[i]].ready++;
        d->stats.params_unused++;
    }
}

static void on_grad_final(cf_tensor *leaf, void *user)
{
    hook_ctx *h = user;
    cf_ddp *d = h->ddp;
    if (!d->sync || d->err != CF_OK || deferred(d)) return;
    bucket *bk = &d->b[d->bucket_of[h->param]];
    if (d->fired[h->param]) {
        if (bk->started) {
            cf_set_error(CF_ERR_STATE,
                         "parameter %s received gradient after its bucket's reduction started: run one backward per "
                         "synchronised micro-step (cf_ddp_set_sync(ddp, true) only before the last one)",
                         d->ps->items[h->param].name);
            hook_error(d, CF_ERR_STATE);
        }
        return;
    }
    if (!d->scanned) mark_unused(d, leaf->tape_gen);
    d->fired[h->param] = 1;
    if (!d->ps->items[h->param].value->requires_grad) return; /* not counted in expected */
    bk->ready++;
    cf_status st = start_ready(d);
    if (st == CF_OK) st = poke(d);
    if (st != CF_OK) hook_error(d, st);
}

/* ---- public ---- */

cf_status cf_ddp_check(const cf_params *ps, const cf_ddp_options *opt)
{
    cf_ddp_options o = opt ? *opt : (cf_ddp_options){0};
    if (o.bucket_mb < 0 || o.bucket_mb != o.bucket_mb)
        return cf_set_error(CF_ERR_ARG, "cf_ddp_new: bucket_mb %g is negative", o.bucket_mb);
    if (o.zero_stage != 0 && o.zero_stage != 1)
        return cf_set_error(CF_ERR_ARG, "cf_ddp_new: zero_stage %d is not supported (0 or 1)", o.zero_stage);
    if (o.mpi_chunk < 0 || o.mpi_chunk > INT_MAX)
        return cf_set_error(CF_ERR_ARG, "cf_ddp_new: mpi_chunk %lld is not an MPI count (0, or 1 to 2^31 - 1 elements)",
                            (long long)o.mpi_chunk);
    if (o.nccl && ps->device == CF_CPU)
        return cf_set_error(CF_ERR_ARG, "cf_ddp_new: NCCL reduces device gradients, and the parameters are on the host");
    if (ps->device != CF_CPU && o.zero_stage != 0 && !o.nccl)
        return cf_set_error(CF_ERR_UNSUPPORTED, "cf_ddp_new: ZeRO-1 with parameters on a device runs over NCCL "
                            "(cf_ddp_options.nccl; distributed.backend: nccl), not over MPI through the host");
    return CF_OK;
}

cf_ddp *cf_ddp_new(cf_pg *pg, cf_params *ps, const cf_ddp_options *opt)
{
    if (!pg || !ps) {
        cf_set_error(CF_ERR_ARG, "cf_ddp_new: NULL process group or parameters");
        return NULL;
    }
    if (cf_ddp_check(ps, opt) != CF_OK) return NULL;
    cf_ddp_options o = opt ? *opt : (cf_ddp_options){0};
    if (cf_params_grads(ps) != CF_OK) return NULL;
    cf_ddp *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory");
        return NULL;
    }
    d->pg = pg, d->ps = ps, d->opt = o, d->sync = true;
    if (ps->device != CF_CPU) {
        d->dev = cf_backend_table(ps->device);
        if (!o.nccl && !(d->staging = malloc((size_t)(ps->total ? ps->total : 1) * cf_dtype_size(ps->dtype)))) {
            cf_ddp_free(d);
            cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory for the host staging of device gradients");
            return NULL;
        }
    }
    size_t n = (size_t)(ps->count ? ps->count : 1);
    d->bucket_of = calloc(n, sizeof *d->bucket_of);
    d->hk = calloc(n, sizeof *d->hk);
    d->fired = calloc(n, 1);
    if (!d->bucket_of || !d->hk || !d->fired) {
        cf_ddp_free(d);
        cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory");
        return NULL;
    }
    if (build_buckets(d) != CF_OK) {
        cf_ddp_free(d);
        return NULL;
    }
    cf_zero_shard_range(ps->total, cf_pg_world(pg), cf_pg_rank(pg), &d->lo, &d->hi);
    if (zero_nccl(d)) {
        d->stride = cf_zero_shard_stride(ps->total, cf_pg_world(pg));
        int64_t n = d->stride * cf_pg_world(pg);
        if (!(d->pad = d->dev->alloc((size_t)(n ? n : 1) * cf_dtype_size(ps->dtype))) ||
            cf_dist_dev_zero(ps->device, ps->dtype, d->pad, n) != CF_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", cf_last_error());
            cf_ddp_free(d);
            cf_set_error(CF_ERR_OOM, "cf_ddp_new: the device buffer of the ZeRO-1 collectives: %s", why);
            return NULL;
        }
    } else if (o.zero_stage == 1) {
        size_t es = cf_dtype_size(ps->dtype);
        d->shard = calloc((size_t)(d->hi - d->lo + 1), es);
        if (!d->shard) {
            cf_ddp_free(d);
            cf_set_error(CF_ERR_OOM, "cf_ddp_new: out of memory for the gradient shard");
            return NULL;
        }
    }
#ifdef CF_HAVE_MPI
    if (build_pieces(d) != CF_OK) {
        cf_ddp_free(d);
        return NULL;
    }
#endif
    for (int i = 0; i < ps->count; i++) {
        d->hk[i] = (hook_ctx){d, i};
        cf_set_grad_hook(ps->items[i].value, on_grad_final, &d->hk[i]);
    }
    reset_step(d);
    return d;
}

void cf_ddp_free(cf_ddp *d)
{
    if (!d) return;
    for (int i = 0; d->hk && i < d->ps->count; i++) {
        cf_tensor *v = d->ps->items[i].value;
        if (v->hook == on_grad_final && v->hook_user == &d->hk[i]) cf_set_grad_hook(v, NULL, NULL);
    }
#ifdef CF_HAVE_MPI
    for (int k = 0; d->b && k < d->nb; k++) {
        free(d->b[k].req);
        free(d->b[k].counts);
        free(d->b[k].recv_off);
    }
#endif
    free(d->b);
    free(d->bucket_of);
    free(d->hk);
    free(d->fired);
    free(d->shard);
    free(d->staging);
    if (d->pad) d->dev->release(d->pad);
    free(d);
}

cf_status cf_ddp_broadcast_params(cf_ddp *d)
{
    cf_params *ps = d->ps;
    if (d->opt.nccl) {
        CF_DIST_TRY(cf_nccl_broadcast(d->opt.nccl, ps->values, ps->total, ps->dtype, 0, NULL));
        CF_DIST_TRY(cf_nccl_wait(d->opt.nccl, NULL));
        for (int i = 0; i < ps->count; i++) cf_bump_version(ps->items[i].value);
        return cf_params_refresh(ps); /* bf16 working copies of the master, if any */
    }
    void *values = cf_params_values_host(ps); /* the values, or their host mirror on a device */
    if (!values) return cf_last_status();
    CF_DIST_TRY(cf_pg_broadcast(d->pg, values, ps->total, ps->dtype, 0));
    for (int i = 0; i < ps->count; i++) cf_bump_version(ps->items[i].value);
    return cf_params_values_upload(ps);
}

void cf_ddp_set_sync(cf_ddp *d, bool sync) { d->sync = sync; }
bool cf_ddp_sync(const cf_ddp *d) { return d->sync; }

/* ZeRO-1 over NCCL, after backward: the gradients into the front of the pad, its tail (past total: under 16 x world
 * elements) zeroed, and one ncclReduceScatter in place, which leaves the sum of every rank's part r in rank r's. */
static cf_status reduce_scatter_device(cf_ddp *d)
{
    cf_params *ps = d->ps;
    size_t es = cf_dtype_size(ps->dtype);
    if (d->t_first == 0) d->t_first = cf_now();
    for (int k = d->next_start; k < d->nb; k++) d->b[k].started = d->b[k].done = true;
    d->stats.buckets_in_finish += d->nb - d->next_start;
    d->stats.bytes += (double)ps->total * (double)es;
    CF_TRY(cf_dist_dev_copy(ps->device, ps->dtype, d->pad, ps->grads, ps->total));
    CF_TRY(cf_dist_dev_zero(ps->device, ps->dtype, (char *)d->pad + (size_t)ps->total * es,
                            d->stride * cf_pg_world(d->pg) - ps->total));
    return cf_nccl_reduce_scatter(d->opt.nccl, d->pad, (char *)d->pad + (size_t)(cf_pg_rank(d->pg) * d->stride) * es,
                                  d->stride, ps->dtype, CF_REDUCE_SUM, NULL);
}

cf_status cf_ddp_finish(cf_ddp *d)
{
    if (!d->sync) return CF_OK;
    /* An error raised in a hook is reported after the step's collectives complete: every rank must
     * issue and finish the same ones, or the next step's would pair with these. */
    cf_status st = d->err;
    char msg[512] = "";
    if (st != CF_OK) snprintf(msg, sizeof msg, "%s", d->errmsg);
    if (zero_nccl(d)) { /* one reduce-scatter of the whole buffer, in the pad (no bucket starts on its own) */
        cf_status s = reduce_scatter_device(d);
        if (s != CF_OK && st == CF_OK) st = s, snprintf(msg, sizeof msg, "%s", cf_last_error());
        d->next_start = d->nb;
    }
    /* buckets whose parameters got no gradient this step (or, deferred, every bucket): reduce them now, in order */
    while (d->next_start < d->nb) {
        cf_status s = start_bucket(d, d->next_start, false);
        d->next_start++;
        if (s != CF_OK) { /* the communicator is unusable: stop issuing */
            if (st == CF_OK) st = s, snprintf(msg, sizeof msg, "%s", cf_last_error());
            break;
        }
    }
    double t0 = cf_now();
    if (d->opt.nccl && st == CF_OK) {
        st = cf_nccl_wait(d->opt.nccl, NULL);
        if (st != CF_OK) snprintf(msg, sizeof msg, "%s", cf_last_error());
    }
#ifdef CF_HAVE_MPI
    for (int k = 0; k < d->next_start; k++) {
        bucket *bk = &d->b[k];
        if (bk->done) continue;
        for (int p = bk->done_pieces; p < bk->npieces; p++) {
            cf_status w = cf_pg_wait_mpi(d->pg, &bk->req[p], "gradient bucket reduction");
            if (w != CF_OK && st == CF_OK) st = w, snprintf(msg, sizeof msg, "%s", cf_last_error());
        }
        bk->done = true;
    }
#endif
    double t1 = cf_now();
    if (st == CF_OK && comm_active(d)) {
        cf_params *ps = d->ps;
        double inv = 1.0 / cf_pg_world(d->pg);
        size_t es = cf_dtype_size(ps->dtype);
        if (zero_nccl(d)) { /* rank r's part of the pad starts at r x stride: where its shard starts */
            int64_t n = d->hi - d->lo;
            st = cf_dist_dev_copy(ps->device, ps->dtype, (char *)ps->grads + (size_t)d->lo * es,
                                  (char *)d->pad + (size_t)(cf_pg_rank(d->pg) * d->stride) * es, n);
            if (st != CF_OK) snprintf(msg, sizeof msg, "%s", cf_last_error());
            else if (inv != 1.0 && n > 0) d->dev->scale(ps->dtype, (char *)ps->grads + (size_t)d->lo * es, n, inv);
        } else if (d->opt.zero_stage == 1) {
            memcpy((char *)ps->grads + (size_t)d->lo * es, d->shard, (size_t)(d->hi - d->lo) * es);
            cf_pg_scale((char *)ps->grads + (size_t)d->lo * es, d->hi - d->lo, ps->dtype, inv);
        } else if (d->opt.nccl) {
            if (inv != 1.0) d->dev->scale(ps->dtype, ps->grads, ps->total, inv); /* as cf_pg_scale, on the device */
        } else if (d->dev) {
            cf_pg_scale(d->staging, ps->total, ps->dtype, inv);
            st = d->dev->from_host(ps->grads, d->staging, (size_t)ps->total * es);
            if (st != CF_OK) snprintf(msg, sizeof msg, "%s", cf_last_error());
        } else {
            cf_pg_scale(ps->grads, ps->total, ps->dtype, inv);
        }
    }
    d->stats.steps++;
    d->stats.wait_s += t1 - t0;
    if (d->t_first > 0) d->stats.window_s += cf_now() - d->t_first;
    d->err = CF_OK;
    reset_step(d);
    if (st != CF_OK) return cf_set_error(st, "%s", msg);
    return CF_OK;
}

int cf_ddp_bucket_count(const cf_ddp *d) { return d->nb; }
cf_nccl *cf_ddp_nccl(const cf_ddp *d) { return d->opt.nccl; }

void *cf_ddp_nccl_pad(const cf_ddp *d, int64_t *stride)
{
    *stride = d->stride;
    return d->pad;
}

cf_ddp_bucket_info cf_ddp_bucket(const cf_ddp *d, int i)
{
    if (i < 0 || i >= d->nb) return (cf_ddp_bucket_info){.first_param = -1, .last_param = -1};
    const bucket *bk = &d->b[i];
    return (cf_ddp_bucket_info){bk->off, bk->n, bk->first, bk->last};
}

int cf_ddp_bucket_of(const cf_ddp *d, int p) { return p >= 0 && p < d->ps->count ? d->bucket_of[p] : -1; }
int cf_ddp_buckets_started(const cf_ddp *d) { return d->next_start; }
cf_ddp_stats cf_ddp_stats_get(const cf_ddp *d) { return d->stats; }
void cf_ddp_stats_reset(cf_ddp *d) { memset(&d->stats, 0, sizeof d->stats); }
cf_pg *cf_ddp_pg(const cf_ddp *d) { return d->pg; }
cf_params *cf_ddp_params(const cf_ddp *d) { return d->ps; }
int cf_ddp_zero_stage(const cf_ddp *d) { return d->opt.zero_stage; }
int64_t cf_ddp_mpi_chunk(const cf_ddp *d) { return d->opt.mpi_chunk > 0 ? d->opt.mpi_chunk : (int64_t)1 << 27; }
bool cf_ddp_mpi_chunk_forced(const cf_ddp *d) { return d->opt.mpi_chunk > 0; }
