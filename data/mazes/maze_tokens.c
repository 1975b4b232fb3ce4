/* The maze vocabulary and the prompt / trace / plan token formats (Searchformer's, Lehnert et al., 2024;
 * ids in maze.h). */
#include "data/mazes/maze.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool size_ok(int w, int h) { return w >= 2 && h >= 2 && w <= CF_MAZE_MAX_DIM && h <= CF_MAZE_MAX_DIM; }

int cf_maze_vocab_size(int w, int h) { return size_ok(w, h) ? CF_MAZE_TOK_COST0 + w * h : 0; }

int cf_maze_tok_coord(int64_t tok)
{
    return tok >= CF_MAZE_TOK_COORD0 && tok < CF_MAZE_TOK_COORD0 + CF_MAZE_MAX_DIM ? (int)(tok - CF_MAZE_TOK_COORD0)
                                                                                   : -1;
}

int cf_maze_tok_cost(int64_t tok)
{
    return tok >= CF_MAZE_TOK_COST0 && tok < CF_MAZE_TOK_COST0 + CF_MAZE_MAX_CELLS ? (int)(tok - CF_MAZE_TOK_COST0)
                                                                                   : -1;
}

bool cf_maze_token_valid(int64_t tok, int w, int h)
{
    if (!size_ok(w, h)) return false;
    if (tok >= CF_MAZE_TOK_PAD && tok <= CF_MAZE_TOK_PLAN) return true;
    int c = cf_maze_tok_coord(tok);
    if (c >= 0) return c < (w > h ? w : h);
    c = cf_maze_tok_cost(tok);
    return c >= 0 && c < w * h;
}

const char *cf_maze_token_str(int64_t tok, char *buf, size_t n)
{
    static const char *names[] = {"pad", "bos", "eos", "start", "goal", "wall", "create", "close", "plan"};
    if (!buf || n == 0) return "";
    if (tok >= 0 && tok <= CF_MAZE_TOK_PLAN)
        snprintf(buf, n, "%s", names[tok]);
    else if (cf_maze_tok_coord(tok) >= 0)
        snprintf(buf, n, "%d", cf_maze_tok_coord(tok));
    else if (cf_maze_tok_cost(tok) >= 0)
        snprintf(buf, n, "c%d", cf_maze_tok_cost(tok));
    else
        snprintf(buf, n, "<bad %" PRId64 ">", tok);
    return buf;
}

int cf_maze_mode_token(cf_maze_mode mode)
{
    return mode == CF_MAZE_MODE_SLOW ? CF_MAZE_TOK_CREATE : mode == CF_MAZE_MODE_FAST ? CF_MAZE_TOK_PLAN : -1;
}

static int too_small(const char *what, int need, int cap)
{
    cf_set_error(CF_ERR_ARG, "maze %s tokens: need %d, room for %d", what, need, cap);
    return -1;
}

int cf_maze_prompt_tokens(const cf_maze *m, uint16_t *out, int cap)
{
    int nw = cf_maze_wall_count(m), need = 6 + 3 * nw;
    if (!out || cap < need) return too_small("prompt", need, cap);
    int k = 0;
    out[k++] = CF_MAZE_TOK_START;
    out[k++] = (uint16_t)cf_maze_coord_tok(m->sx);
    out[k++] = (uint16_t)cf_maze_coord_tok(m->sy);
    out[k++] = CF_MAZE_TOK_GOAL;
    out[k++] = (uint16_t)cf_maze_coord_tok(m->gx);
    out[k++] = (uint16_t)cf_maze_coord_tok(m->gy);
    for (int i = 0; i < m->w * m->h; i++) /* ascending cell index y*w + x, as the official sorted list */
        if (m->wall[i]) {
            out[k++] = CF_MAZE_TOK_WALL;
            out[k++] = (uint16_t)cf_maze_coord_tok(i % m->w);
            out[k++] = (uint16_t)cf_maze_coord_tok(i / m->w);
        }
    return k;
}

int cf_maze_trace_tokens(const cf_maze_search *s, uint16_t *out, int cap)
{
    int need = 5 * s->n_steps;
    if (!out || cap < need) return too_small("trace", need, cap);
    for (int i = 0; i < s->n_steps; i++) {
        const cf_maze_step *st = &s->steps[i];
        out[5 * i] = st->action;
        out[5 * i + 1] = (uint16_t)cf_maze_coord_tok(st->x);
        out[5 * i + 2] = (uint16_t)cf_maze_coord_tok(st->y);
        out[5 * i + 3] = (uint16_t)cf_maze_cost_tok(st->g);
        out[5 * i + 4] = (uint16_t)cf_maze_cost_tok(st->h);
    }
    return need;
}

int cf_maze_plan_tokens(const cf_maze *m, const cf_maze_search *s, uint16_t *out, int cap)
{
    int need = 3 * s->plan_len;
    if (!out || cap < need) return too_small("plan", need, cap);
    for (int i = 0; i < s->plan_len; i++) {
        out[3 * i] = CF_MAZE_TOK_PLAN;
        out[3 * i + 1] = (uint16_t)cf_maze_coord_tok(s->plan[i] % m->w);
        out[3 * i + 2] = (uint16_t)cf_maze_coord_tok(s->plan[i] / m->w);
    }
    return need;
}

/* A coordinate pair at tok[0..1] inside w x h, or false with an error naming position `at`. */
static bool read_xy(const char *section, const uint16_t *tok, int at, int w, int h, int *x, int *y)
{
    *x = cf_maze_tok_coord(tok[0]);
    *y = cf_maze_tok_coord(tok[1]);
    if (*x < 0 || *y < 0) {
        char b0[24], b1[24];
        cf_set_error(CF_ERR_FORMAT, "%s tokens %d..%d: expected coordinates, found '%s %s'", section, at, at + 1,
                     cf_maze_token_str(tok[0], b0, sizeof b0), cf_maze_token_str(tok[1], b1, sizeof b1));
        return false;
    }
    if (*x >= w || *y >= h) {
        cf_set_error(CF_ERR_FORMAT, "%s tokens %d..%d: cell (%d, %d) outside the %dx%d maze", section, at, at + 1, *x,
                     *y, w, h);
        return false;
    }
    return true;
}

static cf_status expect(const char *section, const uint16_t *tok, int at, int want)
{
    if (tok[at] == want) return CF_OK;
    char b0[24], b1[24];
    return cf_set_error(CF_ERR_FORMAT, "%s token %d: expected '%s', found '%s'", section, at,
                        cf_maze_token_str(want, b0, sizeof b0), cf_maze_token_str(tok[at], b1, sizeof b1));
}

cf_status cf_maze_from_prompt(const uint16_t *tok, int n, int w, int h, cf_maze *m)
{
    if (!tok || !m) return cf_set_error(CF_ERR_ARG, "cf_maze_from_prompt: NULL tokens or maze");
    if (!size_ok(w, h)) return cf_set_error(CF_ERR_ARG, "maze size %dx%d outside 2x2..%dx%d", w, h, CF_MAZE_MAX_DIM,
                                            CF_MAZE_MAX_DIM);
    if (n < 6 || n % 3 != 0)
        return cf_set_error(CF_ERR_FORMAT, "prompt of %d tokens (need start x y goal x y (wall x y)*)", n);
    memset(m, 0, sizeof *m);
    m->w = w, m->h = h;
    if (expect("prompt", tok, 0, CF_MAZE_TOK_START) || expect("prompt", tok, 3, CF_MAZE_TOK_GOAL))
        return CF_ERR_FORMAT;
    if (!read_xy("prompt", tok + 1, 1, w, h, &m->sx, &m->sy) || !read_xy("prompt", tok + 4, 4, w, h, &m->gx, &m->gy))
        return CF_ERR_FORMAT;
    if (m->sx == m->gx && m->sy == m->gy)
        return cf_set_error(CF_ERR_FORMAT, "prompt: start and goal are the same cell (%d, %d)", m->sx, m->sy);
    int last = -1;
    for (int k = 6; k < n; k += 3) {
        int x, y;
        if (expect("prompt", tok, k, CF_MAZE_TOK_WALL) || !read_xy("prompt", tok + k + 1, k + 1, w, h, &x, &y))
            return CF_ERR_FORMAT;
        int c = y * w + x;
        if (c <= last)
            return cf_set_error(CF_ERR_FORMAT, "prompt token %d: wall (%d, %d) not after the previous wall in cell "
                                "order y*w+x", k, x, y);
        if ((x == m->sx && y == m->sy) || (x == m->gx && y == m->gy))
            return cf_set_error(CF_ERR_FORMAT, "prompt token %d: wall on the start or goal cell (%d, %d)", k, x, y);
        m->wall[c] = 1;
        last = c;
    }
    return CF_OK;
}

static cf_status vocab_check(const char *section, const uint16_t *tok, int n, int w, int h)
{
    for (int i = 0; i < n; i++)
        if (!cf_maze_token_valid(tok[i], w, h) || tok[i] == CF_MAZE_TOK_PAD)
            return cf_set_error(CF_ERR_FORMAT, "%s token %d = %u outside the vocabulary (size %d) of a %dx%d maze",
                                section, i, tok[i], cf_maze_vocab_size(w, h), w, h);
    return CF_OK;
}

cf_status cf_maze_record_check(const cf_maze_record *r, int w, int h)
{
    if (!r) return cf_set_error(CF_ERR_ARG, "cf_maze_record_check: NULL record");
    if (!size_ok(w, h)) return cf_set_error(CF_ERR_ARG, "maze size %dx%d outside 2x2..%dx%d", w, h, CF_MAZE_MAX_DIM,
                                            CF_MAZE_MAX_DIM);
    if (r->n_prompt < 0 || r->n_trace < 0 || r->n_plan < 0 || (r->n_prompt && !r->prompt) ||
        (r->n_trace && !r->trace) || (r->n_plan && !r->plan))
        return cf_set_error(CF_ERR_ARG, "record with negative lengths or NULL sections");
    if (vocab_check("prompt", r->prompt, r->n_prompt, w, h) || vocab_check("trace", r->trace, r->n_trace, w, h) ||
        vocab_check("plan", r->plan, r->n_plan, w, h))
        return CF_ERR_FORMAT;
    cf_maze m;
    if (cf_maze_from_prompt(r->prompt, r->n_prompt, w, h, &m) != CF_OK) return CF_ERR_FORMAT;
    if (r->n_trace % 5 != 0)
        return cf_set_error(CF_ERR_FORMAT, "trace of %d tokens is not whole 5-token clauses", r->n_trace);
    for (int k = 0; k < r->n_trace; k += 5) {
        const uint16_t *t = r->trace + k;
        int x, y;
        if (t[0] != CF_MAZE_TOK_CREATE && t[0] != CF_MAZE_TOK_CLOSE) {
            char b[24];
            return cf_set_error(CF_ERR_FORMAT, "trace token %d: expected 'create' or 'close', found '%s'", k,
                                cf_maze_token_str(t[0], b, sizeof b));
        }
        if (!read_xy("trace", t + 1, k + 1, w, h, &x, &y)) return CF_ERR_FORMAT;
        if (cf_maze_tok_cost(t[3]) < 0 || cf_maze_tok_cost(t[4]) < 0)
            return cf_set_error(CF_ERR_FORMAT, "trace tokens %d..%d: expected two costs", k + 3, k + 4);
    }
    if (r->n_plan < 3 || r->n_plan % 3 != 0)
        return cf_set_error(CF_ERR_FORMAT, "plan of %d tokens is not whole `plan x y` triples", r->n_plan);
    int px = -1, py = -1;
    for (int k = 0; k < r->n_plan; k += 3) {
        int x, y;
        if (expect("plan", r->plan, k, CF_MAZE_TOK_PLAN) || !read_xy("plan", r->plan + k + 1, k + 1, w, h, &x, &y))
            return CF_ERR_FORMAT;
        if (m.wall[y * w + x]) return cf_set_error(CF_ERR_FORMAT, "plan node %d: (%d, %d) is a wall", k / 3, x, y);
        if (k == 0 && (x != m.sx || y != m.sy))
            return cf_set_error(CF_ERR_FORMAT, "plan node 0: (%d, %d) is not the start (%d, %d)", x, y, m.sx, m.sy);
        if (k > 0 && abs(x - px) + abs(y - py) != 1)
            return cf_set_error(CF_ERR_FORMAT, "plan node %d: (%d, %d) is not one step from (%d, %d)", k / 3, x, y, px,
                                py);
        px = x, py = y;
    }
    if (px != m.gx || py != m.gy)
        return cf_set_error(CF_ERR_FORMAT, "plan ends at (%d, %d), not at the goal (%d, %d)", px, py, m.gx, m.gy);
    return CF_OK;
}
