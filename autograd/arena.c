#include "autograd/arena.h"

#include "autograd/cf_base.h"

#include <stdlib.h>

typedef struct chunk {
    unsigned char *base;
    size_t size;
} chunk;

struct cf_arena {
    chunk *chunks;
    size_t n_chunks, cap_chunks;
    size_t cur;       /* index of the chunk being filled */
    size_t used;      /* bytes used in chunks[cur] */
    size_t used_prev; /* bytes used in chunks before cur */
    size_t high_water;
    uint64_t system_allocs;
    void *(*alloc)(size_t bytes); /* NULL: host memory (posix_memalign / free) */
    void (*release)(void *p);
};

static size_t align_up(size_t n) { return (n + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1); }

static int add_chunk(cf_arena *a, size_t size)
{
    if (a->n_chunks == a->cap_chunks) {
        size_t cap = a->cap_chunks ? a->cap_chunks * 2 : 8;
        chunk *c = realloc(a->chunks, cap * sizeof *c);
        if (!c) return -1;
        a->chunks = c;
        a->cap_chunks = cap;
    }
    void *p = NULL;
    if (a->alloc) {
        if (!(p = a->alloc(size))) return -1;
    } else if (posix_memalign(&p, CF_ARENA_ALIGN, size) != 0) {
        return -1;
    }
    a->chunks[a->n_chunks++] = (chunk){p, size};
    a->system_allocs++;
    return 0;
}

static void release_chunk(cf_arena *a, void *p)
{
    if (a->release)
        a->release(p);
    else
        free(p);
}

cf_arena *cf_arena_new(size_t initial_bytes) { return cf_arena_new_with(initial_bytes, NULL, NULL); }

cf_arena *cf_arena_new_with(size_t initial_bytes, void *(*alloc)(size_t bytes), void (*release)(void *p))
{
    cf_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->alloc = alloc, a->release = release;
    if (add_chunk(a, align_up(initial_bytes ? initial_bytes : (1u << 20))) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void cf_arena_free(cf_arena *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n_chunks; i++) release_chunk(a, a->chunks[i].base);
    free(a->chunks);
    free(a);
}

void *cf_arena_alloc(cf_arena *a, size_t bytes)
{
    bytes = align_up(bytes ? bytes : 1);
    while (a->used + bytes > a->chunks[a->cur].size) {
        a->used_prev += a->used;
        a->used = 0;
        if (a->cur + 1 < a->n_chunks) {
            a->cur++;
            continue;
        }
        size_t last = a->chunks[a->n_chunks - 1].size;
        size_t size = last * 2 > bytes ? last * 2 : bytes;
        if (add_chunk(a, size) != 0) {
            cf_set_error(CF_ERR_OOM, "arena: out of memory allocating %zu bytes", bytes);
            return NULL;
        }
        a->cur = a->n_chunks - 1;
    }
    void *p = a->chunks[a->cur].base + a->used;
    a->used += bytes;
    size_t total = a->used_prev + a->used;
    if (total > a->high_water) a->high_water = total;
    return p;
}

void cf_arena_reset(cf_arena *a)
{
    if (a->n_chunks > 1) {
        /* Replace the chain with one chunk that holds the whole high-water mark. */
        size_t want = align_up(a->high_water + a->high_water / 8);
        for (size_t i = 0; i < a->n_chunks; i++) release_chunk(a, a->chunks[i].base);
        a->n_chunks = 0;
        if (add_chunk(a, want) != 0) {
            /* Fall back to a small chunk; the next alloc grows again. */
            add_chunk(a, 1u << 20);
        }
    }
    a->cur = 0;
    a->used = 0;
    a->used_prev = 0;
}

cf_arena_mark cf_arena_get_mark(const cf_arena *a) { return (cf_arena_mark){a->cur, a->used, a->used_prev}; }

void cf_arena_rewind(cf_arena *a, cf_arena_mark m)
{
    if (m.chunk >= a->n_chunks) return;
    a->cur = m.chunk;
    a->used = m.used;
    a->used_prev = m.used_prev;
}

bool cf_arena_after_mark(const cf_arena *a, cf_arena_mark m, const void *p)
{
    uintptr_t q = (uintptr_t)p;
    for (size_t i = 0; i < a->n_chunks; i++) {
        uintptr_t base = (uintptr_t)a->chunks[i].base;
        if (q >= base && q < base + a->chunks[i].size) return i > m.chunk || (i == m.chunk && q >= base + m.used);
    }
    return false;
}

size_t cf_arena_bytes_before_mark(const cf_arena *a, cf_arena_mark m, const void *p, size_t bytes)
{
    uintptr_t q = (uintptr_t)p;
    for (size_t i = 0; i < a->n_chunks; i++) {
        uintptr_t base = (uintptr_t)a->chunks[i].base, end = i == m.chunk ? base + m.used : base + a->chunks[i].size;
        if (q >= base && q < base + a->chunks[i].size) return q >= end ? 0 : bytes < end - q ? bytes : (size_t)(end - q);
    }
    return bytes;
}

size_t cf_arena_used(const cf_arena *a) { return a->used_prev + a->used; }
size_t cf_arena_high_water(const cf_arena *a) { return a->high_water; }
uint64_t cf_arena_system_allocs(const cf_arena *a) { return a->system_allocs; }
