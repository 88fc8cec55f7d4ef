/* bw-read: the machine's read-only streaming bandwidth, the ceiling a decoder that reads
 * every weight once per token is held to (bench/engine.sh divides its decode speeds by it).
 *
 * It fills an array far larger than the caches (so every pass comes from DRAM), then sums
 * it as 64-bit words on all OpenMP threads, each thread its own contiguous slice (the same
 * static split for the fill, so on a NUMA machine every page sits near its reader). A
 * pass is timed from before the threads start to after the last one finishes; the best
 * and the median pass are printed. The sum of every pass is checked against the one the
 * fill implies, so the compiler cannot drop the reads and a short read would be caught.
 * The array asks for 2 MiB pages, as wk-run's weights do (common/fileio.h, wk_map_prefault),
 * so the ceiling is read the way the engine reads.
 * AVX2 loads where the CPU has them (this file is built with baseline flags, so the AVX2
 * loop is compiled for its target alone and chosen at run time). */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/cli.h"

/* Word i of the array holds i * K: no page is all zeros (the kernel's shared zero page
 * would be read from cache), and the sum of n words is K * n(n-1)/2 modulo 2^64. */
#define BW_K UINT64_C(0x9E3779B97F4A7C15)

static uint64_t bw_expected(uint64_t n)
{
    uint64_t a = n, b = n - 1; /* n(n-1)/2 without overflow before the modulo */
    if (a % 2 == 0)
        a /= 2;
    else
        b /= 2;
    return a * b * BW_K;
}

static uint64_t bw_sum_scalar(const uint64_t *p, size_t n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++)
        s0 += p[i];
    return s0 + s1 + s2 + s3;
}

/* Four independent 256-bit accumulators: enough loads in flight to keep a core's share of
 * the memory bus busy; the adds are never the limit. */
__attribute__((target("avx2"))) static uint64_t bw_sum_avx2(const uint64_t *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(p + i + 12)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lane[4];
    _mm256_storeu_si256((__m256i *)lane, a0);
    return lane[0] + lane[1] + lane[2] + lane[3] + bw_sum_scalar(p + i, n - i);
}

/* One pass over the array on every thread; returns the sum of all words. */
static uint64_t bw_pass(const uint64_t *p, size_t n, int avx2)
{
    uint64_t sum = 0;
#pragma omp parallel reduction(+ : sum)
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t lo = n * t / nt, hi = n * (t + 1) / nt;
        sum += avx2 ? bw_sum_avx2(p + lo, hi - lo) : bw_sum_scalar(p + lo, hi - lo);
    }
    return sum;
}

static int bw_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    uint64_t size = UINT64_C(1) << 30;
    long reps = 5, threads = 0;
    bool scalar = false;
    const wk_option opts[] = {
        WK_OPT_SIZE("size", 's', "SIZE", &size, 4096,
                    "bytes to allocate and read per pass (default 1073741824 = 1 GiB); "
                    "make it far larger than the last-level cache"),
        WK_OPT_LONG("reps", 'r', "N", &reps, 1, 1000, "timed passes (default 5)"),
        WK_OPT_LONG("threads", 't', "N", &threads, 0, 1024,
                    "threads (default 0: OpenMP's count, all cores unless OMP_NUM_THREADS "
                    "says otherwise)"),
        WK_OPT_FLAG("scalar", 0, &scalar, "plain 64-bit loads even where AVX2 exists"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "bw-read",
        .synopsis = "[OPTIONS]",
        .about = "Measures the read-only streaming memory bandwidth: fills an array of SIZE "
                 "bytes, then sums it as 64-bit words on all threads, N timed passes. "
                 "Prints one line: the bytes, threads, passes, the best and the median "
                 "pass in GB/s (10^9 bytes per second) and the sum, which is checked "
                 "against the fill.",
        .options = opts,
        .notes = "A test and benchmark helper (bench/engine.sh), not an installed tool.",
        .max_operands = 0,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (threads > 0)
        omp_set_num_threads((int)threads);

    size_t n = (size_t)(size / 8);
    uint64_t *p = NULL;
    if (posix_memalign((void **)&p, 4096, n * 8) != 0) {
        wk_err e;
        wk_fail(&e, "cannot allocate %llu bytes", (unsigned long long)(n * 8));
        return wk_cli_error(&tool, &e);
    }
    madvise(p, n * 8, MADV_HUGEPAGE); /* advice: where refused, 4 KiB pages */
#pragma omp parallel
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        for (size_t i = n * t / nt; i < n * (t + 1) / nt; i++)
            p[i] = (uint64_t)i * BW_K;
    }
    int avx2 = !scalar && __builtin_cpu_supports("avx2");
    uint64_t want = bw_expected(n), sum = bw_pass(p, n, avx2); /* untimed warm-up */
    double *gbs = malloc((size_t)reps * sizeof *gbs);
    wk_err e = {0};
    if (!gbs)
        wk_fail(&e, "out of memory");
    for (long r = 0; r < reps && gbs && sum == want; r++) {
        double t0 = omp_get_wtime();
        sum = bw_pass(p, n, avx2);
        gbs[r] = (double)n * 8 / (omp_get_wtime() - t0) / 1e9;
    }
    free(p);
    if (gbs && sum != want)
        wk_fail(&e, "the sum is %llu, the fill implies %llu: a pass read wrong data",
                (unsigned long long)sum, (unsigned long long)want);
    if (!gbs || sum != want) {
        free(gbs);
        return wk_cli_error(&tool, &e);
    }
    qsort(gbs, (size_t)reps, sizeof *gbs, bw_cmp);
    double med = reps % 2 ? gbs[reps / 2] : (gbs[reps / 2 - 1] + gbs[reps / 2]) / 2;
    printf("bw-read: %llu bytes, threads %d, %s, passes %ld: best %.2f GB/s, median %.2f GB/s, "
           "sum %llu\n",
           (unsigned long long)(n * 8), omp_get_max_threads(), avx2 ? "avx2" : "scalar", reps,
           gbs[reps - 1], med, (unsigned long long)sum);
    free(gbs);
    return 0;
}
