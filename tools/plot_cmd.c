/* The `cformer plot` command: its options, and where the metrics and the PNG are. */
#include "tools/plot.h"

#include "tools/cli.h"
#include "tools/plot_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void plot_usage(FILE *f)
{
    fprintf(f, "usage: cformer plot DIR [-o FILE.png] [--metrics loss,lr,...] [--x KEY] [--log] [--width N] [--panel-height N]\n\n"
               "Draws the curves in DIR/metrics.jsonl (DIR may also be the .jsonl file itself), one panel per\n"
               "metric against the step, to DIR/curves.png (or FILE.png).\n\n"
               "  -o, --output FILE   where to write the PNG\n"
               "  --metrics LIST      comma-separated metrics, in panel order (default: loss, then every other\n"
               "                      metric except elapsed_s, tokens_per_s, data_wait_s, data_stalls)\n"
               "  --x KEY             the x axis: another numeric key instead of the step (a sweep's settings,\n"
               "                      one line per run: metric against model size, data length, ...)\n"
               "  --log               log-scale y axis for the loss\n"
               "  --width N           image width in pixels (default 960)\n"
               "  --panel-height N    height of each panel in pixels (default 240)\n"
               "  -q, --quiet         no warnings\n\n"
               "       cformer plot confusion EVAL.json [-o FILE.png]   a classification's confusion matrix\n"
               "       cformer plot forecast EVAL.json [-o FILE.png]    a forecast's saved windows against the truth\n");
}

/* The value of an option given as "--opt VALUE" or "--opt=VALUE"; NULL when argv[*i] is not that option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int plot_eval_args(int argc, char **argv, const char *kind, const char *usage, const char *default_name,
                   const char **json, const char **out, char *buf, size_t n)
{
    bool help = cf_cli_wants_help(argc, argv);
    if (help || argc < 2) return fputs(usage, help ? stdout : stderr), help ? 0 : 2;
    *json = argv[1], *out = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) *out = argv[++i];
        else {
            fprintf(stderr, "cformer plot %s: unknown argument '%s'\n", kind, argv[i]);
            return 2;
        }
    }
    if (!*out) {
        const char *slash = strrchr(*json, '/');
        snprintf(buf, n, "%.*s%s", slash ? (int)(slash - *json + 1) : 0, *json, default_name);
        *out = buf;
    }
    return -1;
}

int cf_cmd_plot(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "confusion") == 0) return cf_cmd_plot_confusion(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "forecast") == 0) return cf_cmd_plot_forecast(argc - 1, argv + 1);
    if (cf_cli_wants_help(argc, argv)) {
        plot_usage(stdout);
        return 0;
    }
    const char *dir = NULL, *out = NULL, *list = NULL;
    cf_plot_options o = {0};
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "-o", &missing)) || (v = opt_value(argc, argv, &i, "--output", &missing))) out = v;
        else if ((v = opt_value(argc, argv, &i, "--metrics", &missing))) list = v;
        else if ((v = opt_value(argc, argv, &i, "--x", &missing))) o.x_key = v;
        else if ((v = opt_value(argc, argv, &i, "--width", &missing)) || (v = opt_value(argc, argv, &i, "--panel-height", &missing))) {
            int *dst = v == argv[i] ? (strcmp(argv[i - 1], "--width") == 0 ? &o.width : &o.panel_height)
                                    : (strncmp(argv[i], "--width=", 8) == 0 ? &o.width : &o.panel_height);
            int64_t px; /* pixels; 0: the default */
            if (!cf_cli_int("plot", dst == &o.width ? "--width" : "--panel-height", v, 0, 1000000, &px)) return 2;
            *dst = (int)px;
        } else if (missing) {
            fprintf(stderr, "cformer plot: %s needs a value\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--log") == 0) o.log_loss = true;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "cformer plot: unknown option '%s'\n\n", argv[i]);
            plot_usage(stderr);
            return 2;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "cformer plot: one run directory at a time ('%s' and '%s')\n", dir, argv[i]);
            return 2;
        }
    }
    if (!dir) {
        plot_usage(stderr);
        return 2;
    }

    /* DIR is a run directory, or the metrics file itself */
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char *jsonl = NULL, *png = NULL, **names = NULL, *names_buf = NULL;
    int rc = 1;
    struct stat st;
    bool is_file = stat(dir, &st) == 0 && !S_ISDIR(st.st_mode);
    size_t cap = dl + 32;
    if (!(jsonl = malloc(cap)) || !(png = malloc(cap + (out ? strlen(out) : 0)))) goto oom;
    if (is_file) {
        snprintf(jsonl, cap, "%.*s", (int)dl, dir);
        size_t cut = dl;
        while (cut > 0 && dir[cut - 1] != '/') cut--;
        if (cut > 0) snprintf(png, cap, "%.*scurves.png", (int)cut, dir);
        else snprintf(png, cap, "curves.png");
    } else {
        snprintf(jsonl, cap, "%.*s/metrics.jsonl", (int)dl, dir);
        snprintf(png, cap, "%.*s/curves.png", (int)dl, dir);
    }
    if (out) strcpy(png, out);

    if (list) {
        if (!(names_buf = strdup(list)) || !(names = calloc(strlen(list) + 1, sizeof *names))) goto oom;
        for (char *save = NULL, *tok = strtok_r(names_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (*tok) names[o.n_metrics++] = tok;
        if (o.n_metrics == 0) {
            fprintf(stderr, "cformer plot: --metrics names no metric\n");
            rc = 2;
            goto done;
        }
        o.metrics = (const char *const *)names;
    }
    if (cf_plot_metrics(jsonl, png, &o) != CF_OK) {
        fprintf(stderr, "cformer plot: %s\n", cf_last_error());
        goto done;
    }
    printf("wrote %s\n", png);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "cformer plot: out of memory\n");
done:
    free(names);
    free(names_buf);
    free(png);
    free(jsonl);
    return rc;
}
