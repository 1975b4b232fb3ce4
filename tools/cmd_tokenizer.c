/* `cformer tokenizer train FILE --vocab N -o VOCAB`: a byte-level BPE vocabulary for data.vocab_file. */
#include "tools/cli.h"
#include "data/text/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        cf_set_error(err ? CF_ERR_IO : CF_ERR_OOM, "%s: cannot read", path);
        return NULL;
    }
    *n = len;
    return buf;
}

int cf_cmd_tokenizer(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv) || argc < 2 || strcmp(argv[1], "train") != 0) {
        printf("usage: cformer tokenizer train FILE --vocab N -o VOCAB\n\n"
               "Learns byte-level BPE merges from FILE (any bytes) up to N tokens (256 byte tokens included) and\n"
               "writes the vocabulary for a recipe's data.tokenizer: bpe / data.vocab_file.\n");
        return cf_cli_wants_help(argc, argv) ? 0 : 2;
    }
    const char *in = NULL, *out = NULL;
    int64_t vocab = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) {
            if (!cf_cli_int("tokenizer train", argv[i], argv[i + 1], 257, 1 << 20, &vocab)) return 2;
            i++;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !in) in = argv[i];
        else {
            fprintf(stderr, "cformer tokenizer: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out || !vocab) {
        fprintf(stderr, "cformer tokenizer train: need FILE, --vocab N (> 256) and -o VOCAB\n");
        return 2;
    }
    size_t n = 0;
    uint8_t *text = read_all(in, &n);
    cf_bpe *bpe = text ? cf_bpe_train(text, n, (int)vocab) : NULL;
    cf_status st = bpe ? cf_bpe_save(bpe, out) : cf_last_status();
    if (st == CF_OK) printf("wrote %s: %d tokens (%d merges) from %zu bytes\n", out, cf_bpe_vocab_size(bpe), cf_bpe_merge_count(bpe), n);
    cf_bpe_free(bpe);
    free(text);
    if (st != CF_OK) {
        fprintf(stderr, "cformer tokenizer: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
