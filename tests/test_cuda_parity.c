/* The cross-backend test: every op's gradient-check cases (tests/gradcheck/, reused as they are) run on
 * the CPU backend and on the CUDA backend (the SIMT emulator in CI, a GPU under tools/gpu-check.sh), with
 * the CUDA arena poisoned with NaN before each run; outputs and input gradients must agree within the
 * dtype's tolerance (autograd/gradcheck.h, parity mode).
 *
 * An op without a CUDA kernel fails the test unless it is on tests/cuda_not_ported.txt, the allow-list of
 * ops not yet ported, which only shrinks: an op on the list that has a kernel fails too, until its line
 * is removed. The test prints how many ops pass and names every op without a kernel.
 *
 * Every ported op also runs a bf16 pass (bf16 inputs on the device, f32 on the same rounded values on the
 * CPU, tol 3e-2) unless it is on tests/cuda_no_bf16.txt, the ops whose kernels do not take bf16 yet.
 *
 *     test_cuda_parity            every op
 *     test_cuda_parity add mul    just these (the allow-list is still checked for them) */
#include "autograd/gradcheck.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_OP(name) cf_status cf_gradcheck_##name(cf_gc *g);
#include "autograd/ops.def"
#undef CF_OP

static cf_status (*const checks[CF_OP_COUNT])(cf_gc *) = {
#define CF_OP(name) cf_gradcheck_##name,
#include "autograd/ops.def"
#undef CF_OP
};

/* listed[op]: the op is on the allow-list. Returns false (with a message) for a malformed list. */
static bool read_allow_list(const char *path, bool *listed)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open the allow-list of ops not ported to CUDA\n", path);
        return false;
    }
    char line[256];
    int lineno = 0;
    bool ok = true;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        p[strcspn(p, " \t\r\n#")] = 0;
        if (!*p) continue;
        int op = cf_op_lookup(p);
        if (op < 0) {
            fprintf(stderr, "%s:%d: '%s' is not an op of the op list\n", path, lineno, p);
            ok = false;
        } else {
            listed[op] = true;
        }
    }
    fclose(f);
    return ok;
}

static bool wanted(int op, int argc, char **argv)
{
    if (argc < 2) return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], cf_op_name(op)) == 0) return true;
    return false;
}

/* Runs op's gradient-check cases in parity mode; true when they all pass and ran the op on the device. */
static bool parity_op(int op, cf_ctx *dev, bool bf16)
{
    cf_ctx *cpu = cf_ctx_new(NULL);
    if (!cpu) return false;
    cf_gc *g = cf_gc_new(cpu, op, false);
    cf_gc_set_parity(g, dev);
    cf_gc_set_parity_bf16(g, bf16);
    checks[op](g);
    bool ok = cf_gc_failures(g) == 0;
    if (ok && cf_gc_device_hits(g) == 0) {
        fprintf(stderr, "  FAIL: %s: no case ran it on the device (%d cases, %d checked on the cpu only)\n",
                cf_op_name(op), cf_gc_cases(g), cf_gc_skipped(g));
        ok = false;
    }
    cf_gc_free(g);
    cf_ctx_free(cpu);
    cf_clear_error();
    return ok;
}

int main(int argc, char **argv)
{
    const cf_backend *table = cf_backend_table(CF_CUDA);
    if (!table) {
        printf("built without CUDA: skipped\n");
        return 77;
    }
    if (!cf_backend_for(CF_CUDA)) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    for (int i = 1; i < argc; i++)
        if (cf_op_lookup(argv[i]) < 0) {
            fprintf(stderr, "no op named %s\n", argv[i]);
            return 2;
        }
    bool listed[CF_OP_COUNT] = {0}, no_bf16[CF_OP_COUNT] = {0};
    CHECK(read_allow_list(CF_SOURCE_DIR "/tests/cuda_not_ported.txt", listed));
    CHECK(read_allow_list(CF_SOURCE_DIR "/tests/cuda_no_bf16.txt", no_bf16));
    cf_ctx *dev = cf_ctx_new(&(cf_ctx_options){.device = CF_CUDA, .arena_bytes = 32u << 20});
    CHECK(dev != NULL);
    if (!dev) {
        fprintf(stderr, "%s\n", cf_last_error());
        TEST_MAIN_END();
    }
    int ported = 0, passed = 0, missing = 0, bf16 = 0;
    char missing_names[4096] = "";
    for (int op = 0; op < CF_OP_COUNT; op++) {
        if (!wanted(op, argc, argv)) continue;
        bool kernel = table->fwd[op] != NULL;
        if (!kernel) {
            missing++;
            size_t len = strlen(missing_names);
            snprintf(missing_names + len, sizeof missing_names - len, "%s%s", len ? " " : "", cf_op_name(op));
            if (!listed[op]) {
                fprintf(stderr, "FAIL: %s has no CUDA kernel and is not on tests/cuda_not_ported.txt\n",
                        cf_op_name(op));
                check_failed++;
            }
            continue;
        }
        ported++;
        if (listed[op]) {
            fprintf(stderr, "FAIL: %s has a CUDA kernel now: remove it from tests/cuda_not_ported.txt\n",
                    cf_op_name(op));
            check_failed++;
        }
        bool ok = parity_op(op, dev, !no_bf16[op]);
        bf16 += ok && !no_bf16[op];
        printf("%-20s %s%s\n", cf_op_name(op), ok ? "ok" : "FAIL", no_bf16[op] ? " (no bf16)" : "");
        passed += ok;
        if (ok)
            check_passed++;
        else
            check_failed++;
    }
    printf("%d of %d ops with CUDA kernels match the CPU (%d of them in bf16 too); %d ops have no CUDA kernel%s%s\n",
           passed, ported, bf16, missing, missing ? ": " : "", missing_names);
    cf_ctx_free(dev);
    TEST_MAIN_END();
}
