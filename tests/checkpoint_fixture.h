/* Shared by tests/test_checkpoint.c (the file: round trips, faults, atomic save) and tests/test_checkpoint_use.c
 * (what uses it: --init-from, run directories, inspect, safetensors export): a scratch directory, a small model in
 * three variants with deterministic values, optimizer slots, a training state, and file helpers. */
#ifndef CF_TEST_CHECKPOINT_FIXTURE_H
#define CF_TEST_CHECKPOINT_FIXTURE_H

#include "tests/check.h"
#include "tests/tmpdir.h"
#include "layers/params.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/checkpoint/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HAS(hay, needle) (strstr((hay), (needle)) != NULL)

static char tmpdir[512];

static inline const char *tpath(const char *name)
{
    static char buf[32][1024]; /* callers hold several at once */
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* ---- models ---- */

enum { VARIANT_BASE, VARIANT_WIDE_FC1, VARIANT_EXTRA_MISSING };

static const char *RECIPE = "model:\n  name: tiny\n  dim: 32\noptim:\n  lr: 3.0e-4\n# unicode: \xc3\xa9\n";

static inline cf_params *make_model(cf_dtype dt, uint64_t seed, int variant)
{
    cf_params *ps = cf_params_new(dt, seed);
    if (!ps) return NULL;
    int64_t fc1 = variant == VARIANT_WIDE_FC1 ? 512 : 256;
    cf_params_add(ps, "embed.weight", CF_SHAPE(64, 32), true);
    cf_params_add(ps, "blocks.0.attn.qkv.weight", CF_SHAPE(96, 32), true);
    cf_params_add(ps, "blocks.0.attn.qkv.bias", CF_SHAPE(96), false);
    cf_params_add(ps, "blocks.0.mlp.fc1.weight", CF_SHAPE(fc1, 128), true); /* 128 KiB: chunked + deflate */
    if (variant != VARIANT_EXTRA_MISSING) cf_params_add(ps, "blocks.0.mlp.fc1.bias", CF_SHAPE(fc1), false);
    cf_params_add(ps, "logit_scale", 0, NULL, false);                      /* a 0-d parameter */
    if (variant == VARIANT_EXTRA_MISSING) cf_params_add(ps, "head.weight", CF_SHAPE(10, 32), true);
    for (int i = 0; i < ps->count; i++) cf_init_normal(ps, ps->items[i].value, 0.0, 0.5);
    return ps;
}

static inline size_t flat_bytes(const cf_params *ps) { return (size_t)ps->total * cf_dtype_size(ps->dtype); }

static inline void *make_slot(const cf_params *ps, double scale)
{
    void *f = calloc((size_t)ps->total + 1, cf_dtype_size(ps->dtype));
    for (int64_t i = 0; i < ps->total; i++) {
        double v = scale * sin(0.37 * (double)i) / (1.0 + (double)(i % 17));
        if (ps->dtype == CF_F32) ((float *)f)[i] = (float)v;
        else ((double *)f)[i] = v;
    }
    return f;
}

static inline bool param_equal(const cf_params *a, const cf_params *b, const char *name)
{
    const cf_param *pa = cf_params_find(a, name), *pb = cf_params_find(b, name);
    size_t es = cf_dtype_size(a->dtype);
    return pa && pb && pa->numel == pb->numel &&
           memcmp((char *)a->values + pa->offset * (int64_t)es, (char *)b->values + pb->offset * (int64_t)es,
                  (size_t)pa->numel * es) == 0;
}

static inline bool all_params_equal(const cf_params *a, const cf_params *b)
{
    for (int i = 0; i < a->count; i++)
        if (!param_equal(a, b, a->items[i].name)) return false;
    return a->count == b->count;
}

static inline void make_state(cf_train_state *st)
{
    memset(st, 0, sizeof *st);
    st->step = 1234;
    st->seed = 0xfedcba9876543210ull;
    st->epoch = 3;
    st->cursor = 777;
    st->n_rng = 4;
    st->rng[0] = 0xdeadbeefcafebabeull, st->rng[1] = 1, st->rng[2] = UINT64_MAX, st->rng[3] = 42;
    st->world_size = 2;
    cf_train_state_set(st, "lr", 3.0e-4);
    cf_train_state_set(st, "best_val_loss", 1.0 / 3.0);
}

static inline void copy_file(const char *src, const char *dst, long keep_bytes)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    long total = 0;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (keep_bytes >= 0 && total + (long)n > keep_bytes) n = (size_t)(keep_bytes - total);
        fwrite(buf, 1, n, out);
        total += (long)n;
        if (keep_bytes >= 0 && total >= keep_bytes) break;
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

static inline long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static inline void touch(const char *p)
{
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
}

/* 5000 bytes that are neither HDF5 nor safetensors; returns path. */
static inline const char *write_garbage(const char *path)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; f && i < 5000; i++) fputc((i * 7919) & 0xff, f);
    if (f) fclose(f);
    return path;
}

/* Number of entries in dir whose name contains needle. */
static inline int count_matching(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, needle)) n++;
    if (d) closedir(d);
    return n;
}


/* Makes the scratch directory (under $TMPDIR or /tmp) and probes a save: 1 when this build writes checkpoints,
 * 0 when it has no HDF5 (a message says so), -1 when the directory cannot be made. */
static inline int fixture_start(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cf_ckpt_XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return -1;
    }
    cf_params *probe = make_model(CF_F32, 1, VARIANT_BASE);
    cf_status rc = cf_checkpoint_save(tpath("probe.h5"), probe, 0, NULL, NULL, NULL);
    cf_params_free(probe);
    if (rc != CF_ERR_UNSUPPORTED) return 1;
    printf("skipped: %s\n", cf_last_error());
    return 0;
}

#endif
