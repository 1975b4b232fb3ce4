/* The training state's named extra values (best_val_loss, ...) and the check that a state is one a run
 * could have reached; no HDF5 needed. */
#include "recipes/checkpoint/checkpoint_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

cf_status cf_train_state_set(cf_train_state *st, const char *key, double value)
{
    if (!st || !ckpt_key_ok(key))
        return cf_set_error(CF_ERR_ARG, "train state: bad extra key '%s' (1..%d chars, no '/')", key ? key : "(null)",
                            CF_CKPT_KEY_MAX - 1);
    for (int i = 0; i < st->n_extra; i++)
        if (strcmp(st->extra[i].key, key) == 0) return st->extra[i].value = value, CF_OK;
    if (st->n_extra >= CF_CKPT_EXTRA_MAX)
        return cf_set_error(CF_ERR_ARG, "train state: more than %d extra values (adding '%s')", CF_CKPT_EXTRA_MAX, key);
    cf_train_extra *e = &st->extra[st->n_extra++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->value = value;
    return CF_OK;
}

bool cf_train_state_get(const cf_train_state *st, const char *key, double *value)
{
    for (int i = 0; st && key && i < st->n_extra; i++)
        if (strcmp(st->extra[i].key, key) == 0) {
            if (value) *value = st->extra[i].value;
            return true;
        }
    return false;
}

/* "path: /train_state/<field> is <what>; <rule>" with the caller's status. */
#define STATE_ERR(field, fmt, ...) cf_set_error(code, "%s: /train_state/%s " fmt, path, field, __VA_ARGS__)

cf_status ckpt_state_check(const cf_train_state *st, const char *path, cf_status code)
{
    static const char *const counts[] = {"step", "epoch", "cursor"};
    const int64_t values[] = {st->step, st->epoch, st->cursor};
    for (int i = 0; i < 3; i++)
        if (values[i] < 0 || values[i] >= CF_CKPT_COUNT_MAX)
            return STATE_ERR(counts[i], "is %lld; it counts from 0 and stays below 2^53", (long long)values[i]);
    if (st->world_size < 1 || st->world_size > CF_CKPT_WORLD_MAX)
        return STATE_ERR("world_size", "is %d; a run has 1 to %d ranks", st->world_size, CF_CKPT_WORLD_MAX);
    if (st->n_rng < 0 || st->n_rng > CF_CKPT_RNG_WORDS)
        return STATE_ERR("rng", "has %d words; at most %d are kept", st->n_rng, CF_CKPT_RNG_WORDS);
    if (st->n_extra < 0 || st->n_extra > CF_CKPT_EXTRA_MAX)
        return STATE_ERR("extra", "has %d values; at most %d are kept", st->n_extra, CF_CKPT_EXTRA_MAX);
    for (int i = 0; i < st->n_extra; i++) {
        const cf_train_extra *e = &st->extra[i];
        if (!ckpt_key_ok(e->key)) return STATE_ERR("extra", "has the key '%s' (1..%d chars, no '/')", e->key, CF_CKPT_KEY_MAX - 1);
        for (int j = 0; j < i; j++)
            if (strcmp(e->key, st->extra[j].key) == 0) return STATE_ERR("extra", "has the key '%s' twice", e->key);
        if (!isfinite(e->value))
            return cf_set_error(code, "%s: /train_state/extra/%s is %g; extras are finite numbers", path, e->key, e->value);
    }
    double t;
    if (cf_train_state_get(st, "optim_steps", &t) && (t < 0 || t != floor(t) || t > (double)st->step))
        return STATE_ERR("extra/optim_steps", "is %.17g; the optimizer steps taken are a whole number from 0 to "
                         "step (%lld)", t, (long long)st->step);
    return CF_OK;
}
