/* A Hugging Face model directory: one model.safetensors, or an index and its shards (safetensors.h). */
#include "autograd/json_read.h"
#include "recipes/checkpoint/safetensors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"

typedef struct {
    char *path;
    cf_st_entry *entries;
    int count;
    int64_t data_start;
} shard;

struct cf_st_dir {
    shard *shards;
    int nshards;
    int total;
};

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

void cf_st_dir_close(cf_st_dir *d)
{
    if (!d) return;
    for (int i = 0; i < d->nshards; i++) free(d->shards[i].path), free(d->shards[i].entries);
    free(d->shards);
    free(d);
}

static cf_status add_shard(cf_st_dir *d, const char *dir, const char *name)
{
    for (int i = 0; i < d->nshards; i++) {
        const char *base = strrchr(d->shards[i].path, '/') + 1;
        if (strcmp(base, name) == 0) return CF_OK;
    }
    shard *ns = realloc(d->shards, (size_t)(d->nshards + 1) * sizeof *ns);
    if (!ns) return cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    d->shards = ns;
    shard *s = memset(&d->shards[d->nshards], 0, sizeof *s);
    if (!(s->path = join(dir, name))) return cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    d->nshards++;
    return CF_OK;
}

/* The shard files the index names, in order of first mention; each name is checked. */
static cf_status read_index(cf_st_dir *d, const char *dir, const char *index_path, cf_jv **map_doc)
{
    cf_jv *doc = cf_jv_read_file(index_path);
    if (!doc) return cf_last_status();
    *map_doc = doc;
    const cf_jv *map = cf_jv_get(doc, "weight_map");
    if (cf_jv_kind(map) != CF_JV_OBJECT || cf_jv_len(map) == 0)
        return cf_set_error(CF_ERR_FORMAT, "%s: no \"weight_map\" object of tensor -> shard file", index_path);
    for (int i = 0; i < cf_jv_len(map); i++) {
        const char *file = cf_jv_str(cf_jv_at(map, i)), *tensor = cf_jv_key_at(map, i);
        if (!file || !*file || strchr(file, '/') || strcmp(file, "..") == 0)
            return cf_set_error(CF_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a shard file name in this directory",
                                index_path, tensor);
        CF_TRY(add_shard(d, dir, file));
        char *p = d->shards[d->nshards - 1].path;
        if (strcmp(strrchr(p, '/') + 1, file) == 0 && !exists(p))
            return cf_set_error(CF_ERR_FORMAT, "%s: missing shard: %s maps tensor %s to it", p, INDEX_NAME, tensor);
    }
    return CF_OK;
}

const cf_st_entry *cf_st_dir_at(const cf_st_dir *d, int i, const char **file)
{
    if (!d || i < 0) return NULL;
    for (int s = 0; s < d->nshards; s++) {
        if (i < d->shards[s].count) {
            if (file) *file = d->shards[s].path;
            return &d->shards[s].entries[i];
        }
        i -= d->shards[s].count;
    }
    return NULL;
}

const cf_st_entry *cf_st_dir_find(const cf_st_dir *d, const char *name, const char **file)
{
    for (int i = 0; d && i < d->total; i++) {
        const cf_st_entry *e = cf_st_dir_at(d, i, file);
        if (strcmp(e->name, name) == 0) return e;
    }
    return NULL;
}

/* Every tensor of the index in the shard it names, and no tensor in two shards. */
static cf_status check_against_index(const cf_st_dir *d, const cf_jv *map, const char *index_path)
{
    for (int i = 0; i < d->total; i++) {
        const char *file = NULL, *other = NULL;
        const cf_st_entry *e = cf_st_dir_at(d, i, &file);
        for (int j = i + 1; j < d->total; j++)
            if (strcmp(cf_st_dir_at(d, j, &other)->name, e->name) == 0)
                return cf_set_error(CF_ERR_FORMAT, "%s and %s both hold tensor %s", file, other, e->name);
    }
    for (int i = 0; map && i < cf_jv_len(map); i++) {
        const char *tensor = cf_jv_key_at(map, i), *want = cf_jv_str(cf_jv_at(map, i)), *file = NULL;
        const cf_st_entry *e = cf_st_dir_find(d, tensor, &file);
        if (!e || strcmp(strrchr(file, '/') + 1, want) != 0)
            return cf_set_error(CF_ERR_FORMAT, "%s: tensor %s is mapped to %s, which does not hold it", index_path,
                                tensor, want);
    }
    return CF_OK;
}

cf_st_dir *cf_st_dir_open(const char *dir)
{
    cf_st_dir *d = calloc(1, sizeof *d);
    char *index_path = join(dir, INDEX_NAME), *single = join(dir, SINGLE_NAME);
    cf_jv *doc = NULL;
    cf_status st = CF_OK;
    if (!d || !index_path || !single) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    else if (exists(index_path)) st = read_index(d, dir, index_path, &doc);
    else if (exists(single)) st = add_shard(d, dir, SINGLE_NAME);
    else st = cf_set_error(CF_ERR_IO, "%s: neither %s nor %s is there", dir, SINGLE_NAME, INDEX_NAME);
    for (int i = 0; st == CF_OK && i < d->nshards; i++) {
        shard *s = &d->shards[i];
        st = cf_safetensors_read_header(s->path, &s->entries, &s->count, &s->data_start);
        d->total += s->count;
    }
    if (st == CF_OK) st = check_against_index(d, cf_jv_get(doc, "weight_map"), index_path);
    cf_jv_free(doc);
    free(index_path);
    free(single);
    if (st != CF_OK) {
        cf_st_dir_close(d);
        return NULL;
    }
    return d;
}

int cf_st_dir_count(const cf_st_dir *d) { return d ? d->total : 0; }

cf_status cf_st_dir_read_f32(const cf_st_dir *d, const cf_st_entry *e, float *out)
{
    for (int s = 0; d && s < d->nshards; s++)
        if (e >= d->shards[s].entries && e < d->shards[s].entries + d->shards[s].count)
            return cf_safetensors_read_f32(d->shards[s].path, e, d->shards[s].data_start, out);
    return cf_set_error(CF_ERR_ARG, "safetensors directory: tensor not from this directory");
}
