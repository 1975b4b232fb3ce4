/* Dataset interface, registry, sampler and the prefetching loader. */
#define CHECK_SHOW_LAST_ERROR /* a CHECK that fails also shows cf_last_error() */
#include "tests/check.h"
#include "data/dataset.h"
#include "data/loader.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- a fake dataset: item i is the row (i, 10 i); get fails at index `bad` (when >= 0) ---- */

typedef struct fake_ds {
    cf_dataset base;
    int64_t bad;
    int64_t gets; /* calls to get, to see that the loader does no extra work */
} fake_ds;

static cf_status fake_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    fake_ds *f = (fake_ds *)ds;
    f->gets++;
    if (index == f->bad) return cf_set_error(CF_ERR_FORMAT, "fake.bin: corrupt record %" PRId64, index);
    int64_t *x = (int64_t *)cf_data(b->fields[0]) + 2 * row;
    x[0] = index;
    x[1] = 10 * index;
    return CF_OK;
}

static cf_status fake_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    (void)ds;
    return cf_batch_add(b, "x", CF_I64, 2, (const int64_t[]){rows, 2});
}

static void fake_free(cf_dataset *ds) { free(ds); }

static const cf_dataset_vtable fake_vt = {"fake", fake_get, fake_make_batch, fake_free};

static cf_dataset *fake_new(int64_t len, int64_t bad)
{
    fake_ds *f = calloc(1, sizeof *f);
    f->base.vt = &fake_vt;
    f->base.len = len;
    f->bad = bad;
    snprintf(f->base.name, sizeof f->base.name, "fake(%" PRId64 ")", len);
    return &f->base;
}

static int64_t fake_len_for_factory = 17;
static cf_dataset *fake_factory(void *recipe_like, const char *split)
{
    int64_t len = recipe_like ? *(const int64_t *)recipe_like : fake_len_for_factory;
    if (strcmp(split, "val") == 0) len /= 2;
    return fake_new(len, -1);
}

/* the dataset indices in a batch */
static int batch_indices(const cf_batch *b, int64_t *out)
{
    const int64_t *x = cf_data(b->fields[0]);
    for (int r = 0; r < b->rows; r++) out[r] = x[2 * r];
    return b->rows;
}

/* Runs n batches and writes their indices (rows concatenated, -1 between batches). */
static int run_batches(cf_loader *l, int n, int64_t *out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const cf_batch *b = cf_loader_next(l);
        if (!b) return -1;
        k += batch_indices(b, out + k);
        out[k++] = -1;
    }
    return k;
}

static void test_batch_fields(void)
{
    cf_batch b = {0};
    CHECK(cf_batch_add(&b, "a", CF_F32, 2, (const int64_t[]){3, 4}) == CF_OK, "add a\n");
    CHECK(cf_batch_add(&b, "a", CF_F32, 1, (const int64_t[]){3}) != CF_OK, "duplicate field accepted\n");
    CHECK(cf_batch_add(&b, "b", CF_F32, 1, (const int64_t[]){2}) == CF_ERR_SHAPE, "row mismatch accepted\n");
    CHECK(cf_batch_get(&b, "a") == b.fields[0], "get a\n");
    CHECK(cf_batch_get(&b, "zz") == NULL && strstr(cf_last_error(), "zz"), "missing field not named\n");
    CHECK(cf_batch_set_rows(&b, 2) == CF_OK && b.fields[0]->shape[0] == 2 && b.rows == 2, "set rows\n");
    CHECK(cf_batch_set_rows(&b, 4) != CF_OK, "rows above capacity accepted\n");
    cf_batch_free(&b);
    CHECK(b.nfields == 0, "free zeroes\n");

    cf_dataset *ds = fake_new(5, -1);
    cf_batch fb = {0};
    CHECK(cf_dataset_make_batch(ds, 2, &fb) == CF_OK, "make_batch\n");
    CHECK(cf_dataset_get(ds, 5, &fb, 0) == CF_ERR_ARG && strstr(cf_last_error(), "fake(5)"),
          "out of range index not caught with the dataset name\n");
    CHECK(cf_dataset_get(ds, 1, &fb, 2) == CF_ERR_ARG, "row out of range not caught\n");
    CHECK(cf_dataset_get(ds, 4, &fb, 1) == CF_OK && ((int64_t *)cf_data(fb.fields[0]))[2] == 4, "get row 1\n");
    cf_batch other = {0};
    cf_dataset *ds2 = fake_new(5, -1);
    cf_dataset_make_batch(ds2, 2, &other);
    CHECK(cf_dataset_get(ds, 0, &other, 0) == CF_ERR_ARG, "foreign batch accepted\n");
    cf_batch_free(&other);
    cf_batch_free(&fb);
    cf_dataset_free(ds2);
    cf_dataset_free(ds);
}

static void test_sampler(void)
{
    enum { N = 101 };
    int64_t a[N], b[N], c[N], d[N];
    cf_sampler_permutation(N, 42, 0, a);
    cf_sampler_permutation(N, 42, 0, b);
    cf_sampler_permutation(N, 42, 1, c);
    cf_sampler_permutation(N, 43, 0, d);
    CHECK(memcmp(a, b, sizeof a) == 0, "same (seed, epoch) gave different permutations\n");
    CHECK(memcmp(a, c, sizeof a) != 0, "epochs 0 and 1 gave the same permutation\n");
    CHECK(memcmp(a, d, sizeof a) != 0, "seeds 42 and 43 gave the same permutation\n");
    int seen[N] = {0}, fixed = 0;
    bool perm = true;
    for (int i = 0; i < N; i++) {
        if (a[i] < 0 || a[i] >= N || seen[a[i]]++) perm = false;
        fixed += a[i] == i;
    }
    CHECK(perm, "not a permutation of [0, %d)\n", N);
    CHECK(fixed < 10, "%d fixed points: hardly shuffled\n", fixed);
    /* a fixed value pins the algorithm down across builds and machines */
    int64_t small[5];
    cf_sampler_permutation(5, 7, 3, small);
    int64_t again[5];
    cf_sampler_permutation(5, 7, 3, again);
    CHECK(memcmp(small, again, sizeof small) == 0, "small permutation not reproducible\n");

    /* the sampler reads from its scratch; without shuffle it is the strided identity */
    int64_t scratch[N], pe = -1;
    CHECK(cf_sampler_index(N, false, 1, 2, 3, 5, 4, scratch, &pe) == 2 + 4 * 3, "unshuffled rank index\n");
    CHECK(cf_sampler_index(N, true, 42, 0, 1, 1, 7, scratch, &pe) == c[7] && pe == 1, "shuffled index\n");
}

static void test_shards(void)
{
    /* 23 items over 3 ranks: 7 each, the permutation's last 2 positions dropped */
    enum { LEN = 23, W = 3 };
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        for (int64_t epoch = 0; epoch < 2; epoch++) {
            int count[LEN] = {0};
            int64_t perm[LEN];
            cf_sampler_permutation(LEN, 9, epoch, perm);
            int total = 0;
            for (int r = 0; r < W; r++) {
                cf_loader_config c = cf_loader_defaults();
                c.batch_size = 2;
                c.drop_last = false;
                c.shuffle = shuffle;
                c.seed = 9;
                c.rank = r;
                c.world = W;
                cf_dataset *ds = fake_new(LEN, -1);
                cf_loader *l = cf_loader_create(ds, &c);
                CHECK(l && cf_loader_items_per_epoch(l) == LEN / W && cf_loader_batches_per_epoch(l) == 4,
                      "rank %d: %" PRId64 " items, %" PRId64 " batches\n", r, cf_loader_items_per_epoch(l),
                      cf_loader_batches_per_epoch(l));
                if (epoch) cf_loader_seek(l, epoch, 0);
                for (int k = 0; k < 4; k++) {
                    const cf_batch *b = cf_loader_next(l);
                    CHECK(b && b->epoch == epoch, "rank %d batch %d\n", r, k);
                    if (!b) break;
                    int64_t idx[4];
                    int n = batch_indices(b, idx);
                    CHECK(n == (k < 3 ? 2 : 1), "rank %d batch %d has %d rows\n", r, k, n);
                    for (int i = 0; i < n; i++) {
                        int64_t pos = b->position + i;
                        int64_t want = shuffle ? perm[r + pos * W] : r + pos * W;
                        CHECK(idx[i] == want, "rank %d pos %" PRId64 ": item %" PRId64 ", expected %" PRId64 "\n", r,
                              pos, idx[i], want);
                        count[idx[i]]++;
                        total++;
                    }
                }
                int64_t e, p;
                cf_loader_cursor(l, &e, &p);
                CHECK(e == epoch + 1 && p == 0, "rank %d: cursor (%" PRId64 ", %" PRId64 ") after an epoch\n", r, e, p);
                cf_loader_free(l);
                cf_dataset_free(ds);
            }
            int dup = 0;
            for (int i = 0; i < LEN; i++) dup += count[i] > 1;
            CHECK(total == LEN / W * W && dup == 0, "shuffle %d epoch %" PRId64 ": %d items, %d duplicates\n", shuffle,
                  epoch, total, dup);
            /* covering: exactly the permutation's first 21 positions */
            for (int i = 0; i < LEN; i++) {
                int64_t item = shuffle ? perm[i] : i;
                CHECK(count[item] == (i < LEN / W * W), "position %d (item %" PRId64 ") seen %d times\n", i, item,
                      count[item]);
            }
        }
    }
}

static void test_unshuffled_and_epochs(void)
{
    cf_dataset *ds = fake_new(10, -1);
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 4;
    c.shuffle = false;
    c.drop_last = true;
    cf_loader *l = cf_loader_create(ds, &c);
    int64_t out[64];
    int n = run_batches(l, 3, out);
    int64_t want[] = {0, 1, 2, 3, -1, 4, 5, 6, 7, -1, 0, 1, 2, 3, -1};
    CHECK(n == 15 && memcmp(out, want, sizeof want) == 0, "unshuffled drop_last order\n");
    cf_loader_free(l);

    c.drop_last = false;
    l = cf_loader_create(ds, &c);
    const cf_batch *b1 = cf_loader_next(l), *b2 = cf_loader_next(l), *b3 = cf_loader_next(l);
    CHECK(b3 && b3->rows == 2 && b3->fields[0]->shape[0] == 2 && b3->position == 8, "partial last batch\n");
    const cf_batch *b4 = cf_loader_next(l);
    CHECK(b4 && b4->rows == 4 && b4->fields[0]->shape[0] == 4 && b4->epoch == 1, "full batch after a partial\n");
    CHECK(b1 && b2 && cf_loader_batches_per_epoch(l) == 3, "batches per epoch without drop_last\n");
    cf_loader_free(l);

    /* shuffled: every epoch visits every item once, in a different order */
    c.shuffle = true;
    c.drop_last = true;
    c.batch_size = 5;
    c.seed = 3;
    l = cf_loader_create(ds, &c);
    int64_t e0[12], e1[12];
    run_batches(l, 2, e0);
    run_batches(l, 2, e1);
    int seen0[10] = {0}, seen1[10] = {0};
    for (int i = 0; i < 12; i++) {
        if (e0[i] >= 0) seen0[e0[i]]++;
        if (e1[i] >= 0) seen1[e1[i]]++;
    }
    bool all = true;
    for (int i = 0; i < 10; i++) all = all && seen0[i] == 1 && seen1[i] == 1;
    CHECK(all, "a shuffled epoch does not visit every item once\n");
    CHECK(memcmp(e0, e1, sizeof e0) != 0, "shuffle is the same in epochs 0 and 1\n");
    cf_loader_free(l);
    cf_dataset_free(ds);
}

/* Run 7 batches, note the cursor after 3, and check that a fresh loader seeked there yields 4..7. */
static void test_resume(int world, int rank, bool prefetch, bool drop_last)
{
    cf_dataset *ds = fake_new(17, -1);
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 3;
    c.seed = 1234;
    c.world = world;
    c.rank = rank;
    c.prefetch = prefetch;
    c.drop_last = drop_last;
    cf_loader *a = cf_loader_create(ds, &c);
    int64_t rec[7][4], e = -1, p = -1;
    int rows[7];
    for (int i = 0; i < 7; i++) {
        const cf_batch *b = cf_loader_next(a);
        CHECK(b != NULL, "batch %d\n", i);
        if (!b) return;
        rows[i] = batch_indices(b, rec[i]);
        if (i == 2) cf_loader_cursor(a, &e, &p);
    }
    cf_loader_free(a);
    /* the run crosses an epoch boundary inside batches 4..7 for these sizes */
    CHECK(world > 1 || (e == 0 && p == 9), "cursor after 3 batches (%" PRId64 ", %" PRId64 ")\n", e, p);

    c.prefetch = !prefetch; /* the resumed run may use the other mode: same batches */
    cf_loader *r = cf_loader_create(ds, &c);
    cf_loader_next(r); /* a resumed loader may have run before the seek */
    CHECK(cf_loader_seek(r, e, p) == CF_OK, "seek\n");
    for (int i = 3; i < 7; i++) {
        const cf_batch *b = cf_loader_next(r);
        int64_t got[4];
        int n = b ? batch_indices(b, got) : -1;
        CHECK(n == rows[i] && memcmp(got, rec[i], (size_t)n * sizeof *got) == 0,
              "world %d rank %d prefetch %d drop_last %d: batch %d differs after resume\n", world, rank, prefetch,
              drop_last, i + 1);
    }
    CHECK(cf_loader_seek(r, 0, cf_loader_items_per_epoch(r) + 1) == CF_ERR_ARG, "seek past the epoch accepted\n");
    CHECK(cf_loader_seek(r, -1, 0) == CF_ERR_ARG, "negative epoch accepted\n");
    cf_loader_free(r);
    cf_dataset_free(ds);
}

static void test_error_propagation(bool prefetch)
{
    cf_dataset *ds = fake_new(12, 5); /* item 5 is corrupt: the second batch of the unshuffled order */
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 3;
    c.shuffle = false;
    c.prefetch = prefetch;
    cf_loader *l = cf_loader_create(ds, &c);
    const cf_batch *b = cf_loader_next(l);
    CHECK(b && ((int64_t *)cf_data(b->fields[0]))[0] == 0, "first batch before the corrupt item\n");
    cf_clear_error();
    b = cf_loader_next(l);
    CHECK(b == NULL && cf_last_status() == CF_ERR_FORMAT && strstr(cf_last_error(), "fake.bin: corrupt record 5"),
          "prefetch %d: error not propagated: '%s'\n", prefetch, cf_last_error());
    cf_clear_error();
    b = cf_loader_next(l);
    CHECK(b == NULL && strstr(cf_last_error(), "corrupt record 5"), "error not repeated\n");
    /* skipping the bad batch after a seek works again */
    CHECK(cf_loader_seek(l, 0, 6) == CF_OK, "seek after error\n");
    b = cf_loader_next(l);
    CHECK(b && ((int64_t *)cf_data(b->fields[0]))[0] == 6, "batch after seeking past the error\n");
    cf_loader_free(l);
    cf_dataset_free(ds);
}

static void test_no_allocation_growth(void)
{
    cf_dataset *ds = fake_new(50, -1);
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 4;
    c.seed = 5;
    cf_loader *l = cf_loader_create(ds, &c);
    const cf_batch *ptr[2] = {0};
    const void *data[2] = {0};
    bool ok = true;
    for (int i = 0; i < 40; i++) {
        const cf_batch *b = cf_loader_next(l);
        if (!b) {
            ok = false;
            break;
        }
        if (i < 2) {
            ptr[i] = b;
            data[i] = cf_data(b->fields[0]);
        } else {
            ok = ok && b == ptr[i % 2] && cf_data(b->fields[0]) == data[i % 2];
        }
    }
    CHECK(ok && ptr[0] != ptr[1], "batch or tensor pointers change across steps\n");
    /* the batch handed out stays untouched while the prefetch thread fills the other one */
    const cf_batch *b1 = cf_loader_next(l);
    int64_t keep[4], now[4];
    batch_indices(b1, keep);
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    batch_indices(b1, now);
    CHECK(memcmp(keep, now, sizeof keep) == 0, "the held batch changed under the caller\n");
    /* freeing while the prefetch thread waits on a full buffer must not hang */
    cf_loader_free(l);
    fake_ds *f = (fake_ds *)ds;
    /* 41 batches handed out plus at most the one prefetched ahead */
    CHECK(f->gets <= 42 * 4, "%" PRId64 " gets for 41 batches: the loader read ahead too far\n", f->gets);
    cf_dataset_free(ds);
}

static void test_create_errors(void)
{
    cf_dataset *ds = fake_new(5, -1);
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 3;
    c.world = 2; /* 2 items per rank: not one batch of 3 */
    CHECK(cf_loader_create(ds, &c) == NULL && strstr(cf_last_error(), "fake(5)"), "too small dataset accepted\n");
    c.world = 1;
    c.rank = 1;
    CHECK(cf_loader_create(ds, &c) == NULL, "rank >= world accepted\n");
    c.rank = 0;
    c.batch_size = 0;
    CHECK(cf_loader_create(ds, &c) == NULL, "batch_size 0 accepted\n");
    cf_dataset_free(ds);
}

static void test_registry(void)
{
    CHECK(cf_dataset_register("fake", fake_factory) == CF_OK, "register\n");
    CHECK(cf_dataset_register("bad name!", fake_factory) == CF_ERR_ARG, "bad name accepted\n");
    int64_t len = 30;
    cf_dataset *ds = cf_dataset_create("fake", &(cf_dataset_config){.recipe = &len, .split = "val"});
    CHECK(ds && ds->len == 15, "factory got recipe and split\n");
    cf_dataset_free(ds);
    ds = cf_dataset_create("fake", NULL);
    CHECK(ds && ds->len == 17, "NULL config: train split, NULL recipe\n");
    cf_dataset_free(ds);
    ds = cf_dataset_create("nope", NULL);
    CHECK(!ds && strstr(cf_last_error(), "nope") && strstr(cf_last_error(), "fake") && strstr(cf_last_error(), "text"),
          "unknown name error should name it and the known ones\n");
    FILE *f = tmpfile();
    cf_dataset_list(f);
    rewind(f);
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(n > 0 && strstr(buf, "fake\n") && strstr(buf, "text\n"), "list printed '%s'\n", buf);
    CHECK(cf_dataset_count() >= 2 && strcmp(cf_dataset_name_at(0), cf_dataset_name_at(1)) < 0, "sorted names\n");
}

int main(void)
{
    test_batch_fields();
    test_sampler();
    test_shards();
    test_unshuffled_and_epochs();
    for (int pf = 0; pf < 2; pf++)
        for (int dl = 0; dl < 2; dl++) {
            test_resume(1, 0, pf, dl);
            test_resume(3, 2, pf, dl);
        }
    test_error_propagation(true);
    test_error_propagation(false);
    test_no_allocation_growth();
    test_create_errors();
    test_registry();
    TEST_MAIN_END();
}
