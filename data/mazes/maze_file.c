/* The flat maze token file: an atomic writer, the task generator that feeds it, and the validating reader.
 * Layout in maze.h. Everything is little-endian; the whole file is read into memory on open (a 20k-task
 * 7x7 file is about 10 MB) so records are plain views. */
#include "autograd/fileio.h"
#include "data/mazes/maze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define HEADER_BYTES 96
#define ENTRY_BYTES 24
static const unsigned char MAGIC[8] = {'C', 'F', 'M', 'A', 'Z', 'E', 0, 0};

/* ---- little-endian fields ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t crc(uint32_t c, const uint8_t *p, uint64_t n)
{
    while (n > 0) { /* zlib's crc32 takes a uInt length */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = (uint32_t)crc32(c, p, k);
        p += k, n -= k;
    }
    return c;
}

/* ---- writer ---- */

struct cf_maze_writer {
    cf_atomic_file *af;
    const char *path; /* cf_atomic_path(af) */
    int w, h, min_plan;
    int64_t count, added;
    uint64_t seed;
    uint32_t flags;
    uint8_t *index;
    uint64_t data_tokens;
    uint32_t data_crc;
    int32_t max_prompt, max_trace, max_plan;
    uint8_t *buf;
    size_t buf_cap;
};

static void writer_free(cf_maze_writer *wr)
{
    free(wr->index);
    free(wr->buf);
    free(wr);
}

void cf_maze_writer_abort(cf_maze_writer *wr)
{
    if (!wr) return;
    cf_atomic_abort(wr->af);
    writer_free(wr);
}

cf_maze_writer *cf_maze_writer_open(const char *path, int w, int h, int64_t count, uint64_t seed, uint32_t flags,
                                    int min_plan_nodes)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_maze_writer_open: NULL path");
        return NULL;
    }
    if (cf_maze_vocab_size(w, h) == 0) {
        cf_set_error(CF_ERR_ARG, "%s: maze size %dx%d outside 2x2..%dx%d", path, w, h, CF_MAZE_MAX_DIM, CF_MAZE_MAX_DIM);
        return NULL;
    }
    if (count < 0 || count > ((int64_t)1 << 40)) {
        cf_set_error(CF_ERR_ARG, "%s: record count %" PRId64 " outside 0..2^40", path, count);
        return NULL;
    }
    cf_maze_writer *wr = calloc(1, sizeof *wr);
    if (!wr || !(wr->index = calloc((size_t)count + 1, ENTRY_BYTES))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for the index of %" PRId64 " records", path, count);
        if (wr) writer_free(wr);
        return NULL;
    }
    wr->w = w, wr->h = h, wr->count = count, wr->seed = seed, wr->flags = flags, wr->min_plan = min_plan_nodes;
    if (!(wr->af = cf_atomic_open(path))) {
        writer_free(wr);
        return NULL;
    }
    wr->path = cf_atomic_path(wr->af);
    /* the header and the index are written at commit; the data starts after the room reserved for them */
    if (fseeko(cf_atomic_stream(wr->af), (off_t)(HEADER_BYTES + (uint64_t)count * ENTRY_BYTES), SEEK_SET) != 0) {
        cf_set_error(CF_ERR_IO, "%s: cannot seek in its temporary file: %s", path, strerror(errno));
        cf_maze_writer_abort(wr);
        return NULL;
    }
    return wr;
}

static cf_status write_tokens(cf_maze_writer *wr, const uint16_t *t, int n)
{
    size_t need = (size_t)n * 2;
    if (need > wr->buf_cap) {
        uint8_t *nb = realloc(wr->buf, need);
        if (!nb) return cf_set_error(CF_ERR_OOM, "%s: out of memory", wr->path);
        wr->buf = nb;
        wr->buf_cap = need;
    }
    for (int i = 0; i < n; i++) put16(wr->buf + 2 * i, t[i]);
    CF_TRY(cf_atomic_write(wr->af, wr->buf, need));
    wr->data_crc = crc(wr->data_crc, wr->buf, need);
    return CF_OK;
}

cf_status cf_maze_writer_add(cf_maze_writer *wr, const cf_maze_record *r)
{
    if (!wr || !r) return cf_set_error(CF_ERR_ARG, "cf_maze_writer_add: NULL writer or record");
    if (wr->added >= wr->count)
        return cf_set_error(CF_ERR_STATE, "%s: more than the %" PRId64 " records declared", wr->path, wr->count);
    if (cf_maze_record_check(r, wr->w, wr->h) != CF_OK) {
        cf_error_prefix("%s: record %" PRId64 ": ", wr->path, wr->added);
        return cf_last_status();
    }
    cf_status st;
    if ((st = write_tokens(wr, r->prompt, r->n_prompt)) || (st = write_tokens(wr, r->trace, r->n_trace)) ||
        (st = write_tokens(wr, r->plan, r->n_plan)))
        return st;
    uint8_t *e = wr->index + (size_t)wr->added * ENTRY_BYTES;
    put64(e, wr->data_tokens);
    put32(e + 8, (uint32_t)r->n_prompt);
    put32(e + 12, (uint32_t)r->n_trace);
    put32(e + 16, (uint32_t)r->n_plan);
    put32(e + 20, 0);
    wr->data_tokens += (uint64_t)r->n_prompt + (uint64_t)r->n_trace + (uint64_t)r->n_plan;
    if (r->n_prompt > wr->max_prompt) wr->max_prompt = r->n_prompt;
    if (r->n_trace > wr->max_trace) wr->max_trace = r->n_trace;
    if (r->n_plan > wr->max_plan) wr->max_plan = r->n_plan;
    wr->added++;
    return CF_OK;
}

cf_status cf_maze_writer_commit(cf_maze_writer *wr)
{
    if (!wr) return cf_set_error(CF_ERR_ARG, "cf_maze_writer_commit: NULL writer");
    if (wr->added != wr->count) {
        cf_status st = cf_set_error(CF_ERR_STATE, "%s: %" PRId64 " records added, %" PRId64 " declared; nothing written",
                                    wr->path, wr->added, wr->count);
        cf_maze_writer_abort(wr);
        return st;
    }
    uint64_t index_bytes = (uint64_t)wr->count * ENTRY_BYTES;
    uint8_t hd[HEADER_BYTES];
    memset(hd, 0, sizeof hd);
    memcpy(hd, MAGIC, 8);
    put32(hd + 8, CF_MAZE_FILE_VERSION);
    put32(hd + 12, HEADER_BYTES);
    put16(hd + 16, (uint16_t)wr->w);
    put16(hd + 18, (uint16_t)wr->h);
    put32(hd + 20, (uint32_t)cf_maze_vocab_size(wr->w, wr->h));
    put64(hd + 24, (uint64_t)wr->count);
    put64(hd + 32, wr->seed);
    put32(hd + 40, wr->flags);
    put32(hd + 44, (uint32_t)wr->min_plan);
    put64(hd + 48, HEADER_BYTES);
    put64(hd + 56, HEADER_BYTES + index_bytes);
    put64(hd + 64, wr->data_tokens * 2);
    put32(hd + 72, (uint32_t)wr->max_prompt);
    put32(hd + 76, (uint32_t)wr->max_trace);
    put32(hd + 80, (uint32_t)wr->max_plan);
    put32(hd + 84, crc(0, wr->index, index_bytes));
    put32(hd + 88, wr->data_crc);
    put32(hd + 92, crc(0, hd, 92));
    if (fseeko(cf_atomic_stream(wr->af), 0, SEEK_SET) != 0) {
        cf_status st = cf_set_error(CF_ERR_IO, "%s: cannot seek in its temporary file: %s; the previous file (if any) "
                                    "is unchanged", wr->path, strerror(errno));
        cf_maze_writer_abort(wr);
        return st;
    }
    cf_atomic_write(wr->af, hd, HEADER_BYTES);
    cf_atomic_write(wr->af, wr->index, index_bytes); /* a failure is sticky: the commit reports it */
    cf_status st = cf_atomic_commit(wr->af);
    writer_free(wr);
    return st;
}

cf_status cf_maze_write_file(const char *path, int w, int h, const cf_maze_record *recs, int64_t n)
{
    if (n > 0 && !recs) return cf_set_error(CF_ERR_ARG, "cf_maze_write_file: NULL records");
    cf_maze_writer *wr = cf_maze_writer_open(path, w, h, n, 0, 0, 0);
    if (!wr) return cf_last_status();
    for (int64_t i = 0; i < n; i++) {
        cf_status st = cf_maze_writer_add(wr, &recs[i]);
        if (st != CF_OK) {
            cf_maze_writer_abort(wr);
            return st;
        }
    }
    return cf_maze_writer_commit(wr);
}

cf_status cf_maze_generate_file(const char *path, int size, int64_t count, uint64_t seed,
                                const cf_maze_gen_options *opt)
{
    cf_maze_gen_options o = opt ? *opt : cf_maze_gen_defaults();
    int w = o.width > 0 ? o.width : size, h = o.height > 0 ? o.height : size;
    if (cf_maze_vocab_size(w, h) == 0)
        return cf_set_error(CF_ERR_ARG, "%s: maze size %dx%d outside 2x2..%dx%d", path ? path : "(null)", w, h,
                            CF_MAZE_MAX_DIM, CF_MAZE_MAX_DIM);
    uint32_t flags = (o.deterministic ? CF_MAZE_FLAG_DETERMINISTIC : 0) |
                     (o.official_wall_count ? CF_MAZE_FLAG_OFFICIAL_WALLS : 0);
    int min_plan = o.min_plan_nodes > 0 ? o.min_plan_nodes : (w > h ? w : h);
    cf_maze_writer *wr = cf_maze_writer_open(path, w, h, count, seed, flags, min_plan);
    if (!wr) return cf_last_status();
    cf_maze m;
    cf_maze_search s;
    memset(&s, 0, sizeof s);
    uint16_t prompt[6 + 3 * CF_MAZE_MAX_CELLS], plan[3 * CF_MAZE_MAX_CELLS];
    uint16_t *trace = NULL;
    int trace_cap = 0;
    cf_status st = CF_OK;
    for (int64_t i = 0; i < count && st == CF_OK; i++) {
        if ((st = cf_maze_generate(i, seed, size, &o, &m, &s)) != CF_OK) {
            cf_error_prefix("%s: ", path);
            break;
        }
        if (5 * s.n_steps > trace_cap) {
            int cap = 5 * s.n_steps * 2;
            uint16_t *nt = realloc(trace, (size_t)cap * sizeof *nt);
            if (!nt) {
                st = cf_set_error(CF_ERR_OOM, "%s: out of memory for a trace of %d steps", path, s.n_steps);
                break;
            }
            trace = nt;
            trace_cap = cap;
        }
        cf_maze_record r;
        r.prompt = prompt, r.trace = trace, r.plan = plan;
        r.n_prompt = cf_maze_prompt_tokens(&m, prompt, (int)(sizeof prompt / sizeof *prompt));
        r.n_trace = cf_maze_trace_tokens(&s, trace, trace_cap);
        r.n_plan = cf_maze_plan_tokens(&m, &s, plan, (int)(sizeof plan / sizeof *plan));
        if (r.n_prompt < 0 || r.n_trace < 0 || r.n_plan < 0) {
            st = cf_last_status();
            break;
        }
        st = cf_maze_writer_add(wr, &r);
    }
    free(trace);
    cf_maze_search_free(&s);
    if (st != CF_OK) {
        cf_maze_writer_abort(wr);
        return st;
    }
    return cf_maze_writer_commit(wr);
}

/* ---- reader ---- */

struct cf_maze_file {
    char *path;
    uint8_t *bytes; /* the whole file */
    const uint8_t *index;
    uint16_t *tokens; /* the data section, host order */
    cf_maze_file_info info;
};

void cf_maze_file_close(cf_maze_file *f)
{
    if (!f) return;
    free(f->path);
    free(f->bytes);
    free(f);
}

static bool host_little_endian(void)
{
    uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static cf_maze_file *file_new(const char *path)
{
    cf_maze_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        cf_maze_file_close(f);
        return NULL;
    }
    return f;
}

static cf_maze_file *parse(cf_maze_file *f, uint64_t size);

cf_maze_file *cf_maze_file_open_mem(const void *buf, size_t n, const char *what)
{
    cf_maze_file *f = file_new(what ? what : "(maze buffer)");
    if (!f) return NULL;
    if (!(f->bytes = malloc(n ? n : 1))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %zu bytes", f->path, n);
        cf_maze_file_close(f);
        return NULL;
    }
    if (n) memcpy(f->bytes, buf, n);
    return parse(f, n);
}

cf_maze_file *cf_maze_file_open(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_maze_file_open: NULL path");
        return NULL;
    }
    cf_maze_file *f = file_new(path);
    if (!f) return NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cf_set_error(CF_ERR_IO, "%s: not a regular file", path);
        fclose(fp);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (!(f->bytes = malloc(size ? size : 1))) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %" PRIu64 " bytes", path, size);
        fclose(fp);
        goto fail;
    }
    size_t got = fread(f->bytes, 1, size, fp);
    fclose(fp);
    if (got != size) {
        cf_set_error(CF_ERR_IO, "%s: read %zu of %" PRIu64 " bytes", path, got, size);
        goto fail;
    }
    return parse(f, size);
fail:
    cf_maze_file_close(f);
    return NULL;
}

/* Validates the size bytes at f->bytes (the whole file) and fills in f; closes f on failure. */
static cf_maze_file *parse(cf_maze_file *f, uint64_t size)
{
    const char *path = f->path;
    const uint8_t *hd = f->bytes;
    if (size < HEADER_BYTES) {
        if (size >= 8 && memcmp(hd, MAGIC, 8) != 0)
            cf_set_error(CF_ERR_FORMAT, "%s: bad magic (not a cformer maze file)", path);
        else
            cf_set_error(CF_ERR_FORMAT, "%s: truncated header (%" PRIu64 " bytes, need %d)", path, size, HEADER_BYTES);
        goto fail;
    }
    if (memcmp(hd, MAGIC, 8) != 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: bad magic (not a cformer maze file)", path);
        goto fail;
    }
    cf_maze_file_info *in = &f->info;
    in->version = get32(hd + 8);
    if (in->version != CF_MAZE_FILE_VERSION) {
        cf_set_error(CF_ERR_FORMAT, "%s: format version %u, this build reads version %u", path, in->version,
                     CF_MAZE_FILE_VERSION);
        goto fail;
    }
    if (get32(hd + 12) != HEADER_BYTES || get32(hd + 92) != crc(0, hd, 92)) {
        cf_set_error(CF_ERR_FORMAT, "%s: header checksum mismatch (corrupted header)", path);
        goto fail;
    }
    in->width = get16(hd + 16);
    in->height = get16(hd + 18);
    in->vocab_size = (int)get32(hd + 20);
    in->count = (int64_t)get64(hd + 24);
    in->seed = get64(hd + 32);
    in->flags = get32(hd + 40);
    in->min_plan_nodes = (int)get32(hd + 44);
    uint64_t index_off = get64(hd + 48), data_off = get64(hd + 56), data_bytes = get64(hd + 64);
    int w = in->width, h = in->height;
    if (cf_maze_vocab_size(w, h) == 0 || in->vocab_size != cf_maze_vocab_size(w, h)) {
        cf_set_error(CF_ERR_FORMAT, "%s: maze size %dx%d with vocabulary %d (expected 2x2..%dx%d with 48 + w*h)", path,
                     w, h, in->vocab_size, CF_MAZE_MAX_DIM, CF_MAZE_MAX_DIM);
        goto fail;
    }
    if (in->count < 0 || in->count > ((int64_t)1 << 40) || index_off != HEADER_BYTES ||
        data_off != HEADER_BYTES + (uint64_t)in->count * ENTRY_BYTES || data_bytes % 2 != 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: inconsistent layout (count %" PRId64 ", index at %" PRIu64 ", data at %" PRIu64
                     ", %" PRIu64 " data bytes)", path, in->count, index_off, data_off, data_bytes);
        goto fail;
    }
    if (size < data_off) {
        cf_set_error(CF_ERR_FORMAT, "%s: truncated in the index: record %" PRIu64 "'s entry is cut (the index of %" PRId64
                     " records ends at byte %" PRIu64 ", the file has %" PRIu64 ")", path,
                     (size - HEADER_BYTES) / ENTRY_BYTES, in->count, data_off, size);
        goto fail;
    }
    f->index = f->bytes + index_off;
    uint64_t data_tokens = data_bytes / 2, have_tokens = (size - data_off) / 2;
    if (size > data_off + data_bytes) {
        cf_set_error(CF_ERR_FORMAT, "%s: %" PRIu64 " unexpected bytes after the data", path, size - data_off - data_bytes);
        goto fail;
    }
    /* every entry inside the data (and inside what the file still holds, to name a truncated record) */
    for (int64_t i = 0; i < in->count; i++) {
        const uint8_t *e = f->index + (size_t)i * ENTRY_BYTES;
        uint64_t off = get64(e), np = get32(e + 8), nt = get32(e + 12), npl = get32(e + 16);
        uint64_t end = off + np + nt + npl;
        if (off > data_tokens || np + nt + npl > data_tokens || end > data_tokens || get32(e + 20) != 0 ||
            np > INT32_MAX || nt > INT32_MAX || npl > INT32_MAX) {
            cf_set_error(CF_ERR_FORMAT, "%s: record %" PRId64 ": tokens [%" PRIu64 ", %" PRIu64 ") outside the data "
                         "section of %" PRIu64 " tokens", path, i, off, end, data_tokens);
            goto fail;
        }
        if (end > have_tokens) {
            cf_set_error(CF_ERR_FORMAT, "%s: record %" PRId64 ": truncated (its tokens end at byte %" PRIu64 ", the file "
                         "has %" PRIu64 " bytes)", path, i, data_off + 2 * end, size);
            goto fail;
        }
    }
    if (size < data_off + data_bytes) {
        cf_set_error(CF_ERR_FORMAT, "%s: truncated data (%" PRIu64 " of %" PRIu64 " bytes)", path, size - data_off,
                     data_bytes);
        goto fail;
    }
    f->tokens = (uint16_t *)(void *)(f->bytes + data_off); /* data_off is even: 96 + 24 * count */
    if (!host_little_endian())
        for (uint64_t i = 0; i < data_tokens; i++) f->tokens[i] = get16((const uint8_t *)&f->tokens[i]);
    for (int64_t i = 0; i < in->count; i++) {
        cf_maze_record r;
        cf_maze_file_record(f, i, &r);
        if (cf_maze_record_check(&r, w, h) != CF_OK) {
            cf_error_prefix("%s: record %" PRId64 ": ", path, i);
            goto fail;
        }
        if (r.n_prompt > in->max_prompt) in->max_prompt = r.n_prompt;
        if (r.n_trace > in->max_trace) in->max_trace = r.n_trace;
        if (r.n_plan > in->max_plan) in->max_plan = r.n_plan;
    }
    /* the checksums last, so a record-level fault above is reported with its record index */
    if (crc(0, f->index, (uint64_t)in->count * ENTRY_BYTES) != get32(hd + 84)) {
        cf_set_error(CF_ERR_FORMAT, "%s: index checksum mismatch (corrupted file)", path);
        goto fail;
    }
    uint32_t dc;
    if (host_little_endian()) {
        dc = crc(0, f->bytes + data_off, data_bytes);
    } else {
        dc = 0;
        for (uint64_t i = 0; i < data_tokens; i++) {
            uint8_t b[2];
            put16(b, f->tokens[i]);
            dc = crc(dc, b, 2);
        }
    }
    if (dc != get32(hd + 88)) {
        cf_set_error(CF_ERR_FORMAT, "%s: data checksum mismatch (corrupted file)", path);
        goto fail;
    }
    return f;
fail:
    cf_maze_file_close(f);
    return NULL;
}

cf_maze_file_info cf_maze_file_get_info(const cf_maze_file *f)
{
    cf_maze_file_info z;
    memset(&z, 0, sizeof z);
    return f ? f->info : z;
}

const char *cf_maze_file_path(const cf_maze_file *f) { return f ? f->path : ""; }

cf_status cf_maze_file_record(const cf_maze_file *f, int64_t i, cf_maze_record *out)
{
    if (!f || !out) return cf_set_error(CF_ERR_ARG, "cf_maze_file_record: NULL file or output");
    if (i < 0 || i >= f->info.count)
        return cf_set_error(CF_ERR_ARG, "%s: record %" PRId64 " outside 0..%" PRId64, f->path, i, f->info.count - 1);
    const uint8_t *e = f->index + (size_t)i * ENTRY_BYTES;
    const uint16_t *t = f->tokens + get64(e);
    out->n_prompt = (int32_t)get32(e + 8);
    out->n_trace = (int32_t)get32(e + 12);
    out->n_plan = (int32_t)get32(e + 16);
    out->prompt = t;
    out->trace = t + out->n_prompt;
    out->plan = t + out->n_prompt + out->n_trace;
    return CF_OK;
}

cf_status cf_maze_file_maze(const cf_maze_file *f, int64_t i, cf_maze *m, int *optimal_nodes)
{
    cf_maze_record r;
    cf_status st = cf_maze_file_record(f, i, &r);
    if (st != CF_OK) return st;
    if (!m) return cf_set_error(CF_ERR_ARG, "cf_maze_file_maze: NULL maze");
    if ((st = cf_maze_from_prompt(r.prompt, r.n_prompt, f->info.width, f->info.height, m)) != CF_OK) {
        cf_error_prefix("%s: record %" PRId64 ": ", f->path, i);
        return st;
    }
    if (optimal_nodes) *optimal_nodes = r.n_plan / 3;
    return CF_OK;
}
