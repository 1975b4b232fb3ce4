/* Spike data in memory: the representation, binning, splits, and the Neuroformer tokenization on hand-made
 * windows, the dataset over it (ranges, trials, behaviour, a simulation) and the factory. The readers (CSV, NWB,
 * counts; good files and every kind of bad input) are tests/test_spikes_readers.c. */
#include "autograd/clock.h"
#include "data/loader.h"
#include "data/spikes/simulate_spikes.h"
#include "data/spikes/spikes.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A small cf_spikes from (time, unit) pairs. */
static cf_spikes *hand_spikes(int n_units, const double *t, const int64_t *u, int64_t n, double t_end)
{
    cf_spikes *s = cf_spikes_from_events(t, u, n, n_units, 0.0, t_end, "hand");
    if (!s) fprintf(stderr, "hand_spikes: %s\n", cf_last_error());
    return s;
}

/* ---- representation ---- */

static void test_from_events(void)
{
    double t[] = {0.5, 0.1, 0.3, 0.2, 0.05};
    int64_t u[] = {1, 1, 0, 1, 2};
    cf_spikes *s = hand_spikes(3, t, u, 5, 1.0);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(s->n_units == 3 && s->n_spikes == 5);
    CHECK(s->offsets[0] == 0 && s->offsets[1] == 1 && s->offsets[2] == 4 && s->offsets[3] == 5);
    CHECK(s->times[0] == 0.3);
    CHECK(s->times[1] == 0.1 && s->times[2] == 0.2 && s->times[3] == 0.5); /* sorted within unit 1 */
    CHECK(cf_spikes_validate(s, "x") == CF_OK);
    cf_spikes *c = cf_spikes_copy(s);
    CHECK(c && cf_spikes_equal(s, c, NULL, 0));
    c->times[2] = 0.25;
    char why[256];
    CHECK(!cf_spikes_equal(s, c, why, sizeof why));
    CHECK(strstr(why, "times[2]") != NULL);
    cf_spikes_free(c);
    /* errors name the event */
    int64_t bad_u[] = {1, 1, 0, 7, 2};
    CHECK(cf_spikes_from_events(t, bad_u, 5, 3, 0.0, 1.0, "ev.bin") == NULL);
    CHECK_ERROR_HAS("ev.bin");
    CHECK_ERROR_HAS("spike 3");
    CHECK_ERROR_HAS("unit 7");
    double bad_t[] = {0.5, 0.1, -0.3, 0.2, 0.05};
    CHECK(cf_spikes_from_events(bad_t, u, 5, 3, 0.0, 1.0, "ev.bin") == NULL);
    CHECK_ERROR_HAS("spike 2");
    /* trials and behaviour validation */
    double ts[] = {0.0, 0.5}, te[] = {0.5, 0.4};
    CHECK(cf_spikes_set_trials(s, 2, ts, te) != CF_OK);
    CHECK_ERROR_HAS("trial 1");
    double bt[] = {0.0, 0.1, 0.1}, bv[] = {1, 2, 3};
    const char *names[] = {"speed"};
    CHECK(cf_spikes_set_behavior(s, 3, 1, bt, bv, names) != CF_OK);
    CHECK_ERROR_HAS("row 2");
    cf_spikes_free(s);
}

static void test_binning(void)
{
    /* times written at bin edges k * 0.01 must land in bin k despite rounding */
    double t[] = {0.03, 0.03, 0.07, 0.0999, 0.1, 0.29};
    int64_t u[] = {0, 0, 1, 1, 0, 1};
    cf_spikes *s = hand_spikes(2, t, u, 6, 0.3);
    if (!s) return;
    int64_t nb = cf_spikes_n_bins(s, 0.01);
    CHECK(nb == 30);
    int32_t counts[60];
    CHECK(cf_spikes_bin(s, 0.01, nb, counts) == CF_OK);
    CHECK(counts[3] == 2 && counts[10] == 1);
    CHECK(counts[30 + 7] == 1 && counts[30 + 9] == 1 && counts[30 + 29] == 1);
    int32_t sum = 0;
    for (int i = 0; i < 60; i++) sum += counts[i];
    CHECK(sum == 6);
    CHECK(cf_spikes_bin_of(s, 0.03, 0.01) == 3);
    /* coarser bins */
    CHECK(cf_spikes_n_bins(s, 0.05) == 6);
    int32_t c5[12];
    CHECK(cf_spikes_bin(s, 0.05, 6, c5) == CF_OK);
    CHECK(c5[0] == 2 && c5[2] == 1 && c5[6 + 1] == 2 && c5[6 + 5] == 1); /* 0.07 and 0.0999 share [0.05, 0.10) */
    double rates[2];
    CHECK(cf_spikes_rates(s, 0.0, 0.3, rates) == CF_OK);
    CHECK_NEAR(rates[0], 3 / 0.3, 1e-9);
    CHECK(cf_spikes_rates(s, 0.0, 0.1, rates) == CF_OK);
    CHECK_NEAR(rates[0], 2 / 0.1, 1e-9);
    CHECK_NEAR(rates[1], 2 / 0.1, 1e-9);
    /* from counts and back */
    int32_t m[] = {0, 2, 0, 1, 1, 0, 0, 3};
    cf_spikes *c = cf_spikes_from_counts(m, 2, 4, 0.01, 0.0);
    CHECK(c && c->n_spikes == 7 && c->t_end == 0.04);
    if (c) {
        int32_t back[8];
        CHECK(cf_spikes_bin(c, 0.01, 4, back) == CF_OK);
        CHECK(memcmp(back, m, sizeof m) == 0);
    }
    cf_spikes_free(c);
    m[5] = -1;
    CHECK(cf_spikes_from_counts(m, 2, 4, 0.01, 0.0) == NULL);
    CHECK_ERROR_HAS("row 1");
    CHECK_ERROR_HAS("column 1");
    cf_spikes_free(s);
}

static void test_splits(void)
{
    double t[] = {1.0};
    int64_t u[] = {0};
    cf_spikes *s = hand_spikes(1, t, u, 1, 100.0);
    if (!s) return;
    cf_time_ranges tr, va, te;
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 0, 0, &tr, &va, &te) == CF_OK);
    CHECK(tr.n == 1 && va.n == 1 && te.n == 1);
    CHECK_NEAR(tr.from[0], 0, 1e-12);
    CHECK_NEAR(tr.to[0], 80, 1e-9);
    CHECK_NEAR(va.to[0], 90, 1e-9);
    CHECK_NEAR(te.to[0], 100, 1e-12);
    cf_time_ranges_free(&tr), cf_time_ranges_free(&va), cf_time_ranges_free(&te);
    /* blocks: deterministic by seed, disjoint, covering the span */
    cf_time_ranges a[3], b[3], c[3];
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 7, &a[0], &a[1], &a[2]) == CF_OK);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 7, &b[0], &b[1], &b[2]) == CF_OK);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 8, &c[0], &c[1], &c[2]) == CF_OK);
    CHECK_NEAR(cf_time_ranges_total(&a[0]), 80, 1e-9);
    CHECK_NEAR(cf_time_ranges_total(&a[1]), 10, 1e-9);
    CHECK_NEAR(cf_time_ranges_total(&a[2]), 10, 1e-9);
    bool same = true, differs = false;
    for (int k = 0; k < 3; k++) {
        same &= a[k].n == b[k].n;
        for (int i = 0; same && i < a[k].n; i++) same &= a[k].from[i] == b[k].from[i] && a[k].to[i] == b[k].to[i];
        differs |= a[k].n != c[k].n;
        for (int i = 0; !differs && i < a[k].n && i < c[k].n; i++) differs |= a[k].from[i] != c[k].from[i];
    }
    CHECK(same);
    CHECK(differs);
    /* every second of the span belongs to exactly one split; merged ranges never touch */
    for (double x = 0.5; x < 100; x += 1) {
        int hits = 0;
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < a[k].n; i++) hits += x >= a[k].from[i] && x < a[k].to[i];
        CHECK(hits == 1);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 1; i < a[k].n; i++) CHECK(a[k].from[i] > a[k].to[i - 1]);
    for (int k = 0; k < 3; k++) cf_time_ranges_free(&a[k]), cf_time_ranges_free(&b[k]), cf_time_ranges_free(&c[k]);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.3, 5, 0, &a[0], &a[1], &a[2]) != CF_OK);
    cf_spikes_free(s);
}


/* ---- tokenization ---- */

/* 4 units; windows of 0.05 s at dt 0.01 */
static cf_spikes *token_spikes(void)
{
    double t[] = {
        0.0, 0.02, 0.049,                         /* window [0, 0.05): units 1, 3, 2 */
        0.051, 0.07, 0.07, 0.075, 0.099,          /* window [0.05, 0.10): 2, 0, 3, 0, 1 */
        0.10, 0.11, 0.111, 0.12, 0.13, 0.13, 0.14, 0.149, /* window [0.10, 0.15): 8 spikes */
    };
    int64_t u[] = {1, 3, 2, 2, 0, 3, 0, 1, 0, 1, 2, 3, 0, 2, 1, 3};
    return hand_spikes(4, t, u, 16, 0.2);
}

static void test_vocab(void)
{
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    cf_spike_vocab v;
    CHECK(cf_spike_vocab_make(40, &c, &v) == CF_OK);
    CHECK(v.id_size == 43 && v.id_sos == 40 && v.id_eos == 41 && v.id_pad == 42);
    CHECK(v.dt_size == 9 && v.dt_max == 5 && v.dt_sos == 6 && v.dt_eos == 7 && v.dt_pad == 8); /* 6 + SOS, EOS, PAD */
    c.window_prev = 0.15;
    CHECK(cf_spike_vocab_make(40, &c, &v) == CF_OK && v.dt_size == 19 && v.prev_bins == 15 && v.curr_bins == 5);
    CHECK_NEAR(cf_spike_dt_value(&v, 3), 0.03, 1e-12);
    CHECK(isnan(cf_spike_dt_value(&v, v.dt_eos)));
    c.window_curr = 0.055;
    CHECK(cf_spike_vocab_make(40, &c, &v) != CF_OK);
    CHECK_ERROR_HAS("window_curr");
    c = cf_spike_token_defaults();
    c.block_size = 1;
    CHECK(cf_spike_vocab_make(40, &c, &v) != CF_OK);
    CHECK_ERROR_HAS("block_size");
}

static bool eq64(const int64_t *a, const int64_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) {
            fprintf(stderr, "  [%d]: %" PRId64 " vs %" PRId64 "\n", i, a[i], b[i]);
            return false;
        }
    return true;
}

static void test_tokens_window(void)
{
    cf_spikes *s = token_spikes();
    if (!s) return;
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    c.block_size = 8;
    c.prev_block_size = 6;
    cf_status st;
    cf_dataset *ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds != NULL && st == CF_OK);
    if (!ds) {
        cf_spikes_free(s);
        return;
    }
    CHECK(ds->len == 4); /* windows ending 0.05, 0.10, 0.15, 0.20 */
    const cf_spike_vocab *v = cf_spike_dataset_vocab(ds);
    CHECK(v && v->id_size == 7 && v->dt_size == 9);
    cf_batch b = {0};
    CHECK(cf_dataset_make_batch(ds, 2, &b) == CF_OK);
    CHECK(b.nfields == 7); /* no behaviour */
    CHECK(cf_dataset_get(ds, 1, &b, 0) == CF_OK);
    CHECK(cf_dataset_get(ds, 2, &b, 1) == CF_OK);
    const int64_t *id = cf_data(cf_batch_get(&b, "id")), *idt = cf_data(cf_batch_get(&b, "id_target"));
    const int64_t *dt = cf_data(cf_batch_get(&b, "dt")), *dtt = cf_data(cf_batch_get(&b, "dt_target"));
    const int64_t *pid = cf_data(cf_batch_get(&b, "prev_id")), *pdt = cf_data(cf_batch_get(&b, "prev_dt"));
    const bool *pad = cf_data(cf_batch_get(&b, "prev_pad"));
    const int S = 4, E = 5, P = 6, dE = 7, dP = 8, I = CF_SPIKE_IGNORE;
    /* window [0.05, 0.10): bin 5 unit 2; bin 7 units 0, 0, 3 (ascending, repeats); bin 9 unit 1 */
    int64_t x0[] = {S, 2, 0, 0, 3, 1, E, P}, y0[] = {2, 0, 0, 3, 1, E, I, I};
    int64_t dx0[] = {0, 0, 2, 2, 2, 4, dE, dP}, dy0[] = {0, 2, 2, 2, 4, dE, I, I};
    CHECK(eq64(id, x0, 8) && eq64(idt, y0, 8) && eq64(dt, dx0, 8) && eq64(dtt, dy0, 8));
    /* its previous window [0, 0.05): units 1 (bin 0), 3 (bin 2), 2 (bin 4) */
    int64_t p0[] = {S, 1, 3, 2, E, P}, pd0[] = {0, 0, 2, 4, dE, dP};
    CHECK(eq64(pid, p0, 6) && eq64(pdt, pd0, 6));
    CHECK(!pad[0] && !pad[4] && pad[5]);
    /* window [0.10, 0.15) holds 8 spikes > T-2 = 6: the LAST six are kept, then EOS */
    /* bins: 10: u0; 11: u1, u2; 12: u3; 13: u0, u2; 14: u1, u3 -> keep u2(11) u3(12) u0 u2(13) u1 u3(14) */
    int64_t x1[] = {S, 2, 3, 0, 2, 1, 3, E}, y1[] = {2, 3, 0, 2, 1, 3, E, I};
    int64_t dx1[] = {0, 1, 2, 3, 3, 4, 4, dE}, dy1[] = {1, 2, 3, 3, 4, 4, dE, I};
    CHECK(eq64(id + 8, x1, 8) && eq64(idt + 8, y1, 8) && eq64(dt + 8, dx1, 8) && eq64(dtt + 8, dy1, 8));
    /* its previous window [0.05, 0.10) has 5 spikes > Tp-2 = 4: the last four, no padding */
    int64_t p1[] = {S, 0, 0, 3, 1, E}, pd1[] = {0, 2, 2, 2, 4, dE};
    CHECK(eq64(pid + 6, p1, 6) && eq64(pdt + 6, pd1, 6));
    for (int i = 0; i < 6; i++) CHECK(!pad[6 + i]);
    /* the first window has an empty (clipped) previous window: SOS EOS PAD... */
    CHECK(cf_dataset_get(ds, 0, &b, 0) == CF_OK);
    int64_t p2[] = {S, E, P, P, P, P};
    CHECK(eq64(pid, p2, 6));
    CHECK(!pad[0] && !pad[1] && pad[2] && pad[5]);
    /* an empty current window (0.15, 0.20): SOS EOS, EOS is the first target */
    CHECK(cf_dataset_get(ds, 3, &b, 0) == CF_OK);
    int64_t x3[] = {S, E, P, P, P, P, P, P}, y3[] = {E, I, I, I, I, I, I, I};
    CHECK(eq64(id, x3, 8) && eq64(idt, y3, 8));
    double t_end;
    int trial;
    int64_t nc, np;
    CHECK(cf_spike_dataset_window(ds, 2, &t_end, &trial, &nc, &np) == CF_OK);
    CHECK_NEAR(t_end, 0.15, 1e-12);
    CHECK(trial == -1 && nc == 8 && np == 5);
    cf_spike_window_stats ws;
    CHECK(cf_spike_dataset_stats(ds, &ws) == CF_OK);
    CHECK(ws.windows == 4 && ws.truncated_curr == 1 && ws.truncated_prev == 2 && ws.max_curr == 8 && ws.p99_curr == 8);
    CHECK_NEAR(ws.mean_curr, 16.0 / 4, 1e-12);
    cf_batch_free(&b);
    cf_dataset_free(ds);
    /* the direct token functions agree, and reject bad spikes */
    int32_t units[] = {2, 0, 0, 3, 1};
    int64_t bins[] = {5, 7, 7, 7, 9};
    cf_spike_vocab vv;
    CHECK(cf_spike_vocab_make(4, &c, &vv) == CF_OK);
    int64_t a[8], bb[8], cc[8], dd[8];
    CHECK(cf_spike_tokens_current(&vv, units, bins, 5, 5, 8, a, bb, cc, dd) == CF_OK);
    CHECK(eq64(a, x0, 8) && eq64(bb, y0, 8) && eq64(cc, dx0, 8) && eq64(dd, dy0, 8));
    units[1] = 4;
    CHECK(cf_spike_tokens_current(&vv, units, bins, 5, 5, 8, a, bb, cc, dd) != CF_OK);
    CHECK_ERROR_HAS("unit 4");
    cf_spikes_free(s);
}

static void test_dataset_ranges_trials_behavior(void)
{
    cf_spikes *s = token_spikes();
    if (!s) return;
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    c.block_size = 8;
    c.prev_block_size = 6;
    cf_status st;
    /* t_end in [0.1, 0.19): windows ending 0.10 and 0.15 */
    cf_dataset *ds = cf_spike_dataset_open(s, &c, 0.1, 0.19, &st);
    CHECK(ds && ds->len == 2);
    double t_end = 0;
    if (ds) CHECK(cf_spike_dataset_window(ds, 0, &t_end, NULL, NULL, NULL) == CF_OK);
    CHECK_NEAR(t_end, 0.10, 1e-12);
    cf_dataset_free(ds);
    /* a range reaching the end of the recording takes the window ending there */
    ds = cf_spike_dataset_open(s, &c, 0.16, 0.2, &st);
    CHECK(ds && ds->len == 1);
    cf_dataset_free(ds);
    ds = cf_spike_dataset_open(s, &c, 0.5, 0.9, &st);
    CHECK(ds == NULL && st != CF_OK);
    CHECK_ERROR_HAS("no window");
    /* two ranges */
    double from[] = {0.0, 0.15}, to[] = {0.06, 0.16};
    cf_time_ranges r = {2, from, to};
    ds = cf_spike_dataset_open_ranges(s, &c, &r, &st);
    CHECK(ds && ds->len == 2);
    cf_dataset_free(ds);
    /* trials: windows inside each, the previous window clipped at the trial start */
    double ta[] = {0.0, 0.1}, tb[] = {0.1, 0.2};
    CHECK(cf_spikes_set_trials(s, 2, ta, tb) == CF_OK);
    ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds && ds->len == 4);
    if (ds) {
        int trial = -2;
        int64_t np = -1;
        CHECK(cf_spike_dataset_window(ds, 2, &t_end, &trial, NULL, &np) == CF_OK);
        CHECK_NEAR(t_end, 0.15, 1e-12);
        CHECK(trial == 1 && np == 0); /* the spikes of [0.05, 0.10) belong to trial 0 */
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(ds, 1, &b) == CF_OK);
        CHECK(cf_dataset_get(ds, 2, &b, 0) == CF_OK);
        const int64_t *pid = cf_data(cf_batch_get(&b, "prev_id"));
        CHECK(pid[0] == 4 && pid[1] == 5 && pid[2] == 6);
        cf_batch_free(&b);
    }
    cf_dataset_free(ds);
    /* behaviour: the mean of the samples in the current window, else the last before it */
    double bt[] = {0.0, 0.05, 0.08, 0.12}, bv[] = {1, 10, 2, 20, 4, 40, 8, 80};
    const char *names[] = {"speed", "phi"};
    CHECK(cf_spikes_set_behavior(s, 4, 2, bt, bv, names) == CF_OK);
    double mean[] = {1, 0}, sd[] = {2, 10};
    c.behavior_mean = mean;
    c.behavior_std = sd;
    c.use_trials = false;
    ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds && cf_spike_dataset_behavior_dim(ds) == 2);
    if (ds) {
        CHECK(strcmp(cf_spike_dataset_behavior_name(ds, 1), "phi") == 0);
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(ds, 4, &b) == CF_OK && b.nfields == 8);
        for (int i = 0; i < 4; i++) CHECK(cf_dataset_get(ds, i, &b, i) == CF_OK);
        const float *bh = cf_data(cf_batch_get(&b, "behavior"));
        CHECK_NEAR(bh[0], (1 - 1) / 2.0, 1e-6);       /* [0, 0.05): sample 0.0 */
        CHECK_NEAR(bh[2], ((2 + 4) / 2.0 - 1) / 2.0, 1e-6); /* [0.05, 0.10): 0.05 and 0.08 */
        CHECK_NEAR(bh[3], (30) / 10.0, 1e-6);
        CHECK_NEAR(bh[4], (8 - 1) / 2.0, 1e-6);       /* [0.10, 0.15): 0.12 */
        CHECK_NEAR(bh[6], (8 - 1) / 2.0, 1e-6);       /* [0.15, 0.20): none, hold 0.12 */
        cf_batch_free(&b);
        /* through the loader: one shuffled batch of all windows */
        cf_loader_config lc = cf_loader_defaults();
        lc.batch_size = 4;
        lc.seed = 3;
        cf_loader *l = cf_loader_create(ds, &lc);
        CHECK(l != NULL);
        const cf_batch *lb = l ? cf_loader_next(l) : NULL;
        CHECK(lb && lb->rows == 4);
        cf_loader_free(l);
    }
    cf_dataset_free(ds);
    cf_spikes_free(s);
}

static void test_dataset_on_simulation(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 100;
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    if (!s) return;
    cf_time_ranges tr, va, te;
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 10, 1, &tr, &va, &te) == CF_OK);
    cf_spike_token_config tc = cf_spike_token_defaults();
    cf_status st;
    cf_dataset *a = cf_spike_dataset_open_ranges(s, &tc, &tr, &st), *b = cf_spike_dataset_open_ranges(s, &tc, &va, &st),
               *d = cf_spike_dataset_open_ranges(s, &tc, &te, &st);
    CHECK(a && b && d);
    if (a && b && d) {
        CHECK(a->len + b->len + d->len == 2000); /* every window of 0.05 s in 100 s, each in one split */
        CHECK(a->len >= 1599 && a->len <= 1601); /* the first block lacks t_end = 0, the last has t_end = 100 */
        /* every current-window spike becomes one token */
        cf_batch bt = {0};
        CHECK(cf_dataset_make_batch(a, 1, &bt) == CF_OK);
        int64_t tokens = 0, spikes = 0;
        for (int64_t i = 0; i < a->len; i++) {
            CHECK(cf_dataset_get(a, i, &bt, 0) == CF_OK);
            const int64_t *y = cf_data(cf_batch_get(&bt, "id_target"));
            for (int k = 0; k < tc.block_size; k++) tokens += y[k] >= 0 && y[k] < 40;
            int64_t nc;
            cf_spike_dataset_window(a, i, NULL, NULL, &nc, NULL);
            spikes += nc < tc.block_size - 2 ? nc : tc.block_size - 2;
        }
        CHECK(tokens == spikes && spikes > 0);
        cf_batch_free(&bt);
    }
    cf_dataset_free(a), cf_dataset_free(b), cf_dataset_free(d);
    cf_time_ranges_free(&tr), cf_time_ranges_free(&va), cf_time_ranges_free(&te);
    cf_spikes_free(s);
}

static void test_factory(void)
{
    /* a CSV of 20 s: spikes of 3 units every 0.1 s */
    const char *p = tmp_path("f.csv");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "%.2f,%d\n", i * 0.1, i % 3);
    fclose(f);
    cf_spike_options o = cf_spike_options_defaults();
    o.path = p;
    int64_t total = 0;
    const char *splits[] = {"train", "val", "test"};
    for (int k = 0; k < 3; k++) {
        cf_dataset *ds = cf_spike_factory(&o, splits[k]);
        CHECK(ds != NULL);
        if (!ds) continue;
        CHECK(strstr(ds->name, "f.csv") && strstr(ds->name, splits[k]));
        total += ds->len;
        cf_dataset_free(ds);
    }
    CHECK(total == 398); /* windows ending 0.05 .. 19.90 (the span is [0, 19.91)) */
    CHECK(cf_spike_factory(&o, "dev") == NULL);
    CHECK_ERROR_HAS("dev");
    o.path = tmp_path("none.csv");
    CHECK(cf_spike_factory(&o, "train") == NULL);
    CHECK_ERROR_HAS("none.csv");
}

int main(void)
{
    if (!test_dir_make("test_spikes")) return 1;
    RUN(test_from_events);
    RUN(test_binning);
    RUN(test_splits);
    RUN(test_vocab);
    RUN(test_tokens_window);
    RUN(test_dataset_ranges_trials_behavior);
    RUN(test_dataset_on_simulation);
    RUN(test_factory);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
