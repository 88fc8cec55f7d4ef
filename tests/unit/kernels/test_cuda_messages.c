/* What the CUDA backend tells a user (kernels/cuda/messages.c), checked without a GPU: each
 * reason a device cannot be used names itself and the versions involved, and the memory check
 * passes exactly when the model and the runtime's reserve fit, else names both sizes. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda.h"

static const char *message(wk_cuda_fault f, int driver)
{
    static wk_err e;
    cr_assert_eq(wk_cuda_fault_message(f, "no CUDA-capable device is detected", driver, 13000,
                                       "NVIDIA GeForce GTX 1080", 6, 1, &e), -1);
    return e.msg;
}

Test(cuda_messages, each_fault_says_what_to_do)
{
    unsetenv("CUDA_VISIBLE_DEVICES");
    cr_assert_str_eq(message(WK_CUDA_NO_DRIVER, 0),
                     "no CUDA device: no NVIDIA driver is loaded (the CUDA 13.0 runtime found "
                     "no libcuda.so.1; install the NVIDIA driver)");
    cr_assert_str_eq(message(WK_CUDA_OLD_DRIVER, 12040),
                     "the NVIDIA driver is too old for this build's CUDA 13.0 runtime (the "
                     "driver supports CUDA 12.4; update the driver, or build with a CUDA "
                     "toolkit no newer than 12.4)");
    cr_assert_str_eq(message(WK_CUDA_NO_DEVICE, 13000),
                     "no CUDA device: no CUDA-capable device is detected");
    cr_assert_str_eq(message(WK_CUDA_NO_IMAGE, 13000),
                     "this build has no kernels for CUDA device 0 (NVIDIA GeForce GTX 1080, "
                     "compute capability 6.1): rebuild with make CUDA=1 CUDA_ARCH=61");
    setenv("CUDA_VISIBLE_DEVICES", "7", 1);
    cr_assert_str_eq(message(WK_CUDA_NO_DEVICE, 13000),
                     "no CUDA device: no CUDA-capable device is detected "
                     "(CUDA_VISIBLE_DEVICES=7)");
    unsetenv("CUDA_VISIBLE_DEVICES");
}

Test(cuda_messages, memory_fits_up_to_the_reserve)
{
    wk_err e = {{0}};
    size_t gib = (size_t)1 << 30;
    cr_assert_eq(wk_cuda_check_fits("the model's weights", 10 * gib, 10 * gib + WK_CUDA_RESERVE,
                                    "CUDA device 0 (NVIDIA H200)", &e), 0);
    cr_assert_eq(wk_cuda_check_fits("the model's weights", 10 * gib + 1,
                                    10 * gib + WK_CUDA_RESERVE, "CUDA device 0 (NVIDIA H200)",
                                    &e), -1);
    cr_assert_eq(wk_cuda_check_fits("the model's weights", 13 * gib + gib / 2, 8 * gib,
                                    "CUDA device 0 (NVIDIA H200)", &e), -1);
    cr_assert_str_eq(e.msg, "the model's weights needs 13.75 GiB of device memory (with 0.25 "
                            "GiB kept for the CUDA runtime), 8.00 GiB free on CUDA device 0 "
                            "(NVIDIA H200)");
}
