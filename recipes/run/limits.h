/* The valid ranges of the recipe keys that several files read (sizes, counts, rates), in one place so that a
 * key read twice is checked against the same range. Each is the range its cf_recipe_int_in /
 * cf_recipe_float_in call declares (recipes/recipe/recipe.h); a value outside it is refused with the key's
 * file:line before anything is built.
 *
 * The size bounds keep the sizes the layers derive from them (3 x dim, 4 x dim, heads x head size) far inside
 * int64; a parameter's element count (vocab x dim can reach 2^51) is overflow-checked by layers/params.c, which
 * refuses a parameter that would take the model past CF_PARAMS_MAX_NUMEL (2^40) elements before allocating it.
 * They are sanity bounds, not hardware limits: a model at a bound does not fit in memory. */
#ifndef CF_RUN_LIMITS_H
#define CF_RUN_LIMITS_H

#include <stdint.h>

#define CF_MAX_DIM (INT64_C(1) << 20)        /* model widths: dim, heads, kv_heads, head sizes */
#define CF_MAX_HIDDEN (INT64_C(1) << 22)     /* feed-forward widths (4 x dim at the largest dim) */
#define CF_MAX_LAYERS INT64_C(4096)          /* blocks of one stack */
#define CF_MAX_VOCAB INT64_C(2147483647)     /* token ids are int32 in exports */
#define CF_MAX_SEQ (INT64_C(1) << 24)        /* tokens in one row (context length) */
#define CF_MAX_ROWS INT64_C(2147483647)      /* rows of a batch: the loader counts them in an int */
#define CF_MAX_STEPS (INT64_C(1) << 53)      /* steps (schedules compute with doubles: exact up to 2^53) */
#define CF_MAX_COUNT (INT64_C(1) << 40)      /* items of a generated dataset, tasks, windows */
#define CF_MAX_THREADS INT64_C(1024)         /* train.threads (0: the OpenMP default) */
#define CF_MAX_SEED INT64_MAX                /* seeds: any non-negative int64 */

#endif
