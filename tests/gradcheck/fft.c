/* Gradient checks of rfft and irfft. The Hermitian half-spectrum's weights differ for DC, the Nyquist
 * bin (even n only) and the interior bins, so every case family runs with even and odd n, and with
 * the input cropped and zero-padded to n. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

struct fft_case {
    int64_t n;
    bool transpose; /* a non-contiguous input */
};

static cf_tensor *fn_rfft(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct fft_case *f = u;
    return cf_rfft(c, f->transpose ? cf_transpose(c, x[0], 0, 1) : x[0], f->n);
}
CF_GRADCHECK(rfft)
{
    static const struct {
        const char *label;
        struct fft_case c;
        int64_t rows, len;
    } cases[] = {
        {"even n 6", {0, false}, 2, 6},
        {"odd n 5", {0, false}, 2, 5},
        {"n 2 (DC and Nyquist only)", {0, false}, 2, 2},
        {"n 1", {0, false}, 3, 1},
        {"zero-padded 5 -> 8", {8, false}, 3, 5},
        {"zero-padded 4 -> 7", {7, false}, 2, 4},
        {"cropped 7 -> 4", {4, false}, 2, 7},
        {"cropped 8 -> 5", {5, false}, 2, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cf_gc_check(g, cases[i].label, fn_rfft, &cases[i].c, 1,
                    (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(cases[i].rows, cases[i].len))});
    return cf_gc_check(g, "non-contiguous [6,3]^T", fn_rfft, &(struct fft_case){0, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(6, 3))});
}

static cf_tensor *fn_irfft(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct fft_case *f = u;
    cf_tensor *X = x[0];
    if (f->transpose) X = cf_transpose(c, X, 0, 1); /* [B, M, 2] from [M, B, 2] */
    return cf_irfft(c, X, f->n);
}
CF_GRADCHECK(irfft)
{
    static const struct {
        const char *label;
        struct fft_case c;
        int64_t bins;
    } cases[] = {
        {"4 bins, default n 6", {0, false}, 4},
        {"4 bins, odd n 7", {7, false}, 4},
        {"4 bins cropped to n 5", {5, false}, 4},
        {"4 bins cropped to n 4", {4, false}, 4},
        {"4 bins padded to n 9", {9, false}, 4},
        {"4 bins padded to n 10", {10, false}, 4},
        {"2 bins, n 2", {0, false}, 2},
        {"1 bin, n 1", {1, false}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cf_gc_check(g, cases[i].label, fn_irfft, &cases[i].c, 1,
                    (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, cases[i].bins, 2))});
    return cf_gc_check(g, "non-contiguous, n 5", fn_irfft, &(struct fft_case){5, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 2, 2))});
}
