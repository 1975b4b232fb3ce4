/* A spiking circuit with known directed connectivity, to check that a model's attention recovers who drives
 * whom, as Neuroformer (Antoniades et al., ICLR 2024) shows on simulated circuits with hub connectivity. The
 * paper's simulator is not published; this one is cformer's substitute.
 *
 * Discrete-time Bernoulli GLM on bins of dt seconds. With w[i * N + j] the weight of the edge FROM unit i TO
 * unit j (source row, target column; the diagonal is 0), unit j fires in bin t with probability
 *     p_j(t) = sigmoid( b_j + sum_i sum_{k=1..K} w[i, j] kappa_k s_i(t-k) + r kappa_1 s_j(t-1) + c_j stim(t) )
 * with kappa_k = exp(-(k-1) / kernel_tau) and s(t) in {0, 1}. (One matrix, source-major, serves both the
 * dynamics and the metrics: a score matrix S[i * N + j] for "i drives j" is compared with w directly.)
 *   Baselines: cformer aims at about 5 Hz (hubs 15 Hz). logit(rate * dt) is that rate without input, but
 *     the excitatory drive then lifts the mean to about 19 Hz with units near 50 Hz
 *     (40 units, defaults), i.e. ~38 spikes per 50 ms window, more than a block_size of 32 holds. So by
 *     default (calibrate) each b_j is set so that sigmoid(b_j + its input) averages to the target rate
 *     when the inputs fire independently at their target rates (a Monte-Carlo estimate from the seed;
 *     cf_sim_parameters); the realised rates land near the targets (mean about 5.3 Hz with the defaults).
 *     calibrate = false gives the literal logit(rate * dt).
 *   Hubs: n_hubs units chosen by the seed (cf_sim_hubs); each projects to hub_targets random other units with
 *     weight hub_weight.
 *   Sparse random edges: every other ordered pair (i != j) gets an edge with probability edge_prob, weight
 *     U(edge_w_min, edge_w_max), negated (inhibitory) with probability inhib_frac.
 *   Refractoriness: r = refractory (-4) on the logit in the bin after a unit's own spike; -INFINITY makes it
 *     absolute (no spike in the bin right after a spike).
 *   Shared stimulus (stim_gain != 0): stim is a slow random walk kept bounded (an AR(1) process with
 *     correlation time stim_tau seconds and unit variance); c_j = stim_gain * U(0.5, 1.5). It confounds
 *     correlation with connection, as real shared input does. It is returned as the behaviour variable
 *     "stimulus", sampled every behavior_dt seconds.
 *   Trials (trial_s > 0): consecutive trials of trial_s seconds tile the recording (the dynamics run on
 *     across them).
 *   Movie (movie_h, movie_w > 0; the paper's movie-driven simulation, "SimNeu3D" in the official code, in
 *     miniature): a grayscale movie of movie_h x movie_w pixels at movie_rate_hz (20) frames per second,
 *     values in (-1, 1): a few bright and dark Gaussian blobs
 *     drifting on a torus, each turning to a new random direction every 2 s (cf_sim_movie). Every
 *     unit has a receptive field rf_j: a normalised Gaussian blob (sum 1) at a random position, negated for
 *     30% of the units, and a gain g_j = movie_gain * U(0.5, 1.5); the term
 *         + g_j <rf_j, frame(t - movie_lag)>
 *     joins the logit, the frame on screen at time t - movie_lag held for its 1 / movie_rate_hz seconds (a
 *     blank screen, 0, before the movie starts or after it ends). With trials the SAME movie starts again at
 *     every trial's start (as in the V1AL recordings), so the trial-averaged PSTH is stimulus-locked, and
 *     the movie is one trial long; without trials it runs once over the recording. The calibrated baselines
 *     take the drive into account (sampled over the movie's frames). The movie and the receptive fields
 *     have their own Philox streams: turning the movie on changes neither the connectivity nor the hubs, and
 *     with it off the outputs of a seed are exactly those of a build without movies.
 * A spike in bin t is stored at time t * dt; the recording is [0, n_bins * dt) with n_bins = round(seconds /
 * dt). Everything is drawn from the Philox RNG keyed by seed (separate streams for the hubs, the edges, the
 * gains, the spikes and the stimulus), so a seed gives the same data on every machine. Cost: about
 * n_bins * N Bernoulli draws plus K * out-degree work per spike; 1000 s of 40 units takes well under a
 * second. */
#ifndef CF_SIMULATE_SPIKES_H
#define CF_SIMULATE_SPIKES_H

#include "data/spikes/spikes.h"

typedef struct cf_sim_config {
    int n_neurons;      /* N (40) */
    int n_hubs;         /* 3 */
    double seconds;     /* simulated time (1000) */
    double dt;          /* bin width (0.01) */
    uint64_t seed;      /* 0 */
    double base_rate_hz; /* 5 */
    double hub_rate_hz;  /* 15 */
    int hub_targets;     /* 10 (at most N - 1) */
    double hub_weight;   /* 2.5 */
    double edge_prob;    /* 0.03 */
    double edge_w_min, edge_w_max; /* 0.5, 1.5 */
    double inhib_frac;   /* 0.2 */
    int kernel_len;      /* K (5) */
    double kernel_tau;   /* 2: kappa_k = exp(-(k-1)/2) */
    double refractory;   /* r (-4); -INFINITY = absolute */
    double stim_gain;    /* 0 = no shared stimulus */
    double stim_tau;     /* 1.0 s */
    double behavior_dt;  /* 0.05 s: sampling of the "stimulus" behaviour variable */
    double trial_s;      /* 0 = no trials */
    bool calibrate;      /* true: baselines calibrated to the target rates (see above); false: logit(rate * dt) */
    int movie_h, movie_w; /* movie size in pixels (0 x 0 = no movie) */
    double movie_gain;    /* 2: scale of the receptive-field drive (logit units) */
    double movie_rate_hz; /* 20 frames per second */
    double movie_lag;     /* 0.05 s: the frame that drives bin t is the one on screen at t - movie_lag */
} cf_sim_config;

/* The values in the comments above. */
cf_sim_config cf_sim_defaults(void);
/* Checks ranges (N >= 1, 0 <= n_hubs <= N, hub_targets <= N - 1, rates in (0, 1/dt), probabilities in [0, 1],
 * K in 1..64, a finite duration of at most 2^31 bins, ...); the message names the field. */
cf_status cf_sim_check(const cf_sim_config *c);
/* The hub units, ascending ([n_hubs]). */
cf_status cf_sim_hubs(const cf_sim_config *c, int *hubs);
/* The connectivity alone: w[i * N + j] = weight from i to j ([N * N]). */
cf_status cf_sim_weights(const cf_sim_config *c, double *w);
/* The baselines b_j and the stimulus gains c_j ([N] each, either may be NULL; gains are 0 without a
 * stimulus). Costs a few milliseconds with calibration (2048 samples per unit). */
cf_status cf_sim_parameters(const cf_sim_config *c, double *bias, double *gain);
/* The movie: its frame count (one trial long with trials, else the recording; 0 without a movie) and its
 * pixels, frames [n, movie_h, movie_w] row-major; frame i is on screen from i / movie_rate_hz seconds after
 * the start of the recording (of each trial, with trials). */
int64_t cf_sim_movie_frames(const cf_sim_config *c);
cf_status cf_sim_movie(const cf_sim_config *c, float *frames);
/* The receptive fields rf [N, movie_h, movie_w] (signed, |sum| 1) and the gains g [N] (either may be NULL). */
cf_status cf_sim_receptive_fields(const cf_sim_config *c, float *rf, double *gain);
/* Runs the simulation: *out gets the spikes (with trials, the "stimulus" behaviour and the movie as the frames
 * "movie" when configured; free with cf_spikes_free). weights ([N * N], may be NULL) gets the ground truth as cf_sim_weights. */
cf_status cf_simulate_spikes(const cf_sim_config *c, cf_spikes **out, double *weights);

#endif
