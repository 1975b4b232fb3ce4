/* The CUDA runtime plumbing: without a GPU this test reports SKIP (exit 77), never a pass. */
#include "autograd/cformer.h"
#include "tests/check.h"

#ifdef CF_HAVE_CUDA
#include "autograd/cuda/cuda_api.h"

int main(void)
{
    if (cf_cuda_device_count() == 0) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    char desc[256], err[256];
    CHECK(cf_cuda_describe(0, desc, sizeof desc) == 0);
    printf("device 0: %s\n", desc);
    float host[1000], back[1000];
    for (int i = 0; i < 1000; i++) host[i] = (float)i * 0.5f;
    void *dev = NULL;
    CHECK(cf_cuda_malloc(&dev, sizeof host, err, sizeof err) == 0);
    CHECK(cf_cuda_copy_h2d(dev, host, sizeof host, err, sizeof err) == 0);
    CHECK(cf_cuda_copy_d2h(back, dev, sizeof host, err, sizeof err) == 0);
    CHECK(memcmp(host, back, sizeof host) == 0);
    cf_cuda_free(dev);
    TEST_MAIN_END();
}
#else
int main(void)
{
    (void)check_passed, (void)check_failed;
    printf("built without CUDA: skipped\n");
    return 77;
}
#endif
