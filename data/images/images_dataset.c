/* The images dataset and the in-memory source (contract in images.h). */
#include "data/images/images.h"

#include <stdlib.h>
#include <string.h>

void cf_image_source_free(cf_image_source *s)
{
    if (s) s->free(s);
}

/* ---- in-memory source (IDX and HDF5 land here) ---- */
typedef struct {
    cf_image_source base;
    uint8_t *pixels;
    int32_t *labels;
} mem_source;

static cf_status mem_read(cf_image_source *s, int64_t i, uint8_t *hwc, int32_t *label)
{
    mem_source *m = (mem_source *)s;
    size_t item = (size_t)s->h * s->w * s->c;
    memcpy(hwc, m->pixels + (size_t)i * item, item);
    *label = m->labels[i];
    return CF_OK;
}

static void mem_free(cf_image_source *s)
{
    mem_source *m = (mem_source *)s;
    free(m->pixels);
    free(m->labels);
    free(m);
}

cf_image_source *cf_image_source_memory(uint8_t *pixels, int32_t *labels, int64_t n, int h, int w, int c, int classes,
                                        const char *name)
{
    mem_source *m = NULL;
    if (n < 1 || h < 1 || w < 1 || h > CF_IMAGE_MAX_SIDE || w > CF_IMAGE_MAX_SIDE || c < 1 || c > CF_AUGMENT_MAX_CHANNELS) {
        cf_set_error(CF_ERR_FORMAT, "%s: %lld images of %d x %d x %d: need at least one image, sides in 1..%d, 1..%d channels",
                     name, (long long)n, h, w, c, CF_IMAGE_MAX_SIDE, CF_AUGMENT_MAX_CHANNELS);
        goto fail;
    }
    int32_t maxl = -1;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= (classes > 0 ? classes : CF_IMAGE_MAX_CLASSES)) {
            cf_set_error(CF_ERR_FORMAT, "%s: label entry %lld is %d, outside [0, %d)", name, (long long)i, labels[i],
                         classes > 0 ? classes : CF_IMAGE_MAX_CLASSES);
            goto fail;
        }
        if (labels[i] > maxl) maxl = labels[i];
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", name);
        goto fail;
    }
    m->base = (cf_image_source){.n = n, .h = h, .w = w, .c = c, .classes = classes > 0 ? classes : maxl + 1,
                                .read = mem_read, .free = mem_free};
    snprintf(m->base.name, sizeof m->base.name, "%s", name);
    m->pixels = pixels, m->labels = labels;
    return &m->base;
fail:
    free(pixels);
    free(labels);
    return NULL;
}

/* ---- the dataset ---- */
typedef struct {
    cf_dataset base;
    cf_image_source *src;
    cf_augment aug;
    uint64_t seed;
    int64_t *items; /* split map, or NULL */
    uint8_t *hwc[2]; /* the item and its mixing partner, decoded */
    float *other;    /* the partner's view */
} images_ds;

static cf_status img_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    images_ds *d = (images_ds *)ds;
    const cf_augment *a = &d->aug;
    cf_tensor *im = cf_batch_get(b, "images"), *lb = cf_batch_get(b, "labels"), *tg = cf_batch_get(b, "targets");
    if (!im || !lb || !tg) return cf_last_status();
    int64_t epoch = b->epoch >= 0 ? b->epoch : 0;
    size_t view = (size_t)a->channels * a->out_h * a->out_w;
    float *out = (float *)cf_data(im) + (size_t)row * view;
    int32_t la = 0, lb2 = 0;
    CF_TRY(d->src->read(d->src, d->items ? d->items[index] : index, d->hwc[0], &la));
    cf_augment_view(a, d->hwc[0], d->src->h, d->src->w, d->seed, index, epoch, 0, out);
    cf_augment_mix mix = cf_augment_draw_mix(a, d->seed, index, epoch, ds->len);
    lb2 = la;
    if (mix.mode != CF_MIX_NONE) {
        CF_TRY(d->src->read(d->src, d->items ? d->items[mix.partner] : mix.partner, d->hwc[1], &lb2));
        cf_augment_view(a, d->hwc[1], d->src->h, d->src->w, d->seed, mix.partner, epoch, 1, d->other);
        cf_augment_apply_mix(a, &mix, out, d->other);
    }
    ((int64_t *)cf_data(lb))[row] = la;
    cf_augment_targets(a, la, lb2, mix.lam, (float *)cf_data(tg) + (size_t)row * a->classes);
    return CF_OK;
}

static cf_status img_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    images_ds *d = (images_ds *)ds;
    CF_TRY(cf_batch_add(b, "images", CF_F32, CF_SHAPE(rows, d->aug.channels, d->aug.out_h, d->aug.out_w)));
    CF_TRY(cf_batch_add(b, "labels", CF_I64, CF_SHAPE(rows)));
    return cf_batch_add(b, "targets", CF_F32, CF_SHAPE(rows, d->aug.classes));
}

static void img_free(cf_dataset *ds)
{
    images_ds *d = (images_ds *)ds;
    cf_image_source_free(d->src);
    free(d->hwc[0]);
    free(d->hwc[1]);
    free(d->other);
    free(d->items);
    free(d);
}

static const cf_dataset_vtable images_vt = {"images", img_get, img_make_batch, img_free};

int64_t cf_images_split(int64_t n, double fraction, bool held_out, int64_t *out)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(((uint64_t)i * 0x9e3779b97f4a7c15ull) >> 11) / 9007199254740992.0; /* 2^53 */
        if ((u < fraction) == held_out) out[k++] = i;
    }
    return k;
}

cf_dataset *cf_images_dataset_open(cf_image_source *src, const cf_augment *aug, uint64_t seed, const int64_t *items,
                                   int64_t count, const char *name)
{
    if (!src) return NULL;
    const cf_augment *a = aug;
    const char *bad = NULL;
    if (a->channels != src->c) bad = "the augmentation's channels differ from the source's";
    else if (a->classes != src->classes) bad = "the augmentation's class count differs from the source's";
    else if (a->out_h < 1 || a->out_w < 1 || a->out_h > CF_IMAGE_MAX_SIDE || a->out_w > CF_IMAGE_MAX_SIDE) bad = "the output size is out of range";
    else if (!(a->scale_lo > 0 && a->scale_lo <= a->scale_hi && a->scale_hi <= 1)) bad = "the crop scale needs 0 < lo <= hi <= 1";
    else if (!(a->ratio_lo > 0 && a->ratio_lo <= a->ratio_hi)) bad = "the crop ratio needs 0 < lo <= hi";
    else if (!(a->smoothing >= 0 && a->smoothing < 1)) bad = "label smoothing must be in [0, 1)";
    else if (!(a->mixup_alpha >= 0 && a->cutmix_alpha >= 0 && a->mix_prob >= 0 && a->mix_prob <= 1)) bad = "mixup/cutmix alpha must be >= 0 and the mix probability in [0, 1]";
    else if (count < 1 || (!items && count > src->n)) bad = "the split is empty or larger than the source";
    for (int64_t k = 0; !bad && items && k < count; k++)
        if (items[k] < 0 || items[k] >= src->n) bad = "the split names an item outside the source";
    for (int c = 0; !bad && c < a->channels; c++)
        if (!(a->std[c] > 0)) bad = "every channel's std must be > 0";
    if (bad) {
        cf_set_error(CF_ERR_ARG, "%s: %s (source %s: %lld images %d x %d x %d, %d classes; split of %lld items)", name, bad,
                     src->name, (long long)src->n, src->h, src->w, src->c, src->classes, (long long)count);
        cf_image_source_free(src);
        return NULL;
    }
    images_ds *d = calloc(1, sizeof *d);
    size_t item = (size_t)src->h * src->w * src->c;
    if (d) d->hwc[0] = malloc(item), d->hwc[1] = malloc(item),
           d->other = malloc(sizeof(float) * (size_t)a->channels * a->out_h * a->out_w),
           d->items = items ? malloc(sizeof *items * (size_t)count) : NULL;
    if (!d || !d->hwc[0] || !d->hwc[1] || !d->other || (items && !d->items)) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", name);
        if (d) d->src = src, img_free(&d->base);
        else cf_image_source_free(src);
        return NULL;
    }
    d->base.vt = &images_vt;
    d->base.len = count;
    snprintf(d->base.name, sizeof d->base.name, "%s", name);
    d->base.info.channels = 0;
    d->base.info.frame_h = a->out_h, d->base.info.frame_w = a->out_w, d->base.info.frames = 1;
    d->base.info.vocab = src->classes;
    d->base.info.units = src->c; /* image channels */
    if (items) memcpy(d->items, items, sizeof *items * (size_t)count);
    d->src = src, d->aug = *a, d->seed = seed;
    return &d->base;
}
