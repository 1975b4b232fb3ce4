/* The "spikes" dataset by name: load, split by time, open one split's windows. */
#include "data/spikes/spikes.h"

#include <stdio.h>
#include <string.h>

cf_spike_options cf_spike_options_defaults(void)
{
    cf_spike_options o;
    memset(&o, 0, sizeof o);
    o.tokens = cf_spike_token_defaults();
    o.train_frac = 0.8;
    o.val_frac = 0.1;
    return o;
}

cf_dataset *cf_spike_factory(void *options, const char *split)
{
    const cf_spike_options *o = options;
    if (!o || !o->path) {
        cf_set_error(CF_ERR_ARG, "dataset 'spikes': needs options with a path");
        return NULL;
    }
    int which = !split ? -1 : strcmp(split, "train") == 0 ? 0 : strcmp(split, "val") == 0 ? 1 : strcmp(split, "test") == 0 ? 2 : -1;
    if (which < 0) {
        cf_set_error(CF_ERR_ARG, "%s: split '%s' (spike datasets have 'train', 'val' and 'test')", o->path,
                     split ? split : "(null)");
        return NULL;
    }
    cf_spikes *s = cf_spikes_load(o->path, o->csv);
    if (!s) return NULL;
    if (o->tokens.frames > 0 && cf_spikes_load_frames(s, o->path, o->frames_name) != CF_OK) {
        cf_spikes_free(s);
        return NULL;
    }
    cf_time_ranges r[3];
    cf_dataset *ds = NULL;
    if (cf_spikes_split_blocks(s, o->train_frac, o->val_frac, o->block_s, o->split_seed, &r[0], &r[1], &r[2]) == CF_OK) {
        ds = cf_spike_dataset_open_ranges(s, &o->tokens, &r[which], NULL);
        if (ds) snprintf(ds->name, sizeof ds->name, "spikes %s [%s]", o->path, split);
        else cf_error_prefix("%s [%s]: ", o->path, split);
        for (int k = 0; k < 3; k++) cf_time_ranges_free(&r[k]);
    } else {
        cf_error_prefix("%s: ", o->path);
    }
    cf_spikes_free(s);
    return ds;
}
