/* `cformer data mazes` writes maze navigation tasks with A* traces (data/mazes/maze.h) for the Dualformer
 * recipes; `cformer data info FILE` summarises a maze file (the generator's describe). */
#include "autograd/clock.h"
#include "data/mazes/maze.h"
#include "recipes/dualformer/model.h"
#include "recipes/run/cli_args.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mazes_usage(FILE *f)
{
    fprintf(f, "usage: cformer data mazes --size N --count C [--seed S] -o FILE\n"
               "                          [--width W --height H] [--min-plan NODES] [--deterministic] [--official-walls]\n\n"
               "Generates C maze tasks (task i is a pure function of (i, seed, options)) with their A* search traces\n"
               "and optimal plans, and writes them atomically to FILE (the CFMAZE format of data/mazes/maze.h), for recipes\n"
               "with data.type: mazes. Mazes are N x N (or W x H, at most %d), 30-50%% walls, plans of at least\n"
               "max(w, h) nodes (--min-plan changes it); A* breaks ties at random unless --deterministic.\n"
               "--official-walls draws the wall count as the official code does (integer wh/10).\n\n"
               "  cformer data mazes --size 7 --count 20000 --seed 1 -o mazes-7x7.bin\n",
            CF_MAZE_MAX_DIM);
}

int cf_dualformer_mazes_cmd(int argc, char **argv)
{
    int64_t size = 0, count = 0, seed = 0, width = 0, height = 0, min_plan = 0;
    const char *out = NULL;
    cf_maze_gen_options o = cf_maze_gen_defaults();
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--size", &size, 2, CF_MAZE_MAX_DIM),     CF_CLI_OPT_INT("--width", &width, 2, CF_MAZE_MAX_DIM),
        CF_CLI_OPT_INT("--height", &height, 2, CF_MAZE_MAX_DIM), CF_CLI_OPT_INT("--count", &count, 1, INT64_C(1) << 40),
        CF_CLI_OPT_INT("--seed", &seed, 0, INT64_MAX),           CF_CLI_OPT_INT("--min-plan", &min_plan, 1, CF_MAZE_MAX_CELLS),
        CF_CLI_OPT_FLAG("--deterministic", &o.deterministic),   CF_CLI_OPT_FLAG("--official-walls", &o.official_wall_count),
        CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse("data mazes", argc, argv, opts, CF_CLI_COUNT(opts), mazes_usage);
    if (rc != CF_CLI_GO) return rc;
    if ((!size && !(width && height)) || !count) {
        fprintf(stderr, "cformer data mazes: needs --size (or --width and --height), --count and -o FILE\n\n");
        mazes_usage(stderr);
        return 2;
    }
    o.width = (int)width, o.height = (int)height, o.min_plan_nodes = (int)min_plan;
    double t0 = cf_now();
    if (cf_maze_generate_file(out, (int)(size ? size : width), count, (uint64_t)seed, &o) != CF_OK) {
        fprintf(stderr, "cformer data mazes: %s\n", cf_last_error());
        return 1;
    }
    cf_maze_file *f = cf_maze_file_open(out);
    if (!f) {
        fprintf(stderr, "cformer data mazes: %s\n", cf_last_error());
        return 1;
    }
    cf_maze_file_info in = cf_maze_file_get_info(f);
    cf_maze_file_close(f);
    printf("wrote %s: %" PRId64 " %dx%d mazes, seed %" PRIu64 ", vocabulary %d, longest prompt/trace/plan %d/%d/%d "
           "tokens (%.1f s)\n", out, in.count, in.width, in.height, in.seed, in.vocab_size, in.max_prompt, in.max_trace,
           in.max_plan, cf_now() - t0);
    return 0;
}

int cf_dualformer_mazes_describe(const char *path)
{
    FILE *probe = fopen(path, "rb");
    char magic[8] = {0};
    bool ours = probe && fread(magic, 1, sizeof magic, probe) == sizeof magic && memcmp(magic, "CFMAZE", 6) == 0;
    if (probe) fclose(probe);
    if (!ours) return -1;
    cf_maze_file *f = cf_maze_file_open(path);
    if (!f) {
        fprintf(stderr, "cformer data info: %s\n", cf_last_error());
        return 1;
    }
    cf_maze_file_info in = cf_maze_file_get_info(f);
    double sp = 0, st = 0, sl = 0;
    for (int64_t i = 0; i < in.count; i++) {
        cf_maze_record r;
        if (cf_maze_file_record(f, i, &r) != CF_OK) continue;
        sp += r.n_prompt, st += r.n_trace, sl += r.n_plan;
    }
    double n = in.count > 0 ? (double)in.count : 1;
    printf("%s: version %u, %" PRId64 " %dx%d mazes, seed %" PRIu64 ", %s A*, min plan %d nodes, vocabulary %d\n"
           "tokens per task: prompt %.1f (max %d), trace %.1f (max %d), plan %.1f (max %d)\n",
           path, in.version, in.count, in.width, in.height, in.seed,
           in.flags & CF_MAZE_FLAG_DETERMINISTIC ? "deterministic" : "random tie-break", in.min_plan_nodes,
           in.vocab_size, sp / n, in.max_prompt, st / n, in.max_trace, sl / n, in.max_plan);
    cf_maze_file_close(f);
    return 0;
}
