/* Mazes: the generator's rejection rules and wall range, A* optimality against BFS (both tie-break modes,
 * unsolvable mazes too), the A* log on a hand-worked maze (deterministic mode), trace invariants, the
 * vocabulary and the prompt -> maze round trip, the record checker. */
#include "autograd/cformer.h"
#include "tests/check.h"
#include "data/mazes/maze.h"

#include <stdlib.h>
#include <string.h>

static int imax(int a, int b) { return a > b ? a : b; }

/* a random maze (any wall density, possibly unsolvable) drawn from r */
static void random_maze(cf_maze_rng *r, cf_maze *m)
{
    memset(m, 0, sizeof *m);
    m->w = cf_maze_rng_int(r, 2, 12);
    m->h = cf_maze_rng_int(r, 2, 12);
    double p = cf_maze_rng_uniform(r) * 0.6;
    for (int i = 0; i < m->w * m->h; i++) m->wall[i] = cf_maze_rng_uniform(r) < p;
    int a = cf_maze_rng_int(r, 0, m->w * m->h - 1), b = cf_maze_rng_int(r, 0, m->w * m->h - 1);
    if (a == b) b = (a + 1) % (m->w * m->h);
    m->wall[a] = m->wall[b] = 0;
    m->sx = a % m->w, m->sy = a / m->w, m->gx = b % m->w, m->gy = b / m->w;
}

/* the plan of s is a valid path on m from start to goal */
static bool plan_valid(const cf_maze *m, const cf_maze_search *s)
{
    if (s->plan_len < 1) return false;
    int first = s->plan[0], last = s->plan[s->plan_len - 1];
    if (first != m->sy * m->w + m->sx || last != m->gy * m->w + m->gx) return false;
    for (int i = 0; i < s->plan_len; i++) {
        if (m->wall[s->plan[i]]) return false;
        if (i > 0) {
            int a = s->plan[i - 1], b = s->plan[i];
            if (abs(a % m->w - b % m->w) + abs(a / m->w - b / m->w) != 1) return false;
        }
    }
    return true;
}

static void test_astar_optimal_vs_bfs(void)
{
    cf_maze_rng r = cf_maze_rng_init(11, 0, 0);
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    int bad = 0, unsolvable = 0, n = 3000;
    for (int t = 0; t < n; t++) {
        cf_maze m;
        random_maze(&r, &m);
        int bfs = cf_maze_bfs_nodes(&m);
        for (int det = 0; det < 2; det++) {
            cf_maze_rng ar = cf_maze_rng_init(5, (uint64_t)t, 0);
            if (cf_maze_astar(&m, det, &ar, &s) != CF_OK) bad++;
            if (s.plan_len != bfs) bad++;
            if (bfs > 0 && !plan_valid(&m, &s)) bad++;
        }
        unsolvable += bfs == 0;
    }
    if (bad) fprintf(stderr, "A* vs BFS: %d mismatches over %d mazes\n", bad, n);
    CHECK(bad == 0);
    CHECK(unsolvable > 50 && unsolvable < n - 500); /* both kinds were exercised */
    cf_maze_search_free(&s);
}

/* The log on an empty 3x3 maze from (0,0) to (2,2) in deterministic mode, worked by hand from the official
 * rules (ties on f = 4 everywhere, so the order is the position hash x + 100000*y). */
static void test_astar_hand_trace(void)
{
    cf_maze m;
    memset(&m, 0, sizeof m);
    m.w = m.h = 3;
    m.gx = m.gy = 2;
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    CHECK(cf_maze_astar(&m, true, NULL, &s) == CF_OK);
    static const int want[][5] = {
        {CF_MAZE_TOK_CREATE, 0, 0, 0, 4}, {CF_MAZE_TOK_CLOSE, 0, 0, 0, 4},  {CF_MAZE_TOK_CREATE, 0, 1, 1, 3},
        {CF_MAZE_TOK_CREATE, 1, 0, 1, 3}, {CF_MAZE_TOK_CLOSE, 1, 0, 1, 3},  {CF_MAZE_TOK_CREATE, 1, 1, 2, 2},
        {CF_MAZE_TOK_CREATE, 2, 0, 2, 2}, {CF_MAZE_TOK_CLOSE, 2, 0, 2, 2},  {CF_MAZE_TOK_CREATE, 2, 1, 3, 1},
        {CF_MAZE_TOK_CLOSE, 0, 1, 1, 3},  {CF_MAZE_TOK_CREATE, 0, 2, 2, 2}, {CF_MAZE_TOK_CLOSE, 1, 1, 2, 2},
        {CF_MAZE_TOK_CREATE, 1, 2, 3, 1}, {CF_MAZE_TOK_CLOSE, 2, 1, 3, 1},  {CF_MAZE_TOK_CREATE, 2, 2, 4, 0},
        {CF_MAZE_TOK_CLOSE, 0, 2, 2, 2},  {CF_MAZE_TOK_CLOSE, 1, 2, 3, 1},  {CF_MAZE_TOK_CLOSE, 2, 2, 4, 0},
    };
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK(s.n_steps == n);
    for (int i = 0; i < n && i < s.n_steps; i++) {
        const cf_maze_step *st = &s.steps[i];
        bool ok = st->action == want[i][0] && st->x == want[i][1] && st->y == want[i][2] && st->g == want[i][3] &&
                  st->h == want[i][4];
        if (!ok) fprintf(stderr, "step %d: got %d %d %d %d %d\n", i, st->action, st->x, st->y, st->g, st->h);
        CHECK(ok);
    }
    static const int plan[][2] = {{0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}};
    CHECK(s.plan_len == 5);
    for (int i = 0; i < 5 && i < s.plan_len; i++) CHECK(s.plan[i] == plan[i][1] * 3 + plan[i][0]);

    /* tokens of the first clause and the plan */
    uint16_t tr[5 * 18], pl[15];
    CHECK(cf_maze_trace_tokens(&s, tr, 90) == 90);
    CHECK(tr[0] == CF_MAZE_TOK_CREATE && tr[1] == cf_maze_coord_tok(0) && tr[2] == cf_maze_coord_tok(0) &&
          tr[3] == cf_maze_cost_tok(0) && tr[4] == cf_maze_cost_tok(4));
    CHECK(cf_maze_plan_tokens(&m, &s, pl, 15) == 15);
    CHECK(pl[0] == CF_MAZE_TOK_PLAN && pl[12] == CF_MAZE_TOK_PLAN && pl[13] == cf_maze_coord_tok(2) &&
          pl[14] == cf_maze_coord_tok(2));
    CHECK(cf_maze_trace_tokens(&s, tr, 89) == -1); /* too small */

    /* a walled-off goal: no plan, the search exhausts (create/close of the start region only) */
    m.wall[1 * 3 + 2] = m.wall[2 * 3 + 1] = 1;
    CHECK(cf_maze_astar(&m, true, NULL, &s) == CF_OK);
    CHECK(s.plan_len == 0 && cf_maze_bfs_nodes(&m) == 0);
    CHECK(s.n_steps > 0 && s.steps[s.n_steps - 1].action == CF_MAZE_TOK_CLOSE);
    CHECK(cf_maze_astar(&m, false, NULL, &s) == CF_ERR_ARG); /* random mode needs an rng */
    cf_maze_search_free(&s);
}

/* Invariants of every log: starts with create start (g 0, h Manhattan), every h is the Manhattan distance,
 * closes pop non-decreasing f (consistent heuristic), the last step closes the goal with g = plan steps. */
static void test_astar_trace_invariants(void)
{
    cf_maze_rng r = cf_maze_rng_init(12, 0, 0);
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    int bad = 0;
    for (int t = 0; t < 500; t++) {
        cf_maze m;
        random_maze(&r, &m);
        if (cf_maze_bfs_nodes(&m) == 0) continue;
        cf_maze_rng ar = cf_maze_rng_init(6, (uint64_t)t, 0);
        cf_maze_astar(&m, t % 2, &ar, &s);
        const cf_maze_step *st = s.steps;
        bad += !(st[0].action == CF_MAZE_TOK_CREATE && st[0].x == m.sx && st[0].y == m.sy && st[0].g == 0);
        int lastf = -1;
        for (int i = 0; i < s.n_steps; i++) {
            bad += st[i].h != abs(st[i].x - m.gx) + abs(st[i].y - m.gy);
            bad += m.wall[st[i].y * m.w + st[i].x] != 0;
            if (st[i].action == CF_MAZE_TOK_CLOSE) {
                bad += st[i].g + st[i].h < lastf;
                lastf = st[i].g + st[i].h;
            }
        }
        const cf_maze_step *e = &st[s.n_steps - 1];
        bad += !(e->action == CF_MAZE_TOK_CLOSE && e->x == m.gx && e->y == m.gy && e->g == s.plan_len - 1);
    }
    CHECK(bad == 0);
    cf_maze_search_free(&s);
}

static void test_generator_rules(void)
{
    static const int sizes[][2] = {{7, 7}, {5, 5}, {10, 10}, {6, 9}, {13, 4}};
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    for (int z = 0; z < 5; z++) {
        int w = sizes[z][0], h = sizes[z][1], bad = 0, minw = 1 << 30, maxw = 0;
        cf_maze_gen_options o = cf_maze_gen_defaults();
        o.width = w, o.height = h;
        for (int i = 0; i < 300; i++) {
            cf_maze m;
            if (cf_maze_generate(i, 42, 0, &o, &m, &s) != CF_OK) {
                bad++;
                continue;
            }
            int nw = cf_maze_wall_count(&m), cells = w * h;
            if (nw < minw) minw = nw;
            if (nw > maxw) maxw = nw;
            bad += nw < 3 * cells / 10 || nw > 5 * cells / 10;
            bad += m.w != w || m.h != h;
            bad += (m.sx == m.gx && m.sy == m.gy) || cf_maze_is_wall(&m, m.sx, m.sy) || cf_maze_is_wall(&m, m.gx, m.gy);
            int bfs = cf_maze_bfs_nodes(&m);
            bad += bfs < imax(w, h);            /* solvable, plan of >= max(w, h) nodes */
            bad += s.plan_len != bfs;           /* the task's A* plan is optimal */
            bad += !plan_valid(&m, &s);
        }
        if (bad) fprintf(stderr, "generator %dx%d: %d violations\n", w, h, bad);
        CHECK(bad == 0);
        /* the whole wall range is used (300 draws over <= 21 values) */
        CHECK(minw == 3 * w * h / 10 && maxw == 5 * w * h / 10);
    }
    /* the official integer rounding: 7x7 -> 12..20 walls */
    cf_maze_gen_options o = cf_maze_gen_defaults();
    o.official_wall_count = true;
    int minw = 99, maxw = 0;
    for (int i = 0; i < 300; i++) {
        cf_maze m;
        CHECK(cf_maze_generate(i, 1, 7, &o, &m, &s) == CF_OK);
        int nw = cf_maze_wall_count(&m);
        minw = nw < minw ? nw : minw;
        maxw = nw > maxw ? nw : maxw;
    }
    CHECK(minw == 12 && maxw == 20);

    /* a custom minimum plan length is honoured; an impossible one is an error, not a hang or crash */
    o = cf_maze_gen_defaults();
    o.min_plan_nodes = 12;
    o.attempts_per_layout = 20;
    for (int i = 0; i < 20; i++) {
        cf_maze m;
        CHECK(cf_maze_generate(i, 3, 7, &o, &m, &s) == CF_OK && s.plan_len >= 12);
    }
    o.min_plan_nodes = 7 * 7 + 1;
    o.attempts_per_layout = 1;
    cf_maze m;
    CHECK(cf_maze_generate(0, 3, 7, &o, &m, &s) == CF_ERR_ARG);
    CHECK_ERROR_HAS("no solvable 7x7 task");
    CHECK(cf_maze_generate(0, 3, 1, NULL, &m, &s) == CF_ERR_ARG);
    CHECK(cf_maze_generate(0, 3, 33, NULL, &m, &s) == CF_ERR_ARG);
    cf_maze_search_free(&s);
}

static bool same_maze(const cf_maze *a, const cf_maze *b)
{
    return a->w == b->w && a->h == b->h && a->sx == b->sx && a->sy == b->sy && a->gx == b->gx && a->gy == b->gy &&
           memcmp(a->wall, b->wall, (size_t)(a->w * a->h)) == 0;
}

static void test_generator_deterministic(void)
{
    cf_maze_search s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    cf_maze a, b;
    int same_other = 0;
    for (int i = 0; i < 50; i++) {
        CHECK(cf_maze_generate(i, 9, 7, NULL, &a, &s1) == CF_OK);
        CHECK(cf_maze_generate(i, 9, 7, NULL, &b, &s2) == CF_OK);
        CHECK(same_maze(&a, &b) && s1.n_steps == s2.n_steps && s1.plan_len == s2.plan_len);
        CHECK(memcmp(s1.steps, s2.steps, (size_t)s1.n_steps * sizeof *s1.steps) == 0);
        CHECK(cf_maze_generate(i, 10, 7, NULL, &b, &s2) == CF_OK);
        same_other += same_maze(&a, &b);
    }
    CHECK(same_other == 0);
    /* random tie-breaking gives different traces of the same maze under different streams */
    cf_maze m;
    memset(&m, 0, sizeof m);
    m.w = m.h = 6;
    m.gx = m.gy = 5;
    int distinct = 0;
    cf_maze_rng r1 = cf_maze_rng_init(1, 0, 0);
    CHECK(cf_maze_astar(&m, false, &r1, &s1) == CF_OK);
    for (int k = 1; k < 20; k++) {
        cf_maze_rng rk = cf_maze_rng_init(1, (uint64_t)k, 0);
        CHECK(cf_maze_astar(&m, false, &rk, &s2) == CF_OK);
        CHECK(s2.plan_len == 11);
        distinct += s1.n_steps != s2.n_steps || memcmp(s1.steps, s2.steps, (size_t)s1.n_steps * sizeof *s1.steps);
    }
    CHECK(distinct >= 15);
    cf_maze_search_free(&s1);
    cf_maze_search_free(&s2);
}

static void test_tokens(void)
{
    CHECK(cf_maze_vocab_size(7, 7) == 48 + 49);
    CHECK(cf_maze_vocab_size(30, 30) == 948);
    CHECK(cf_maze_vocab_size(1, 7) == 0 && cf_maze_vocab_size(7, 33) == 0);
    CHECK(cf_maze_token_valid(CF_MAZE_TOK_PLAN, 7, 7) && !cf_maze_token_valid(9, 7, 7));
    CHECK(cf_maze_token_valid(cf_maze_coord_tok(6), 7, 7) && !cf_maze_token_valid(cf_maze_coord_tok(7), 7, 7));
    CHECK(cf_maze_token_valid(cf_maze_coord_tok(8), 9, 3)); /* coordinates up to max(w, h) - 1 */
    CHECK(cf_maze_token_valid(cf_maze_cost_tok(48), 7, 7) && !cf_maze_token_valid(cf_maze_cost_tok(49), 7, 7));
    CHECK(!cf_maze_token_valid(-1, 7, 7) && !cf_maze_token_valid(97, 7, 7));
    char b[32];
    CHECK(strcmp(cf_maze_token_str(CF_MAZE_TOK_CREATE, b, sizeof b), "create") == 0);
    CHECK(strcmp(cf_maze_token_str(cf_maze_coord_tok(3), b, sizeof b), "3") == 0);
    CHECK(strcmp(cf_maze_token_str(cf_maze_cost_tok(12), b, sizeof b), "c12") == 0);
    CHECK(strcmp(cf_maze_token_str(5000, b, sizeof b), "<bad 5000>") == 0);
    CHECK(cf_maze_mode_token(CF_MAZE_MODE_SLOW) == CF_MAZE_TOK_CREATE);
    CHECK(cf_maze_mode_token(CF_MAZE_MODE_FAST) == CF_MAZE_TOK_PLAN && cf_maze_mode_token(CF_MAZE_MODE_AUTO) == -1);

    /* prompt -> maze round trip over generated tasks of several sizes */
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    uint16_t p[6 + 3 * CF_MAZE_MAX_CELLS];
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        cf_maze m, back;
        cf_maze_gen_options o = cf_maze_gen_defaults();
        o.width = 4 + i % 9, o.height = 4 + (i / 9) % 7;
        CHECK(cf_maze_generate(i, 77, 0, &o, &m, &s) == CF_OK);
        int n = cf_maze_prompt_tokens(&m, p, (int)(sizeof p / sizeof *p));
        bad += n != 6 + 3 * cf_maze_wall_count(&m);
        bad += cf_maze_from_prompt(p, n, m.w, m.h, &back) != CF_OK || !same_maze(&m, &back);
        /* walls appear in ascending cell order */
        for (int k = 9; k < n; k += 3)
            bad += (cf_maze_tok_coord(p[k + 2]) * m.w + cf_maze_tok_coord(p[k + 1])) <=
                   (cf_maze_tok_coord(p[k - 1]) * m.w + cf_maze_tok_coord(p[k - 2]));
        /* the generated record passes the record checker */
        uint16_t tr[5 * 4096], pl[3 * CF_MAZE_MAX_CELLS];
        cf_maze_record r = {p, tr, pl, n, cf_maze_trace_tokens(&s, tr, 5 * 4096), cf_maze_plan_tokens(&m, &s, pl, 3072)};
        bad += cf_maze_record_check(&r, m.w, m.h) != CF_OK;
    }
    CHECK(bad == 0);

    /* the parser's refusals */
    cf_maze m;
    const int C = CF_MAZE_TOK_COORD0;
    uint16_t ok[] = {CF_MAZE_TOK_START, C + 0, C + 0, CF_MAZE_TOK_GOAL, C + 2, C + 2, CF_MAZE_TOK_WALL, C + 1, C + 0,
                     CF_MAZE_TOK_WALL, C + 0, C + 1};
    CHECK(cf_maze_from_prompt(ok, 12, 3, 3, &m) == CF_OK && m.wall[1] && m.wall[3] && cf_maze_wall_count(&m) == 2);
    uint16_t t1[12];
    memcpy(t1, ok, sizeof ok);
    t1[7] = C + 0, t1[8] = C + 1, t1[10] = C + 1, t1[11] = C + 0; /* walls out of cell order */
    CHECK(cf_maze_from_prompt(t1, 12, 3, 3, &m) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("prompt token 9");
    memcpy(t1, ok, sizeof ok);
    t1[4] = C + 3; /* goal x outside 3x3 */
    CHECK(cf_maze_from_prompt(t1, 12, 3, 3, &m) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("outside the 3x3 maze");
    memcpy(t1, ok, sizeof ok);
    t1[3] = CF_MAZE_TOK_WALL;
    CHECK(cf_maze_from_prompt(t1, 12, 3, 3, &m) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("expected 'goal'");
    memcpy(t1, ok, sizeof ok);
    t1[7] = C + 2, t1[8] = C + 2; /* wall on the goal (and out of order first: use a single wall) */
    CHECK(cf_maze_from_prompt(t1, 9, 3, 3, &m) == CF_ERR_FORMAT);
    CHECK_ERROR_HAS("wall on the start or goal");
    CHECK(cf_maze_from_prompt(ok, 11, 3, 3, &m) == CF_ERR_FORMAT);
    cf_maze_search_free(&s);
}

int main(void)
{
    RUN(test_astar_optimal_vs_bfs);
    RUN(test_astar_hand_trace);
    RUN(test_astar_trace_invariants);
    RUN(test_generator_rules);
    RUN(test_generator_deterministic);
    RUN(test_tokens);
    TEST_MAIN_END();
}
