/* ZeRO-1: the optimizer update on this rank's shard of the flat buffers, the parameter all-gather, and
 * the full-state gather/scatter for checkpoints. The SGD and Adam(W) updates repeat optim/optim.c's
 * formulas exactly (same operations in the same order), restricted to a sub-range, so a sharded run
 * follows the unsharded one. */
#include "distributed/zero.h"

#include "distributed/pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cf_zero {
    cf_ddp *ddp;
    cf_pg *pg;
    cf_params *ps;
    cf_optim_config cfg;
    int64_t lo, hi;
    void *slot[2]; /* hi - lo elements each */
    const char *slot_name[2];
    int nslots;
    int64_t t;
    double gather_s;
#ifdef CF_HAVE_MPI
    int *counts, *displs; /* every rank's shard, for the v-collectives */
#endif
};

void cf_zero_shard_range(int64_t total, int world, int rank, int64_t *lo, int64_t *hi)
{
    if (world < 1) world = 1;
    int64_t s = (total + world - 1) / world;
    s = (s + 15) / 16 * 16; /* 64-byte aligned starts for f32 (128 for f64) */
    int64_t a = (int64_t)rank * s, b = a + s;
    *lo = a < total ? a : total;
    *hi = b < total ? b : total;
}

cf_zero *cf_zero_new(cf_ddp *ddp, const cf_optim_config *cfg)
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
    if (cfg->kind != CF_OPTIM_SGD && cfg->kind != CF_OPTIM_ADAM && cfg->kind != CF_OPTIM_ADAMW) {
        cf_set_error(CF_ERR_ARG, "cf_zero_new: unknown optimizer kind %d", (int)cfg->kind);
        return NULL;
    }
    cf_zero *z = calloc(1, sizeof *z);
    if (!z) {
        cf_set_error(CF_ERR_OOM, "cf_zero_new: out of memory");
        return NULL;
    }
    z->ddp = ddp, z->pg = cf_ddp_pg(ddp), z->ps = cf_ddp_params(ddp), z->cfg = *cfg;
    int world = cf_pg_world(z->pg);
    cf_zero_shard_range(z->ps->total, world, cf_pg_rank(z->pg), &z->lo, &z->hi);
    if (cfg->kind == CF_OPTIM_SGD) {
        if (cfg->momentum != 0) z->nslots = 1, z->slot_name[0] = "momentum_buffer";
    } else {
        z->nslots = 2, z->slot_name[0] = "exp_avg", z->slot_name[1] = "exp_avg_sq";
    }
    size_t es = cf_dtype_size(z->ps->dtype);
    for (int i = 0; i < z->nslots; i++) {
        z->slot[i] = calloc((size_t)(z->hi - z->lo + 1), es);
        if (!z->slot[i]) goto oom;
    }
#ifdef CF_HAVE_MPI
    z->counts = calloc((size_t)world, sizeof *z->counts);
    z->displs = calloc((size_t)world, sizeof *z->displs);
    if (!z->counts || !z->displs) goto oom;
    for (int r = 0; r < world; r++) {
        int64_t lo, hi;
        cf_zero_shard_range(z->ps->total, world, r, &lo, &hi);
        z->counts[r] = (int)(hi - lo), z->displs[r] = (int)lo; /* total < 2^31: checked by cf_ddp_new */
    }
#endif
    return z;
oom:
    cf_zero_free(z);
    cf_set_error(CF_ERR_OOM, "cf_zero_new: out of memory for the optimizer state shard");
    return NULL;
}

void cf_zero_free(cf_zero *z)
{
    if (!z) return;
    for (int i = 0; i < 2; i++) free(z->slot[i]);
#ifdef CF_HAVE_MPI
    free(z->counts);
    free(z->displs);
#endif
    free(z);
}

void cf_zero_shard(const cf_zero *z, int64_t *lo, int64_t *hi) { *lo = z->lo, *hi = z->hi; }
int64_t cf_zero_steps_taken(const cf_zero *z) { return z->t; }
void cf_zero_set_steps_taken(cf_zero *z, int64_t t) { z->t = t; }
int cf_zero_slot_count(const cf_zero *z) { return z->nslots; }
const char *cf_zero_slot_name(const cf_zero *z, int i) { return i >= 0 && i < z->nslots ? z->slot_name[i] : NULL; }
void *cf_zero_slot_shard(cf_zero *z, int i) { return i >= 0 && i < z->nslots ? z->slot[i] : NULL; }
double cf_zero_gather_seconds(const cf_zero *z) { return z->gather_s; }

/* ---- gradients ---- */

cf_status cf_zero_clip_grad_norm(cf_zero *z, double max_norm, double *norm)
{
    int64_t n = z->hi - z->lo;
    double ss = 0;
    if (z->ps->dtype == CF_F32) {
        const float *g = (const float *)z->ps->grads + z->lo;
        #pragma omp parallel for reduction(+ : ss) if (n > 65536)
        for (int64_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    } else {
        const double *g = (const double *)z->ps->grads + z->lo;
        #pragma omp parallel for reduction(+ : ss) if (n > 65536)
        for (int64_t i = 0; i < n; i++) ss += g[i] * g[i];
    }
    CF_DIST_TRY(cf_pg_allreduce_scalar(z->pg, &ss, CF_REDUCE_SUM));
    double nm = sqrt(ss);
    if (norm) *norm = nm;
    if (max_norm > 0 && nm > max_norm) cf_zero_scale_grads(z, max_norm / (nm + 1e-6));
    return CF_OK;
}

void cf_zero_scale_grads(cf_zero *z, double s)
{
    size_t es = cf_dtype_size(z->ps->dtype);
    cf_pg_scale((char *)z->ps->grads + (size_t)z->lo * es, z->hi - z->lo, z->ps->dtype, s);
}

cf_status cf_zero_step(cf_zero *z, double lr)
{
    const cf_optim_config *c = &z->cfg;
    z->t++;
    cf_optim_update_range(c, z->ps, z->slot, z->lo, z->lo, z->hi, lr, z->t);
    cf_params *ps = z->ps;
#ifdef CF_HAVE_MPI
    if (cf_pg_uses_mpi(z->pg) && cf_pg_world(z->pg) > 1) {
        double t0 = cf_now();
        MPI_Request r;
        int rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, ps->values, z->counts, z->displs,
                                 cf_pg_mpi_type(ps->dtype), cf_pg_comm_of(z->pg), &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Iallgatherv");
        CF_DIST_TRY(cf_pg_wait_mpi(z->pg, &r, "parameter all-gather"));
        z->gather_s += cf_now() - t0;
    }
#endif
    for (int k = 0; k < ps->count; k++) cf_bump_version(ps->items[k].value);
    return CF_OK;
}

/* ---- full state for checkpoints ---- */

static cf_status check_slot(const cf_zero *z, const char *what, int slot, int root)
{
    if (slot < 0 || slot >= z->nslots)
        return cf_set_error(CF_ERR_ARG, "%s: slot %d does not exist (the optimizer has %d)", what, slot, z->nslots);
    if (root >= cf_pg_world(z->pg))
        return cf_set_error(CF_ERR_ARG, "%s: root %d is not a rank of a world of %d", what, root, cf_pg_world(z->pg));
    return CF_OK;
}

cf_status cf_zero_gather_state(cf_zero *z, int slot, void *full, int root)
{
    CF_DIST_TRY(check_slot(z, "cf_zero_gather_state", slot, root < 0 ? 0 : root));
    if (root < 0) return cf_set_error(CF_ERR_ARG, "cf_zero_gather_state: root %d is not a rank", root);
    bool me = cf_pg_rank(z->pg) == root;
    if (me && !full) return cf_set_error(CF_ERR_ARG, "cf_zero_gather_state: NULL buffer on the root rank");
    size_t es = cf_dtype_size(z->ps->dtype);
    int64_t total = z->ps->total;
#ifdef CF_HAVE_MPI
    if (cf_pg_uses_mpi(z->pg) && cf_pg_world(z->pg) > 1) {
        MPI_Datatype t = cf_pg_mpi_type(z->ps->dtype);
        MPI_Request r;
        int rc = MPI_Igatherv(z->slot[slot], (int)(z->hi - z->lo), t, full, z->counts, z->displs, t, root,
                              cf_pg_comm_of(z->pg), &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Igatherv");
        CF_DIST_TRY(cf_pg_wait_mpi(z->pg, &r, "optimizer state gather"));
        return CF_OK;
    }
#endif
    memcpy(full, z->slot[slot], (size_t)total * es);
    return CF_OK;
}

cf_status cf_zero_scatter_state(cf_zero *z, int slot, const void *full, int root)
{
    CF_DIST_TRY(check_slot(z, "cf_zero_scatter_state", slot, root));
    size_t es = cf_dtype_size(z->ps->dtype);
    int64_t n = z->hi - z->lo;
    if (root < 0 || cf_pg_world(z->pg) == 1) {
        if (!full) return cf_set_error(CF_ERR_ARG, "cf_zero_scatter_state: NULL full state");
        memcpy(z->slot[slot], (const char *)full + (size_t)z->lo * es, (size_t)n * es);
        return CF_OK;
    }
    if (cf_pg_rank(z->pg) == root && !full)
        return cf_set_error(CF_ERR_ARG, "cf_zero_scatter_state: NULL full state on the root rank");
#ifdef CF_HAVE_MPI
    MPI_Datatype t = cf_pg_mpi_type(z->ps->dtype);
    MPI_Request r;
    int rc = MPI_Iscatterv(full, z->counts, z->displs, t, z->slot[slot], (int)n, t, root, cf_pg_comm_of(z->pg), &r);
    if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(z->pg, rc, "MPI_Iscatterv");
    return cf_pg_wait_mpi(z->pg, &r, "optimizer state scatter");
#else
    return CF_OK;
#endif
}
