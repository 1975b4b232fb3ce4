/* A synthetic language and a small labelled task on it, in the layout of GLUE's single-sentence tasks (SST-2,
 * CoLA: a TSV with a "sentence\tlabel" header, one example per line) and of a plain pre-training corpus (one
 * sentence per line), for AxFormer's CPU reproduction (our CPU plan: a bigram "language" of 200 tokens; Nagarajan et
 * al., "AxFormer", arXiv 2010.03688, fine-tune on a small downstream task, then approximate).
 *
 * Language: words w0 .. w{V-1}. Each word has 6 successors drawn once from the seed with weights 1/(r+1)
 * (rank r), the first word is uniform, a sentence is `len` words. Task: label 1 iff the word w{B} is followed
 * within 3 positions by w{A} (A = 1, B = 2), a local pattern; half the examples are positive (the pattern is
 * planted at a random place), the negatives are sentences without it.
 * Token ids of a read sentence: 0 [PAD], 1 [CLS], 2 [MASK], word w_n -> 3 + n.
 *
 *     cf_synlang_write_dir("dir", 200, 63, counts, seed, true);   // dir/corpus.txt, dir/{train,val,test}.tsv
 *     cf_synlang_set *s = cf_synlang_read("dir/train.tsv", 200, 63, true);  // ids [count, len], labels
 *     cf_synlang_free(s);
 */
#ifndef CF_SYNLANG_H
#define CF_SYNLANG_H

#include "autograd/cformer.h"

#define CF_SYNLANG_PAD 0
#define CF_SYNLANG_CLS 1
#define CF_SYNLANG_MASK 2
#define CF_SYNLANG_FIRST_WORD 3
#define CF_SYNLANG_MAX_VOCAB 100000
#define CF_SYNLANG_MAX_LEN 4096
#define CF_SYNLANG_WORD_A 1
#define CF_SYNLANG_WORD_B 2
#define CF_SYNLANG_WINDOW 3

typedef struct cf_synlang_set {
    int64_t count, len; /* sentences, words per sentence */
    int32_t *ids;       /* [count, len]: token ids (3 + word index) */
    int64_t *labels;    /* [count]; NULL for a corpus */
} cf_synlang_set;

/* The task's label of a sentence of word indices (not token ids). */
int cf_synlang_label(const int32_t *words, int64_t len);
/* Sentence `index` of the seed's stream into words [len]; label < 0: a corpus sentence (any label), else a
 * sentence with that label. */
void cf_synlang_sentence(int32_t *words, int64_t vocab, int64_t len, uint64_t seed, uint64_t index, int label);
/* Writes dir/corpus.txt (counts[0] sentences) and dir/{train,val,test}.tsv (counts[1..3]) atomically; every split
 * draws from its own range of the stream, so no example is shared. only_missing keeps files that exist. */
cf_status cf_synlang_write_dir(const char *dir, int64_t vocab, int64_t len, const int64_t counts[4], uint64_t seed,
                               bool only_missing);
/* Reads a corpus (labelled = false) or a TSV split; every sentence must have exactly len words w<n> with
 * n < vocab. Errors name the file, the line and what is wrong. */
cf_synlang_set *cf_synlang_read(const char *path, int64_t vocab, int64_t len, bool labelled);
void cf_synlang_free(cf_synlang_set *s);

#endif
