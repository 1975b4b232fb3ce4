/* Synthetic multivariate classification set with planted motifs (the ShapeFormer experiment's data; Le et
 * al., KDD 2024, motivate shapelets with class-specific local patterns of Sec. 1): every series and dimension is
 * a sine of random period P ~ U[20, 40] and phase, plus a random walk (step std 0.05) and N(0, 0.3^2) noise;
 * each class plants one motif of length U{12..20} centred at a jittered position (+-8):
 *     class 0: Gaussian bump on dimension 0 near t = 20      class 1: V-notch on dimension 1 near t = 50
 *     class 2: square pulse on dimension 2 near t = 30       class 3: double peak on dimension 0 near t = 70
 * with amplitude `amplitude` +-20% (the sine has amplitude 1), so the classes differ only in the motif.
 * V = 3, T = 100, labels "c0".."c3".
 *
 *     int64_t counts[4] = {40, 20, 10, 5};
 *     cf_motif *planted;
 *     cf_ts_set *s = cf_motifs_make(counts, 1.25, seed, &planted);   // cases in class order
 *     cf_ts_write("Motifs_TRAIN.ts", s);
 */
#ifndef CF_DATA_MOTIFS_H
#define CF_DATA_MOTIFS_H

#include "data/series/ts.h"

#define CF_MOTIF_CLASSES 4
#define CF_MOTIF_DIMS 3
#define CF_MOTIF_LENGTH 100

typedef struct cf_motif {
    int64_t dim, start, end; /* the planted span x[dim, start:end] */
} cf_motif;

/* counts[c] cases of class c (c in class order); *planted (optional, the caller frees) gets one span per case. */
cf_ts_set *cf_motifs_make(const int64_t counts[CF_MOTIF_CLASSES], double amplitude, uint64_t seed, cf_motif **planted);
/* Writes DIR/<name>_TRAIN.ts, _VAL.ts and _TEST.ts: training counts 20 per class (imbalanced: 40/20/10/5),
 * validation 10 and test 50 per class, from seeds seed, seed + 1, seed + 2. */
cf_status cf_motifs_write_splits(const char *dir, const char *name, bool imbalanced, double amplitude, uint64_t seed);

#endif
