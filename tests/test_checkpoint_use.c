/* What uses checkpoints: --init-from, the run directory's keep-last-K helpers, inspect, and safetensors export
 * (from a checkpoint and from live parameters). The files themselves (round trips, faults, atomic save) are
 * tests/test_checkpoint.c.
 *
 * `test_checkpoint_use --export DIR` instead writes a checkpoint, its safetensors exports and the expected
 * values into DIR for tests/test_safetensors.sh, which checks them with an independent Python reader. */
#include "tests/checkpoint_fixture.h"

/* ---- tests ---- */

static void test_init_from(void)
{
    const char *path = tpath("pretrained.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    CHECK(cf_checkpoint_save(path, a, 0, NULL, NULL, NULL) == CF_OK, "save: %s", cf_last_error());
    cf_params *x = make_model(CF_F32, 7, VARIANT_EXTRA_MISSING), *x0 = make_model(CF_F32, 7, VARIANT_EXTRA_MISSING);
    char report[2048];
    cf_status rc = cf_checkpoint_init_from(path, x, report, sizeof report);
    CHECK(rc == CF_OK, "init_from: %s", cf_last_error());
    printf("  report: %s\n", report);
    const char *same[] = {"embed.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                          "blocks.0.mlp.fc1.weight", "logit_scale"};
    for (int i = 0; i < 5; i++) CHECK(param_equal(a, x, same[i]), "%s was not loaded", same[i]);
    CHECK(param_equal(x, x0, "head.weight"), "the new parameter changed");
    CHECK(HAS(report, "loaded 5 of 6 parameters"), "report: %s", report);
    CHECK(HAS(report, "new in model, not in file (1): head.weight"), "report: %s", report);
    CHECK(HAS(report, "in file, not used (1): blocks.0.mlp.fc1.bias"), "report: %s", report);

    /* shapes that differ are kept as initialised and reported */
    cf_params *w = make_model(CF_F32, 7, VARIANT_WIDE_FC1), *w0 = make_model(CF_F32, 7, VARIANT_WIDE_FC1);
    rc = cf_checkpoint_init_from(path, w, report, sizeof report);
    CHECK(rc == CF_OK && param_equal(w, w0, "blocks.0.mlp.fc1.weight") && param_equal(a, w, "embed.weight"),
          "init_from with a different shape: %s", cf_last_error());
    CHECK(HAS(report, "blocks.0.mlp.fc1.weight ([256, 128] in file, [512, 128] in model)"), "report: %s", report);

    /* a tiny report buffer truncates, never overflows */
    char tiny[16];
    rc = cf_checkpoint_init_from(path, w, tiny, sizeof tiny);
    CHECK(rc == CF_OK && strlen(tiny) < sizeof tiny, "tiny report");

    /* nothing in common is an error, and changes nothing */
    cf_params *o = cf_params_new(CF_F32, 1), *o0 = cf_params_new(CF_F32, 1);
    cf_params_add(o, "other.weight", CF_SHAPE(3, 3), true);
    cf_params_add(o0, "other.weight", CF_SHAPE(3, 3), true);
    CHECK(cf_checkpoint_init_from(path, o, report, sizeof report) == CF_ERR_SHAPE, "nothing in common accepted");
    CHECK(all_params_equal(o, o0), "changed");
    cf_params_free(a), cf_params_free(x), cf_params_free(x0), cf_params_free(w), cf_params_free(w0);
    cf_params_free(o), cf_params_free(o0);
}

static void test_run_dir(void)
{
    char dir[600], buf[1024];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    int64_t step = 99;
    CHECK(cf_checkpoint_latest(dir, buf, sizeof buf, &step) == CF_OK && buf[0] == '\0' && step == -1,
          "latest in a missing dir: %s", cf_last_error());
    mkdir(dir, 0755);
    CHECK(cf_checkpoint_path(dir, 42, buf, sizeof buf) == CF_OK && strcmp(buf, tpath("run/step-00000042.h5")) == 0,
          "path: %s", buf);
    CHECK(cf_checkpoint_path(dir, 42, buf, 8) == CF_ERR_ARG, "a short buffer accepted");
    int64_t steps[] = {5, 100, 12, 7, 123456789};
    for (int i = 0; i < 5; i++) {
        cf_checkpoint_path(dir, steps[i], buf, sizeof buf);
        touch(buf);
    }
    snprintf(buf, sizeof buf, "%s/step-999999999.h5.tmp.123", dir), touch(buf); /* a crashed save: not a checkpoint */
    snprintf(buf, sizeof buf, "%s/notes.txt", dir), touch(buf);
    snprintf(buf, sizeof buf, "%s/step-.h5", dir), touch(buf);

    int64_t *list = NULL;
    int n = 0;
    CHECK(cf_checkpoint_list(dir, &list, &n) == CF_OK && n == 5, "list: %d %s", n, cf_last_error());
    CHECK(n == 5 && list[0] == 5 && list[1] == 7 && list[2] == 12 && list[3] == 100 && list[4] == 123456789,
          "list not sorted");
    free(list);
    CHECK(cf_checkpoint_latest(dir, buf, sizeof buf, &step) == CF_OK && step == 123456789 &&
              HAS(buf, "run/step-123456789.h5"),
          "latest: %s", buf);
    CHECK(cf_checkpoint_prune(dir, 2) == CF_OK, "prune: %s", cf_last_error());
    CHECK(cf_checkpoint_list(dir, &list, &n) == CF_OK && n == 2 && list[0] == 100 && list[1] == 123456789,
          "after prune: %d left", n);
    free(list);
    CHECK(count_matching(dir, ".tmp.") == 1 && count_matching(dir, "notes") == 1, "prune removed other files");
    CHECK(cf_checkpoint_prune(dir, 0) == CF_OK && cf_checkpoint_list(dir, &list, &n) == CF_OK && n == 2,
          "prune 0 should keep all");
    free(list);
}

static void test_inspect(void)
{
    const char *path = tpath("inspect.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    void *m = make_slot(a, 1.0);
    cf_ckpt_slot slot = {"momentum", m};
    cf_train_state st;
    make_state(&st);
    CHECK(cf_checkpoint_save(path, a, 1, &slot, &st, RECIPE) == CF_OK, "save: %s", cf_last_error());
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cf_status rc = cf_checkpoint_inspect(path, out);
    fclose(out);
    CHECK(rc == CF_OK, "inspect: %s", cf_last_error());
    char total[64];
    snprintf(total, sizeof total, "%lld parameters", (long long)cf_params_numel(a));
    const char *want[] = {"version 1", "step 1234", "epoch 3", "cursor 777", "deadbeefcafebabe", "best_val_loss",
                          "blocks.0.mlp.fc1.weight", "[256, 128]", "32768", "deflate", "momentum", total,
                          "  model:", "lr: 3.0e-4"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK(text && HAS(text, want[i]), "inspect lacks '%s'", want[i]);
    if (check_failed) fputs(text ? text : "", stderr);
    free(text);
    out = fopen("/dev/null", "w");
    CHECK(cf_checkpoint_inspect(write_garbage(tpath("garbage.h5")), out) != CF_OK, "inspect of garbage succeeded");
    fclose(out);
    free(m);
    cf_params_free(a);
}

static void test_safetensors(void)
{
    const char *ck = tpath("export.h5"), *f32 = tpath("m.f32.safetensors"), *bf = tpath("m.bf16.safetensors"),
               *live = tpath("live.safetensors");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    cf_train_state st;
    make_state(&st);
    CHECK(cf_checkpoint_save(ck, a, 0, NULL, &st, RECIPE) == CF_OK, "save: %s", cf_last_error());
    CHECK(cf_export_safetensors(ck, f32, CF_F32) == CF_OK, "export f32: %s", cf_last_error());
    CHECK(cf_export_safetensors(ck, bf, CF_BF16) == CF_OK, "export bf16: %s", cf_last_error());
    CHECK(cf_safetensors_save_params(live, a, CF_F32, 1234) == CF_OK, "save params: %s", cf_last_error());
    CHECK(cf_export_safetensors(ck, tpath("x.safetensors"), CF_I32) == CF_ERR_DTYPE, "i32 export accepted");
    CHECK(count_matching(tmpdir, ".tmp.") == 0, "a temporary file was left behind");

    /* the export from a checkpoint and from live parameters are the same bytes */
    FILE *fa = fopen(f32, "rb"), *fb = fopen(live, "rb");
    int same = fa && fb;
    for (int ca = 0, cb = 0; same && ca != EOF;) {
        ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    CHECK(same, "export from the checkpoint and from the parameters differ");

    for (int which = 0; which < 2; which++) {
        const char *p = which ? bf : f32;
        cf_st_entry *e = NULL;
        int n = 0;
        int64_t start = 0;
        cf_status rc = cf_safetensors_read_header(p, &e, &n, &start);
        CHECK(rc == CF_OK && n == a->count && start % 8 == 0, "read header: %s", cf_last_error());
        for (int i = 1; rc == CF_OK && i < n; i++) CHECK(strcmp(e[i - 1].name, e[i].name) < 0, "not sorted by name");
        for (int i = 0; rc == CF_OK && i < n; i++) {
            cf_param *q = cf_params_find(a, e[i].name);
            CHECK(q && e[i].ndim == q->value->ndim && e[i].dtype == (which ? CF_BF16 : CF_F32), "%s", e[i].name);
            if (!q) continue;
            float *vals = malloc((size_t)(q->numel + 1) * sizeof *vals);
            CHECK(cf_safetensors_read_f32(p, &e[i], start, vals) == CF_OK, "read: %s", cf_last_error());
            const float *src = (const float *)a->values + q->offset;
            int bad = 0;
            for (int64_t k = 0; k < q->numel; k++) {
                float want = which ? cf_bf16_to_f32(cf_f32_to_bf16(src[k])) : src[k];
                bad += memcmp(&want, &vals[k], 4) != 0;
            }
            CHECK(bad == 0, "%s: %d values differ", e[i].name, bad);
            free(vals);
        }
        free(e);
    }

    /* a damaged file is refused with a message, not read past its end */
    const char *cut = tpath("cut.safetensors");
    copy_file(f32, cut, file_size(f32) - 100);
    cf_st_entry *e = NULL;
    int n = 0;
    int64_t start = 0;
    CHECK(cf_safetensors_read_header(cut, &e, &n, &start) == CF_ERR_FORMAT && HAS(cf_last_error(), "past the end"),
          "truncated safetensors: %s", cf_last_error());
    const char *garbage = write_garbage(tpath("garbage.h5"));
    CHECK(cf_safetensors_read_header(garbage, &e, &n, &start) == CF_ERR_FORMAT, "garbage safetensors: %s", cf_last_error());
    cf_params_free(a);
}

/* Live parameters to safetensors needs no HDF5: f16 and the f64 parameter path, read back. */
static void test_safetensors_live(void)
{
    const char *out = tpath("live16.safetensors");
    cf_params *a = make_model(CF_F64, 3, VARIANT_BASE);
    CHECK(cf_safetensors_save_params(out, a, CF_F16, 7) == CF_OK, "save f16: %s", cf_last_error());
    cf_st_entry *e = NULL;
    int n = 0;
    int64_t start = 0;
    CHECK(cf_safetensors_read_header(out, &e, &n, &start) == CF_OK && n == a->count, "read: %s", cf_last_error());
    int bad = 0;
    for (int i = 0; e && i < n; i++) {
        cf_param *q = cf_params_find(a, e[i].name);
        if (!q || e[i].dtype != CF_F16) {
            bad++;
            continue;
        }
        float *v = malloc((size_t)(q->numel + 1) * sizeof *v);
        if (cf_safetensors_read_f32(out, &e[i], start, v) != CF_OK) bad++;
        const double *src = (const double *)a->values + q->offset;
        for (int64_t k = 0; k < q->numel; k++) bad += v[k] != cf_f16_to_f32(cf_f32_to_f16((float)src[k]));
        free(v);
    }
    CHECK(bad == 0, "%d f16 values or tensors differ", bad);
    free(e);
    cf_params_free(a);
}

/* ---- export mode for tests/test_safetensors.sh ---- */

static int export_mode(const char *dir)
{
    char ck[1024], out[1024];
    snprintf(ck, sizeof ck, "%s/model.h5", dir);
    cf_params *a = make_model(CF_F32, 11, VARIANT_BASE);
    void *m = make_slot(a, 0.1), *v = make_slot(a, 0.01);
    cf_ckpt_slot slots[2] = {{"exp_avg", m}, {"exp_avg_sq", v}};
    cf_train_state st;
    make_state(&st);
    if (cf_checkpoint_save(ck, a, 2, slots, &st, RECIPE) != CF_OK) {
        if (cf_last_status() == CF_ERR_UNSUPPORTED) return printf("skipped: %s\n", cf_last_error()), 77;
        goto fail;
    }
    const cf_dtype dts[] = {CF_F32, CF_BF16, CF_F16};
    for (int i = 0; i < 3; i++) {
        snprintf(out, sizeof out, "%s/model.%s.safetensors", dir, cf_dtype_name(dts[i]));
        if (cf_export_safetensors(ck, out, dts[i]) != CF_OK) goto fail;
    }
    /* the expected values, exactly: name, shape, then every value as its f32 bit pattern */
    snprintf(out, sizeof out, "%s/expected.txt", dir);
    FILE *f = fopen(out, "w");
    if (!f) return fprintf(stderr, "%s: %s\n", out, strerror(errno)), 1;
    fprintf(f, "recipe %zu\n", strlen(RECIPE));
    for (int i = 0; i < a->count; i++) {
        const cf_param *p = &a->items[i];
        fprintf(f, "%s %d", p->name, p->value->ndim);
        for (int d = 0; d < p->value->ndim; d++) fprintf(f, " %lld", (long long)p->value->shape[d]);
        const float *x = (const float *)a->values + p->offset;
        for (int64_t k = 0; k < p->numel; k++) {
            uint32_t u;
            memcpy(&u, &x[k], 4);
            fprintf(f, " %08x", u);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    free(m), free(v);
    cf_params_free(a);
    printf("wrote %s\n", dir);
    return 0;
fail:
    fprintf(stderr, "export mode: %s\n", cf_last_error());
    return 1;
}


int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--export") == 0) return export_mode(argv[2]);
    int have = fixture_start();
    if (have < 0) return 1;
    if (!have) { /* without HDF5: what needs no checkpoint file */
        test_run_dir();
        test_safetensors_live();
        test_rmtree(tmpdir);
        printf("%d passed, %d failed\n", check_passed, check_failed);
        return check_failed ? 1 : 77;
    }
    test_init_from();
    test_run_dir();
    test_inspect();
    test_safetensors();
    test_safetensors_live();
    test_rmtree(tmpdir);
    TEST_MAIN_END();
}
