/* `cformer list ops`: what the engine provides. */
#include "autograd/cf_node.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cf_cmd_list(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc < 2) {
        printf("usage: cformer list ops\n\nLists the differentiable ops and the backends that have kernels for each.\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "ops") == 0) {
        const cf_backend *cpu = cf_backend_for(CF_CPU), *cuda = cf_backend_for(CF_CUDA);
        printf("%-20s %-8s %-8s\n", "op", "cpu", "cuda");
        for (int i = 0; i < CF_OP_COUNT; i++)
            printf("%-20s %-8s %-8s\n", cf_op_name(i), cpu && cpu->fwd[i] && cpu->bwd[i] ? "fwd+bwd" : "-",
                   cuda && cuda->fwd[i] && cuda->bwd[i] ? "fwd+bwd" : "-");
        printf("%d ops\n", CF_OP_COUNT);
        return 0;
    }
    fprintf(stderr, "cformer list: unknown list '%s' (try: ops)\n", argv[1]);
    return 2;
}
