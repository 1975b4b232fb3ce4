/* The checkpoint reader over an HDF5 file image: open (format attributes, every tensor described), then read
 * every small tensor of /model and of each optimizer slot, and the training state. */
#include "recipes/checkpoint/checkpoint.h"

#include <stdint.h>
#include <stdlib.h>

#define MAX_READ (1 << 16) /* elements: a tiny file may declare a huge dataset (fill values need no storage) */

static void read_group(cf_ckpt_reader *r, const char *slot)
{
    int n = cf_ckpt_count(r, slot);
    for (int i = 0; i < n; i++) {
        const cf_ckpt_tensor *t = cf_ckpt_tensor_at(r, slot, i);
        if (!t || cf_ckpt_find(r, slot, t->name) != t || t->numel > MAX_READ) continue;
        double *buf = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *buf);
        if (buf) (void)cf_ckpt_read(r, slot, t->name, i % 2 ? CF_F32 : CF_F64, buf);
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_ckpt_reader *r = cf_ckpt_open_mem(data, size, "fuzz.h5");
    if (!r) return 0;
    (void)cf_ckpt_format_version(r);
    (void)cf_ckpt_created_by(r);
    (void)cf_ckpt_recipe(r);
    read_group(r, NULL);
    for (int k = 0; k < cf_ckpt_nslots(r); k++) read_group(r, cf_ckpt_slot_name(r, k));
    cf_train_state st;
    (void)cf_ckpt_read_state(r, &st);
    cf_ckpt_close(r);
    return 0;
}
