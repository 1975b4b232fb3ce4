/* Sampler (per-epoch Philox Fisher-Yates, rank sharding) and the double-buffered prefetching loader. */
#include "data/loader.h"

#include "autograd/clock.h"
#include "autograd/rng.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* RNG stream reserved for the data sampler ("datasmpl"), apart from dropout and initialisers. */
#define SAMPLER_STREAM 0x64617461736d706cull

/* ---- sampler ---- */

void cf_sampler_permutation(int64_t len, uint64_t seed, int64_t epoch, int64_t *perm)
{
    cf_philox_key key = cf_rng_key(seed, SAMPLER_STREAM);
    for (int64_t i = 0; i < len; i++) perm[i] = i;
    /* Fisher-Yates from the top; draw k of the epoch's stream picks the swap partner of i = len-1-k. The
     * draws are a pure function of (seed, epoch, k), so the permutation never depends on threads. */
    for (int64_t i = len - 1; i > 0; i--) {
        double u = cf_rng_uniform(key, (uint64_t)epoch, (uint64_t)(len - 1 - i));
        int64_t j = (int64_t)(u * (double)(i + 1));
        if (j > i) j = i; /* u * (i+1) can round up to i+1 for u just below 1 */
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int64_t cf_sampler_index(int64_t len, bool shuffle, uint64_t seed, int rank, int world, int64_t epoch, int64_t pos,
                         int64_t *perm, int64_t *perm_epoch)
{
    int64_t at = (int64_t)rank + pos * (int64_t)world;
    if (!shuffle) return at;
    if (*perm_epoch != epoch) {
        cf_sampler_permutation(len, seed, epoch, perm);
        *perm_epoch = epoch;
    }
    return perm[at];
}

/* ---- loader ---- */

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct slot {
    cf_batch batch;
    enum slot_state state;
    cf_status status;          /* of the fill */
    char message[2048];        /* the dataset's error, copied off the prefetch thread */
    int64_t next_epoch, next_pos; /* the cursor after this batch */
} slot;

struct cf_loader {
    cf_dataset *ds;
    cf_loader_config cfg;
    int64_t per_rank;  /* items of one epoch on this rank */
    int64_t *perm;     /* the epoch's permutation (shuffle only); touched by the filler alone */
    int64_t perm_epoch;
    slot slots[2];

    /* consumer side (the caller's thread) */
    int64_t epoch, pos; /* cursor of the next batch next() returns */
    int take;           /* slot the next batch arrives in */
    int held;           /* slot handed out by the last next(), -1 when none */
    int64_t stalls;     /* next() calls that found their batch not ready yet (prefetch only), and the */
    double stall_s;     /* seconds they blocked for it */
    bool failed;        /* a fill failed: repeat its error until a seek */
    cf_status fail_status;
    char fail_message[2048];

    /* producer side; guarded by mu while the thread runs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    int64_t fill_epoch, fill_pos;
    int fill_slot;
};

cf_loader_config cf_loader_defaults(void)
{
    return (cf_loader_config){
        .batch_size = 1, .shuffle = true, .drop_last = true, .seed = 0, .rank = 0, .world = 1, .prefetch = true};
}

/* Moves a cursor past the end of its epoch (or onto a tail that drop_last skips) to the next epoch. */
static void normalise(const cf_loader *l, int64_t *epoch, int64_t *pos)
{
    int64_t left = l->per_rank - *pos;
    if (left <= 0 || (l->cfg.drop_last && left < l->cfg.batch_size)) {
        (*epoch)++;
        *pos = 0;
    }
}

/* Fills s with the batch at cursor (*epoch, *pos) and advances the cursor past it. Runs on the prefetch
 * thread (or the caller's without prefetch); reads only the dataset, perm and s. */
static void fill(cf_loader *l, slot *s, int64_t *epoch, int64_t *pos)
{
    normalise(l, epoch, pos);
    int64_t left = l->per_rank - *pos;
    int rows = left < l->cfg.batch_size ? (int)left : l->cfg.batch_size;
    cf_batch *b = &s->batch;
    s->status = CF_OK;
    s->message[0] = '\0';
    cf_batch_set_rows(b, rows);
    b->epoch = *epoch;
    b->position = *pos;
    for (int r = 0; r < rows; r++) {
        int64_t idx = cf_sampler_index(l->ds->len, l->cfg.shuffle, l->cfg.seed, l->cfg.rank, l->cfg.world, *epoch,
                                       *pos + r, l->perm, &l->perm_epoch);
        cf_status st = cf_dataset_get(l->ds, idx, b, r);
        if (st != CF_OK) {
            s->status = st;
            snprintf(s->message, sizeof s->message, "%s (loading item %" PRId64 ", epoch %" PRId64 " position %" PRId64
                     ")", cf_last_error(), idx, *epoch, *pos + r);
            return;
        }
    }
    /* the data changed under any tensor that a previous step saved */
    for (int i = 0; i < b->nfields; i++) cf_bump_version(b->fields[i]);
    *pos += rows;
    normalise(l, epoch, pos);
}

static void *prefetch_main(void *arg)
{
    cf_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        slot *s = &l->slots[l->fill_slot];
        while (!l->stop && s->state != SLOT_FREE) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        s->state = SLOT_FILLING;
        int64_t e = l->fill_epoch, p = l->fill_pos;
        pthread_mutex_unlock(&l->mu);
        fill(l, s, &e, &p);
        pthread_mutex_lock(&l->mu);
        s->next_epoch = e;
        s->next_pos = p;
        s->state = SLOT_READY;
        l->fill_epoch = e;
        l->fill_pos = p;
        l->fill_slot ^= 1;
        pthread_cond_broadcast(&l->cv);
        if (s->status != CF_OK) break; /* nothing after a failure; the consumer reports it */
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_thread(cf_loader *l)
{
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->running = false;
    l->stop = false;
}

/* Drops every filled or held batch and restarts production at the consumer's cursor. */
static void reset_slots(cf_loader *l)
{
    for (int i = 0; i < 2; i++) l->slots[i].state = SLOT_FREE;
    l->take = 0;
    l->held = -1;
    l->fill_slot = 0;
    l->fill_epoch = l->epoch;
    l->fill_pos = l->pos;
}

cf_loader *cf_loader_create(cf_dataset *ds, const cf_loader_config *cfg)
{
    cf_loader_config c = cfg ? *cfg : cf_loader_defaults();
    if (!ds) {
        cf_set_error(CF_ERR_ARG, "cf_loader_create: NULL dataset");
        return NULL;
    }
    if (c.batch_size < 1 || c.world < 1 || c.rank < 0 || c.rank >= c.world) {
        cf_set_error(CF_ERR_ARG, "cf_loader_create: %s: batch_size %d, rank %d of world %d (need batch_size >= 1, "
                     "0 <= rank < world)", ds->name, c.batch_size, c.rank, c.world);
        return NULL;
    }
    int64_t per_rank = ds->len / c.world;
    if (per_rank < 1 || (c.drop_last && per_rank < c.batch_size)) {
        cf_set_error(CF_ERR_ARG, "cf_loader_create: %s has %" PRId64 " items: %" PRId64 " per rank for %d ranks, "
                     "not one batch of %d%s", ds->name, ds->len, per_rank, c.world, c.batch_size,
                     c.drop_last ? " (drop_last is on)" : "");
        return NULL;
    }
    cf_loader *l = calloc(1, sizeof *l);
    if (!l) {
        cf_set_error(CF_ERR_OOM, "cf_loader_create: out of memory");
        return NULL;
    }
    l->ds = ds;
    l->cfg = c;
    l->per_rank = per_rank;
    l->perm_epoch = -1;
    if (c.shuffle && !(l->perm = malloc((size_t)ds->len * sizeof *l->perm))) {
        cf_set_error(CF_ERR_OOM, "cf_loader_create: %s: out of memory for a permutation of %" PRId64 " items",
                     ds->name, ds->len);
        free(l);
        return NULL;
    }
    for (int i = 0; i < 2; i++)
        if (cf_dataset_make_batch(ds, c.batch_size, &l->slots[i].batch) != CF_OK) {
            cf_error_prefix("cf_loader_create: ");
            cf_batch_free(&l->slots[0].batch);
            free(l->perm);
            free(l);
            return NULL;
        }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    reset_slots(l);
    return l;
}

const cf_batch *cf_loader_next(cf_loader *l)
{
    if (!l) {
        cf_set_error(CF_ERR_ARG, "cf_loader_next: NULL loader");
        return NULL;
    }
    if (l->failed) {
        cf_set_error(l->fail_status, "%s", l->fail_message);
        return NULL;
    }
    slot *s = &l->slots[l->take];
    if (!l->cfg.prefetch) {
        /* fill in the caller's thread, still alternating the two batches so the one handed out last time
         * stays intact, exactly like the prefetching path */
        int64_t e = l->epoch, p = l->pos;
        fill(l, s, &e, &p);
        s->next_epoch = e;
        s->next_pos = p;
    } else {
        pthread_mutex_lock(&l->mu);
        if (l->held >= 0) {
            l->slots[l->held].state = SLOT_FREE;
            pthread_cond_broadcast(&l->cv);
        }
        pthread_mutex_unlock(&l->mu);
        l->held = -1;
        if (!l->running) {
            l->stop = false;
            if (pthread_create(&l->thread, NULL, prefetch_main, l) != 0) {
                cf_set_error(CF_ERR_INTERNAL, "cf_loader_next: %s: cannot start the prefetch thread", l->ds->name);
                return NULL;
            }
            l->running = true;
        }
        pthread_mutex_lock(&l->mu);
        if (s->state != SLOT_READY) {
            double t = cf_now();
            while (s->state != SLOT_READY) pthread_cond_wait(&l->cv, &l->mu);
            l->stalls++, l->stall_s += cf_now() - t;
        }
        /* the producer waits for FREE, so it leaves a HELD slot alone */
        if (s->status == CF_OK) s->state = SLOT_HELD;
        pthread_mutex_unlock(&l->mu);
    }
    if (s->status != CF_OK) {
        l->failed = true;
        l->fail_status = s->status;
        memcpy(l->fail_message, s->message, sizeof l->fail_message);
        cf_set_error(l->fail_status, "%s", l->fail_message);
        return NULL;
    }
    l->held = l->take;
    l->take ^= 1;
    l->epoch = s->next_epoch;
    l->pos = s->next_pos;
    return &s->batch;
}

void cf_loader_cursor(const cf_loader *l, int64_t *epoch, int64_t *position)
{
    if (epoch) *epoch = l ? l->epoch : 0;
    if (position) *position = l ? l->pos : 0;
}

cf_status cf_loader_seek(cf_loader *l, int64_t epoch, int64_t position)
{
    if (!l) return cf_set_error(CF_ERR_ARG, "cf_loader_seek: NULL loader");
    if (epoch < 0 || position < 0 || position > l->per_rank)
        return cf_set_error(CF_ERR_ARG, "cf_loader_seek: %s: cursor (epoch %" PRId64 ", position %" PRId64
                            ") outside epochs >= 0 and positions [0, %" PRId64 "]", l->ds->name, epoch, position,
                            l->per_rank);
    stop_thread(l);
    l->epoch = epoch;
    l->pos = position;
    normalise(l, &l->epoch, &l->pos);
    l->failed = false;
    reset_slots(l);
    return CF_OK;
}

void cf_loader_stalls(const cf_loader *l, int64_t *count, double *seconds)
{
    *count = l ? l->stalls : 0;
    *seconds = l ? l->stall_s : 0;
}

int64_t cf_loader_items_per_epoch(const cf_loader *l) { return l ? l->per_rank : 0; }

int64_t cf_loader_batches_per_epoch(const cf_loader *l)
{
    if (!l) return 0;
    int64_t b = l->cfg.batch_size;
    return l->cfg.drop_last ? l->per_rank / b : (l->per_rank + b - 1) / b;
}

void cf_loader_free(cf_loader *l)
{
    if (!l) return;
    stop_thread(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int i = 0; i < 2; i++) cf_batch_free(&l->slots[i].batch);
    free(l->perm);
    free(l);
}
