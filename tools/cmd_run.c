/* `cformer run <command> [args]`: a paper's own job (recipes/run/paper.h, cf_paper_command), reached through
 * the registry so that tools/ names no paper. */
#include "recipes/run/paper.h"
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

void cf_list_commands(FILE *f)
{
    for (int i = 0; i < cf_paper_count(); i++)
        for (const cf_paper_command *c = cf_paper_at(i)->commands; c && c->name; c++)
            fprintf(f, "  %-16s %s (%s)\n    cformer run %s %s\n", c->name, c->summary, cf_paper_at(i)->name, c->name,
                    c->usage ? c->usage : "");
}

int cf_cmd_run(int argc, char **argv)
{
    cf_register_builtins();
    const cf_paper_command *c = argc >= 2 ? cf_paper_command_find(argv[1]) : NULL;
    if (c) return c->run(argc - 1, argv + 1);
    bool help = cf_cli_wants_help(argc, argv);
    if (argc >= 2 && !help) fprintf(stderr, "cformer run: unknown command '%s'\n\n", argv[1]);
    FILE *f = help ? stdout : stderr;
    fprintf(f, "usage: cformer run <command> [args]   (`cformer run <command> --help`)\n\ncommands:\n");
    cf_list_commands(f);
    return help ? 0 : 2;
}
