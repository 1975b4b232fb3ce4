/* The Legendre Memory Unit's memory and the parallel LMU cell.
 *
 * Memory (Voelker et al., "Legendre Memory Units: Continuous-Time Representation in Recurrent Neural
 * Networks", NeurIPS 2019, the delay system in Legendre coordinates): order d, window theta; for i, j in 0..d-1
 *     A_ij = (2i+1)/theta * (-1 if i < j else (-1)^(i-j+1)),   B_i = (2i+1)/theta * (-1)^i,
 * discretised by zero-order hold with dt = 1:  Abar = e^A,  Bbar = A^-1 (e^A - I) B, both read off
 * expm([[A, B], [0, 0]]) = [[Abar, Bbar], [0, 1]] computed in double precision, then cast.
 *
 * The memory of a scalar input sequence u [B, N] is m [B, d, N] with
 *     m_t = Abar m_{t-1} + Bbar u_t,  m_{-1} = 0          (recurrent form)
 *         = sum_{k=0..t} H_k u_{t-k},  H_k = Abar^k Bbar     (parallel form; Chilkuri & Eliasmith,
 *           "Parallelizing Legendre Memory Unit Training", ICML 2021, the convolution form)
 * The parallel form is a causal convolution computed as irfft(rfft(u, 2N) * rfft(H, 2N))[:N]; the 2N
 * zero-padding prevents circular wrap. Both forms are tape ops (rfft/irfft, matmul), so gradients come from
 * the ops' own backward; the two forms agree to float rounding (tests/test_lmu.c).
 *
 * Parallel LMU cell (Chilkuri & Eliasmith 2021), channel-first x [B, C, N]:
 *     u_t = relu(W_u x_t + b_u)          (a scalar per step; W_u: C -> 1)
 *     m   = memory(u)                    (parallel or recurrent)
 *     h_t = relu(W_h [m_t ; x_t] + b_h)  (W_h: d + C -> out)
 *
 *     cf_lmu_cell cell;
 *     cf_lmu_cell_init(&cell, ps, "lmu", C, d, theta, out);
 *     cf_tensor *h = cf_lmu_cell_fwd(ctx, &cell, x, CF_LMU_PARALLEL, NULL);       // training
 *     cf_tensor *m = NULL;                                                        // streaming state
 *     for (t ...) h_t = cf_lmu_cell_fwd(ctx, &cell, x_t, CF_LMU_RECURRENT, &m);   // x_t [B, C, 1]
 *     cf_tensor_free(m); cf_lmu_cell_free(&cell);
 */
#ifndef CF_LAYERS_LMU_H
#define CF_LAYERS_LMU_H

#include "autograd/cformer.h"
#include "layers/params.h"

/* Abar [d*d] row-major and Bbar [d] of order d and window theta > 0 (ZOH, dt = 1), in double. */
cf_status cf_lmu_discretize(int64_t order, double theta, double *abar, double *bbar);

typedef enum cf_lmu_mode { CF_LMU_PARALLEL = 0, CF_LMU_RECURRENT } cf_lmu_mode;

typedef struct cf_lmu_memory {
    int64_t order;
    double theta;
    cf_tensor *abar, *bbar; /* persistent [d, d], [d], frozen */
    cf_tensor *h;           /* persistent impulse response [d, n] for the last sequence length n, or NULL */
    int64_t n;
} cf_lmu_memory;

cf_status cf_lmu_memory_init(cf_lmu_memory *m, cf_dtype dt, int64_t order, double theta);
void cf_lmu_memory_free(cf_lmu_memory *m);
/* u [B, N] -> m [B, d, N]. PARALLEL: the FFT convolution (the impulse response is rebuilt when N changes;
 * state must be NULL). RECURRENT: the step loop; *state (persistent [B, d], may be NULL on entry = zeros)
 * is the memory before u and is replaced by the memory after it, detached; state NULL: start at zero. */
cf_tensor *cf_lmu_memory_fwd(cf_ctx *ctx, cf_lmu_memory *m, cf_tensor *u, cf_lmu_mode mode, cf_tensor **state);

typedef struct cf_lmu_cell {
    cf_lmu_memory mem;
    cf_tensor *wu, *bu; /* [1, C, 1], [1] */
    cf_tensor *wh, *bh; /* [out, d + C, 1], [out] */
} cf_lmu_cell;

/* Parameters "<name>.enc.weight|bias" and "<name>.hid.weight|bias" (PyTorch Conv1d k=1 default init). */
cf_status cf_lmu_cell_init(cf_lmu_cell *c, cf_params *ps, const char *name, int64_t in, int64_t order, double theta,
                           int64_t out);
void cf_lmu_cell_free(cf_lmu_cell *c);
/* x [B, C, N] -> h [B, out, N]; mode and state as for cf_lmu_memory_fwd. */
cf_tensor *cf_lmu_cell_fwd(cf_ctx *ctx, cf_lmu_cell *c, cf_tensor *x, cf_lmu_mode mode, cf_tensor **state);

#endif
