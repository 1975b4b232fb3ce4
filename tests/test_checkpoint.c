/* Checkpoint files: bit-exact round trips (f32, f64, a recipe past HDF5's compact-attribute limit), strict-load
 * errors, corrupt and malformed files (never a crash; a failed load changes nothing), bf16 datasets and atomic
 * save. What uses checkpoints (--init-from, run directories, inspect, safetensors) is tests/test_checkpoint_use.c. */
#include "tests/checkpoint_fixture.h"

#ifdef CF_HAVE_HDF5
#include <hdf5.h>
#endif

/* ---- tests ---- */

static void test_roundtrip(cf_dtype dt)
{
    const char *path = tpath(dt == CF_F32 ? "round32.h5" : "round64.h5");
    cf_params *a = make_model(dt, 1, VARIANT_BASE), *b = make_model(dt, 2, VARIANT_BASE);
    void *m = make_slot(a, 0.1), *v = make_slot(a, 0.01);
    void *m2 = make_slot(b, 9.0), *v2 = make_slot(b, 9.0);
    cf_ckpt_slot slots[2] = {{"exp_avg", m}, {"exp_avg_sq", v}};
    cf_ckpt_slot slots2[2] = {{"exp_avg", m2}, {"exp_avg_sq", v2}};
    cf_train_state st, st2;
    make_state(&st);
    memset(&st2, 0x5a, sizeof st2);
    char *recipe = NULL;

    cf_status rc = cf_checkpoint_save(path, a, 2, slots, &st, RECIPE);
    CHECK(rc == CF_OK, "save: %s", cf_last_error());
    CHECK(count_matching(tmpdir, ".tmp.") == 0, "a temporary file was left behind");
    CHECK(!param_equal(a, b, "embed.weight"), "the two models should start different");
    rc = cf_checkpoint_load(path, b, 2, slots2, &st2, &recipe);
    CHECK(rc == CF_OK, "load: %s", cf_last_error());
    CHECK(all_params_equal(a, b), "%s parameters differ after the round trip", cf_dtype_name(dt));
    CHECK(memcmp(m, m2, flat_bytes(a)) == 0, "exp_avg differs");
    CHECK(memcmp(v, v2, flat_bytes(a)) == 0, "exp_avg_sq differs");
    CHECK(st2.step == 1234 && st2.seed == st.seed && st2.epoch == 3 && st2.cursor == 777 && st2.world_size == 2,
          "train state scalars differ: step %lld epoch %lld cursor %lld ws %d", (long long)st2.step, (long long)st2.epoch,
          (long long)st2.cursor, st2.world_size);
    CHECK(st2.n_rng == 4 && memcmp(st2.rng, st.rng, 4 * sizeof st.rng[0]) == 0, "rng words differ (n %d)", st2.n_rng);
    double lr = 0, best = 0;
    CHECK(st2.n_extra == 2 && cf_train_state_get(&st2, "lr", &lr) && cf_train_state_get(&st2, "best_val_loss", &best) &&
              lr == 3.0e-4 && best == 1.0 / 3.0,
          "extras differ: n %d lr %g best %.17g", st2.n_extra, lr, best);
    CHECK(recipe && strcmp(recipe, RECIPE) == 0, "recipe text differs: %s", recipe ? recipe : "(null)");
    free(recipe);

    /* a load without slots, state or recipe is fine too, and a NULL state saves as zeros */
    rc = cf_checkpoint_save(path, a, 0, NULL, NULL, NULL);
    CHECK(rc == CF_OK, "save without state: %s", cf_last_error());
    recipe = NULL;
    rc = cf_checkpoint_load(path, b, 0, NULL, &st2, &recipe);
    CHECK(rc == CF_OK && st2.step == 0 && st2.n_rng == 0 && st2.n_extra == 0 && recipe && recipe[0] == '\0',
          "load of a bare checkpoint: %s", cf_last_error());
    free(recipe);
    free(m), free(v), free(m2), free(v2);
    cf_params_free(a), cf_params_free(b);
}

/* A recipe above HDF5's 64 KiB limit for a compact attribute still round-trips. */
static void test_big_recipe(void)
{
    const char *path = tpath("bigrecipe.h5");
    size_t n = 200 << 10;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
    big[n] = '\0';
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    cf_status rc = cf_checkpoint_save(path, a, 0, NULL, NULL, big);
    CHECK(rc == CF_OK, "save with a 200 KiB recipe: %s", cf_last_error());
    char *back = NULL;
    rc = cf_checkpoint_load(path, a, 0, NULL, NULL, &back);
    CHECK(rc == CF_OK && back && strcmp(back, big) == 0, "200 KiB recipe: %s", cf_last_error());
    free(back);
    free(big);
    cf_params_free(a);
}

/* Damaged bytes anywhere must give an error or a load, never a crash; a failed load changes nothing. */
static void corruption_sweep(void)
{
    const char *good = tpath("sweep.h5"), *bad = tpath("sweep-bad.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE), *b = make_model(CF_F32, 5, VARIANT_BASE),
              *b0 = make_model(CF_F32, 5, VARIANT_BASE);
    void *m = make_slot(a, 1.0), *m2 = make_slot(b, 2.0), *m20 = make_slot(b, 2.0);
    cf_ckpt_slot slot = {"exp_avg", m}, slot2 = {"exp_avg", m2};
    cf_train_state st;
    make_state(&st);
    CHECK(cf_checkpoint_save(good, a, 1, &slot, &st, RECIPE) == CF_OK, "save: %s", cf_last_error());
    long size = file_size(good);
    unsigned char *img = malloc((size_t)size);
    FILE *f = fopen(good, "rb");
    CHECK(f && fread(img, 1, (size_t)size, f) == (size_t)size, "read back");
    if (f) fclose(f);
    int errors = 0, loads = 0, untouched = 1;
    uint64_t x = 88172645463325252ull;
    for (int trial = 0; trial < 40; trial++) {
        /* half the trials hit the first 8 KiB, where the superblock and most headers are */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        long pos = (long)(x % (uint64_t)(trial % 2 ? size : (size < 8192 ? size : 8192)));
        unsigned char keep = img[pos];
        img[pos] ^= (unsigned char)(1 + (x >> 32) % 255);
        f = fopen(bad, "wb");
        if (f) fwrite(img, 1, (size_t)size, f), fclose(f);
        img[pos] = keep;
        cf_train_state got;
        memset(&got, 0, sizeof got);
        if (cf_checkpoint_load(bad, b, 1, &slot2, &got, NULL) == CF_OK) {
            loads++;
            memcpy(b->values, b0->values, flat_bytes(b)), memcpy(m2, m20, flat_bytes(b));
        } else {
            errors++;
            untouched &= all_params_equal(b, b0) && memcmp(m2, m20, flat_bytes(b)) == 0 && got.step == 0;
        }
    }
    printf("  corruption sweep: %d errors, %d loads (damage in unchecked bytes)\n", errors, loads);
    CHECK(errors > 0 && untouched, "failed loads modified the destination");
    free(img), free(m), free(m2), free(m20);
    cf_params_free(a), cf_params_free(b), cf_params_free(b0);
}

/* In a child process: a crash shows up as a signal instead of ending the test run, and HDF5 1.10 keeps
 * some internal state of a file with damaged metadata until exit (it reports "infinite loop closing
 * library" and leaks it), which _exit leaves behind with the child. */
static void test_corruption_sweep(void)
{
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        check_failed = 0;
        corruption_sweep();
        fflush(stdout), fflush(stderr);
        _exit(check_failed ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait failed");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the corruption sweep %s %d",
          WIFSIGNALED(status) ? "crashed with signal" : "failed, status", WIFSIGNALED(status) ? WTERMSIG(status) : status);
}

static void test_mismatch(void)
{
    const char *path = tpath("base.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    cf_train_state st, st2;
    make_state(&st);
    CHECK(cf_checkpoint_save(path, a, 0, NULL, &st, RECIPE) == CF_OK, "save: %s", cf_last_error());

    /* shape differs */
    cf_params *w = make_model(CF_F32, 5, VARIANT_WIDE_FC1), *w0 = make_model(CF_F32, 5, VARIANT_WIDE_FC1);
    memset(&st2, 0, sizeof st2);
    cf_status rc = cf_checkpoint_load(path, w, 0, NULL, &st2, NULL);
    const char *msg = cf_last_error();
    CHECK(rc == CF_ERR_SHAPE, "shape mismatch gave %s", cf_status_name(rc));
    CHECK(HAS(msg, "base.h5: blocks.0.mlp.fc1.weight: shape [256, 128] in file, [512, 128] in model"), "message: %s", msg);
    CHECK(HAS(msg, "blocks.0.mlp.fc1.bias: shape [256] in file, [512] in model"), "message: %s", msg);
    CHECK(!HAS(msg, "embed.weight"), "a matching tensor was listed: %s", msg);
    CHECK(all_params_equal(w, w0) && st2.step == 0, "a failed load modified the destination");

    /* missing and unexpected */
    cf_params *x = make_model(CF_F32, 5, VARIANT_EXTRA_MISSING), *x0 = make_model(CF_F32, 5, VARIANT_EXTRA_MISSING);
    rc = cf_checkpoint_load(path, x, 0, NULL, NULL, NULL);
    msg = cf_last_error();
    CHECK(rc == CF_ERR_SHAPE, "missing/unexpected gave %s", cf_status_name(rc));
    CHECK(HAS(msg, "head.weight: missing in file"), "message: %s", msg);
    CHECK(HAS(msg, "blocks.0.mlp.fc1.bias: in file (shape [256]), not in model"), "message: %s", msg);
    CHECK(HAS(msg, "(2 problems)"), "message: %s", msg);
    CHECK(all_params_equal(x, x0), "a failed load modified the destination");

    /* an optimizer slot the file lacks */
    cf_params *b = make_model(CF_F32, 5, VARIANT_BASE), *b0 = make_model(CF_F32, 5, VARIANT_BASE);
    void *mom = make_slot(b, 1.0), *mom0 = make_slot(b, 1.0);
    cf_ckpt_slot slot = {"momentum", mom};
    rc = cf_checkpoint_load(path, b, 1, &slot, NULL, NULL);
    msg = cf_last_error();
    CHECK(rc != CF_OK && HAS(msg, "optimizer state 'momentum' missing in file"), "message: %s", msg);
    CHECK(all_params_equal(b, b0) && memcmp(mom, mom0, flat_bytes(b)) == 0, "a failed load modified the destination");
    free(mom), free(mom0);
    cf_params_free(a), cf_params_free(w), cf_params_free(w0), cf_params_free(x), cf_params_free(x0);
    cf_params_free(b), cf_params_free(b0);
}

static void test_corrupt(void)
{
    const char *good = tpath("good.h5"), *half = tpath("half.h5"), *garbage = tpath("garbage.h5"),
               *empty = tpath("empty.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE);
    CHECK(cf_checkpoint_save(good, a, 0, NULL, NULL, RECIPE) == CF_OK, "save: %s", cf_last_error());
    copy_file(good, half, file_size(good) / 2);
    write_garbage(garbage);
    touch(empty);

    cf_params *b = make_model(CF_F32, 5, VARIANT_BASE), *b0 = make_model(CF_F32, 5, VARIANT_BASE);
    cf_train_state st;
    memset(&st, 0, sizeof st);
    const char *cases[] = {half, garbage, empty, tpath("does-not-exist.h5"), tmpdir};
    for (int i = 0; i < 5; i++) {
        char *recipe = NULL;
        cf_status rc = cf_checkpoint_load(cases[i], b, 0, NULL, &st, &recipe);
        const char *msg = cf_last_error();
        CHECK(rc != CF_OK, "loading %s succeeded", cases[i]);
        CHECK(HAS(msg, cases[i]), "the error does not name the file: %s", msg);
        CHECK(all_params_equal(b, b0) && recipe == NULL && st.step == 0, "a failed load of %s modified the destination",
              cases[i]);
        printf("  expected error: %s\n", msg);
    }
    CHECK(cf_ckpt_open(garbage) == NULL && HAS(cf_last_error(), "not an HDF5 file"), "garbage: %s", cf_last_error());
    CHECK(cf_ckpt_open(half) == NULL && cf_last_status() == CF_ERR_FORMAT, "truncated: %s", cf_last_error());
    cf_params_free(a), cf_params_free(b), cf_params_free(b0);
}

#ifdef CF_HAVE_HDF5
/* Edits a saved file with plain HDF5 calls, to make files our writer never would. */
static void set_root_attr_str(const char *path, const char *name, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &value);
    H5Aclose(a), H5Sclose(s), H5Tclose(t), H5Fclose(f);
}

static void set_root_attr_i64(const char *path, const char *name, int64_t v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a), H5Fclose(f);
}

static void test_bad_format(void)
{
    const char *p1 = tpath("fmt.h5"), *p2 = tpath("ver.h5"), *p3 = tpath("chunk.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE), *b = make_model(CF_F32, 5, VARIANT_BASE),
              *b0 = make_model(CF_F32, 5, VARIANT_BASE);
    CHECK(cf_checkpoint_save(p1, a, 0, NULL, NULL, RECIPE) == CF_OK, "save: %s", cf_last_error());
    copy_file(p1, p2, -1);
    copy_file(p1, p3, -1);
    H5E_auto2_t old;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    set_root_attr_str(p1, "format", "something-else");
    set_root_attr_i64(p2, "format_version", 2);

    cf_status rc = cf_checkpoint_load(p1, b, 0, NULL, NULL, NULL);
    CHECK(rc == CF_ERR_FORMAT && HAS(cf_last_error(), "not a cformer checkpoint") && HAS(cf_last_error(), "something-else"),
          "wrong format: %s", cf_last_error());
    rc = cf_checkpoint_load(p2, b, 0, NULL, NULL, NULL);
    CHECK(rc == CF_ERR_FORMAT && HAS(cf_last_error(), "format_version 2") && HAS(cf_last_error(), "newer"),
          "newer version: %s", cf_last_error());

    /* flip bytes inside a compressed chunk: the checksum (or inflate) must fail the read, not load garbage */
    hid_t f = H5Fopen(p3, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/model/blocks.0.mlp.fc1.weight", H5P_DEFAULT);
    hsize_t off[2];
    unsigned mask;
    haddr_t addr = 0;
    hsize_t size = 0;
    hid_t sp = H5Dget_space(d);
    herr_t got = H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size);
    H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old, old_data);
    CHECK(got >= 0 && size > 64, "no chunk info");
    int fd = got >= 0 && size > 64 ? open(p3, O_RDWR) : -1;
    unsigned char junk[32];
    memset(junk, 0xa5, sizeof junk);
    CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, (off_t)(addr + size / 2)) == (ssize_t)sizeof junk, "corrupting");
    if (fd >= 0) close(fd);
    rc = cf_checkpoint_load(p3, b, 0, NULL, NULL, NULL);
    CHECK(rc == CF_ERR_FORMAT && HAS(cf_last_error(), "/model/blocks.0.mlp.fc1.weight"), "corrupt chunk: %s",
          cf_last_error());
    printf("  expected error: %s\n", cf_last_error());
    CHECK(all_params_equal(b, b0), "a failed load modified the destination");
    cf_params_free(a), cf_params_free(b), cf_params_free(b0);
}

/* bf16 tensors are uint16 datasets with dtype = "bf16"; our writer never makes them from f32 params, so
 * build one by hand and check that it reads back (and exports) as the bf16 values. */
static void test_bf16_dataset(void)
{
    const char *path = tpath("bf16.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE), *b = make_model(CF_F32, 5, VARIANT_BASE);
    CHECK(cf_checkpoint_save(path, a, 0, NULL, NULL, RECIPE) == CF_OK, "save: %s", cf_last_error());
    cf_param *p = cf_params_find(a, "embed.weight");
    const float *src = (const float *)a->values + p->offset;
    uint16_t *h = malloc((size_t)p->numel * 2);
    for (int64_t i = 0; i < p->numel; i++) h[i] = cf_f32_to_bf16(src[i]);

    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/model/embed.weight", H5P_DEFAULT);
    hsize_t dims[2] = {64, 32};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/model/embed.weight", H5T_STD_U16LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, h);
    hid_t t = H5Tcopy(H5T_C_S1), as = H5Screate(H5S_SCALAR);
    H5Tset_size(t, 5); /* a fixed-length string, as some writers make */
    hid_t at = H5Acreate2(d, "dtype", t, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, t, "bf16\0");
    H5Aclose(at), H5Sclose(as), H5Tclose(t), H5Dclose(d), H5Sclose(s), H5Fclose(f);

    cf_ckpt_reader *r = cf_ckpt_open(path);
    CHECK(r && cf_ckpt_find(r, NULL, "embed.weight") && cf_ckpt_find(r, NULL, "embed.weight")->dtype == CF_BF16,
          "bf16 dataset not recognised: %s", cf_last_error());
    cf_ckpt_close(r);
    cf_status rc = cf_checkpoint_load(path, b, 0, NULL, NULL, NULL);
    CHECK(rc == CF_OK, "load bf16: %s", cf_last_error());
    const float *got = (const float *)b->values + cf_params_find(b, "embed.weight")->offset;
    int bad = 0;
    for (int64_t i = 0; i < p->numel; i++) bad += got[i] != cf_bf16_to_f32(h[i]);
    CHECK(bad == 0, "%d bf16 values differ", bad);
    CHECK(param_equal(a, b, "blocks.0.mlp.fc1.weight"), "f32 tensors next to a bf16 one differ");

    /* a 16-bit integer dataset without the attribute is refused by name */
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    d = H5Dopen2(f, "/model/embed.weight", H5P_DEFAULT);
    H5Adelete(d, "dtype");
    H5Dclose(d), H5Fclose(f);
    rc = cf_checkpoint_load(path, b, 0, NULL, NULL, NULL);
    CHECK(rc == CF_ERR_FORMAT && HAS(cf_last_error(), "embed.weight") && HAS(cf_last_error(), "dtype attribute"),
          "u16 without dtype: %s", cf_last_error());
    free(h);
    cf_params_free(a), cf_params_free(b);
}
#endif

static void test_atomic_save(void)
{
    const char *path = tpath("keep.h5");
    cf_params *a = make_model(CF_F32, 1, VARIANT_BASE), *b = make_model(CF_F32, 2, VARIANT_BASE),
              *c = make_model(CF_F32, 3, VARIANT_BASE);
    CHECK(cf_checkpoint_save(path, a, 0, NULL, NULL, "old") == CF_OK, "save: %s", cf_last_error());

    /* a directory that does not exist */
    char nodir[1024];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.h5", tmpdir);
    cf_status rc = cf_checkpoint_save(nodir, b, 0, NULL, NULL, "new");
    CHECK(rc == CF_ERR_IO && HAS(cf_last_error(), "no/such/dir/x.h5"), "nonexistent dir: %s", cf_last_error());

    /* the target is a directory: everything is written, then the rename fails */
    const char *dir_target = tpath("iamadir.h5");
    mkdir(dir_target, 0755);
    rc = cf_checkpoint_save(dir_target, b, 0, NULL, NULL, "new");
    CHECK(rc == CF_ERR_IO && HAS(cf_last_error(), "rename"), "rename over a directory: %s", cf_last_error());
    CHECK(count_matching(tmpdir, ".tmp.") == 0, "the temporary file was not removed");

    /* the disk fills up halfway (a file-size limit): the old checkpoint must still load */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 48 << 10;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = cf_checkpoint_save(path, b, 0, NULL, NULL, "new");
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == CF_ERR_IO, "a save past the file-size limit gave %s: %s", cf_status_name(rc), cf_last_error());
    printf("  expected error: %s\n", cf_last_error());
    CHECK(count_matching(tmpdir, ".tmp.") == 0, "the temporary file was not removed");
    char *recipe = NULL;
    rc = cf_checkpoint_load(path, c, 0, NULL, NULL, &recipe);
    CHECK(rc == CF_OK && all_params_equal(a, c) && recipe && strcmp(recipe, "old") == 0,
          "the old checkpoint did not survive: %s", cf_last_error());
    free(recipe);

    /* a read-only directory (meaningless as root, who may write anyway) */
    if (geteuid() != 0) {
        const char *ro = tpath("ro");
        mkdir(ro, 0755);
        char in_ro[1024];
        snprintf(in_ro, sizeof in_ro, "%s/x.h5", ro);
        CHECK(cf_checkpoint_save(in_ro, a, 0, NULL, NULL, NULL) == CF_OK, "save: %s", cf_last_error());
        chmod(ro, 0555);
        rc = cf_checkpoint_save(in_ro, b, 0, NULL, NULL, NULL);
        chmod(ro, 0755);
        CHECK(rc == CF_ERR_IO, "save into a read-only dir: %s", cf_last_error());
        CHECK(cf_checkpoint_load(in_ro, c, 0, NULL, NULL, NULL) == CF_OK && all_params_equal(a, c),
              "the old checkpoint did not survive");
    }

    /* bad arguments are refused before anything is written */
    cf_ckpt_slot dup[2] = {{"m", a->values}, {"m", a->values}};
    CHECK(cf_checkpoint_save(path, a, 2, dup, NULL, NULL) == CF_ERR_ARG, "duplicate slot names accepted");
    cf_ckpt_slot slash = {"a/b", a->values};
    CHECK(cf_checkpoint_save(path, a, 1, &slash, NULL, NULL) == CF_ERR_ARG, "a slot name with '/' accepted");
    cf_train_state st;
    memset(&st, 0, sizeof st);
    CHECK(cf_train_state_set(&st, "a/b", 1) == CF_ERR_ARG, "an extra key with '/' accepted");
    st.n_rng = 9;
    CHECK(cf_checkpoint_save(path, a, 0, NULL, &st, NULL) == CF_ERR_ARG, "9 rng words accepted");
    CHECK(cf_checkpoint_load(path, c, 0, NULL, NULL, NULL) == CF_OK && all_params_equal(a, c),
          "refused saves changed the file");
    cf_params_free(a), cf_params_free(b), cf_params_free(c);
}


int main(void)
{
    int have = fixture_start();
    if (have <= 0) {
        if (have == 0) test_rmtree(tmpdir);
        return have == 0 ? 77 : 1;
    }
    test_roundtrip(CF_F32);
    test_roundtrip(CF_F64);
    test_big_recipe();
    test_mismatch();
    test_corrupt();
    test_corruption_sweep();
#ifdef CF_HAVE_HDF5
    test_bad_format();
    test_bf16_dataset();
#endif
    test_atomic_save();
    test_rmtree(tmpdir);
    TEST_MAIN_END();
}
