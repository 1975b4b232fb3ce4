/* Dualformer's randomized traces (Su et al., ICLR 2025): the level of one use of an example, the level applied to a
 * stored trace, and the decoder sequence built from them. The prompt and the plan are only ever copied. */
#include "data/mazes/maze.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

cf_maze_draw_config cf_maze_draw_defaults(void)
{
    cf_maze_draw_config c;
    memset(&c, 0, sizeof c);
    c.trace = CF_MAZE_TRACE_FULL;
    c.level_p[0] = 1.0;
    c.level3 = CF_MAZE_L3_PAPER;
    c.level3_drop_p = 0.3;
    return c;
}

cf_status cf_maze_draw_config_check(const cf_maze_draw_config *c)
{
    if (!c) return cf_set_error(CF_ERR_ARG, "maze draw config: NULL");
    if (c->trace != CF_MAZE_TRACE_FULL && c->trace != CF_MAZE_TRACE_RANDOM && c->trace != CF_MAZE_TRACE_NONE)
        return cf_set_error(CF_ERR_ARG, "maze draw config: trace mode %d unknown", (int)c->trace);
    if (c->level3 != CF_MAZE_L3_PAPER && c->level3 != CF_MAZE_L3_CODE)
        return cf_set_error(CF_ERR_ARG, "maze draw config: level3 variant %d unknown", (int)c->level3);
    if (!(c->level3_drop_p >= 0 && c->level3_drop_p <= 1))
        return cf_set_error(CF_ERR_ARG, "maze draw config: level3_drop_p %g outside [0, 1]", c->level3_drop_p);
    if (c->trace == CF_MAZE_TRACE_RANDOM) {
        double sum = 0;
        for (int l = 0; l < 5; l++) {
            if (!(c->level_p[l] >= 0 && c->level_p[l] <= 1))
                return cf_set_error(CF_ERR_ARG, "maze draw config: level_p[%d] = %g outside [0, 1]", l, c->level_p[l]);
            sum += c->level_p[l];
        }
        if (fabs(sum - 1) > 1e-6)
            return cf_set_error(CF_ERR_ARG, "maze draw config: level_p sums to %.9g, not 1 (p0 %g p1 %g p2 %g p3 %g "
                                "p4 %g)", sum, c->level_p[0], c->level_p[1], c->level_p[2], c->level_p[3], c->level_p[4]);
    }
    return CF_OK;
}

int cf_maze_pick_level(const double p[5], double u)
{
    /* the official order: no_close, no_cost, no_create, no_trace, and the remainder is the full trace */
    double acc = 0;
    for (int l = 1; l <= 4; l++) {
        acc += p[l];
        if (u < acc) return l;
    }
    return 0;
}

cf_status cf_maze_drop_trace(const uint16_t *trace, int n, int level, cf_maze_level3 l3, double drop_p,
                             cf_maze_rng *rng, uint16_t *out, int *n_out)
{
    if (!n_out || (n > 0 && (!trace || !out)) || n < 0)
        return cf_set_error(CF_ERR_ARG, "cf_maze_drop_trace: NULL buffers or negative length");
    *n_out = 0;
    if (level < 0 || level > 4) return cf_set_error(CF_ERR_ARG, "cf_maze_drop_trace: level %d outside 0..4", level);
    if (n % 5 != 0) return cf_set_error(CF_ERR_FORMAT, "trace of %d tokens is not whole 5-token clauses", n);
    int creates = 0;
    for (int k = 0; k < n; k += 5) {
        if (trace[k] != CF_MAZE_TOK_CREATE && trace[k] != CF_MAZE_TOK_CLOSE)
            return cf_set_error(CF_ERR_FORMAT, "trace token %d = %u is not 'create' or 'close'", k, trace[k]);
        creates += trace[k] == CF_MAZE_TOK_CREATE;
    }
    if (level == 3 && !rng) return cf_set_error(CF_ERR_ARG, "cf_maze_drop_trace: level 3 needs an rng");
    int m = 0;
    if (level == 0) {
        memcpy(out, trace, (size_t)n * sizeof *out);
        m = n;
    } else if (level == 3 && l3 == CF_MAZE_L3_CODE) {
        /* the official maze tokenizer: pct = randint(10, 40), drop floor(creates * pct / 100) of the level-1
         * clauses chosen uniformly (selection sampling: clause i is dropped with probability left/remaining) */
        int pct = cf_maze_rng_int(rng, 10, 40);
        int left = creates * pct / 100, remaining = creates;
        for (int k = 0; k < n; k += 5) {
            if (trace[k] != CF_MAZE_TOK_CREATE) continue;
            bool drop = cf_maze_rng_uniform(rng) * remaining < left;
            remaining--;
            if (drop) {
                left--;
                continue;
            }
            memcpy(out + m, trace + k, 5 * sizeof *out);
            m += 5;
        }
    } else if (level != 4) {
        int keep = level == 1 ? 5 : 3; /* level 1 keeps the costs; 2 and paper level 3 drop them */
        for (int k = 0; k < n; k += 5) {
            if (trace[k] != CF_MAZE_TOK_CREATE) continue;
            if (level == 3 && cf_maze_rng_uniform(rng) < drop_p) continue;
            memcpy(out + m, trace + k, (size_t)keep * sizeof *out);
            m += keep;
        }
    }
    *n_out = m;
    return CF_OK;
}

int cf_maze_decoder_sequence(const cf_maze_record *r, const cf_maze_draw_config *c, int64_t record, int64_t epoch,
                             uint16_t *out, int cap, int *level_out)
{
    if (!r || !c || !out) {
        cf_set_error(CF_ERR_ARG, "cf_maze_decoder_sequence: NULL record, config or output");
        return -1;
    }
    int need = r->n_trace + r->n_plan + 1;
    if (cap < need) {
        cf_set_error(CF_ERR_ARG, "cf_maze_decoder_sequence: record %" PRId64 " needs %d tokens, room for %d", record,
                     need, cap);
        return -1;
    }
    int level = c->trace == CF_MAZE_TRACE_NONE ? 4 : 0;
    /* the use's own random stream: (seed, record in a stream family apart from the generator's, epoch) */
    cf_maze_rng rng = cf_maze_rng_init(c->seed, (uint64_t)record | (1ull << 62), c->draw_once ? 0 : (uint64_t)epoch);
    if (c->trace == CF_MAZE_TRACE_RANDOM) level = cf_maze_pick_level(c->level_p, cf_maze_rng_uniform(&rng));
    int n = 0;
    if (cf_maze_drop_trace(r->trace, r->n_trace, level, c->level3, c->level3_drop_p, &rng, out, &n) != CF_OK) {
        cf_error_prefix("record %" PRId64 ": ", record);
        return -1;
    }
    memcpy(out + n, r->plan, (size_t)r->n_plan * sizeof *out);
    n += r->n_plan;
    out[n++] = CF_MAZE_TOK_EOS;
    if (level_out) *level_out = level;
    return n;
}

int cf_maze_decoder_max_len(const cf_maze_record *r, const cf_maze_draw_config *c)
{
    if (c->trace == CF_MAZE_TRACE_FULL) return r->n_trace + r->n_plan + 1;
    if (c->trace == CF_MAZE_TRACE_NONE) return r->n_plan + 1;
    int creates = 0;
    for (int k = 0; k + 4 < r->n_trace; k += 5) creates += r->trace[k] == CF_MAZE_TOK_CREATE;
    int len[5] = {r->n_trace, 5 * creates, 3 * creates,
                  c->level3 == CF_MAZE_L3_CODE ? 5 * (creates - creates * 10 / 100) : 3 * creates, 0};
    int best = 0;
    for (int l = 0; l < 5; l++)
        if (c->level_p[l] > 0 && len[l] > best) best = len[l];
    return best + r->n_plan + 1;
}
