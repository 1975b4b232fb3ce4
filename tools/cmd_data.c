/* `cformer data`: writes and describes data files through the papers' data generators (recipes/run/paper.h):
 * `cformer data <generator> [args]`, `cformer data info FILE`. `cformer simulate <generator>` is the same. */
#include "recipes/run/paper.h"
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data <generator> [args]   write a data file (`cformer data <generator> --help`)\n"
               "       cformer data info FILE             validate and summarise a data file\n\ngenerators:\n");
    for (int i = 0; i < cf_paper_count(); i++)
        for (const cf_data_generator *g = cf_paper_at(i)->generators; g && g->name; g++)
            fprintf(f, "  %-10s %s (%s)\n", g->name, g->summary, cf_paper_at(i)->name);
}

static int info(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc != 2) {
        printf("usage: cformer data info FILE\n\nValidates a data file of a generator's format and summarises it.\n");
        return cf_cli_wants_help(argc, argv) ? 0 : 2;
    }
    char formats[256] = "";
    for (int i = 0; i < cf_paper_count(); i++)
        for (const cf_data_generator *g = cf_paper_at(i)->generators; g && g->name; g++) {
            if (!g->describe) continue;
            int rc = g->describe(argv[1]);
            if (rc >= 0) return rc;
            snprintf(formats + strlen(formats), sizeof formats - strlen(formats), "%s%s", formats[0] ? ", " : "", g->name);
        }
    fprintf(stderr, "cformer data info: %s: not a file of a known format (%s)\n", argv[1], formats[0] ? formats : "none");
    return 1;
}

int cf_cmd_data(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "info") == 0) return info(argc - 1, argv + 1);
    const cf_data_generator *g = argc >= 2 ? cf_data_generator_find(argv[1]) : NULL;
    if (g) return g->run(argc - 1, argv + 1);
    bool help = cf_cli_wants_help(argc, argv);
    if (argc >= 2 && !help) fprintf(stderr, "cformer %s: unknown generator '%s'\n\n", argv[0], argv[1]);
    usage(help ? stdout : stderr);
    return help ? 0 : 2;
}
