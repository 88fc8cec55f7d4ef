/* Devices by name (engine/model.h): the two names both ways, any case; the --device option's
 * message for anything else; and, in a build without CUDA, opening a model on CUDA fails at
 * once with the build's reason (before the file is even looked at). */
#include <criterion/criterion.h>

#include <string.h>

#include "engine/model.h"

Test(device, names_both_ways)
{
    wk_device d = WK_DEVICE_CUDA;
    cr_assert_eq(wk_device_from_name("cpu", &d), 0);
    cr_assert_eq(d, WK_DEVICE_CPU);
    cr_assert_eq(wk_device_from_name("CUDA", &d), 0);
    cr_assert_eq(d, WK_DEVICE_CUDA);
    cr_assert_str_eq(wk_device_name(WK_DEVICE_CPU), "cpu");
    cr_assert_str_eq(wk_device_name(WK_DEVICE_CUDA), "cuda");
    cr_assert_eq(wk_device_from_name("gpu", &d), -1);
    cr_assert_eq(wk_device_from_name("", &d), -1);
}

Test(device, option_names_the_choices)
{
    wk_device d = WK_DEVICE_CPU;
    wk_err e = {{0}};
    cr_assert_eq(wk_device_option(&d, "cuda", &e), 0);
    cr_assert_eq(d, WK_DEVICE_CUDA);
    cr_assert_eq(wk_device_option(&d, "metal", &e), -1);
    cr_assert_str_eq(e.msg, "unknown --device 'metal' (cpu, cuda)");
}

#ifndef WK_CUDA
Test(device, cuda_without_cuda_support)
{
    wk_model *m = (wk_model *)1;
    wk_err e = {{0}};
    cr_assert_eq(wk_model_open_on("/nonexistent.gguf", WK_DEVICE_CUDA, &m, &e), -1);
    cr_assert_null(m);
    cr_assert_str_eq(e.msg, "this build has no CUDA support (build with make CUDA=1)");
}
#endif
