/* The per-op time table of a profiled run (cf_ctx_profile in cf_ctx.h), printed for `cformer bench train
 * --profile`. */
#include "autograd/cf_node.h"

#include <stdlib.h>

static const cf_op_time *sort_table;

static int by_total(const void *a, const void *b)
{
    const cf_op_time *x = &sort_table[*(const int *)a], *y = &sort_table[*(const int *)b];
    double tx = x->fwd_s + x->bwd_s, ty = y->fwd_s + y->bwd_s;
    return tx < ty ? 1 : tx > ty ? -1 : *(const int *)a - *(const int *)b;
}

void cf_ctx_profile_print(FILE *f, const cf_ctx *ctx, int64_t steps, double wall_s)
{
    const cf_op_time *t = cf_ctx_profile_table(ctx);
    if (!t || steps <= 0) return;
    int order[CF_OP_COUNT], n = 0;
    double fwd = 0, bwd = 0;
    for (int op = 0; op < CF_OP_COUNT; op++)
        if (t[op].fwd_calls || t[op].bwd_calls) order[n++] = op, fwd += t[op].fwd_s, bwd += t[op].bwd_s;
    sort_table = t;
    qsort(order, (size_t)n, sizeof *order, by_total);
    double per = 1e3 / (double)steps, wall = wall_s > 0 ? wall_s : 1;
    fprintf(f, "per-op time over %lld steps (ms per step; share of the step's wall time)\n", (long long)steps);
    fprintf(f, "  %-20s %10s %10s %7s %9s\n", "op", "forward", "backward", "share", "calls");
    for (int i = 0; i < n; i++) {
        const cf_op_time *e = &t[order[i]];
        fprintf(f, "  %-20s %10.2f %10.2f %6.1f%% %9lld\n", cf_op_name(order[i]), e->fwd_s * per, e->bwd_s * per,
                100 * (e->fwd_s + e->bwd_s) / wall, (long long)((e->fwd_calls + e->bwd_calls) / steps));
    }
    double rest = wall_s - fwd - bwd;
    fprintf(f, "  %-20s %10.2f %10.2f %6.1f%%\n", "all ops", fwd * per, bwd * per, 100 * (fwd + bwd) / wall);
    fprintf(f, "  %-20s %21.2f %6.1f%%   (optimizer, clipping, data, the engine's own work)\n", "outside ops",
            rest * per, 100 * rest / wall);
}
