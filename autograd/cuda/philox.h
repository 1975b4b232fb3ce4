// The counter-based RNG on the device: the same Philox 4x32-10 as the host's cf_philox4x32 (autograd/rng.c),
// so a kernel regenerates, bit for bit, the words the CPU kernels draw for (key, counter). Included by .cu
// files only (after autograd/cuda/simt.h). The CPU side defines which counter an element uses; the kernels
// mirror that:
//   dropout / drop_path (autograd/ops/random_attr.h): block b = element (or sample) / 4, counter
//     {b, b >> 32, step, step >> 32}, word element % 4, kept iff word >= threshold;
//   sdpa's attention dropout (autograd/cpu/attention.c): element e = ((b H + h) Tq + i) Tk + j, counter block
//     (e / 4) | 2^62, word e % 4, kept iff (word >> 8) >= ceil(p 2^24).
#ifndef CF_CUDA_PHILOX_H
#define CF_CUDA_PHILOX_H

#include "autograd/rng.h"

#include <stdint.h>

// Philox 4x32-10 of counter (c0..c3) under key; out[0..3] as cf_philox4x32
__host__ __device__ __forceinline__ void cf_dev_philox4x32(cf_philox_key key, uint32_t c0, uint32_t c1, uint32_t c2,
                                                           uint32_t c3, uint32_t out[4])
{
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0, c1 = (uint32_t)p1, c2 = n2, c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

// The four words of block blk at step (the counter layout every cformer draw uses)
__host__ __device__ __forceinline__ void cf_dev_philox_block(cf_philox_key key, uint64_t step, uint64_t blk,
                                                             uint32_t out[4])
{
    cf_dev_philox4x32(key, (uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)step, (uint32_t)(step >> 32), out);
}

#endif
