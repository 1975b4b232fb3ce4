/* ZeRO-1: the optimizer interface (optim/optim.h) over this rank's shard of the flat buffers -- the
 * update on the shard, the parameter all-gather, and the full-state gather/scatter for checkpoints. The
 * update is optim's cf_optim_update_range restricted to the shard (same operations in the same order),
 * so a sharded run follows the unsharded one.
 *
 * The collectives take two paths. With every shard's count and offset within an int (a flat buffer under
 * 2^31 elements), one v-collective each: MPI_Iallgatherv, MPI_Igatherv, MPI_Iscatterv. Otherwise (MPI 3.1
 * has no large-count calls), or when the cf_ddp's mpi_chunk forces it, in pieces of at most
 * cf_ddp_mpi_chunk elements: the all-gather is every rank broadcasting its shard (MPI_Ibcast, piece j of
 * every shard in one round), the gather and scatter are point-to-point (MPI_Isend / MPI_Irecv between the
 * root and each rank, one piece per rank per round). Both paths move the same bytes to the same places.
 * Parameters on a device take a third: NCCL on the device (ncclAllGather, ncclBroadcast) in the cf_ddp's padded
 * buffer, see zero.h. */
#include "distributed/zero.h"

#include "distributed/ddp_internal.h"
#include "distributed/pg_internal.h"
#include "optim/optim_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct zero {
    cf_optimizer base; /* first: a zero * is a cf_optimizer *; base.slot[i] holds hi - lo (+ 1) elements */
    cf_ddp *ddp;
    cf_pg *pg;
    int64_t lo, hi;
    double gather_s;
    int64_t calls; /* MPI calls of the collectives */
    /* parameters on a device: the collectives over NCCL in the cf_ddp's pad (ddp_internal.h), rank r's part at
     * r x stride; the shard's state and gradients stay on the device */
    cf_nccl *nccl;
    void *pad;
    int64_t stride;
#ifdef CF_HAVE_MPI
    bool pieces;          /* the piecewise path (see above); else the v-collectives */
    int64_t chunk;        /* piecewise: at most this many elements per MPI call */
    int *counts, *displs; /* v-collectives: every rank's shard */
    MPI_Request *req;     /* piecewise: one per rank, for a round */
#endif
} zero;

/* Tag of the gather / scatter pieces (point-to-point on the group's communicator, apart from its collectives). */
#define ZERO_TAG 2031

static const cf_optim_vtable zero_vt;

/* o's ZeRO part, or NULL when o did not come from cf_zero_new. */
static zero *as_zero(const cf_optimizer *o) { return o && o->vt == &zero_vt ? (zero *)o : NULL; }

int64_t cf_zero_shard_stride(int64_t total, int world)
{
    if (world < 1) world = 1;
    int64_t s = (total + world - 1) / world;
    return (s + 15) / 16 * 16; /* 64-byte aligned starts for f32 (128 for f64) */
}

void cf_zero_shard_range(int64_t total, int world, int rank, int64_t *lo, int64_t *hi)
{
    int64_t s = cf_zero_shard_stride(total, world);
    int64_t a = (int64_t)rank * s, b = a + s;
    *lo = a < total ? a : total;
    *hi = b < total ? b : total;
}

cf_optimizer *cf_zero_new(cf_ddp *ddp, const cf_optim_config *cfg)
{
    if (!ddp || !cfg) {
        cf_set_error(CF_ERR_ARG, "cf_zero_new: NULL ddp or config");
        return NULL;
    }
    if (cf_ddp_zero_stage(ddp) != 1) {
        cf_set_error(CF_ERR_ARG, "cf_zero_new: the cf_ddp was made with zero_stage %d; ZeRO-1 needs zero_stage 1 "
                                 "(its buckets reduce-scatter the gradients)",
                     cf_ddp_zero_stage(ddp));
        return NULL;
    }
    cf_pg *pg = cf_ddp_pg(ddp);
    cf_params *ps = cf_ddp_params(ddp);
    int world = cf_pg_world(pg);
    int64_t lo, hi;
    cf_zero_shard_range(ps->total, world, cf_pg_rank(pg), &lo, &hi);
    zero *z = (zero *)cf_optim_alloc(sizeof *z, &zero_vt, ps, cfg, hi - lo + 1, "cf_zero_new");
    if (!z) return NULL;
    z->base.shards = world;
    z->ddp = ddp, z->pg = pg, z->lo = lo, z->hi = hi;
    if (ps->device != CF_CPU) { /* cf_ddp_check let it through only with NCCL */
        z->nccl = cf_ddp_nccl(ddp);
        z->pad = cf_ddp_nccl_pad(ddp, &z->stride);
    }
#ifdef CF_HAVE_MPI
    z->chunk = cf_ddp_mpi_chunk(ddp);
    z->pieces = cf_ddp_mpi_chunk_forced(ddp) || ps->total > INT_MAX; /* the offsets are < total */
    z->counts = calloc((size_t)world, sizeof *z->counts);
    z->displs = calloc((size_t)world, sizeof *z->displs);
    z->req = calloc((size_t)world, sizeof *z->req);
    if (!z->counts || !z->displs || !z->req) {
        cf_optim_free(&z->base);
        cf_set_error(CF_ERR_OOM, "cf_zero_new: out of memory for the shard table");
        return NULL;
    }
    for (int r = 0; r < world && !z->pieces; r++) {
        cf_zero_shard_range(ps->total, world, r, &lo, &hi);
        z->counts[r] = (int)(hi - lo), z->displs[r] = (int)lo;
    }
#endif
    return &z->base;
}

static void zero_release(cf_optimizer *o)
{
#ifdef CF_HAVE_MPI
    zero *z = as_zero(o);
    free(z->counts);
    free(z->displs);
    free(z->req);
#else
    (void)o;
#endif
}

void cf_zero_shard(const cf_zero *o, int64_t *lo, int64_t *hi)
{
    const zero *z = as_zero(o);
    *lo = z ? z->lo : 0, *hi = z ? z->hi : 0;
}

void *cf_zero_slot_shard(cf_zero *o, int i)
{
    return as_zero(o) && i >= 0 && i < o->nslots ? o->slot[i] : NULL;
}

double cf_zero_gather_seconds(const cf_zero *o)
{
    const zero *z = as_zero(o);
    return z ? z->gather_s : 0;
}

int64_t cf_zero_mpi_calls(const cf_zero *o)
{
    const zero *z = as_zero(o);
    return z ? z->calls : 0;
}

/* ---- the piecewise collectives ---- */

#ifdef CF_HAVE_MPI
/* Piece `at` of rank r's shard: *off is its offset in the flat buffer; returns its length (0: past the shard). */
static int piece_of(const zero *z, int r, int64_t at, int64_t *off)
{
    int64_t lo, hi;
    cf_zero_shard_range(z->base.ps->total, cf_pg_world(z->pg), r, &lo, &hi);
    *off = lo + at;
    int64_t n = hi - lo - at;
    return n <= 0 ? 0 : (int)(n < z->chunk ? n : z->chunk);
}

/* Waits for this round's requests (MPI_REQUEST_NULL for ranks without a piece). */
static cf_status wait_round(zero *z, const char *what)
{
    for (int r = 0; r < cf_pg_world(z->pg); r++) CF_DIST_TRY(cf_pg_wait_mpi(z->pg, &z->req[r], what));
    return CF_OK;
}

/* The rounds: piece offsets 0, chunk, 2 chunk ... up to the longest shard (rank 0's). */
static int64_t longest_shard(const zero *z)
{
    int64_t lo, hi;
    cf_zero_shard_range(z->base.ps->total, cf_pg_world(z->pg), 0, &lo, &hi);
    return hi - lo;
}

/* The parameter all-gather: in each round every rank broadcasts its shard's next piece. */
static cf_status allgather_pieces(zero *z, void *values)
{
    MPI_Datatype t = cf_pg_mpi_type(z->base.ps->dtype);
    size_t es = cf_dtype_size(z->base.ps->dtype);
    int world = cf_pg_world(z->pg);
    for (int64_t at = 0, end = longest_shard(z); at < end; at += z->chunk) {
        for (int r = 0; r < world; r++) {
            int64_t off;
            int c = piece_of(z, r, at, &off);
            z->req[r] = MPI_REQUEST_NULL;
            if (c == 0) continue;
            int rc = MPI_Ibcast((char *)values + (size_t)off * es, c, t, r, cf_pg_comm_of(z->pg), &z->req[r]);
            if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Ibcast");
            z->calls++;
        }
        CF_DIST_TRY(wait_round(z, "parameter all-gather"));
    }
    return CF_OK;
}

/* The state gather (to_root) or scatter: in each round the root receives from (sends to) every other rank
 * that rank's shard's next piece; the root's own shard is copied. */
static cf_status move_pieces(zero *z, void *shard, void *full, int root, bool to_root)
{
    MPI_Datatype t = cf_pg_mpi_type(z->base.ps->dtype);
    size_t es = cf_dtype_size(z->base.ps->dtype);
    int world = cf_pg_world(z->pg), me = cf_pg_rank(z->pg);
    MPI_Comm comm = cf_pg_comm_of(z->pg);
    const char *what = to_root ? "optimizer state gather" : "optimizer state scatter";
    if (me == root) {
        char *mine = (char *)full + (size_t)z->lo * es;
        size_t bytes = (size_t)(z->hi - z->lo) * es;
        if (to_root) memcpy(mine, shard, bytes);
        else memcpy(shard, mine, bytes);
    }
    for (int64_t at = 0, end = longest_shard(z); at < end; at += z->chunk) {
        for (int r = 0; r < world; r++) {
            z->req[r] = MPI_REQUEST_NULL;
            if (r == root || (me != root && r != me)) continue;
            int64_t off;
            int c = piece_of(z, r, at, &off), rc;
            if (c == 0) continue;
            if (me == root) {
                char *p = (char *)full + (size_t)off * es;
                rc = to_root ? MPI_Irecv(p, c, t, r, ZERO_TAG, comm, &z->req[r]) : MPI_Isend(p, c, t, r, ZERO_TAG, comm, &z->req[r]);
            } else {
                char *p = (char *)shard + (size_t)at * es;
                rc = to_root ? MPI_Isend(p, c, t, root, ZERO_TAG, comm, &z->req[r]) : MPI_Irecv(p, c, t, root, ZERO_TAG, comm, &z->req[r]);
            }
            if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, (me == root) == to_root ? "MPI_Irecv" : "MPI_Isend");
            z->calls++;
        }
        CF_DIST_TRY(wait_round(z, what));
    }
    return CF_OK;
}
#endif

/* ---- the device collectives (NCCL) ---- */

/* This rank's hi - lo elements from src + at (a flat buffer with at = lo, or a shard-sized buffer with at = 0) into
 * its part of the pad (rank x stride), then ncclAllGather in place fills the other parts: the pad's front then
 * holds the flat buffer, every element from its owner. Asynchronous on the default stream (cf_nccl_wait). */
static cf_status allgather_device(zero *z, const void *flat_or_shard, int64_t at)
{
    const cf_params *ps = z->base.ps;
    size_t es = cf_dtype_size(ps->dtype);
    char *mine = (char *)z->pad + (size_t)(cf_pg_rank(z->pg) * z->stride) * es;
    CF_TRY(cf_dist_dev_copy(ps->device, ps->dtype, mine, (const char *)flat_or_shard + (size_t)at * es, z->hi - z->lo));
    return cf_nccl_allgather(z->nccl, mine, z->pad, z->stride, ps->dtype, NULL);
}

/* ---- gradients and the update: the owned shard ---- */

static void zero_scale_grads(cf_optimizer *o, double s)
{
    zero *z = as_zero(o);
    size_t es = cf_dtype_size(o->ps->dtype);
    void *g = (char *)o->ps->grads + (size_t)z->lo * es;
    if (z->nccl) {
        if (z->hi > z->lo) cf_backend_table(o->ps->device)->scale(o->ps->dtype, g, z->hi - z->lo, s);
    } else {
        cf_pg_scale(g, z->hi - z->lo, o->ps->dtype, s);
    }
}

static cf_status zero_clip_grad_norm(cf_optimizer *o, double max_norm, double *norm)
{
    zero *z = as_zero(o);
    int64_t n = z->hi - z->lo;
    size_t es = cf_dtype_size(o->ps->dtype);
    const char *g = (const char *)o->ps->grads + (size_t)z->lo * es;
    double ss = z->nccl ? (n > 0 ? cf_backend_table(o->ps->device)->sum_squares(o->ps->dtype, g, n) : 0.0)
                        : cf_optim_sum_squares(o->ps->dtype, g, n);
    CF_DIST_TRY(cf_pg_allreduce_scalar(z->pg, &ss, CF_REDUCE_SUM));
    double nm = sqrt(ss);
    if (norm) *norm = nm;
    if (max_norm > 0 && nm > max_norm) zero_scale_grads(o, max_norm / (nm + 1e-6));
    return CF_OK;
}

static cf_status zero_step(cf_optimizer *o, double lr)
{
    zero *z = as_zero(o);
    cf_params *ps = o->ps;
    o->t++;
    cf_optim_update_range(&o->cfg, ps, o->slot, z->lo, z->lo, z->hi, lr, o->t);
    if (z->nccl) {
        double t0 = cf_now();
        CF_TRY(allgather_device(z, ps->values, z->lo));
        CF_DIST_TRY(cf_nccl_wait(z->nccl, NULL));
        CF_TRY(cf_dist_dev_copy(ps->device, ps->dtype, ps->values, z->pad, ps->total));
        z->gather_s += cf_now() - t0;
        for (int k = 0; k < ps->count; k++) cf_bump_version(ps->items[k].value);
        return CF_OK;
    }
#ifdef CF_HAVE_MPI
    if (cf_pg_uses_mpi(z->pg) && cf_pg_world(z->pg) > 1) {
        double t0 = cf_now();
        if (z->pieces) {
            CF_DIST_TRY(allgather_pieces(z, ps->values));
        } else {
            MPI_Request r;
            int rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, ps->values, z->counts, z->displs,
                                     cf_pg_mpi_type(ps->dtype), cf_pg_comm_of(z->pg), &r);
            if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Iallgatherv");
            z->calls++;
            CF_DIST_TRY(cf_pg_wait_mpi(z->pg, &r, "parameter all-gather"));
        }
        z->gather_s += cf_now() - t0;
    }
#endif
    for (int k = 0; k < ps->count; k++) cf_bump_version(ps->items[k].value);
    return CF_OK;
}

/* ---- full state for checkpoints ---- */

/* o's ZeRO part when o is a ZeRO optimizer, slot one of its slots and root (unless < 0) one of its
 * ranks; else NULL with the error set. */
static zero *checked(cf_optimizer *o, const char *what, int slot, int root)
{
    zero *z = as_zero(o);
    if (!z) {
        cf_set_error(CF_ERR_ARG, "%s: not a ZeRO-1 optimizer (made by cf_zero_new)", what);
        return NULL;
    }
    if (cf_optim_check_slot(o, slot, what) != CF_OK) return NULL;
    if (root >= cf_pg_world(z->pg)) {
        cf_set_error(CF_ERR_ARG, "%s: root %d is not a rank of a world of %d", what, root, cf_pg_world(z->pg));
        return NULL;
    }
    return z;
}

cf_status cf_zero_gather_state(cf_zero *o, int slot, void *full, int root)
{
    zero *z = checked(o, "cf_zero_gather_state", slot, root);
    if (!z) return cf_last_status();
    if (root < 0) return cf_set_error(CF_ERR_ARG, "cf_zero_gather_state: root %d is not a rank", root);
    if (cf_pg_rank(z->pg) == root && !full)
        return cf_set_error(CF_ERR_ARG, "cf_zero_gather_state: NULL buffer on the root rank");
    if (z->nccl) { /* the whole state in the pad on every rank; the root copies it out */
        CF_TRY(allgather_device(z, o->slot[slot], 0));
        CF_DIST_TRY(cf_nccl_wait(z->nccl, NULL));
        if (cf_pg_rank(z->pg) != root) return CF_OK;
        return cf_backend_table(o->ps->device)->to_host(full, z->pad, (size_t)o->ps->total * cf_dtype_size(o->ps->dtype));
    }
#ifdef CF_HAVE_MPI
    if (cf_pg_uses_mpi(z->pg) && cf_pg_world(z->pg) > 1) {
        if (z->pieces) return move_pieces(z, o->slot[slot], full, root, true);
        MPI_Datatype t = cf_pg_mpi_type(o->ps->dtype);
        MPI_Request r;
        int rc = MPI_Igatherv(o->slot[slot], (int)(z->hi - z->lo), t, full, z->counts, z->displs, t, root,
                              cf_pg_comm_of(z->pg), &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Igatherv");
        z->calls++;
        return cf_pg_wait_mpi(z->pg, &r, "optimizer state gather");
    }
#endif
    memcpy(full, o->slot[slot], (size_t)o->ps->total * cf_dtype_size(o->ps->dtype));
    return CF_OK;
}

cf_status cf_zero_scatter_state(cf_zero *o, int slot, const void *full, int root)
{
    zero *z = checked(o, "cf_zero_scatter_state", slot, root);
    if (!z) return cf_last_status();
    size_t es = cf_dtype_size(o->ps->dtype);
    int64_t n = z->hi - z->lo;
    if (root < 0 || cf_pg_world(z->pg) == 1) {
        if (!full) return cf_set_error(CF_ERR_ARG, "cf_zero_scatter_state: NULL full state");
        if (z->nccl) return cf_backend_table(o->ps->device)->from_host(o->slot[slot], (const char *)full + (size_t)z->lo * es,
                                                                     (size_t)n * es);
        memcpy(o->slot[slot], (const char *)full + (size_t)z->lo * es, (size_t)n * es);
        return CF_OK;
    }
    if (cf_pg_rank(z->pg) == root && !full)
        return cf_set_error(CF_ERR_ARG, "cf_zero_scatter_state: NULL full state on the root rank");
    if (z->nccl) { /* the root's full state to every rank's pad (ncclBroadcast), each copies its shard out */
        const cf_params *ps = o->ps;
        if (cf_pg_rank(z->pg) == root) CF_TRY(cf_backend_table(ps->device)->from_host(z->pad, full, (size_t)ps->total * es));
        CF_DIST_TRY(cf_nccl_broadcast(z->nccl, z->pad, ps->total, ps->dtype, root, NULL));
        CF_TRY(cf_dist_dev_copy(ps->device, ps->dtype, o->slot[slot], (char *)z->pad + (size_t)z->lo * es, n));
        return cf_nccl_wait(z->nccl, NULL);
    }
#ifdef CF_HAVE_MPI
    if (z->pieces) return move_pieces(z, o->slot[slot], (void *)full, root, false);
    MPI_Datatype t = cf_pg_mpi_type(o->ps->dtype);
    MPI_Request r;
    int rc = MPI_Iscatterv(full, z->counts, z->displs, t, o->slot[slot], (int)n, t, root, cf_pg_comm_of(z->pg), &r);
    if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Iscatterv");
    z->calls++;
    return cf_pg_wait_mpi(z->pg, &r, "optimizer state scatter");
#else
    return CF_OK;
#endif
}

/* The interface's checkpoint access: rank 0 collects the full state; every rank copies its shard of a
 * full state it holds. */
static cf_status zero_slot_read(cf_optimizer *o, int i, void *full) { return cf_zero_gather_state(o, i, full, 0); }
static cf_status zero_slot_write(cf_optimizer *o, int i, const void *full) { return cf_zero_scatter_state(o, i, full, -1); }

static const cf_optim_vtable zero_vt = {
    .scale_grads = zero_scale_grads,
    .clip_grad_norm = zero_clip_grad_norm,
    .step = zero_step,
    .slot_read = zero_slot_read,
    .slot_write = zero_slot_write,
    .release = zero_release,
};
