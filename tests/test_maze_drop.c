/* Randomized traces (Dualformer levels 0-4): each level on a hand trace, the clause grammar and clause order
 * after every draw, the prompt and the plan never altered over many draws, level frequencies, re-drawing per
 * epoch (and the draw-once variant), the paper's and the code's level 3, config checks. */
#include "autograd/cformer.h"
#include "tests/check.h"
#include "data/mazes/maze.h"

#include <stdlib.h>
#include <string.h>

#define CR CF_MAZE_TOK_CREATE
#define CL CF_MAZE_TOK_CLOSE
#define X(v) (CF_MAZE_TOK_COORD0 + (v))
#define K(v) (CF_MAZE_TOK_COST0 + (v))

/* The 3x3 deterministic A* log of test_maze.c (9 creates, 9 closes). */
static const uint16_t HAND[] = {
    CR, X(0), X(0), K(0), K(4), CL, X(0), X(0), K(0), K(4), CR, X(0), X(1), K(1), K(3), CR, X(1), X(0), K(1), K(3),
    CL, X(1), X(0), K(1), K(3), CR, X(1), X(1), K(2), K(2), CR, X(2), X(0), K(2), K(2), CL, X(2), X(0), K(2), K(2),
    CR, X(2), X(1), K(3), K(1), CL, X(0), X(1), K(1), K(3), CR, X(0), X(2), K(2), K(2), CL, X(1), X(1), K(2), K(2),
    CR, X(1), X(2), K(3), K(1), CL, X(2), X(1), K(3), K(1), CR, X(2), X(2), K(4), K(0), CL, X(0), X(2), K(2), K(2),
    CL, X(1), X(2), K(3), K(1), CL, X(2), X(2), K(4), K(0)};
#define NHAND ((int)(sizeof HAND / sizeof HAND[0]))

/* Parses a trace into clauses: (create|close) x y [cg ch]; returns the clause count or -1 when the grammar
 * is broken (a keyword without both coordinates in bounds, a lone cost, ...). *with_costs / *closes get how
 * many clauses carry costs and how many are close clauses. */
static int parse_clauses(const uint16_t *t, int n, int w, int h, int starts[], int *with_costs, int *closes)
{
    int k = 0, c = 0;
    *with_costs = *closes = 0;
    while (k < n) {
        if (t[k] != CR && t[k] != CL) return -1;
        if (k + 2 >= n) return -1;
        int x = cf_maze_tok_coord(t[k + 1]), y = cf_maze_tok_coord(t[k + 2]);
        if (x < 0 || y < 0 || x >= w || y >= h) return -1;
        if (starts) starts[c] = k;
        *closes += t[k] == CL;
        c++;
        k += 3;
        if (k < n && cf_maze_tok_cost(t[k]) >= 0) {
            if (k + 1 >= n || cf_maze_tok_cost(t[k + 1]) < 0) return -1;
            (*with_costs)++;
            k += 2;
        }
    }
    return c;
}

/* The clauses of `got` are, in order, a subsequence of the create clauses of `full` (compared on the
 * keyword and coordinates, plus the costs when got carries them). */
static bool ordered_subset(const uint16_t *got, int ng, const uint16_t *full, int nf)
{
    int k = 0;
    for (int f = 0; f < nf && k < ng; f += 5) {
        if (full[f] != CR) continue;
        bool costs = k + 3 < ng && cf_maze_tok_cost(got[k + 3]) >= 0;
        int len = costs ? 5 : 3;
        if (memcmp(got + k, full + f, (size_t)len * sizeof *got) == 0) k += len;
    }
    return k == ng;
}

static void test_levels_on_hand_trace(void)
{
    uint16_t out[NHAND];
    int n = -1, c, wc, cl;
    cf_maze_rng r = cf_maze_rng_init(1, 2, 3);
    CHECK(cf_maze_drop_trace(HAND, NHAND, 0, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_OK);
    CHECK(n == NHAND && memcmp(out, HAND, sizeof HAND) == 0);

    CHECK(cf_maze_drop_trace(HAND, NHAND, 1, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_OK);
    c = parse_clauses(out, n, 3, 3, NULL, &wc, &cl);
    CHECK(n == 45 && c == 9 && wc == 9 && cl == 0);
    CHECK(memcmp(out, HAND, 10 * sizeof *out) != 0); /* the first close is gone */
    CHECK(memcmp(out, HAND, 5 * sizeof *out) == 0 && memcmp(out + 5, HAND + 10, 10 * sizeof *out) == 0);
    CHECK(ordered_subset(out, n, HAND, NHAND));

    CHECK(cf_maze_drop_trace(HAND, NHAND, 2, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_OK);
    c = parse_clauses(out, n, 3, 3, NULL, &wc, &cl);
    CHECK(n == 27 && c == 9 && wc == 0 && cl == 0);
    CHECK(out[0] == CR && out[1] == X(0) && out[2] == X(0) && out[3] == CR && out[4] == X(0) && out[5] == X(1));
    CHECK(ordered_subset(out, n, HAND, NHAND));

    /* paper level 3: level 2 thinned; p = 0 keeps every clause, p = 1 none */
    CHECK(cf_maze_drop_trace(HAND, NHAND, 3, CF_MAZE_L3_PAPER, 0.0, &r, out, &n) == CF_OK && n == 27);
    CHECK(cf_maze_drop_trace(HAND, NHAND, 3, CF_MAZE_L3_PAPER, 1.0, &r, out, &n) == CF_OK && n == 0);
    CHECK(cf_maze_drop_trace(HAND, NHAND, 3, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_ERR_ARG);

    /* code level 3: 5-token create clauses, floor(9 * pct / 100) of them dropped with pct in 10..40 -> 0..3 */
    int seen[10] = {0};
    for (int i = 0; i < 400; i++) {
        CHECK(cf_maze_drop_trace(HAND, NHAND, 3, CF_MAZE_L3_CODE, 0.3, &r, out, &n) == CF_OK);
        c = parse_clauses(out, n, 3, 3, NULL, &wc, &cl);
        CHECK(c >= 6 && c <= 9 && wc == c && cl == 0 && n == 5 * c);
        CHECK(ordered_subset(out, n, HAND, NHAND));
        if (c >= 0 && c <= 9) seen[c]++;
    }
    CHECK(seen[6] > 0 && seen[7] > 0 && seen[8] > 0 && seen[9] > 0);

    CHECK(cf_maze_drop_trace(HAND, NHAND, 4, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_OK && n == 0);

    /* refusals */
    CHECK(cf_maze_drop_trace(HAND, NHAND - 1, 1, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_ERR_FORMAT);
    uint16_t badt[5] = {CF_MAZE_TOK_PLAN, X(0), X(0), K(0), K(0)};
    CHECK(cf_maze_drop_trace(badt, 5, 1, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_ERR_FORMAT);
    CHECK(cf_maze_drop_trace(HAND, NHAND, 5, CF_MAZE_L3_PAPER, 0.3, NULL, out, &n) == CF_ERR_ARG);
}

static void test_pick_level(void)
{
    const double p[5] = {0.4, 0.15, 0.15, 0.1, 0.2};
    CHECK(cf_maze_pick_level(p, 0.0) == 1 && cf_maze_pick_level(p, 0.1499) == 1);
    CHECK(cf_maze_pick_level(p, 0.15) == 2 && cf_maze_pick_level(p, 0.2999) == 2);
    CHECK(cf_maze_pick_level(p, 0.30) == 3 && cf_maze_pick_level(p, 0.3999) == 3);
    CHECK(cf_maze_pick_level(p, 0.40) == 4 && cf_maze_pick_level(p, 0.5999) == 4);
    CHECK(cf_maze_pick_level(p, 0.6001) == 0 && cf_maze_pick_level(p, 0.9999) == 0);
    const double p0[5] = {1, 0, 0, 0, 0};
    CHECK(cf_maze_pick_level(p0, 0.0) == 0);

    cf_maze_draw_config c = cf_maze_draw_defaults();
    CHECK(cf_maze_draw_config_check(&c) == CF_OK);
    c.trace = CF_MAZE_TRACE_RANDOM;
    memcpy(c.level_p, p, sizeof p);
    CHECK(cf_maze_draw_config_check(&c) == CF_OK);
    c.level_p[0] = 0.5;
    CHECK(cf_maze_draw_config_check(&c) == CF_ERR_ARG);
    CHECK_ERROR_HAS("sums to");
    c.level_p[0] = 0.6, c.level_p[1] = -0.05;
    CHECK(cf_maze_draw_config_check(&c) == CF_ERR_ARG);
    c = cf_maze_draw_defaults();
    c.level3_drop_p = 1.5;
    CHECK(cf_maze_draw_config_check(&c) == CF_ERR_ARG);
}

/* generated records for the draw tests */
typedef struct rec_buf {
    uint16_t prompt[6 + 3 * 100], trace[5 * 400], plan[3 * 100];
    cf_maze_record r;
} rec_buf;

static void make_records(rec_buf *rb, int n)
{
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < n; i++) {
        cf_maze m;
        CHECK(cf_maze_generate(i, 5, 7, NULL, &m, &s) == CF_OK);
        rb[i].r.prompt = rb[i].prompt, rb[i].r.trace = rb[i].trace, rb[i].r.plan = rb[i].plan;
        rb[i].r.n_prompt = cf_maze_prompt_tokens(&m, rb[i].prompt, 306);
        rb[i].r.n_trace = cf_maze_trace_tokens(&s, rb[i].trace, 2000);
        rb[i].r.n_plan = cf_maze_plan_tokens(&m, &s, rb[i].plan, 300);
        CHECK(rb[i].r.n_trace > 0);
    }
    cf_maze_search_free(&s);
}

/* Over many (record, epoch) draws in every mode: the sequence is <valid clauses> <the record's plan> eos,
 * the clauses are an ordered subset of the record's trace (or the trace itself at level 0), and the record
 * (prompt, trace, plan) is unchanged. */
static void test_draws_keep_prompt_and_plan(void)
{
    enum { NR = 40 };
    static rec_buf rb[NR], copy[NR];
    make_records(rb, NR);
    memcpy(copy, rb, sizeof rb);
    cf_maze_draw_config c = cf_maze_draw_defaults();
    c.trace = CF_MAZE_TRACE_RANDOM;
    for (int l = 0; l < 5; l++) c.level_p[l] = 0.2;
    c.seed = 99;
    static uint16_t seq[5 * 400 + 3 * 100 + 1];
    int bad = 0, count[5] = {0};
    for (int variant = 0; variant < 2; variant++) {
        c.level3 = variant ? CF_MAZE_L3_CODE : CF_MAZE_L3_PAPER;
        for (int i = 0; i < NR; i++) {
            const cf_maze_record *r = &rb[i].r;
            int maxlen = cf_maze_decoder_max_len(r, &c);
            for (int e = 0; e < 60; e++) {
                int level = -1;
                int n = cf_maze_decoder_sequence(r, &c, i, e, seq, (int)(sizeof seq / sizeof *seq), &level);
                if (n < 0 || level < 0 || level > 4) {
                    bad++;
                    continue;
                }
                count[level]++;
                bad += n > maxlen;
                int nt = n - r->n_plan - 1;
                bad += nt < 0 || seq[n - 1] != CF_MAZE_TOK_EOS;
                if (nt < 0) continue;
                bad += memcmp(seq + nt, r->plan, (size_t)r->n_plan * sizeof *seq) != 0;
                int wc, cl, nc = parse_clauses(seq, nt, 7, 7, NULL, &wc, &cl);
                bad += nc < 0;
                if (level == 0) bad += nt != r->n_trace || memcmp(seq, r->trace, (size_t)nt * sizeof *seq) != 0;
                if (level == 4) bad += nt != 0;
                if (level >= 1 && level <= 3) {
                    bad += cl != 0 || !ordered_subset(seq, nt, r->trace, r->n_trace);
                    bool costs = level == 1 || (level == 3 && variant);
                    bad += wc != (costs ? nc : 0);
                }
                /* the mode is visible in the first token: create (slow) unless the trace is empty */
                bad += nt > 0 ? seq[0] != CF_MAZE_TOK_CREATE : seq[0] != CF_MAZE_TOK_PLAN;
            }
        }
    }
    if (bad) fprintf(stderr, "draws: %d violations\n", bad);
    CHECK(bad == 0);
    CHECK(memcmp(copy, rb, sizeof rb) == 0); /* prompt, trace and plan never written */
    for (int l = 0; l < 5; l++) CHECK(count[l] > 2 * NR * 60 / 5 * 0.85 && count[l] < 2 * NR * 60 / 5 * 1.15);

    /* plan only (Solution-Only) and full trace (Searchformer) */
    c.trace = CF_MAZE_TRACE_NONE;
    int level, n = cf_maze_decoder_sequence(&rb[0].r, &c, 0, 3, seq, 2301, &level);
    CHECK(level == 4 && n == rb[0].r.n_plan + 1 && memcmp(seq, rb[0].r.plan, (size_t)rb[0].r.n_plan * 2) == 0);
    c.trace = CF_MAZE_TRACE_FULL;
    n = cf_maze_decoder_sequence(&rb[0].r, &c, 0, 3, seq, 2301, &level);
    CHECK(level == 0 && n == rb[0].r.n_trace + rb[0].r.n_plan + 1);
    CHECK(cf_maze_decoder_sequence(&rb[0].r, &c, 0, 3, seq, n - 1, &level) == -1);
}

/* Level frequencies follow level_p; a draw is a pure function of (seed, record, epoch); it changes with the
 * epoch unless draw_once; paper level 3 keeps ~70% of the create clauses. */
static void test_draw_statistics(void)
{
    enum { NR = 20 };
    static rec_buf rb[NR];
    make_records(rb, NR);
    static uint16_t a[2301], b[2301];
    cf_maze_draw_config c = cf_maze_draw_defaults();
    c.trace = CF_MAZE_TRACE_RANDOM;
    const double p[5] = {0.4, 0.15, 0.15, 0.1, 0.2};
    memcpy(c.level_p, p, sizeof p);
    c.seed = 7;
    int count[5] = {0}, N = 0, changed = 0, same_key_differs = 0;
    for (int i = 0; i < NR; i++)
        for (int e = 0; e < 500; e++) {
            int la, lb;
            int na = cf_maze_decoder_sequence(&rb[i].r, &c, i, e, a, 2301, &la);
            int nb = cf_maze_decoder_sequence(&rb[i].r, &c, i, e, b, 2301, &lb);
            same_key_differs += na != nb || la != lb || memcmp(a, b, (size_t)na * 2) != 0;
            count[la]++, N++;
            int lprev;
            cf_maze_decoder_sequence(&rb[i].r, &c, i, e + 1, b, 2301, &lprev);
            changed += lprev != la;
        }
    CHECK(same_key_differs == 0);
    for (int l = 0; l < 5; l++) CHECK_NEAR((double)count[l] / N, p[l], 0.015);
    CHECK(changed > N / 2); /* P(two draws differ) = 1 - sum p^2 = 0.735 */

    /* draw_once: the same level and sequence every epoch */
    c.draw_once = true;
    int differs = 0;
    for (int i = 0; i < NR; i++) {
        int l0, l1;
        int n0 = cf_maze_decoder_sequence(&rb[i].r, &c, i, 0, a, 2301, &l0);
        for (int e = 1; e < 30; e++) {
            int n1 = cf_maze_decoder_sequence(&rb[i].r, &c, i, e, b, 2301, &l1);
            differs += n0 != n1 || l0 != l1 || memcmp(a, b, (size_t)n0 * 2) != 0;
        }
    }
    CHECK(differs == 0);

    /* paper level 3 keeps each create clause with probability 0.7 */
    c.draw_once = false;
    memset(c.level_p, 0, sizeof c.level_p);
    c.level_p[3] = 1;
    long kept = 0, total = 0;
    for (int i = 0; i < NR; i++) {
        int creates = 0;
        for (int k = 0; k < rb[i].r.n_trace; k += 5) creates += rb[i].r.trace[k] == CR;
        for (int e = 0; e < 200; e++) {
            int l, n = cf_maze_decoder_sequence(&rb[i].r, &c, i, e, a, 2301, &l);
            kept += (n - rb[i].r.n_plan - 1) / 3;
            total += creates;
        }
    }
    CHECK_NEAR((double)kept / total, 0.7, 0.01);
    /* the code variant drops floor(creates * pct / 100) with pct uniform in 10..40 */
    c.level3 = CF_MAZE_L3_CODE;
    kept = total = 0;
    double expect = 0;
    for (int i = 0; i < NR; i++) {
        int creates = 0;
        for (int k = 0; k < rb[i].r.n_trace; k += 5) creates += rb[i].r.trace[k] == CR;
        for (int pct = 10; pct <= 40; pct++) expect += 200.0 * (creates - creates * pct / 100) / 31;
        for (int e = 0; e < 200; e++) {
            int l, n = cf_maze_decoder_sequence(&rb[i].r, &c, i, e, a, 2301, &l);
            int kc = (n - rb[i].r.n_plan - 1) / 5;
            CHECK(kc >= creates - creates * 40 / 100 && kc <= creates - creates * 10 / 100);
            kept += kc;
            total += creates;
        }
    }
    CHECK_NEAR((double)kept / total, expect / total, 0.01);
}

int main(void)
{
    RUN(test_levels_on_hand_trace);
    RUN(test_pick_level);
    RUN(test_draws_keep_prompt_and_plan);
    RUN(test_draw_statistics);
    TEST_MAIN_END();
}
