/* The CUDA backend's messages to the user (see cuda.h). Plain C in every build, so that
 * tests check what a user reads without a GPU, a driver or nvcc. */
#include "kernels/cuda/cuda.h"

#include <stdio.h>
#include <stdlib.h>

/* 12040 -> "12.4" */
static void version(int v, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%d", v / 1000, v % 1000 / 10);
}

int wk_cuda_fault_message(wk_cuda_fault fault, const char *detail, int driver, int runtime,
                          const char *name, int cc_major, int cc_minor, wk_err *e)
{
    char drv[16], rt[16];
    version(driver, drv, sizeof drv);
    version(runtime, rt, sizeof rt);
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    switch (fault) {
    case WK_CUDA_NO_DRIVER:
        return wk_fail(e, "no CUDA device: no NVIDIA driver is loaded (the CUDA %s runtime "
                          "found no libcuda.so.1; install the NVIDIA driver)", rt);
    case WK_CUDA_OLD_DRIVER:
        return wk_fail(e, "the NVIDIA driver is too old for this build's CUDA %s runtime (the "
                          "driver supports CUDA %s; update the driver, or build with a CUDA "
                          "toolkit no newer than %s)", rt, drv, drv);
    case WK_CUDA_NO_IMAGE:
        return wk_fail(e, "this build has no kernels for CUDA device 0 (%s, compute capability "
                          "%d.%d): rebuild with make CUDA=1 CUDA_ARCH=%d%d", name, cc_major,
                       cc_minor, cc_major, cc_minor);
    case WK_CUDA_NO_DEVICE:
    default:
        if (visible)
            return wk_fail(e, "no CUDA device: %s (CUDA_VISIBLE_DEVICES=%s)", detail, visible);
        return wk_fail(e, "no CUDA device: %s", detail);
    }
}

int wk_cuda_check_fits(const char *what, size_t need, size_t free_bytes, const char *where,
                       wk_err *e)
{
    if (need + WK_CUDA_RESERVE <= free_bytes)
        return 0;
    double gib = 1024.0 * 1024.0 * 1024.0;
    return wk_fail(e, "%s needs %.2f GiB of device memory (with %.2f GiB kept for the CUDA "
                      "runtime), %.2f GiB free on %s", what,
                   (double)(need + WK_CUDA_RESERVE) / gib, (double)WK_CUDA_RESERVE / gib,
                   (double)free_bytes / gib, where);
}
