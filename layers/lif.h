/* Leaky integrate-and-fire neurons over time, with surrogate gradients (the spiking units of
 * "LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre Memory Units", Liu et al., ICLR
 * 2024, its spiking neurons; the neuron is SpikingJelly's multi-step LIF node).
 *
 * For x [..., N] (time on the LAST dim; each leading index is one neuron), with V_{-1} = state or v_reset:
 *     H_t = V_{t-1} + (X_t - (V_{t-1} - v_reset)) / tau          (decay_input)
 *     H_t = V_{t-1} - (V_{t-1} - v_reset) / tau + X_t            (!decay_input)
 *     S_t = heaviside(H_t - v_threshold)                        (S = 1 at threshold)
 *     V_t = H_t (1 - S_t) + v_reset S_t                          (hard reset)
 *     V_t = H_t - v_threshold S_t                                (soft reset)
 * Returns S [..., N] (the input's dtype). Backward: dS/dH is the surrogate of autograd/ops/spike.h; BPTT runs
 * through V; with detach_reset the S inside the reset is a constant (dV_t/dH_t = 1 - S_t for a hard reset).
 * Composed of existing ops (a loop over N on the tape), so it needs no kernel of its own.
 *
 * State for streaming: a cf_lif_state carries V between calls (one column [..., 1] per neuron), so running
 * frames one call at a time gives the same spikes as one call over the whole sequence.
 *
 *     cf_lif_config c = cf_lif_default();          // tau 2, threshold 1, hard reset to 0, detached, sigmoid 4
 *     cf_tensor *s = cf_lif_fwd(ctx, &c, x, NULL); // whole sequence, V starts at v_reset
 *     cf_lif_state st = {0};
 *     for (t ...) s_t = cf_lif_fwd(ctx, &c, x_t, &st);   // x_t [..., 1]; st.v is persistent
 *     cf_lif_state_free(&st);
 */
#ifndef CF_LAYERS_LIF_H
#define CF_LAYERS_LIF_H

#include "autograd/cf_node.h"
#include "autograd/cformer.h"

typedef enum cf_lif_reset { CF_LIF_RESET_HARD = 0, CF_LIF_RESET_SOFT } cf_lif_reset;

typedef struct cf_lif_config {
    double tau;         /* > 1 */
    double v_threshold;
    double v_reset;     /* hard reset target (the soft reset ignores it except in the leak) */
    cf_lif_reset reset;
    bool detach_reset;
    bool decay_input;
    cf_surrogate surrogate;
    double alpha;
} cf_lif_config;

/* The paper's neuron: tau 2, v_threshold 1, v_reset 0, hard reset, detach_reset, decay_input, sigmoid
 * surrogate with alpha 4. */
cf_lif_config cf_lif_default(void);
/* Same, with another threshold (the paper uses 0.5 before the spiking LMU cell). */
cf_lif_config cf_lif_threshold(double v_threshold);

typedef struct cf_lif_state {
    cf_tensor *v; /* persistent membrane [..., 1] after the last call, or NULL (starts at v_reset) */
} cf_lif_state;

/* x [..., N] (N >= 1). st may be NULL (a fresh neuron); when given, V starts from st->v (a constant: no
 * gradient flows into earlier calls) and st->v holds V_{N-1} on return. NULL on error (bad config, shape
 * of st->v that does not match x). */
cf_tensor *cf_lif_fwd(cf_ctx *ctx, const cf_lif_config *c, cf_tensor *x, cf_lif_state *st);
void cf_lif_state_free(cf_lif_state *st);

#endif
