/* `cformer tokenizer train FILE --vocab N -o VOCAB`: a byte-level BPE vocabulary for data.vocab_file;
 * `cformer tokenizer encode|decode`: any tokenizer a recipe can name, from the command line. */
#include "tools/cli.h"
#include "autograd/fileio.h"
#include "data/text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *read_all(const char *path, size_t *n) { return (uint8_t *)cf_read_file(path, 0, n); }

static int train(int argc, char **argv)
{
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

/* encode: TEXT (or --file FILE) -> ids on one line; decode: ids -> bytes on stdout */
static int encode_decode(int argc, char **argv, bool encode)
{
    const char *kind = "byte", *vocab = NULL, *file = NULL, *text = NULL;
    int first_id = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) kind = argv[++i];
        else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab = argv[++i];
        else if (encode && strcmp(argv[i], "--file") == 0 && i + 1 < argc) file = argv[++i];
        else if (encode && !text && !file && (argv[i][0] != '-' || argv[i][1] == 0)) text = argv[i];
        else if (!encode && (argv[i][0] != '-' || (argv[i][1] >= '0' && argv[i][1] <= '9'))) {
            first_id = i;
            break;
        } else {
            fprintf(stderr, "cformer tokenizer: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (encode && !text && !file) {
        fprintf(stderr, "cformer tokenizer encode: give TEXT or --file FILE\n");
        return 2;
    }
    cf_tokenizer *tk = cf_tokenizer_open(kind, vocab);
    if (!tk) {
        fprintf(stderr, "cformer tokenizer: %s\n", cf_last_error());
        return 2;
    }
    cf_status st = CF_OK;
    if (encode) {
        size_t n = text ? strlen(text) : 0, k = 0;
        uint8_t *bytes = file ? read_all(file, &n) : NULL;
        int32_t *ids = (!file || bytes) ? malloc((cf_tokenizer_max_tokens(tk, n) + 1) * sizeof *ids) : NULL;
        if (!ids) st = file && !bytes ? cf_last_status() : cf_set_error(CF_ERR_OOM, "out of memory");
        if (st == CF_OK) st = cf_tokenizer_encode(tk, file ? bytes : (const uint8_t *)text, n, ids, &k);
        for (size_t i = 0; st == CF_OK && i < k; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        if (st == CF_OK) printf("\n");
        free(ids);
        free(bytes);
    } else {
        int n = first_id ? argc - first_id : 0;
        int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
        size_t need = 0;
        for (int i = 0; ids && i < n; i++) {
            int64_t v;
            if (!cf_cli_int("tokenizer decode", "ID", argv[first_id + i], 0, INT32_MAX, &v)) {
                free(ids);
                cf_tokenizer_free(tk);
                return 2;
            }
            ids[i] = (int32_t)v;
        }
        if (!ids) st = cf_set_error(CF_ERR_OOM, "out of memory");
        if (st == CF_OK) cf_tokenizer_decode(tk, ids, (size_t)n, NULL, 0, &need); /* the size, or the bad id */
        uint8_t *out = st == CF_OK ? malloc(need + 1) : NULL;
        if (st == CF_OK) st = out ? cf_tokenizer_decode(tk, ids, (size_t)n, out, need, &need) : cf_set_error(CF_ERR_OOM, "out of memory");
        if (st == CF_OK) fwrite(out, 1, need, stdout);
        free(out);
        free(ids);
    }
    cf_tokenizer_free(tk);
    if (st != CF_OK) {
        fprintf(stderr, "cformer tokenizer: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}

int cf_cmd_tokenizer(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "train") == 0 && !cf_cli_wants_help(argc, argv)) return train(argc, argv);
    if ((strcmp(sub, "encode") == 0 || strcmp(sub, "decode") == 0) && !cf_cli_wants_help(argc, argv))
        return encode_decode(argc, argv, strcmp(sub, "encode") == 0);
    printf("usage: cformer tokenizer train FILE --vocab N -o VOCAB\n"
           "       cformer tokenizer encode [--kind byte|bpe|hf|spm] [--vocab FILE] (TEXT | --file FILE)\n"
           "       cformer tokenizer decode [--kind byte|bpe|hf|spm] [--vocab FILE] ID...\n\n"
           "train learns byte-level BPE merges from FILE (any bytes) up to N tokens (256 byte tokens included) and\n"
           "writes the vocabulary for a recipe's data.tokenizer: bpe / data.vocab_file. encode prints the ids of\n"
           "TEXT (or of FILE's bytes) on one line; decode writes the bytes of the ids. --kind and --vocab are a\n"
           "recipe's data.tokenizer and data.vocab_file: bpe takes a `tokenizer train` file, hf a Hugging Face\n"
           "tokenizer.json (byte-level BPE; added tokens in the text stay text), spm a SentencePiece tokenizer.model.\n");
    return cf_cli_wants_help(argc, argv) ? 0 : 2;
}
