/* The training state's named extra values (best_val_loss, ...); no HDF5 needed. */
#include "recipes/checkpoint/checkpoint_internal.h"

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
