/* The cf_dataset over a maze file for the Searchformer / Dualformer encoder-decoder (fields, splits and
 * lengths are documented in maze.h). get() allocates nothing: the decoder sequence is drawn into a scratch
 * buffer sized at open for the split's longest record. */
#include "data/mazes/maze.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct maze_ds {
    cf_dataset base;
    cf_maze_file *file;
    cf_maze_ds_config cfg;
    int64_t *records; /* item -> file record */
    cf_maze_ds_stats stats;
    uint16_t *seq;
    int seq_cap;
} maze_ds;

enum { F_SRC, F_SRC_PAD, F_TGT_IN, F_TGT_OUT, F_INDEX, F_COUNT };
static const char *const FIELD[F_COUNT] = {"src", "src_pad", "tgt_in", "tgt_out", "index"};

cf_maze_ds_config cf_maze_ds_defaults(void)
{
    cf_maze_ds_config c;
    memset(&c, 0, sizeof c);
    c.draw = cf_maze_draw_defaults();
    c.val_fraction = 0.05;
    return c;
}

static cf_status maze_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    maze_ds *d = (maze_ds *)ds;
    int64_t S = d->stats.src_len, T = d->stats.tgt_len;
    if (b->nfields != F_COUNT)
        return cf_set_error(CF_ERR_ARG, "%s: batch has %d fields, expected the %d of make_batch", ds->name, b->nfields,
                            F_COUNT);
    for (int k = 0; k < F_COUNT; k++)
        if (strcmp(b->names[k], FIELD[k]) != 0)
            return cf_set_error(CF_ERR_ARG, "%s: batch field %d is '%s', expected '%s'", ds->name, k, b->names[k],
                                FIELD[k]);
    int64_t rec = d->records[index];
    cf_maze_record r;
    cf_status st = cf_maze_file_record(d->file, rec, &r);
    if (st != CF_OK) return st;

    int64_t *src = (int64_t *)cf_data(b->fields[F_SRC]) + (int64_t)row * S;
    uint8_t *pad = (uint8_t *)cf_data(b->fields[F_SRC_PAD]) + (int64_t)row * S;
    int64_t n = 0;
    if (n < S) src[n++] = CF_MAZE_TOK_BOS;
    for (int i = 0; i < r.n_prompt && n < S; i++) src[n++] = r.prompt[i];
    if (n < S) src[n++] = CF_MAZE_TOK_EOS;
    for (int64_t i = 0; i < S; i++) pad[i] = i >= n;
    for (int64_t i = n; i < S; i++) src[i] = CF_MAZE_TOK_PAD;

    /* one use of the record: keyed by the loader's epoch, so the draw changes every epoch */
    int64_t epoch = b->epoch >= 0 ? b->epoch : 0;
    int L = cf_maze_decoder_sequence(&r, &d->cfg.draw, rec, epoch, d->seq, d->seq_cap, NULL);
    if (L < 0) {
        cf_error_prefix("%s: ", ds->name);
        return cf_last_status();
    }
    int64_t *tin = (int64_t *)cf_data(b->fields[F_TGT_IN]) + (int64_t)row * T;
    int64_t *tout = (int64_t *)cf_data(b->fields[F_TGT_OUT]) + (int64_t)row * T;
    int64_t m = L < T ? L : T;
    tin[0] = CF_MAZE_TOK_BOS;
    for (int64_t i = 1; i < m; i++) tin[i] = d->seq[i - 1];
    for (int64_t i = 0; i < m; i++) tout[i] = d->seq[i];
    for (int64_t i = m; i < T; i++) {
        tin[i] = CF_MAZE_TOK_PAD;
        tout[i] = CF_MAZE_IGNORE;
    }
    ((int64_t *)cf_data(b->fields[F_INDEX]))[row] = rec;
    return CF_OK;
}

static cf_status maze_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    maze_ds *d = (maze_ds *)ds;
    int64_t s[2] = {rows, d->stats.src_len}, t[2] = {rows, d->stats.tgt_len}, r[1] = {rows};
    cf_status st = cf_batch_add(b, FIELD[F_SRC], CF_I64, 2, s);
    if (st == CF_OK) st = cf_batch_add(b, FIELD[F_SRC_PAD], CF_BOOL, 2, s);
    if (st == CF_OK) st = cf_batch_add(b, FIELD[F_TGT_IN], CF_I64, 2, t);
    if (st == CF_OK) st = cf_batch_add(b, FIELD[F_TGT_OUT], CF_I64, 2, t);
    if (st == CF_OK) st = cf_batch_add(b, FIELD[F_INDEX], CF_I64, 1, r);
    return st;
}

static void maze_free(cf_dataset *ds)
{
    maze_ds *d = (maze_ds *)ds;
    if (!d) return;
    cf_maze_file_close(d->file);
    free(d->records);
    free(d->seq);
    free(d);
}

static const cf_dataset_vtable maze_vt = {"maze", maze_get, maze_make_batch, maze_free};

cf_dataset *cf_maze_dataset_open(const char *path, const cf_maze_ds_config *cfg, const char *split, cf_status *st)
{
    cf_status dummy;
    if (!st) st = &dummy;
    *st = CF_OK;
    cf_maze_ds_config c = cfg ? *cfg : cf_maze_ds_defaults();
    if (!path || !split) {
        *st = cf_set_error(CF_ERR_ARG, "cf_maze_dataset_open: NULL path or split");
        return NULL;
    }
    if (cf_maze_draw_config_check(&c.draw) != CF_OK) {
        cf_error_prefix("%s: ", path);
        *st = cf_last_status();
        return NULL;
    }
    if (c.max_src < 0 || c.max_tgt < 0 || !(c.val_fraction >= 0 && c.val_fraction < 1)) {
        *st = cf_set_error(CF_ERR_ARG, "%s: max_src %" PRId64 ", max_tgt %" PRId64 " (need >= 0, 0 = longest) or "
                           "val_fraction %g (need [0, 1))", path, c.max_src, c.max_tgt, c.val_fraction);
        return NULL;
    }
    bool train = strcmp(split, "train") == 0, val = strcmp(split, "val") == 0;
    if (!train && !val && strcmp(split, "test") != 0 && strcmp(split, "all") != 0) {
        *st = cf_set_error(CF_ERR_ARG, "%s: split '%s' (maze datasets have 'train', 'val', 'test' and 'all')", path,
                           split);
        return NULL;
    }
    maze_ds *d = calloc(1, sizeof *d);
    if (!d) {
        *st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    d->base.vt = &maze_vt;
    d->cfg = c;
    snprintf(d->base.name, sizeof d->base.name, "maze %s [%s]", path, split);
    if (!(d->file = cf_maze_file_open(path))) goto fail;
    cf_maze_file_info in = cf_maze_file_get_info(d->file);
    int64_t n = in.count;
    int64_t nval = (int64_t)ceil(c.val_fraction * (double)n);
    if (nval > n) nval = n;
    int64_t lo = val ? n - nval : 0, hi = train ? n - nval : n;
    cf_maze_ds_stats *sx = &d->stats;
    sx->file_records = n;
    sx->split_records = hi - lo;
    sx->width = in.width, sx->height = in.height, sx->vocab_size = in.vocab_size;
    d->base.info.vocab = in.vocab_size;

    /* lengths: the longest of the split unless the config caps them */
    int64_t long_src = 0, long_tgt = 0;
    int seq_cap = 1;
    for (int64_t i = lo; i < hi; i++) {
        cf_maze_record r;
        cf_maze_file_record(d->file, i, &r);
        int64_t ls = r.n_prompt + 2, lt = cf_maze_decoder_max_len(&r, &c.draw);
        if (ls > long_src) long_src = ls;
        if (lt > long_tgt) long_tgt = lt;
        if (r.n_trace + r.n_plan + 1 > seq_cap) seq_cap = r.n_trace + r.n_plan + 1;
    }
    sx->src_len = c.max_src > 0 ? c.max_src : long_src;
    sx->tgt_len = c.max_tgt > 0 ? c.max_tgt : long_tgt;
    if (!(d->records = malloc((size_t)(hi - lo + 1) * sizeof *d->records)) ||
        !(d->seq = malloc((size_t)seq_cap * sizeof *d->seq))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        goto fail;
    }
    d->seq_cap = seq_cap;
    int64_t items = 0;
    for (int64_t i = lo; i < hi; i++) {
        cf_maze_record r;
        cf_maze_file_record(d->file, i, &r);
        bool over = r.n_prompt + 2 > sx->src_len || cf_maze_decoder_max_len(&r, &c.draw) > sx->tgt_len;
        if (over && !c.truncate) {
            sx->skipped++;
            continue;
        }
        sx->truncatable += over;
        d->records[items++] = i;
    }
    sx->items = d->base.len = items;
    if (items == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: split '%s' has no items (%" PRId64 " records of %" PRId64 ", %" PRId64 " skipped "
                     "as longer than src %" PRId64 " / tgt %" PRId64 " tokens)", path, split, sx->split_records, n,
                     sx->skipped, sx->src_len, sx->tgt_len);
        goto fail;
    }
    return &d->base;
fail:
    *st = cf_last_status() != CF_OK ? cf_last_status() : CF_ERR_INTERNAL;
    maze_free(&d->base);
    return NULL;
}

static const maze_ds *as_maze(const cf_dataset *ds)
{
    return ds && ds->vt == &maze_vt ? (const maze_ds *)ds : NULL;
}

cf_status cf_maze_dataset_stats(const cf_dataset *ds, cf_maze_ds_stats *out)
{
    const maze_ds *d = as_maze(ds);
    if (!d || !out)
        return cf_set_error(CF_ERR_ARG, "cf_maze_dataset_stats: %s is not a maze dataset (or NULL output)",
                            ds ? ds->name : "NULL");
    *out = d->stats;
    return CF_OK;
}

const cf_maze_file *cf_maze_dataset_file(const cf_dataset *ds)
{
    const maze_ds *d = as_maze(ds);
    return d ? d->file : NULL;
}

const cf_maze_draw_config *cf_maze_dataset_draw(const cf_dataset *ds)
{
    const maze_ds *d = as_maze(ds);
    return d ? &d->cfg.draw : NULL;
}

int64_t cf_maze_dataset_record(const cf_dataset *ds, int64_t i)
{
    const maze_ds *d = as_maze(ds);
    return d && i >= 0 && i < d->base.len ? d->records[i] : -1;
}

cf_dataset *cf_maze_factory(void *options, const char *split)
{
    const cf_maze_options *o = options;
    if (!o || !o->path) {
        cf_set_error(CF_ERR_ARG, "dataset 'maze': needs options with a path");
        return NULL;
    }
    return cf_maze_dataset_open(o->path, &o->cfg, split, NULL);
}
