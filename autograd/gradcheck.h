/* Finite-difference gradient checks in f64, plus an f32 agreement check, for the op list's tests.
 *
 * Every op in ops.def has `cf_status cf_gradcheck_<op>(cf_gc *g)` (in tests/gradcheck/<family>.c) that
 * builds inputs with the cf_gc_* constructors and calls cf_gc_check once per case. The runner fails an op
 * whose cases never put the op itself on the tape. */
#ifndef CF_GRADCHECK_H
#define CF_GRADCHECK_H

#include "autograd/cf_node.h"

typedef struct cf_gc cf_gc;
/* Computes the op under test from the inputs; the result may have any shape. */
typedef cf_tensor *(*cf_gc_fn)(cf_ctx *ctx, cf_tensor *const *in, const void *user);

#define CF_GRADCHECK(op) cf_status cf_gradcheck_##op(cf_gc *g)

cf_ctx *cf_gc_ctx(cf_gc *g);
/* f64 inputs that require grad: normal, uniform in [lo, hi), or normal pushed at least `margin` away
 * from zero (for kinks at 0 such as relu and abs). */
cf_tensor *cf_gc_randn(cf_gc *g, int ndim, const int64_t *shape);
cf_tensor *cf_gc_rand(cf_gc *g, int ndim, const int64_t *shape, double lo, double hi);
cf_tensor *cf_gc_randn_away(cf_gc *g, int ndim, const int64_t *shape, double margin);
/* Any-dtype input that needs no gradient (indices, masks): values given row-major. */
cf_tensor *cf_gc_const(cf_gc *g, cf_dtype dt, int ndim, const int64_t *shape, const double *values);
/* Tolerances for the next cases (defaults: eps 1e-6, atol 1e-6, rtol 1e-5, f32 rtol 2e-3). */
void cf_gc_tolerance(cf_gc *g, double eps, double atol, double rtol);
/* Skips the f32 agreement check for the next cases (e.g. an op whose f32 path is checked elsewhere). */
void cf_gc_f64_only(cf_gc *g, bool on);

/* Runs one case: analytic backward against central differences of sum(fn(in) * r) for fixed random r,
 * for every input that requires grad; then the same in f32 against the f64 values. */
cf_status cf_gc_check(cf_gc *g, const char *label, cf_gc_fn fn, const void *user, int n, cf_tensor *const *in);

/* Records a case checked by the caller itself, for ops whose backward is not the derivative of their
 * forward (surrogate gradients of step functions): ok is the caller's verdict. The target op's nodes
 * recorded on the tape since the previous cf_gc_record count as hits, as in cf_gc_check. */
cf_status cf_gc_record(cf_gc *g, const char *label, bool ok);

/* Parity mode (the cross-backend test): from now on every cf_gc_check compares the CPU backend with
 * dev's backend instead of running finite differences. Each case runs forward and backward (seeded with
 * fixed random weights) in f64 and, unless cf_gc_f64_only, f32 on both: the CPU inputs are copied to dev
 * with their strides and offset, and dev's step arena is filled with NaN bytes first, so an output or an
 * overwritten gradient that a kernel leaves unwritten shows up as NaN. Outputs and input gradients must
 * agree within |dev - cpu| <= tol * (1 + max |cpu|), tol 1e-9 for f64 and 2e-4 for f32. Cases checked
 * by cf_gc_record do not run in parity mode (they are counted as skipped). */
void cf_gc_set_parity(cf_gc *g, cf_ctx *dev);
/* Parity mode: also a bf16 pass (unless cf_gc_f64_only): the device runs on bf16 inputs, the CPU in f32 on the
 * same rounded values; tol 3e-2 (bf16 keeps 8 significant bits). */
void cf_gc_set_parity_bf16(cf_gc *g, bool on);
/* Parity mode: how many times the target op ran on dev's tape, and the cases left to cf_gc_record. */
int64_t cf_gc_device_hits(const cf_gc *g);
int cf_gc_skipped(const cf_gc *g);
/* Whether g runs in parity mode: cases that only make sense as a cross-backend comparison (a surrogate
 * gradient, checked by cf_gc_record otherwise; tied inputs that a finite difference would reorder) are
 * added with cf_gc_check only when this is true. */
bool cf_gc_parity_mode(const cf_gc *g);

/* For the runner. */
cf_gc *cf_gc_new(cf_ctx *ctx, int target_op, bool verbose);
void cf_gc_free(cf_gc *g);
int cf_gc_cases(const cf_gc *g);
int cf_gc_failures(const cf_gc *g);
int64_t cf_gc_target_hits(const cf_gc *g);

#endif
