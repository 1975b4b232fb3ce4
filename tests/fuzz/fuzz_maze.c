/* The maze token file. Its header, index and data are CRC-protected, so random bytes rarely get past the
 * header check: each input is read as it is, and again with its three checksums recomputed (index and data
 * first, then the header that holds them), which lets the fuzzer reach the layout and record checks. Every
 * record of a file that opens must give its maze. */
#include "data/mazes/maze.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The CRC-32 of p[from, from + n) clipped to the buffer. */
static uint32_t crc_of(const uint8_t *p, size_t size, uint64_t from, uint64_t n)
{
    if (from > size) return 0;
    if (n > size - from) n = size - from;
    return (uint32_t)crc32(0, p + from, (uInt)n);
}

static void fix_checksums(uint8_t *p, size_t size)
{
    if (size < 96) return;
    uint64_t count = get64(p + 24), data_off = get64(p + 56), data_bytes = get64(p + 64);
    put32(p + 84, crc_of(p, size, 96, count < size ? count * 24 : size));
    put32(p + 88, crc_of(p, size, data_off, data_bytes));
    put32(p + 92, crc_of(p, size, 0, 92));
}

static void open_all(const uint8_t *p, size_t size)
{
    cf_maze_file *f = cf_maze_file_open_mem(p, size, "fuzz.maze");
    if (!f) return;
    cf_maze_file_info in = cf_maze_file_get_info(f);
    for (int64_t i = 0; i < in.count && i < 64; i++) {
        cf_maze m;
        int opt;
        cf_maze_record r;
        if (cf_maze_file_record(f, i, &r) != CF_OK) abort();
        if (cf_maze_file_maze(f, i, &m, &opt) != CF_OK) abort(); /* the open checked every prompt */
    }
    cf_maze_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_all(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    fix_checksums(copy, size);
    open_all(copy, size);
    free(copy);
    return 0;
}
