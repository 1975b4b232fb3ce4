/* Evaluation: the plan checker's verdict for each kind of bad plan (and its order), optimality, reasoning
 * steps, mode and eos detection; the Wilson and normal intervals against known values; the per-mode metrics
 * on a hand-made set of samples; the checker on A*'s own plans. */
#include "autograd/cformer.h"
#include "tests/check.h"
#include "data/mazes/maze.h"

#include <math.h>
#include <string.h>

#define BOS CF_MAZE_TOK_BOS
#define EOS CF_MAZE_TOK_EOS
#define PAD CF_MAZE_TOK_PAD
#define CR CF_MAZE_TOK_CREATE
#define CL CF_MAZE_TOK_CLOSE
#define P CF_MAZE_TOK_PLAN
#define X(v) (CF_MAZE_TOK_COORD0 + (v))
#define K(v) (CF_MAZE_TOK_COST0 + (v))
#define N(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* 3x3, start (0,0), goal (2,2), a wall at (1,1): optimal plans have 5 nodes, two of them exist */
static cf_maze maze(void)
{
    cf_maze m;
    memset(&m, 0, sizeof m);
    m.w = m.h = 3;
    m.gx = m.gy = 2;
    m.wall[1 * 3 + 1] = 1;
    return m;
}

static const int64_t OPT1[] = {BOS, CR, X(0), X(0), K(0), K(4), CL, X(0), X(0), K(0), K(4), P, X(0), X(0), P, X(1),
                               X(0), P, X(2), X(0), P, X(2), X(1), P, X(2), X(2), EOS, PAD, PAD};
static const int64_t OPT2[] = {BOS, P, X(0), X(0), P, X(0), X(1), P, X(0), X(2), P, X(1), X(2), P, X(2), X(2), EOS};
static const int64_t LOOP[] = {BOS, P, X(0), X(0), P, X(1), X(0), P, X(0), X(0), P, X(1), X(0), P, X(2), X(0),
                               P, X(2), X(1), P, X(2), X(2), EOS};
static const int64_t OPT1_SHORT_TRACE[] = {BOS, CR, X(0), X(0), CR, X(1), X(0), P, X(0), X(0), P, X(1), X(0),
                                           P, X(2), X(0), P, X(2), X(1), P, X(2), X(2), EOS};
static const int64_t NOPLAN[] = {BOS, CR, X(0), X(0), K(0), K(4), CL, X(0), X(0), EOS, P, X(0), X(0)};
static const int64_t CUT[] = {BOS, P, X(0), X(0), P, X(1), EOS};
static const int64_t TRACE_IN_PLAN[] = {BOS, P, X(0), X(0), CR, X(1), X(0), EOS};
static const int64_t COST_AS_COORD[] = {BOS, P, X(0), K(0), EOS};
static const int64_t OUT[] = {BOS, P, X(0), X(0), P, X(1), X(0), P, X(2), X(0), P, X(3), X(0), P, X(2), X(2), EOS};
static const int64_t BADSTART[] = {BOS, P, X(1), X(0), P, X(2), X(0), P, X(2), X(1), P, X(2), X(2), EOS};
static const int64_t BADGOAL[] = {BOS, P, X(0), X(0), P, X(1), X(0), P, X(2), X(0), P, X(2), X(1), EOS};
static const int64_t WALL[] = {BOS, CR, X(0), X(0), K(0), K(4), CL, X(0), X(0), K(0), K(4), P, X(0), X(0), P, X(1),
                               X(0), P, X(1), X(1), P, X(1), X(2), P, X(2), X(2), EOS};
static const int64_t JUMP[] = {BOS, P, X(0), X(0), P, X(2), X(0), P, X(2), X(1), P, X(2), X(2), EOS};
static const int64_t NOEOS[] = {P, X(0), X(0), P, X(1), X(0), P, X(2), X(0), P, X(2), X(1), P, X(2), X(2), PAD};
/* 8 trace tokens and no plan at all */
static const int64_t RAMBLE[] = {BOS, CR, X(0), X(0), K(0), K(4), CR, X(0), X(1), EOS};

static void test_checker(void)
{
    cf_maze m = maze();
    cf_plan_check c = cf_maze_check_plan(&m, 5, OPT1, N(OPT1));
    CHECK(c.verdict == CF_PLAN_OK && c.correct && c.optimal && c.has_eos && c.plan_nodes == 5);
    CHECK(c.trace_tokens == 10 && c.mode == CF_MAZE_MODE_SLOW && c.bad_node == -1 && c.plan_hash != 0);
    cf_plan_check c2 = cf_maze_check_plan(&m, 5, OPT2, N(OPT2));
    CHECK(c2.correct && c2.optimal && c2.trace_tokens == 0 && c2.mode == CF_MAZE_MODE_FAST);
    CHECK(c2.plan_hash != c.plan_hash);
    cf_plan_check c3 = cf_maze_check_plan(&m, 5, OPT1_SHORT_TRACE, N(OPT1_SHORT_TRACE));
    CHECK(c3.optimal && c3.plan_hash == c.plan_hash && c3.trace_tokens == 6);
    c = cf_maze_check_plan(&m, 5, LOOP, N(LOOP));
    CHECK(c.verdict == CF_PLAN_OK && c.correct && !c.optimal && c.plan_nodes == 7);
    c = cf_maze_check_plan(&m, 5, NOEOS, N(NOEOS)); /* no bos, ended by pad: still correct, no eos */
    CHECK(c.correct && c.optimal && !c.has_eos && c.mode == CF_MAZE_MODE_FAST);

    c = cf_maze_check_plan(&m, 5, NOPLAN, N(NOPLAN)); /* the plan after eos does not count */
    CHECK(c.verdict == CF_PLAN_NO_PLAN && !c.correct && c.trace_tokens == 8 && c.has_eos && c.plan_nodes == 0);
    c = cf_maze_check_plan(&m, 5, RAMBLE, N(RAMBLE));
    CHECK(c.verdict == CF_PLAN_NO_PLAN && c.trace_tokens == 8 && c.mode == CF_MAZE_MODE_SLOW);
    CHECK(cf_maze_check_plan(&m, 5, CUT, N(CUT)).verdict == CF_PLAN_SYNTAX);
    CHECK(cf_maze_check_plan(&m, 5, TRACE_IN_PLAN, N(TRACE_IN_PLAN)).verdict == CF_PLAN_SYNTAX);
    CHECK(cf_maze_check_plan(&m, 5, COST_AS_COORD, N(COST_AS_COORD)).verdict == CF_PLAN_SYNTAX);
    c = cf_maze_check_plan(&m, 5, OUT, N(OUT));
    CHECK(c.verdict == CF_PLAN_OUT_OF_BOUNDS && c.bad_node == 3 && !c.correct);
    CHECK(cf_maze_check_plan(&m, 5, BADSTART, N(BADSTART)).verdict == CF_PLAN_BAD_START);
    CHECK(cf_maze_check_plan(&m, 5, BADGOAL, N(BADGOAL)).verdict == CF_PLAN_BAD_GOAL);
    c = cf_maze_check_plan(&m, 5, WALL, N(WALL));
    CHECK(c.verdict == CF_PLAN_WALL && c.bad_node == 2 && c.trace_tokens == 10);
    c = cf_maze_check_plan(&m, 5, JUMP, N(JUMP));
    CHECK(c.verdict == CF_PLAN_BAD_STEP && c.bad_node == 1);
    CHECK(cf_maze_check_plan(&m, 5, NULL, 0).verdict == CF_PLAN_NO_PLAN);
    int64_t empty[] = {BOS, EOS};
    c = cf_maze_check_plan(&m, 5, empty, 2);
    CHECK(c.verdict == CF_PLAN_NO_PLAN && c.trace_tokens == 0 && c.mode == CF_MAZE_MODE_AUTO && c.has_eos);
    CHECK(strcmp(cf_plan_verdict_name(CF_PLAN_WALL), "wall") == 0);
    CHECK(strcmp(cf_plan_verdict_name(CF_PLAN_OK), "ok") == 0);
}

/* A*'s own plan, as the decoder would write it, is correct and optimal for generated tasks. */
static void test_checker_on_astar_plans(void)
{
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        cf_maze m;
        CHECK(cf_maze_generate(i, 17, 8, NULL, &m, &s) == CF_OK);
        uint16_t tr[5000], pl[400];
        int nt = cf_maze_trace_tokens(&s, tr, 5000), np = cf_maze_plan_tokens(&m, &s, pl, 400);
        int64_t seq[5402];
        int n = 0;
        seq[n++] = BOS;
        for (int k = 0; k < nt; k++) seq[n++] = tr[k];
        for (int k = 0; k < np; k++) seq[n++] = pl[k];
        seq[n++] = EOS;
        cf_plan_check c = cf_maze_check_plan(&m, cf_maze_bfs_nodes(&m), seq, n);
        bad += !c.optimal || c.trace_tokens != nt || c.plan_nodes != s.plan_len;
        /* measured against another optimal length the same plan is correct but not optimal */
        c = cf_maze_check_plan(&m, s.plan_len + 2, seq, n);
        bad += !c.correct || c.optimal;
    }
    CHECK(bad == 0);
    cf_maze_search_free(&s);
}

static void test_intervals(void)
{
    cf_maze_stat w = cf_maze_wilson(8, 10);
    CHECK_NEAR(w.value, 0.8, 1e-12);
    CHECK_NEAR(w.lo, 0.49016, 1e-4);
    CHECK_NEAR(w.hi, 0.94332, 1e-4);
    w = cf_maze_wilson(0, 10);
    CHECK(w.lo == 0 && w.value == 0);
    CHECK_NEAR(w.hi, 0.27753, 1e-4);
    w = cf_maze_wilson(10, 10);
    CHECK(w.hi == 1);
    CHECK_NEAR(w.lo, 0.72247, 1e-4);
    w = cf_maze_wilson(1, 0);
    CHECK(isnan(w.value) && isnan(w.lo));
    const double x[5] = {1, 2, 3, 4, 5};
    cf_maze_stat s = cf_maze_mean_ci(x, 5);
    CHECK_NEAR(s.value, 3, 1e-12);
    CHECK_NEAR(s.hi - s.value, 1.959964 * sqrt(2.5) / sqrt(5), 1e-5);
    CHECK_NEAR(s.value - s.lo, s.hi - s.value, 1e-12);
    s = cf_maze_mean_ci(x, 1);
    CHECK(s.value == 1 && isnan(s.lo) && isnan(s.hi) && s.n == 1);
}

static void test_metrics(void)
{
    cf_maze m = maze();
    /* task 0: optimal (slow, 10 trace tokens), the other optimal plan (fast), the first again (slow, 6),
     * a correct 7-node detour (fast); task 1: through a wall (slow, 10), no plan (slow, 8), optimal (fast),
     * wrong goal (fast) */
    cf_plan_check ck[8] = {
        cf_maze_check_plan(&m, 5, OPT1, N(OPT1)),   cf_maze_check_plan(&m, 5, OPT2, N(OPT2)),
        cf_maze_check_plan(&m, 5, OPT1_SHORT_TRACE, N(OPT1_SHORT_TRACE)),
        cf_maze_check_plan(&m, 5, LOOP, N(LOOP)),   cf_maze_check_plan(&m, 5, WALL, N(WALL)),
        cf_maze_check_plan(&m, 5, RAMBLE, N(RAMBLE)), cf_maze_check_plan(&m, 5, OPT2, N(OPT2)),
        cf_maze_check_plan(&m, 5, BADGOAL, N(BADGOAL)),
    };
    const int opt[2] = {5, 5};
    cf_maze_metrics r;
    CHECK(cf_maze_metrics_compute(ck, opt, 2, 4, &r) == CF_OK);
    CHECK(r.tasks == 2 && r.k == 4);
    CHECK(r.solved1.value == 1.0 && r.solved3.value == 0.5 && r.optimal1.value == 1.0 && r.optimal3.value == 0.5);
    CHECK(r.solved1.n == 2);
    CHECK_NEAR(r.solved3.lo, cf_maze_wilson(1, 2).lo, 1e-12);
    CHECK_NEAR(r.correct_rate.value, (1.0 + 0.25) / 2, 1e-12);
    CHECK_NEAR(r.optimal_rate.value, (0.75 + 0.25) / 2, 1e-12);
    CHECK_NEAR(r.swc.value, ((3 + 4.0 / 6) / 4 + 0.25) / 2, 1e-12);
    CHECK_NEAR(r.reasoning.value, ((10 + 0 + 6 + 0) / 4.0 + (10 + 8 + 0 + 0) / 4.0) / 2, 1e-12);
    CHECK_NEAR(r.diversity_correct.value, (3 + 1) / 2.0, 1e-12);
    CHECK_NEAR(r.diversity_optimal.value, (2 + 1) / 2.0, 1e-12);
    CHECK_NEAR(r.slow_fraction.value, 0.5, 1e-12);
    CHECK_NEAR(r.slow_fraction.lo, 0.5, 1e-12); /* no spread between tasks */
    CHECK(r.swc.lo < r.swc.value && r.swc.hi > r.swc.value);
    /* the same from the raw outputs in a padded [8, 32] array */
    const int64_t *rows[8] = {OPT1, OPT2, OPT1_SHORT_TRACE, LOOP, WALL, RAMBLE, OPT2, BADGOAL};
    const int64_t lens[8] = {N(OPT1), N(OPT2), N(OPT1_SHORT_TRACE), N(LOOP), N(WALL), N(RAMBLE), N(OPT2), N(BADGOAL)};
    int64_t outs[8][32];
    memset(outs, 0, sizeof outs);
    for (int i = 0; i < 8; i++) memcpy(outs[i], rows[i], (size_t)lens[i] * sizeof(int64_t));
    cf_maze mz[2] = {m, m};
    cf_maze_metrics r2, r3;
    CHECK(cf_maze_metrics_from_outputs(mz, opt, &outs[0][0], 32, NULL, 2, 4, &r2) == CF_OK);
    CHECK(cf_maze_metrics_from_outputs(mz, opt, &outs[0][0], 32, lens, 2, 4, &r3) == CF_OK);
    CHECK(memcmp(&r, &r2, sizeof r) == 0 && memcmp(&r, &r3, sizeof r) == 0);
    CHECK(cf_maze_metrics_from_outputs(mz, opt, &outs[0][0], 0, NULL, 2, 4, &r2) == CF_ERR_ARG);
    CHECK(cf_maze_metrics_compute(ck, opt, 0, 4, &r) == CF_ERR_ARG);
    CHECK(cf_maze_metrics_compute(NULL, opt, 2, 4, &r) == CF_ERR_ARG);
}

int main(void)
{
    RUN(test_checker);
    RUN(test_checker_on_astar_plans);
    RUN(test_intervals);
    RUN(test_metrics);
    TEST_MAIN_END();
}
