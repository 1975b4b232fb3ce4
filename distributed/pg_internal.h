/* Shared between the distributed/ sources only: the MPI handles behind cf_pg and the checked, deadline-bounded
 * wait every collective here goes through. Not installed API (it includes mpi.h). */
#ifndef CF_PG_INTERNAL_H
#define CF_PG_INTERNAL_H

#include "autograd/clock.h" /* cf_now: the deadlines and the communication timings */
#include "distributed/pg.h"

#define CF_DIST_TRY(expr) \
    do { \
        cf_status dist_try_st_ = (expr); \
        if (dist_try_st_ != CF_OK) return dist_try_st_; \
    } while (0)

#ifdef CF_HAVE_MPI
#include <mpi.h>

MPI_Comm cf_pg_comm_of(const cf_pg *pg);
MPI_Datatype cf_pg_mpi_type(cf_dtype dt);
/* CF_ERR_IO naming the call, this rank and MPI's message for rc. */
cf_status cf_pg_mpi_fail(const cf_pg *pg, int rc, const char *call);
/* Waits for r with the group's deadline; aborts the job when the deadline passes (a peer is dead or
 * stuck). *r becomes MPI_REQUEST_NULL. */
cf_status cf_pg_wait_mpi(cf_pg *pg, MPI_Request *r, const char *what);
/* One MPI_Test: *done set; drives MPI's progress engine. */
cf_status cf_pg_test_mpi(cf_pg *pg, MPI_Request *r, bool *done, const char *what);
#endif

/* dtype check shared by the collectives: f32, f64, i32, i64; AVG only for floats. */
cf_status cf_pg_check_args(const char *what, int64_t n, cf_dtype dt, cf_reduce_op op);
void cf_pg_scale(void *buf, int64_t n, cf_dtype dt, double s);

#endif
