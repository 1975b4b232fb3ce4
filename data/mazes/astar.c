/* A* search that logs the create/close steps Searchformer is trained on (Lehnert et al., 2024), and BFS for checks.
 *
 * The official code removes an improved node from its heap and re-heapifies; here an improved OPEN entry
 * is invalidated by a per-cell version number and skipped when popped (lazy deletion). Among the live
 * entries the pop order is the same: the smallest (f, tie) with a total order, so the trace is identical. */
#include "data/mazes/maze.h"

#include <stdlib.h>
#include <string.h>

typedef struct hentry {
    int32_t f;
    uint32_t tie;
    uint32_t seq; /* push order: makes the order total even if two random tie keys collide */
    int16_t cell;
    uint16_t ver;
} hentry;

typedef struct scratch {
    hentry *heap;
    int n, cap;
    int32_t open_f[CF_MAZE_MAX_CELLS];   /* f of the live OPEN entry, -1 when not in OPEN */
    int32_t closed_f[CF_MAZE_MAX_CELLS]; /* f when last closed, -1 when never closed */
    int32_t g[CF_MAZE_MAX_CELLS];        /* g of the cell's latest push */
    int16_t parent[CF_MAZE_MAX_CELLS];   /* parent of the cell's latest push */
    uint16_t ver[CF_MAZE_MAX_CELLS];
} scratch;

void cf_maze_search_free(cf_maze_search *s)
{
    if (!s) return;
    scratch *sc = s->scratch;
    if (sc) free(sc->heap);
    free(sc);
    free(s->steps);
    memset(s, 0, sizeof *s);
}

static bool less(const hentry *a, const hentry *b)
{
    if (a->f != b->f) return a->f < b->f;
    if (a->tie != b->tie) return a->tie < b->tie;
    return a->seq < b->seq;
}

static cf_status heap_push(scratch *sc, hentry e)
{
    if (sc->n == sc->cap) {
        int cap = sc->cap ? 2 * sc->cap : 256;
        hentry *nh = realloc(sc->heap, (size_t)cap * sizeof *nh);
        if (!nh) return cf_set_error(CF_ERR_OOM, "A*: out of memory for the open list");
        sc->heap = nh;
        sc->cap = cap;
    }
    int i = sc->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!less(&e, &sc->heap[p])) break;
        sc->heap[i] = sc->heap[p];
        i = p;
    }
    sc->heap[i] = e;
    return CF_OK;
}

static hentry heap_pop(scratch *sc)
{
    hentry top = sc->heap[0], last = sc->heap[--sc->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= sc->n) break;
        if (c + 1 < sc->n && less(&sc->heap[c + 1], &sc->heap[c])) c++;
        if (!less(&sc->heap[c], &last)) break;
        sc->heap[i] = sc->heap[c];
        i = c;
    }
    if (sc->n > 0) sc->heap[i] = last;
    return top;
}

static cf_status log_step(cf_maze_search *s, int action, int x, int y, int g, int h)
{
    if (s->n_steps == s->cap_steps) {
        int cap = s->cap_steps ? 2 * s->cap_steps : 256;
        cf_maze_step *ns = realloc(s->steps, (size_t)cap * sizeof *ns);
        if (!ns) return cf_set_error(CF_ERR_OOM, "A*: out of memory for the trace");
        s->steps = ns;
        s->cap_steps = cap;
    }
    s->steps[s->n_steps++] = (cf_maze_step){(uint8_t)action, (uint8_t)x, (uint8_t)y, (uint16_t)g, (uint16_t)h};
    return CF_OK;
}

static int manhattan(int x, int y, int gx, int gy) { return abs(x - gx) + abs(y - gy); }

cf_status cf_maze_astar(const cf_maze *m, bool deterministic, cf_maze_rng *rng, cf_maze_search *s)
{
    if (!m || !s) return cf_set_error(CF_ERR_ARG, "cf_maze_astar: NULL maze or search");
    if (!deterministic && !rng) return cf_set_error(CF_ERR_ARG, "cf_maze_astar: random mode needs an rng");
    int w = m->w, h = m->h;
    if (w < 1 || h < 1 || w > CF_MAZE_MAX_DIM || h > CF_MAZE_MAX_DIM)
        return cf_set_error(CF_ERR_ARG, "cf_maze_astar: maze size %dx%d", w, h);
    if (m->sx < 0 || m->sx >= w || m->sy < 0 || m->sy >= h || m->gx < 0 || m->gx >= w || m->gy < 0 || m->gy >= h)
        return cf_set_error(CF_ERR_ARG, "cf_maze_astar: start or goal outside the %dx%d maze", w, h);
    if (!s->scratch && !(s->scratch = calloc(1, sizeof(scratch))))
        return cf_set_error(CF_ERR_OOM, "A*: out of memory");
    scratch *sc = s->scratch;
    int cells = w * h;
    for (int i = 0; i < cells; i++) sc->open_f[i] = sc->closed_f[i] = -1;
    memset(sc->ver, 0, (size_t)cells * sizeof sc->ver[0]);
    sc->n = 0;
    s->n_steps = 0;
    s->plan_len = 0;
    uint32_t seq = 0;
    cf_status st;

    int start = m->sy * w + m->sx, goal = m->gy * w + m->gx;
    int h0 = manhattan(m->sx, m->sy, m->gx, m->gy);
    /* the tie key: the official position hash x + 100000*y, or a random 32-bit draw per push */
#define TIE(cell) (deterministic ? (uint32_t)((cell) % w + 100000 * ((cell) / w)) \
                                 : (uint32_t)(cf_maze_rng_uniform(rng) * 4294967296.0))
    sc->g[start] = 0;
    sc->parent[start] = -1;
    sc->open_f[start] = h0;
    if ((st = heap_push(sc, (hentry){h0, TIE(start), seq++, (int16_t)start, 0})) != CF_OK) return st;
    if ((st = log_step(s, CF_MAZE_TOK_CREATE, m->sx, m->sy, 0, h0)) != CF_OK) return st;

    bool found = false;
    while (sc->n > 0) {
        hentry e = heap_pop(sc);
        int c = e.cell;
        if (sc->open_f[c] < 0 || sc->ver[c] != e.ver) continue; /* replaced by an improved entry */
        sc->open_f[c] = -1;
        sc->closed_f[c] = e.f;
        int cx = c % w, cy = c / w, g = sc->g[c];
        if ((st = log_step(s, CF_MAZE_TOK_CLOSE, cx, cy, g, e.f - g)) != CF_OK) return st;
        if (c == goal) {
            found = true;
            break;
        }
        /* children in the official order up (y+1), down (y-1), left, right, then shuffled in random mode */
        int kids[4], nk = 0;
        static const int dx[4] = {0, 0, -1, 1}, dy[4] = {1, -1, 0, 0};
        for (int k = 0; k < 4; k++) {
            int nx = cx + dx[k], ny = cy + dy[k];
            if (nx < 0 || nx >= w || ny < 0 || ny >= h || m->wall[ny * w + nx]) continue;
            kids[nk++] = ny * w + nx;
        }
        if (!deterministic)
            for (int i = nk - 1; i > 0; i--) {
                int j = cf_maze_rng_int(rng, 0, i);
                int t = kids[i];
                kids[i] = kids[j];
                kids[j] = t;
            }
        for (int k = 0; k < nk; k++) {
            int kc = kids[k], kx = kc % w, ky = kc / w;
            int kh = manhattan(kx, ky, m->gx, m->gy), kf = g + 1 + kh;
            if (sc->open_f[kc] >= 0) {
                if (sc->open_f[kc] <= kf) continue;
                /* drop the worse OPEN entry; as in the official code it stays dropped if CLOSED then skips */
                sc->ver[kc]++;
                sc->open_f[kc] = -1;
            }
            if (sc->closed_f[kc] >= 0 && sc->closed_f[kc] <= kf) continue;
            sc->g[kc] = g + 1;
            sc->parent[kc] = (int16_t)c;
            sc->open_f[kc] = kf;
            if ((st = heap_push(sc, (hentry){kf, TIE(kc), seq++, (int16_t)kc, sc->ver[kc]})) != CF_OK) return st;
            if ((st = log_step(s, CF_MAZE_TOK_CREATE, kx, ky, g + 1, kh)) != CF_OK) return st;
        }
    }
#undef TIE
    if (!found) return CF_OK;
    int n = 0;
    for (int c = goal; c >= 0; c = sc->parent[c]) {
        if (n >= CF_MAZE_MAX_CELLS) return cf_set_error(CF_ERR_INTERNAL, "A*: parent chain has a cycle");
        s->plan[n++] = (int16_t)c;
    }
    for (int i = 0; i < n / 2; i++) {
        int16_t t = s->plan[i];
        s->plan[i] = s->plan[n - 1 - i];
        s->plan[n - 1 - i] = t;
    }
    s->plan_len = n;
    return CF_OK;
}

int cf_maze_bfs_nodes(const cf_maze *m)
{
    if (!m || m->w < 1 || m->h < 1 || m->w > CF_MAZE_MAX_DIM || m->h > CF_MAZE_MAX_DIM) return 0;
    int w = m->w, h = m->h;
    int16_t dist[CF_MAZE_MAX_CELLS], queue[CF_MAZE_MAX_CELLS];
    for (int i = 0; i < w * h; i++) dist[i] = -1;
    int start = m->sy * w + m->sx, goal = m->gy * w + m->gx;
    if (m->wall[start] || m->wall[goal]) return 0;
    int qh = 0, qt = 0;
    dist[start] = 1;
    queue[qt++] = (int16_t)start;
    while (qh < qt) {
        int c = queue[qh++];
        if (c == goal) return dist[c];
        int cx = c % w, cy = c / w;
        static const int dx[4] = {0, 0, -1, 1}, dy[4] = {1, -1, 0, 0};
        for (int k = 0; k < 4; k++) {
            int nx = cx + dx[k], ny = cy + dy[k];
            if (nx < 0 || nx >= w || ny < 0 || ny >= h) continue;
            int n = ny * w + nx;
            if (m->wall[n] || dist[n] >= 0) continue;
            dist[n] = (int16_t)(dist[c] + 1);
            queue[qt++] = (int16_t)n;
        }
    }
    return 0;
}
