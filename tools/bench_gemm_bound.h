/* The GEMM bound of a training step at the model's own shapes, for `cformer bench train`.
 *
 * The cblas_sgemm rate at n = 1024 overstates what a model's GEMMs can reach: its products are thinner
 * (K = d_model, a few hundred), so OpenBLAS's packing weighs more. This bound records every GEMM the CPU
 * backend runs during the benchmark (autograd/cpu/cpu.h, cf_cpu_gemm_record), then replays one step's worth
 * of them, shape by shape, through plain threaded cblas_sgemm: the time a step would take if it were nothing
 * but its GEMMs at OpenBLAS's own speed. The report prints it beside the measured step.
 *
 * Usage (rank 0; the report is the cf_run_options bench_report hook):
 *     cf_gemm_bound gb;
 *     cf_gemm_bound_start(&gb);
 *     o.bench_report = cf_gemm_bound_report, o.bench_user = &gb;
 *     cf_train(&o);   // prints "GEMM bound at the model's shapes: ..." before its tokens_per_s line
 * The record is closed by the report; a run that fails before it must call cf_gemm_bound_stop. */
#ifndef CF_BENCH_GEMM_BOUND_H
#define CF_BENCH_GEMM_BOUND_H

#include "autograd/cpu/cpu.h"

#define CF_GEMM_BOUND_SHAPES 256

typedef struct {
    cf_gemm_shape shapes[CF_GEMM_BOUND_SHAPES];
    int n;
    int64_t dropped;
} cf_gemm_bound;

void cf_gemm_bound_start(cf_gemm_bound *b);
static inline void cf_gemm_bound_stop(void) { cf_cpu_gemm_record(NULL, 0, NULL, NULL); }
/* The bench_report hook: closes the record, replays, prints one line. */
void cf_gemm_bound_report(void *user, double items_per_step, double step_s, int64_t steps_run);

#endif
