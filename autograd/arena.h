/* The step arena: a bump allocator reset in O(1) between training steps.
 * After a step that overflowed the first chunk, reset merges the chunks into one big enough for the
 * high-water mark, so a steady-state step makes no system allocation. */
#ifndef CF_ARENA_H
#define CF_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_arena cf_arena;
typedef struct cf_arena_mark {
    size_t chunk;
    size_t used;
    size_t used_prev;
} cf_arena_mark;

#define CF_ARENA_ALIGN 64

cf_arena *cf_arena_new(size_t initial_bytes);
/* An arena whose chunks come from alloc / release (a device's memory: the step arena of a CUDA context,
 * one allocation reset per step like the host's); its memory is never touched by the arena itself. */
cf_arena *cf_arena_new_with(size_t initial_bytes, void *(*alloc)(size_t bytes), void (*release)(void *p));
void cf_arena_free(cf_arena *a);
/* 64-byte aligned, uninitialised; NULL (with an error set) when the system is out of memory. */
void *cf_arena_alloc(cf_arena *a, size_t bytes);
void cf_arena_reset(cf_arena *a);
cf_arena_mark cf_arena_get_mark(const cf_arena *a);
/* Frees everything allocated after the mark (only valid while the mark's chunk still exists). */
void cf_arena_rewind(cf_arena *a, cf_arena_mark m);
/* Whether p lies in memory the arena handed out at or after the mark (what cf_arena_rewind(a, m) frees). */
bool cf_arena_after_mark(const cf_arena *a, cf_arena_mark m, const void *p);
/* How many of the bytes [p, p + bytes) lie before the mark, p itself lying before it (at most up to the end of
 * p's chunk). */
size_t cf_arena_bytes_before_mark(const cf_arena *a, cf_arena_mark m, const void *p, size_t bytes);
size_t cf_arena_used(const cf_arena *a);
size_t cf_arena_high_water(const cf_arena *a);
/* How many times the arena has asked the system for memory: flat across steady-state steps. */
uint64_t cf_arena_system_allocs(const cf_arena *a);

#ifdef __cplusplus
}
#endif

#endif
