/* A synthetic long-range classification task in the Long Range Arena's file layout (Tay et al., "Long Range
 * Arena: A Benchmark for Efficient Transformers", ICLR 2021: tab-separated files with a "Source\tTarget"
 * header, one example per line), used for EcoFormer's LRA-"Image"-like experiment.
 *
 * An example is a size x size grayscale image flattened row-major (Source: size^2 space-separated integers in
 * [0, 255]) and its class (Target: an integer). The shapes generator draws one of four classes at a random
 * position: 0 horizontal bar, 1 vertical bar, 2 diagonal (either direction), 3 cross (a plus sign); bars are
 * one pixel wide and size/2 .. 3 size/4 long; then every pixel turns white (255) with probability `noise`.
 * Vertical structure links tokens `size` apart in the flattened sequence: the long-range part.
 *
 *     cf_lra_shapes_write("dir/shapes16_train.tsv", 16, 8000, 0.1, seed, 0);
 *     cf_lra_set *s = cf_lra_read("dir/shapes16_train.tsv", 256);   // pixels [count, 256], labels [count]
 *     ... s->pixels[i * s->seq + t], s->labels[i] ...
 *     cf_lra_free(s); */
#ifndef CF_LRA_SHAPES_H
#define CF_LRA_SHAPES_H

#include "autograd/cformer.h"

#define CF_LRA_SHAPE_CLASSES 4
#define CF_LRA_MAX_SIDE 1024

typedef struct cf_lra_set {
    int64_t count, seq;   /* examples, tokens per example */
    int64_t classes;      /* 1 + the largest label */
    uint8_t *pixels;      /* [count, seq] */
    int64_t *labels;      /* [count] */
} cf_lra_set;

/* One image of the shapes task into px [size * size] (0 or 255); returns its class. */
int cf_lra_shapes_draw(uint8_t *px, int64_t size, double noise, uint64_t seed, uint64_t index);
/* Writes examples first .. first + count - 1 of the seed's sequence atomically (size in [4, CF_LRA_MAX_SIDE],
 * noise in [0, 1]); splits take disjoint ranges of one sequence. */
cf_status cf_lra_shapes_write(const char *path, int64_t size, int64_t count, double noise, uint64_t seed,
                              uint64_t first);
/* The split files of a directory: <dir>/shapes<size>_<split>.tsv, split "train", "val" or "test". */
void cf_lra_shapes_path(char *buf, size_t n, const char *dir, int64_t size, const char *split);
/* Writes the three splits into dir (made when missing): train takes examples [0, train) of the seed's
 * sequence, val the next val, test the next test, so no example is shared. only_missing keeps files that
 * exist (they are used as they are: delete them to regenerate with other counts). */
cf_status cf_lra_shapes_write_splits(const char *dir, int64_t size, const int64_t counts[3], double noise,
                                     uint64_t seed, bool only_missing);
/* Reads an LRA-style TSV whose Source rows hold exactly seq integers in [0, 255] and whose Target is an
 * integer in [0, 2^20); errors name the file, the line and what is wrong. */
cf_lra_set *cf_lra_read(const char *path, int64_t seq);
void cf_lra_free(cf_lra_set *s);

#endif
