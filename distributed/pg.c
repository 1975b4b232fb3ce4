/* The process group: MPI start-up, rank/local-rank discovery, and the checked, deadline-bounded
 * collectives. Without MPI (build or launch) every collective is a local no-op or copy. */
#include "distributed/pg_internal.h"

#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cf_pg {
    int rank, world, local_rank, local_world;
    bool mpi;     /* an MPI communicator backs the group */
    bool we_init; /* cf_pg_init called MPI_Init_thread, so cf_pg_finalize finalises */
    double timeout_s;
    char host[64];
#ifdef CF_HAVE_MPI
    MPI_Comm comm;
#endif
};

/* ---- helpers ---- */

/* An environment variable as an int; false when unset or not a number. */
static bool env_int(const char *name, int *out)
{
    const char *s = getenv(name);
    if (!s || !*s) return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < INT_MIN || v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

/* How many ranks the launcher says it started (0 when no launcher variable is set). */
static int launcher_world(void)
{
    int n;
    if (env_int("OMPI_COMM_WORLD_SIZE", &n)) return n;
    if (env_int("PMI_SIZE", &n)) return n;
    if (env_int("PMIX_SIZE", &n)) return n;
    /* srun sets both for every task of a step (the batch script itself has no SLURM_PROCID) */
    if (getenv("SLURM_PROCID") && env_int("SLURM_STEP_NUM_TASKS", &n)) return n;
    if (getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_FD")) return 1;
    return 0;
}

static bool want_mpi_init(void)
{
    int force;
    if (env_int("CF_MPI_INIT", &force)) return force != 0;
    return launcher_world() > 0;
}

static double default_timeout(void)
{
    const char *s = getenv("CF_DIST_TIMEOUT");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end == '\0' && v >= 0 && isfinite(v)) return v;
        fprintf(stderr, "cformer: ignoring CF_DIST_TIMEOUT=%s (not a number of seconds >= 0)\n", s);
    }
    return 1800.0;
}

cf_status cf_pg_check_args(const char *what, int64_t n, cf_dtype dt, cf_reduce_op op)
{
    if (n < 0) return cf_set_error(CF_ERR_ARG, "%s: negative element count %lld", what, (long long)n);
    if (dt != CF_F32 && dt != CF_F64 && dt != CF_I32 && dt != CF_I64)
        return cf_set_error(CF_ERR_DTYPE, "%s: dtype %s is not supported (f32, f64, i32, i64)", what,
                            cf_dtype_name(dt));
    if ((unsigned)op > CF_REDUCE_MIN) return cf_set_error(CF_ERR_ARG, "%s: unknown reduce op %d", what, (int)op);
    if (op == CF_REDUCE_AVG && !cf_dtype_is_float(dt))
        return cf_set_error(CF_ERR_DTYPE, "%s: average of %s values; use sum for integers", what, cf_dtype_name(dt));
    return CF_OK;
}

void cf_pg_scale(void *buf, int64_t n, cf_dtype dt, double s)
{
    if (s == 1.0) return;
    if (dt == CF_F32) {
        float *x = buf, fs = (float)s;
        #pragma omp parallel for simd if (n > 262144)
        for (int64_t i = 0; i < n; i++) x[i] *= fs;
    } else if (dt == CF_F64) {
        double *x = buf;
        #pragma omp parallel for simd if (n > 262144)
        for (int64_t i = 0; i < n; i++) x[i] *= s;
    }
}

/* ---- lifecycle ---- */

#ifdef CF_HAVE_MPI
static int env_local_rank(int dflt)
{
    int v;
    if (env_int("OMPI_COMM_WORLD_LOCAL_RANK", &v)) return v;
    if (env_int("MPI_LOCALRANKID", &v)) return v;
    if (env_int("SLURM_LOCALID", &v)) return v;
    return dflt;
}

static int env_local_world(int dflt)
{
    int v;
    if (env_int("OMPI_COMM_WORLD_LOCAL_SIZE", &v)) return v;
    if (env_int("MPI_LOCALNRANKS", &v)) return v;
    return dflt;
}

static bool mpi_up(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

/* MPI start-up: WORLD and our duplicate return errors instead of aborting, so each call is checked
 * and reported with this rank's number. */
static cf_status start_mpi(cf_pg *pg, int *argc, char ***argv)
{
    int rc;
    if (!mpi_up()) {
        int provided = 0;
        rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return cf_set_error(CF_ERR_IO, "MPI_Init_thread failed (error %d)", rc);
        pg->we_init = true;
        /* SINGLE is enough in practice (only this thread calls MPI), so only note it. */
        if (provided < MPI_THREAD_FUNNELED && getenv("CF_DIST_VERBOSE"))
            fprintf(stderr, "cformer: MPI gives thread level %d, below FUNNELED\n", provided);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &pg->comm)) != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Comm_dup");
    MPI_Comm_set_errhandler(pg->comm, MPI_ERRORS_RETURN);
    pg->mpi = true;
    if ((rc = MPI_Comm_rank(pg->comm, &pg->rank)) != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Comm_rank");
    if ((rc = MPI_Comm_size(pg->comm, &pg->world)) != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Comm_size");
    MPI_Comm node;
    if ((rc = MPI_Comm_split_type(pg->comm, MPI_COMM_TYPE_SHARED, pg->rank, MPI_INFO_NULL, &node)) != MPI_SUCCESS)
        return cf_pg_mpi_fail(pg, rc, "MPI_Comm_split_type");
    int lr = 0, lw = 1;
    MPI_Comm_rank(node, &lr);
    MPI_Comm_size(node, &lw);
    MPI_Comm_free(&node);
    pg->local_rank = env_local_rank(lr);
    pg->local_world = env_local_world(lw);
    return CF_OK;
}
#endif

cf_pg *cf_pg_init(int *argc, char ***argv)
{
    cf_pg *pg = calloc(1, sizeof *pg);
    if (!pg) {
        cf_set_error(CF_ERR_OOM, "cf_pg_init: out of memory");
        return NULL;
    }
    pg->world = pg->local_world = 1;
    pg->timeout_s = default_timeout();
    if (gethostname(pg->host, sizeof pg->host - 1) != 0) snprintf(pg->host, sizeof pg->host, "?");
    int expected = launcher_world();
#ifdef CF_HAVE_MPI
    if (want_mpi_init() || mpi_up()) {
        if (start_mpi(pg, argc, argv) != CF_OK) {
            if (pg->we_init) MPI_Finalize();
            free(pg);
            return NULL;
        }
        if (pg->world == 1 && expected > 1) {
            cf_set_error(CF_ERR_STATE,
                         "the launcher started %d tasks but MPI sees a world of 1: this process cannot reach the "
                         "others (with Slurm use srun --mpi=pmix, or mpirun inside the allocation); "
                         "CF_MPI_INIT=0 runs independent single-process jobs on purpose",
                         expected);
            cf_pg_finalize(pg);
            return NULL;
        }
        return pg;
    }
#else
    (void)argc, (void)argv;
    (void)want_mpi_init;
#endif
    int force;
    bool forced_off = env_int("CF_MPI_INIT", &force) && force == 0;
    if (expected > 1 && !forced_off) {
        cf_set_error(CF_ERR_UNSUPPORTED,
                     "the launcher started %d ranks but this cformer was built without MPI (configure with "
                     "-DCF_MPI=ON); CF_MPI_INIT=0 runs independent single-process jobs on purpose",
                     expected);
        free(pg);
        return NULL;
    }
    pg->local_rank = 0;
    return pg;
}

void cf_pg_finalize(cf_pg *pg)
{
    if (!pg) return;
#ifdef CF_HAVE_MPI
    if (pg->mpi && mpi_up()) {
        MPI_Comm_free(&pg->comm);
        if (pg->we_init) MPI_Finalize();
    }
#endif
    free(pg);
}

int cf_pg_rank(const cf_pg *pg) { return pg->rank; }
int cf_pg_world(const cf_pg *pg) { return pg->world; }
int cf_pg_local_rank(const cf_pg *pg) { return pg->local_rank; }
int cf_pg_local_world(const cf_pg *pg) { return pg->local_world; }
bool cf_pg_uses_mpi(const cf_pg *pg) { return pg->mpi; }
int cf_pg_device(const cf_pg *pg, int device_count) { return device_count > 0 ? pg->local_rank % device_count : -1; }
void cf_pg_set_timeout(cf_pg *pg, double seconds) { pg->timeout_s = seconds > 0 && isfinite(seconds) ? seconds : 0; }
double cf_pg_timeout(const cf_pg *pg) { return pg->timeout_s; }

/* ---- faults ---- */

_Noreturn void cf_pg_abort(const cf_pg *pg, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pg)
        fprintf(stderr, "cformer: rank %d of %d (%s): %s\n", pg->rank, pg->world, pg->host, msg);
    else
        fprintf(stderr, "cformer: %s\n", msg);
    fflush(stderr);
    fflush(stdout);
#ifdef CF_HAVE_MPI
    if (pg && pg->mpi && mpi_up()) MPI_Abort(pg->comm, 1);
#endif
    exit(1);
}

void cf_pg_check(const cf_pg *pg, cf_status st, const char *what)
{
    if (st != CF_OK) cf_pg_abort(pg, "%s: %s", what, cf_last_error());
}

/* ---- MPI plumbing ---- */

#ifdef CF_HAVE_MPI
MPI_Comm cf_pg_comm_of(const cf_pg *pg) { return pg->comm; }

MPI_Datatype cf_pg_mpi_type(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return MPI_FLOAT;
    case CF_F64: return MPI_DOUBLE;
    case CF_I32: return MPI_INT32_T;
    case CF_I64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
    }
}

static MPI_Op mpi_op(cf_reduce_op op)
{
    switch (op) {
    case CF_REDUCE_MAX: return MPI_MAX;
    case CF_REDUCE_MIN: return MPI_MIN;
    default: return MPI_SUM; /* AVG is a sum scaled after completion */
    }
}

cf_status cf_pg_mpi_fail(const cf_pg *pg, int rc, const char *call)
{
    char s[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return cf_set_error(CF_ERR_IO, "%s failed on rank %d of %d (%s): %s", call, pg->rank, pg->world, pg->host, s);
}

cf_status cf_pg_test_mpi(cf_pg *pg, MPI_Request *r, bool *done, const char *what)
{
    int flag = 1, rc = MPI_SUCCESS;
    if (*r != MPI_REQUEST_NULL) rc = MPI_Test(r, &flag, MPI_STATUS_IGNORE);
    *done = flag != 0;
    return rc == MPI_SUCCESS ? CF_OK : cf_pg_mpi_fail(pg, rc, what);
}

cf_status cf_pg_wait_mpi(cf_pg *pg, MPI_Request *r, const char *what)
{
    if (*r == MPI_REQUEST_NULL) return CF_OK;
    if (pg->timeout_s <= 0) {
        int rc = MPI_Wait(r, MPI_STATUS_IGNORE);
        return rc == MPI_SUCCESS ? CF_OK : cf_pg_mpi_fail(pg, rc, what);
    }
    /* Poll so a dead-or-stuck peer ends in an abort, not a hang. After 10 ms of waiting, nap between
     * polls so a waiting rank does not steal the core a slower peer (oversubscribed) computes on. */
    double t0 = cf_now();
    for (long it = 0;; it++) {
        int flag = 0, rc = MPI_Test(r, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, what);
        if (flag) return CF_OK;
        if ((it & 63) == 0) {
            double waited = cf_now() - t0;
            if (waited > pg->timeout_s)
                cf_pg_abort(pg, "%s did not complete within %g s (CF_DIST_TIMEOUT): another rank is dead, stuck or "
                            "issued a different collective", what, pg->timeout_s);
            if (waited > 0.01) {
                struct timespec nap = {0, 20000};
                nanosleep(&nap, NULL);
            } else {
                sched_yield();
            }
        }
    }
}

static bool fits_int(int64_t n) { return n <= INT_MAX; }
#endif

/* ---- blocking collectives ---- */

cf_status cf_pg_barrier(cf_pg *pg)
{
#ifdef CF_HAVE_MPI
    if (pg->mpi) {
        MPI_Request r;
        int rc = MPI_Ibarrier(pg->comm, &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Ibarrier");
        return cf_pg_wait_mpi(pg, &r, "barrier");
    }
#else
    (void)pg;
#endif
    return CF_OK;
}

/* Collectives on more than INT_MAX elements go in chunks (MPI counts are int). */
#define CHUNK ((int64_t)1 << 30)

cf_status cf_pg_allreduce(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op)
{
    CF_DIST_TRY(cf_pg_check_args("cf_pg_allreduce", n, dt, op));
#ifdef CF_HAVE_MPI
    if (pg->mpi && pg->world > 1) {
        size_t es = cf_dtype_size(dt);
        for (int64_t at = 0; at < n; at += CHUNK) {
            int c = (int)(n - at < CHUNK ? n - at : CHUNK);
            MPI_Request r;
            int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + (size_t)at * es, c, cf_pg_mpi_type(dt), mpi_op(op),
                                    pg->comm, &r);
            if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Iallreduce");
            CF_DIST_TRY(cf_pg_wait_mpi(pg, &r, "all-reduce"));
        }
        if (op == CF_REDUCE_AVG) cf_pg_scale(buf, n, dt, 1.0 / pg->world);
    }
#else
    (void)pg, (void)buf;
#endif
    return CF_OK;
}

cf_status cf_pg_broadcast(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, int root)
{
    CF_DIST_TRY(cf_pg_check_args("cf_pg_broadcast", n, dt, CF_REDUCE_SUM));
    if (root < 0 || root >= pg->world)
        return cf_set_error(CF_ERR_ARG, "cf_pg_broadcast: root %d is not a rank of a world of %d", root, pg->world);
#ifdef CF_HAVE_MPI
    if (pg->mpi && pg->world > 1) {
        size_t es = cf_dtype_size(dt);
        for (int64_t at = 0; at < n; at += CHUNK) {
            int c = (int)(n - at < CHUNK ? n - at : CHUNK);
            MPI_Request r;
            int rc = MPI_Ibcast((char *)buf + (size_t)at * es, c, cf_pg_mpi_type(dt), root, pg->comm, &r);
            if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Ibcast");
            CF_DIST_TRY(cf_pg_wait_mpi(pg, &r, "broadcast"));
        }
    }
#else
    (void)buf;
#endif
    return CF_OK;
}

cf_status cf_pg_allgather(cf_pg *pg, const void *send, void *recv, int64_t n, cf_dtype dt)
{
    CF_DIST_TRY(cf_pg_check_args("cf_pg_allgather", n, dt, CF_REDUCE_SUM));
    size_t es = cf_dtype_size(dt);
    char *mine = (char *)recv + (size_t)pg->rank * (size_t)n * es;
#ifdef CF_HAVE_MPI
    if (pg->mpi && pg->world > 1) {
        if (!fits_int(n))
            return cf_set_error(CF_ERR_ARG, "cf_pg_allgather: %lld elements per rank is more than MPI's int count",
                                (long long)n);
        MPI_Request r;
        int rc = MPI_Iallgather(send && send != mine ? send : MPI_IN_PLACE, (int)n, cf_pg_mpi_type(dt), recv, (int)n,
                                cf_pg_mpi_type(dt), pg->comm, &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Iallgather");
        return cf_pg_wait_mpi(pg, &r, "all-gather");
    }
#endif
    if (send && send != mine) memmove(mine, send, (size_t)n * es);
    return CF_OK;
}

cf_status cf_pg_reduce_scatter(cf_pg *pg, const void *send, void *recv, int64_t n, cf_dtype dt, cf_reduce_op op)
{
    CF_DIST_TRY(cf_pg_check_args("cf_pg_reduce_scatter", n, dt, op));
    size_t es = cf_dtype_size(dt);
#ifdef CF_HAVE_MPI
    if (pg->mpi && pg->world > 1) {
        if (!fits_int(n))
            return cf_set_error(CF_ERR_ARG, "cf_pg_reduce_scatter: %lld elements per rank is more than MPI's int count",
                                (long long)n);
        if (send == recv) return cf_set_error(CF_ERR_ARG, "cf_pg_reduce_scatter: send and recv must differ");
        MPI_Request r;
        int rc = MPI_Ireduce_scatter_block(send, recv, (int)n, cf_pg_mpi_type(dt), mpi_op(op), pg->comm, &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Ireduce_scatter_block");
        CF_DIST_TRY(cf_pg_wait_mpi(pg, &r, "reduce-scatter"));
        if (op == CF_REDUCE_AVG) cf_pg_scale(recv, n, dt, 1.0 / pg->world);
        return CF_OK;
    }
#endif
    (void)pg;
    if (send != recv) memmove(recv, send, (size_t)n * es);
    return CF_OK;
}

cf_status cf_pg_allreduce_scalar(cf_pg *pg, double *v, cf_reduce_op op)
{
    return cf_pg_allreduce(pg, v, 1, CF_F64, op);
}

/* ---- non-blocking all-reduce ---- */

#ifdef CF_HAVE_MPI
_Static_assert(sizeof(MPI_Request) <= sizeof(((cf_pg_request *)0)->impl), "cf_pg_request.impl too small");
#endif

cf_status cf_pg_iallreduce(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op, cf_pg_request *req)
{
    CF_DIST_TRY(cf_pg_check_args("cf_pg_iallreduce", n, dt, op));
    if (req->active && req->pg)
        return cf_set_error(CF_ERR_STATE, "cf_pg_iallreduce: the request is still in flight; wait for it first");
    *req = (cf_pg_request){.pg = pg, .buf = buf, .n = n, .dtype = dt, .op = op};
#ifdef CF_HAVE_MPI
    if (pg->mpi && pg->world > 1) {
        if (!fits_int(n))
            return cf_set_error(CF_ERR_ARG, "cf_pg_iallreduce: %lld elements is more than MPI's int count", (long long)n);
        MPI_Request r;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, cf_pg_mpi_type(dt), mpi_op(op), pg->comm, &r);
        if (rc != MPI_SUCCESS) return cf_pg_mpi_fail(pg, rc, "MPI_Iallreduce");
        memcpy(req->impl, &r, sizeof r);
        req->active = true;
    }
#endif
    return CF_OK;
}

static void finish_request(cf_pg_request *req)
{
    req->active = false;
    if (req->op == CF_REDUCE_AVG) cf_pg_scale(req->buf, req->n, req->dtype, 1.0 / req->pg->world);
}

cf_status cf_pg_wait(cf_pg_request *req)
{
    if (!req->active) return CF_OK;
#ifdef CF_HAVE_MPI
    MPI_Request r;
    memcpy(&r, req->impl, sizeof r);
    cf_status st = cf_pg_wait_mpi(req->pg, &r, "non-blocking all-reduce");
    memcpy(req->impl, &r, sizeof r);
    if (st != CF_OK) return st;
#endif
    finish_request(req);
    return CF_OK;
}

cf_status cf_pg_test(cf_pg_request *req, bool *done)
{
    *done = true;
    if (!req->active) return CF_OK;
#ifdef CF_HAVE_MPI
    MPI_Request r;
    memcpy(&r, req->impl, sizeof r);
    cf_status st = cf_pg_test_mpi(req->pg, &r, done, "non-blocking all-reduce");
    memcpy(req->impl, &r, sizeof r);
    if (st != CF_OK) return st;
#endif
    if (*done) finish_request(req);
    return CF_OK;
}

/* ---- consistency ---- */

uint64_t cf_pg_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

cf_status cf_pg_check_same(cf_pg *pg, uint64_t hash, const char *what)
{
    if (pg->world == 1) return CF_OK;
    int64_t *all = calloc((size_t)pg->world, sizeof *all);
    if (!all) return cf_set_error(CF_ERR_OOM, "cf_pg_check_same: out of memory");
    int64_t mine = (int64_t)hash;
    cf_status st = cf_pg_allgather(pg, &mine, all, 1, CF_I64);
    if (st != CF_OK) {
        free(all);
        return st;
    }
    int ndiff = 0;
    for (int r = 1; r < pg->world; r++) ndiff += all[r] != all[0];
    if (ndiff == 0) {
        free(all);
        return CF_OK;
    }
    /* "ranks 1, 3 have other values (1: 0x..., 3: 0x...)", listing at most 16 ranks */
    char list[512] = "", vals[1024] = "";
    size_t ll = 0, vl = 0;
    int shown = 0;
    for (int r = 1; r < pg->world && shown < 16; r++) {
        if (all[r] == all[0]) continue;
        ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%d", shown ? ", " : "", r);
        vl += (size_t)snprintf(vals + vl, sizeof vals - vl, "%s%d: 0x%016llx", shown ? ", " : "", r,
                               (unsigned long long)all[r]);
        shown++;
        if (ll >= sizeof list || vl >= sizeof vals) break;
    }
    cf_set_error(CF_ERR_STATE, "%s differs across ranks: rank 0 has 0x%016llx, rank%s %s%s ha%s other values (%s)",
                 what, (unsigned long long)all[0], ndiff > 1 ? "s" : "", list, ndiff > shown ? ", ..." : "",
                 ndiff > 1 ? "ve" : "s", vals);
    free(all);
    return CF_ERR_STATE;
}

cf_status cf_pg_broadcast_text(cf_pg *pg, char **text, int root)
{
    bool me = cf_pg_rank(pg) == root;
    int64_t len = me && *text ? (int64_t)strlen(*text) : 0;
    CF_TRY(cf_pg_broadcast(pg, &len, 1, CF_I64, root));
    /* sent as 32-bit words (the collectives move numeric dtypes), the last one padded */
    int64_t words = (len + 3) / 4;
    char *buf = calloc((size_t)words + 1, 4);
    /* a rank that cannot take part ends the job: the others are already in the broadcast */
    if (!buf) cf_pg_abort(pg, "broadcast of %lld bytes of text: out of memory", (long long)len);
    if (me && len) memcpy(buf, *text, (size_t)len);
    cf_status st = words ? cf_pg_broadcast(pg, buf, words, CF_I32, root) : CF_OK;
    if (me || st != CF_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *text = buf;
    return CF_OK;
}
