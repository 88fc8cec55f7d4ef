/* cuda-bw: the GPU's yardsticks for the CUDA benchmark (bench/gpu.sh divides its decode
 * speeds by them): the device's name and memory, its peak memory bandwidth from its
 * attributes (2 x memory clock x bus width), and the measured bandwidth of a device-to-device
 * copy (bytes read plus bytes written per second, the best of several timed rounds of reps
 * copies). In a build without CUDA, and where no device can be used, it says why and exits 1:
 * tests/gpu/ skip on that. */
#include <stdio.h>

#include "common/cli.h"
#ifdef WK_CUDA
#include "kernels/cuda/cuda.h"
#endif

int main(int argc, char **argv)
{
    uint64_t size = UINT64_C(1) << 30;
    long rounds = 5, reps = 20;
    bool json = false;
    const wk_option opts[] = {
        WK_OPT_SIZE("size", 's', "SIZE", &size, 4096,
                    "bytes copied per copy (default 1073741824 = 1 GiB), far larger than the "
                    "GPU's L2 cache"),
        WK_OPT_LONG("rounds", 'r', "N", &rounds, 1, 1000, "timed rounds (default 5)"),
        WK_OPT_LONG("reps", 0, "N", &reps, 1, 10000, "copies per round (default 20)"),
        WK_OPT_FLAG("json", 0, &json, "one JSON object instead of a line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "cuda-bw",
        .synopsis = "[OPTIONS]",
        .about = "Prints CUDA device 0's name, memory, peak memory bandwidth from its "
                 "attributes, and the best measured device-to-device copy bandwidth in GB/s "
                 "(10^9 bytes per second, read + written).",
        .options = opts,
        .notes = "A benchmark helper (bench/gpu.sh), not an installed tool.",
        .max_operands = 0,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    wk_err e;
#ifndef WK_CUDA
    (void)size, (void)rounds, (void)reps, (void)json;
    wk_fail(&e, "this build has no CUDA support (build with make CUDA=1)");
    return wk_cli_error(&tool, &e);
#else
    wk_cuda_device_info d;
    if (wk_cuda_open(&d, &e) != 0)
        return wk_cli_error(&tool, &e);
    double best = 0;
    for (long r = 0; r < rounds; r++) {
        double gbs;
        if (wk_cuda_copy_bandwidth((size_t)size, (int)reps, &gbs, &e) != 0)
            return wk_cli_error(&tool, &e);
        best = gbs > best ? gbs : best;
    }
    double gib = (double)d.total_bytes / (1024.0 * 1024.0 * 1024.0);
    if (json)
        printf("{\"device\": \"%s\", \"compute_capability\": \"%d.%d\", \"memory_gib\": %.1f, "
               "\"driver_cuda\": \"%d.%d\", \"peak_gbs\": %.1f, \"copy_gbs\": %.1f}\n",
               d.name, d.cc_major, d.cc_minor, gib, d.driver_version / 1000,
               d.driver_version % 1000 / 10, d.peak_gbs, best);
    else
        printf("cuda-bw: %s (compute capability %d.%d, %.1f GiB): peak %.1f GB/s from its "
               "attributes, copy %.1f GB/s (best of %ld rounds of %ld copies of %llu bytes)\n",
               d.name, d.cc_major, d.cc_minor, gib, d.peak_gbs, best, rounds, reps,
               (unsigned long long)size);
    return 0;
#endif
}
