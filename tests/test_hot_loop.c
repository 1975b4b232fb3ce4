/* No malloc in the training hot loop after the first steps: a GPT trained through the loader, the tape,
 * backward (with each recompute mode), clipping and AdamW; and an image classifier (a small Astroformer) trained
 * through the image loader with the full augmentation chain (random resized crop, flip, mixup, cutmix, label
 * smoothing) from IDX files, a PNG folder and a JPEG folder, decoding on the prefetch thread. Every
 * malloc/calloc/realloc/posix_memalign of our code is counted, on any thread (the link wraps them; see
 * tests/CMakeLists.txt). Allocations inside shared libraries (libpng, libjpeg, libc's fopen) are not ours and
 * not counted: data/images/README.md lists them. */
#include "tests/check.h"
#include "tests/tmpdir.h"
#include "data/images/idx.h"
#include "data/loader.h"
#include "layers/gpt.h"
#include "optim/optim.h"
#include "recipes/run/model.h"

#include <png.h>
#include <stdatomic.h>
#include <stdlib.h>
#ifdef CF_HAVE_JPEG
#include <jpeglib.h>
#endif

static atomic_long allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n)
{
    allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    allocs++;
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    allocs++;
    return __real_posix_memalign(p, a, n);
}

/* one training step on batch b: the loss, backward, clipping, the optimizer and the arena reset */
static void train_step(cf_model *m, cf_ctx *ctx, cf_params *ps, cf_optimizer *opt, const cf_batch *b)
{
    cf_params_zero_grad(ps);
    cf_tensor *loss = m->vt->loss(m, ctx, b, NULL);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK);
    cf_clip_grad_norm(ps, 1.0);
    cf_optim_step(opt, 1e-3);
    cf_step_reset(ctx);
}

static void test_gpt(void)
{
    cf_recipe *r = cf_recipe_parse("model:\n  type: gpt\ndata:\n  type: random_tokens\n  size: 256\n", "hot.yaml");
    CHECK(cf_recipe_set(r, "model.vocab=64") == CF_OK && cf_recipe_set(r, "model.seq=32") == CF_OK);
    CHECK(cf_recipe_set(r, "model.dim=32") == CF_OK && cf_recipe_set(r, "model.layers=2") == CF_OK);
    CHECK(cf_recipe_set(r, "model.dropout=0.1") == CF_OK);
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 2, .arena_bytes = 1 << 20});
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_dataset *ds = cf_dataset_create("random_tokens", &(cf_dataset_config){.recipe = r, .split = "train"});
    cf_model *m = ds ? cf_model_find("gpt")->create(r, ps, &ds->info) : NULL;
    CHECK(m && ds);
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = 4;
    cf_loader *l = cf_loader_create(ds, &lc);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    /* each recompute mode (train.recompute): a segment's rerun keeps to the arena, the tape and the stash */
    for (int mode = CF_RECOMPUTE_NONE; mode <= CF_RECOMPUTE_BLOCK; mode++) {
        cf_set_recompute_mode(ctx, (cf_recompute_mode)mode);
        long before = 0;
        for (int step = 0; step < 10 && l && opt; step++) {
            if (step == 4) before = allocs; /* the first steps size the arena, tape and free lists */
            train_step(m, ctx, ps, opt, cf_loader_next(l));
        }
        long during = allocs - before;
        CHECK(before > 0); /* the wrapping works: setting up did allocate */
        if (during) fprintf(stderr, "recompute mode %d: %ld allocations in 6 steady-state steps\n", mode, during);
        CHECK(during == 0);
    }
    cf_loader_free(l);
    cf_dataset_free(ds);
    cf_optim_free(opt);
    m->vt->free(m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
    cf_recipe_free(r);
}

/* The image files: N images of S x S, label i % 3; grey IDX, RGB PNG and RGB JPEG. */
enum { N = 24, S = 20 };

static void pixels(int i, int c, uint8_t *px)
{
    for (int k = 0; k < S * S * c; k++) px[k] = (uint8_t)((k * (i + 3) + 17 * i) & 255);
}

#ifdef CF_HAVE_JPEG
static bool write_jpeg(const char *path, const uint8_t *rgb)
{
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = S, c.image_height = S, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * S * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0;
}
#endif

static bool write_files(void)
{
    uint8_t grey[N * S * S], lab[N], rgb[S * S * 3];
    for (int i = 0; i < N; i++) pixels(i, 1, grey + i * S * S), lab[i] = (uint8_t)(i % 3);
    const int64_t di[3] = {N, S, S}, dl[1] = {N};
    bool ok = mkdir(tmp_path("idx"), 0755) == 0 && cf_idx_write(tmp_path("idx/train-images-idx3-ubyte"), 3, di, grey) == CF_OK &&
              cf_idx_write(tmp_path("idx/train-labels-idx1-ubyte"), 1, dl, lab) == CF_OK &&
              cf_idx_write(tmp_path("idx/t10k-images-idx3-ubyte"), 3, di, grey) == CF_OK &&
              cf_idx_write(tmp_path("idx/t10k-labels-idx1-ubyte"), 1, dl, lab) == CF_OK;
    const char *formats[2] = {"png", "jpg"};
    for (int f = 0; f < 2 && ok; f++) {
        char dir[64];
        snprintf(dir, sizeof dir, "%s", formats[f]);
        ok = mkdir(tmp_path(dir), 0755) == 0;
        for (int k = 0; k < 3 && ok; k++) snprintf(dir, sizeof dir, "%s/c%d", formats[f], k), ok = mkdir(tmp_path(dir), 0755) == 0;
        for (int i = 0; i < N && ok; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s/c%d/%02d.%s", formats[f], i % 3, i, formats[f]);
            pixels(i, 3, rgb);
            if (f == 0) {
                png_image im;
                memset(&im, 0, sizeof im);
                im.version = PNG_IMAGE_VERSION, im.width = S, im.height = S, im.format = PNG_FORMAT_RGB;
                ok = png_image_write_to_file(&im, tmp_path(name), 0, rgb, 0, NULL) != 0;
            } else {
#ifdef CF_HAVE_JPEG
                ok = write_jpeg(tmp_path(name), rgb);
#endif
            }
        }
    }
    return ok;
}

/* A small Astroformer trained 12 steps of 4 on `format` (idx, png or jpg) with the full augmentation chain:
 * steps 4-11 (8 steps, past an epoch's end: 6 batches per epoch) must allocate nothing, on the training
 * thread or the prefetch thread that decodes and augments the next batch. */
static void test_images(const char *format)
{
    char text[1536];
    snprintf(text, sizeof text,
             "model:\n  type: astroformer\n  stages: CCCT\n  dims: [8, 8, 8, 8]\n  depths: [1, 1, 1, 1]\n"
             "  strides: [2, 1, 1, 1]\n  stem: 8\n  stem_stride: 2\n  head_dim: 8\n  head_hidden: 8\n  dropout: 0.1\n"
             "data:\n  type: images\n  format: %s\n  path: %s\n  height: 16\n  width: 16\n  channels: %d\n"
             "  mean: 0.5\n  std: 0.25\n  augment:\n    crop: true\n    scale: [0.35, 1.0]\n    flip: true\n"
             "    mixup: 0.2\n    cutmix: 1.0\n    mix_prob: 0.5\n    smoothing: 0.1\n",
             strcmp(format, "idx") == 0 ? "idx" : "folder", tmp_path(format), strcmp(format, "idx") == 0 ? 1 : 3);
    cf_recipe *r = cf_recipe_parse(text, "hot-images.yaml");
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .arena_bytes = 1 << 20});
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_dataset *ds = r ? cf_dataset_create("images", &(cf_dataset_config){.recipe = r, .split = "train"}) : NULL;
    cf_model *m = ds ? cf_model_find("astroformer")->create(r, ps, &ds->info) : NULL;
    CHECK(m && ds, "%s: %s", format, cf_last_error());
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = 4;
    cf_loader *l = m ? cf_loader_create(ds, &lc) : NULL;
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    cf_optimizer *opt = m ? cf_optim_new(ps, &oc) : NULL;
    long before = 0;
    int steps = 0;
    for (int step = 0; step < 12 && l && opt; step++, steps++) {
        if (step == 4) before = allocs;
        const cf_batch *b = cf_loader_next(l);
        CHECK(b != NULL, "%s: %s", format, cf_last_error());
        if (!b) break;
        cf_ctx_set_step(ctx, (uint64_t)step);
        train_step(m, ctx, ps, opt, b);
    }
    long during = allocs - before;
    CHECK(steps == 12 && before > 0);
    if (during) fprintf(stderr, "%s images: %ld allocations in 8 steady-state steps\n", format, during);
    CHECK(during == 0, "%s", format);
    cf_loader_free(l);
    cf_dataset_free(ds);
    cf_optim_free(opt);
    if (m) m->vt->free(m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
    cf_recipe_free(r);
}

int main(void)
{
    cf_register_builtins();
    test_gpt();
    if (!test_dir_make("hot_loop")) return 1;
    CHECK(write_files());
    test_images("idx");
    test_images("png");
#ifdef CF_HAVE_JPEG
    test_images("jpg");
#endif
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
