/* Image files on disk: the HDF5 source (Galaxy10 layout, names from the caller) and the ImageFolder source
 * (PNG grey / RGB / RGBA / palette-free 16-bit, JPEG), each malformed case named by file and entry, and the
 * recipe's `data.type: images` reaching them with its val split. */
#define CHECK_SHOW_LAST_ERROR
#include "data/images/idx.h"
#include "data/images/images.h"
#include "recipes/run/registry_internal.h"
#include "recipes/recipe/recipe.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef CF_HAVE_HDF5
#include <hdf5.h>
#endif
#ifdef CF_HAVE_JPEG
#include <jpeglib.h>
#endif

#ifdef CF_HAVE_HDF5
static void write_h5(const char *path, hid_t img_type, int rank, const hsize_t *idims, const void *px, hsize_t nl,
                     const int64_t *labels)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t s = H5Screate_simple(rank, idims, NULL);
    hid_t d = H5Dcreate2(f, "images", img_type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, img_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    H5Dclose(d), H5Sclose(s);
    s = H5Screate_simple(1, &nl, NULL);
    d = H5Dcreate2(f, "ans", H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels);
    H5Dclose(d), H5Sclose(s), H5Fclose(f);
}
#endif

static void test_h5(void)
{
#ifndef CF_HAVE_HDF5
    CHECK(cf_image_source_h5("x.h5", "images", "ans") == NULL);
    CHECK_ERROR_HAS("no HDF5");
#else
    uint8_t px[6 * 4 * 5 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 3);
    int64_t lab[6] = {0, 9, 2, 3, 4, 9};
    hsize_t d4[4] = {6, 4, 5, 3};
    write_h5(tmp_path("g10.h5"), H5T_NATIVE_UINT8, 4, d4, px, 6, lab);
    cf_image_source *s = cf_image_source_h5(tmp_path("g10.h5"), "images", "ans");
    CHECK(s && s->n == 6 && s->h == 4 && s->w == 5 && s->c == 3 && s->classes == 10);
    if (s) {
        uint8_t im[60];
        int32_t l = -1;
        CHECK(s->read(s, 5, im, &l) == CF_OK && l == 9 && memcmp(im, px + 5 * 60, 60) == 0);
        cf_image_source_free(s);
    }
    /* names from the caller: a missing dataset is named */
    CHECK(cf_image_source_h5(tmp_path("g10.h5"), "images", "labels") == NULL);
    CHECK_ERROR_HAS("no dataset 'labels'");
    /* float images refused by name */
    float fpx[6 * 4 * 5 * 3] = {0};
    write_h5(tmp_path("float.h5"), H5T_NATIVE_FLOAT, 4, d4, fpx, 6, lab);
    CHECK(cf_image_source_h5(tmp_path("float.h5"), "images", "ans") == NULL);
    CHECK_ERROR_HAS("unsigned 8-bit");
    /* counts that disagree */
    write_h5(tmp_path("count.h5"), H5T_NATIVE_UINT8, 4, d4, px, 5, lab);
    CHECK(cf_image_source_h5(tmp_path("count.h5"), "images", "ans") == NULL);
    CHECK_ERROR_HAS("5 entries");
    /* wrong rank */
    hsize_t d2[2] = {6, 60};
    write_h5(tmp_path("rank.h5"), H5T_NATIVE_UINT8, 2, d2, px, 6, lab);
    CHECK(cf_image_source_h5(tmp_path("rank.h5"), "images", "ans") == NULL);
    CHECK_ERROR_HAS("2 dimensions");
    /* not HDF5 at all */
    FILE *f = fopen(tmp_path("text.h5"), "w");
    if (f) fputs("not hdf5\n", f), fclose(f);
    CHECK(cf_image_source_h5(tmp_path("text.h5"), "images", "ans") == NULL);
    CHECK_ERROR_HAS("text.h5");
#endif
}

static int write_png(const char *path, int w, int h, png_uint_32 format, const void *px)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION, im.width = (png_uint_32)w, im.height = (png_uint_32)h, im.format = format;
    return png_image_write_to_file(&im, path, 0, px, 0, NULL);
}

#ifdef CF_HAVE_JPEG
static void write_jpeg(const char *path, int w, int h, const uint8_t *rgb)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}
#endif

static void test_folder(void)
{
    mkdir(tmp_path("tree"), 0755), mkdir(tmp_path("tree/train"), 0755);
    mkdir(tmp_path("tree/train/cat"), 0755), mkdir(tmp_path("tree/train/dog"), 0755);
    uint8_t grey[4 * 4], rgb[4 * 4 * 3], rgba[4 * 4 * 4];
    uint16_t g16[4 * 4];
    for (int i = 0; i < 16; i++) {
        grey[i] = (uint8_t)(i * 16);
        g16[i] = (uint16_t)(i * 4369); /* i * 65535 / 15 */
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)(c == 0 ? 200 : c == 1 ? 100 : 50);
        for (int c = 0; c < 4; c++) rgba[4 * i + c] = (uint8_t)(c == 3 ? 255 : 70);
    }
    CHECK(write_png(tmp_path("tree/train/cat/a_grey.png"), 4, 4, PNG_FORMAT_GRAY, grey));
    CHECK(write_png(tmp_path("tree/train/cat/b_rgba.png"), 4, 4, PNG_FORMAT_RGBA, rgba));
    CHECK(write_png(tmp_path("tree/train/dog/c_rgb.PNG"), 4, 4, PNG_FORMAT_RGB, rgb));
    CHECK(write_png(tmp_path("tree/train/dog/d_16bit.png"), 4, 4, PNG_FORMAT_LINEAR_Y, g16));
#ifdef CF_HAVE_JPEG
    write_jpeg(tmp_path("tree/train/dog/e.jpg"), 4, 4, rgb);
#endif
    FILE *f = fopen(tmp_path("tree/train/dog/notes.txt"), "w"); /* ignored: not an image */
    if (f) fputs("x", f), fclose(f);
    cf_image_source *s = cf_image_source_folder(tmp_path("tree/train"), 4, 4, 3);
    CHECK(s != NULL);
    if (!s) return;
#ifdef CF_HAVE_JPEG
    CHECK(s->n == 5, "%lld images", (long long)s->n);
#else
    CHECK(s->n == 4, "%lld images", (long long)s->n);
#endif
    CHECK(s->classes == 2);
    uint8_t im[48];
    int32_t l;
    CHECK(s->read(s, 0, im, &l) == CF_OK && l == 0 && im[0] == 0 && im[3 * 5] == 80 && im[3 * 5 + 2] == 80);
    CHECK(s->read(s, 1, im, &l) == CF_OK && l == 0 && im[0] == 70 && im[47] == 70);
    CHECK(s->read(s, 2, im, &l) == CF_OK && l == 1 && im[0] == 200 && im[1] == 100 && im[2] == 50);
    CHECK(s->read(s, 3, im, &l) == CF_OK && l == 1 && im[3 * 15] == 255 && im[3 * 1] == 17, "16-bit: %d %d", im[45], im[3]);
#ifdef CF_HAVE_JPEG
    CHECK(s->read(s, 4, im, &l) == CF_OK && l == 1 && abs(im[0] - 200) <= 3 && abs(im[1] - 100) <= 3 && abs(im[2] - 50) <= 3,
          "jpeg %d %d %d", im[0], im[1], im[2]);
#endif
    /* grey output from RGB: BT.601 luma of (200, 100, 50) = 124.2 */
    cf_image_source *g = cf_image_source_folder(tmp_path("tree/train"), 2, 2, 1);
    CHECK(g && g->read(g, 2, im, &l) == CF_OK && im[0] == 124, "grey %d", im[0]);
    cf_image_source_free(g);
    /* a corrupt PNG is named when read */
    f = fopen(tmp_path("tree/train/cat/a_grey.png"), "r+b");
    if (f) fseek(f, 0, SEEK_SET), fputs("garbage!", f), fclose(f);
    CHECK(s->read(s, 0, im, &l) != CF_OK);
    CHECK_ERROR_HAS("a_grey.png");
    cf_image_source_free(s);
    /* an empty class folder and an empty root are named */
    mkdir(tmp_path("tree/train/empty"), 0755);
    CHECK(cf_image_source_folder(tmp_path("tree/train"), 4, 4, 3) == NULL);
    CHECK_ERROR_HAS("'empty' holds no");
    mkdir(tmp_path("none"), 0755);
    CHECK(cf_image_source_folder(tmp_path("none"), 4, 4, 3) == NULL);
    CHECK_ERROR_HAS("no class folders");
    CHECK(cf_image_source_folder(tmp_path("missing"), 4, 4, 3) == NULL);
    CHECK_ERROR_HAS("missing");
    rmdir(tmp_path("tree/train/empty"));
}

/* data.type: images through the registry: the IDX format with a train and a t10k pair, and an HDF5 file
 * split by val_fraction (the two parts partition the file). */
static void test_recipe(void)
{
    uint8_t px[10 * 6 * 6], lb[10];
    for (int i = 0; i < 360; i++) px[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++) lb[i] = (uint8_t)(i % 3);
    const int64_t di[3] = {10, 6, 6}, dl[1] = {10}, ti[3] = {4, 6, 6}, tl[1] = {4};
    mkdir(tmp_path("idx"), 0755);
    CHECK(cf_idx_write(tmp_path("idx/train-images-idx3-ubyte.gz"), 3, di, px) == CF_OK);
    CHECK(cf_idx_write(tmp_path("idx/train-labels-idx1-ubyte.gz"), 1, dl, lb) == CF_OK);
    CHECK(cf_idx_write(tmp_path("idx/t10k-images-idx3-ubyte"), 3, ti, px) == CF_OK);
    CHECK(cf_idx_write(tmp_path("idx/t10k-labels-idx1-ubyte"), 1, tl, lb) == CF_OK);
    cf_register_builtin_datasets();
    char text[1024];
    snprintf(text, sizeof text,
             "data:\n  type: images\n  format: idx\n  path: %s\n  height: 4\n  width: 4\n  mean: 0.5\n  std: 0.25\n"
             "  augment:\n    crop: true\n    flip: true\n    mixup: 0.2\n    smoothing: 0.1\n",
             tmp_path("idx"));
    cf_recipe *r = cf_recipe_parse(text, "images.yaml");
    CHECK(r != NULL);
    if (!r) return;
    cf_dataset *tr = cf_dataset_create("images", &(cf_dataset_config){r, "train"});
    cf_dataset *va = cf_dataset_create("images", &(cf_dataset_config){r, "val"});
    CHECK(tr && tr->len == 10 && tr->info.vocab == 3 && tr->info.frame_h == 4);
    CHECK(va && va->len == 4);
    if (tr) {
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(tr, 2, &b) == CF_OK && cf_dataset_get(tr, 7, &b, 1) == CF_OK);
        const float *t = cf_data(cf_batch_get(&b, "targets"));
        CHECK_NEAR(t[3] + t[4] + t[5], 1.0, 1e-6);
        CHECK(t[3 + lb[7]] < 0.99f); /* smoothing 0.1 (and mixup) on the training split */
        cf_batch_free(&b);
    }
    /* train-eval: the training items as evaluation sees them, no augmentation. The t10k file repeats the first
     * 4 training images, so item i of both must be the same tensor, with one-hot targets. */
    cf_dataset *te = cf_dataset_create("images", &(cf_dataset_config){r, "train-eval"});
    CHECK(te && te->len == 10, "%s", cf_last_error());
    if (te && va) {
        cf_batch b1 = {0}, b2 = {0};
        CHECK(cf_dataset_make_batch(te, 1, &b1) == CF_OK && cf_dataset_make_batch(va, 1, &b2) == CF_OK);
        for (int i = 0; i < 4; i++) {
            CHECK(cf_dataset_get(te, i, &b1, 0) == CF_OK && cf_dataset_get(va, i, &b2, 0) == CF_OK);
            const float *x1 = cf_data(cf_batch_get(&b1, "images")), *x2 = cf_data(cf_batch_get(&b2, "images"));
            const float *t = cf_data(cf_batch_get(&b1, "targets"));
            CHECK(memcmp(x1, x2, sizeof *x1 * 16) == 0, "train-eval item %d differs from the unaugmented one", i);
            CHECK(t[lb[i]] == 1.0f, "train-eval item %d: target %g, not one-hot", i, (double)t[lb[i]]);
        }
        cf_batch_free(&b1), cf_batch_free(&b2);
    }
    cf_dataset_free(te);
    cf_dataset_free(tr), cf_dataset_free(va);
    cf_recipe_free(r);
    /* a bad format is named by its key */
    r = cf_recipe_parse("data:\n  type: images\n  format: tiff\n  path: /nonexistent\n", "bad.yaml");
    CHECK(r && cf_dataset_create("images", &(cf_dataset_config){r, "train"}) == NULL);
    CHECK_ERROR_HAS("data.format");
    cf_recipe_free(r);
#ifdef CF_HAVE_HDF5
    snprintf(text, sizeof text, "data:\n  type: images\n  format: h5\n  path: %s\n  val_fraction: 0.5\n", tmp_path("g10.h5"));
    r = cf_recipe_parse(text, "g10.yaml");
    tr = cf_dataset_create("images", &(cf_dataset_config){r, "train"});
    va = cf_dataset_create("images", &(cf_dataset_config){r, "val"});
    CHECK(tr && va && tr->len + va->len == 6 && tr->len > 0 && va->len > 0);
    cf_dataset_free(tr), cf_dataset_free(va);
    cf_recipe_free(r);
#endif
}

int main(void)
{
    if (!test_dir_make("test_images_files")) return 1;
    RUN(test_h5);
    RUN(test_folder);
    RUN(test_recipe);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
