/* The maze generator (Searchformer's maze tasks, Lehnert et al., 2024) and the seeded random source every
 * maze draw comes from. */
#include "data/mazes/maze.h"

#include <inttypes.h>
#include <string.h>

/* ---- random source ---- */

cf_maze_rng cf_maze_rng_init(uint64_t seed, uint64_t stream, uint64_t step)
{
    cf_maze_rng r;
    r.key = cf_rng_key(seed, stream);
    r.step = step;
    r.next = 0;
    return r;
}

double cf_maze_rng_uniform(cf_maze_rng *r) { return cf_rng_uniform(r->key, r->step, r->next++); }

int cf_maze_rng_int(cf_maze_rng *r, int lo, int hi)
{
    if (hi <= lo) return lo;
    /* 53 random bits: the bias of floor(u * n) is below 2^-40 for the ranges used here */
    int v = lo + (int)(cf_maze_rng_uniform(r) * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

int cf_maze_wall_count(const cf_maze *m)
{
    int n = 0;
    for (int i = 0; i < m->w * m->h; i++) n += m->wall[i] != 0;
    return n;
}

/* ---- generator ---- */

cf_maze_gen_options cf_maze_gen_defaults(void)
{
    cf_maze_gen_options o;
    memset(&o, 0, sizeof o);
    o.attempts_per_layout = 100;
    return o;
}

/* A uniform layout of attempts is cheap next to A*, so cap the layouts at a number that ends a hopeless
 * request (e.g. min_plan_nodes larger than any maze of that size allows) in well under a second per task. */
#define MAX_LAYOUTS 1000

cf_status cf_maze_generate(int64_t index, uint64_t seed, int size, const cf_maze_gen_options *opt, cf_maze *m,
                           cf_maze_search *s)
{
    cf_maze_gen_options o = opt ? *opt : cf_maze_gen_defaults();
    int w = o.width > 0 ? o.width : size, h = o.height > 0 ? o.height : size;
    if (!m || !s) return cf_set_error(CF_ERR_ARG, "cf_maze_generate: NULL maze or search");
    if (w < 2 || h < 2 || w > CF_MAZE_MAX_DIM || h > CF_MAZE_MAX_DIM)
        return cf_set_error(CF_ERR_ARG, "maze size %dx%d outside 2x2..%dx%d", w, h, CF_MAZE_MAX_DIM, CF_MAZE_MAX_DIM);
    if (index < 0) return cf_set_error(CF_ERR_ARG, "cf_maze_generate: negative task index %" PRId64, index);
    int attempts = o.attempts_per_layout > 0 ? o.attempts_per_layout : 100;
    int min_nodes = o.min_plan_nodes > 0 ? o.min_plan_nodes : (w > h ? w : h);
    int cells = w * h;
    int lo = o.official_wall_count ? cells / 10 * 3 : 3 * cells / 10;
    int hi = o.official_wall_count ? cells / 10 * 5 : 5 * cells / 10;

    cf_maze_rng rng = cf_maze_rng_init(seed, (uint64_t)index, 0);
    int16_t perm[CF_MAZE_MAX_CELLS];
    for (int layout = 0; layout < MAX_LAYOUTS; layout++) {
        memset(m, 0, sizeof *m);
        m->w = w;
        m->h = h;
        int nw = cf_maze_rng_int(&rng, lo, hi);
        /* the first nw entries of a partial Fisher-Yates shuffle are a uniform subset of the cells */
        for (int i = 0; i < cells; i++) perm[i] = (int16_t)i;
        for (int i = 0; i < nw; i++) {
            int j = cf_maze_rng_int(&rng, i, cells - 1);
            int16_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < nw; i++) m->wall[perm[i]] = 1;
        const int16_t *free_cells = perm + nw;
        int nf = cells - nw;
        if (nf < 2) continue;
        for (int a = 0; a < attempts; a++) {
            int i = cf_maze_rng_int(&rng, 0, nf - 1);
            int j = cf_maze_rng_int(&rng, 0, nf - 2);
            if (j >= i) j++;
            m->sx = free_cells[i] % w, m->sy = free_cells[i] / w;
            m->gx = free_cells[j] % w, m->gy = free_cells[j] / w;
            cf_status st = cf_maze_astar(m, o.deterministic, &rng, s);
            if (st != CF_OK) return st;
            if (s->plan_len > 0 && s->plan_len >= min_nodes) return CF_OK;
        }
    }
    return cf_set_error(CF_ERR_ARG, "maze task %" PRId64 ": no solvable %dx%d task with a plan of >= %d nodes in %d "
                        "wall layouts x %d start/goal draws", index, w, h, min_nodes, MAX_LAYOUTS, attempts);
}
