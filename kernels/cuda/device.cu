/* The device, its memory, streams and graphs (see cuda.h): thin wrappers over the CUDA
 * runtime that turn its error codes into wk_err sentences. The runtime is linked statically
 * (libcudart_static), so a machine needs only the NVIDIA driver; when the driver is missing or
 * older than the runtime, cudaGetDeviceCount says so first, and wk_cuda_open tells the two
 * apart by the driver's version (0: none loaded). */
#include "kernels/cuda/internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_cuda(wk_err *e, cudaError_t rc, const char *what)
{
    return wk_fail(e, "CUDA: %s: %s", what, cudaGetErrorString(rc));
}

static __global__ void probe_kernel(int *x)
{
    if (x)
        *x = 1;
}

int wk_cuda_open(wk_cuda_device_info *info, wk_err *e)
{
    memset(info, 0, sizeof *info);
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    cudaDriverGetVersion(&info->driver_version);
    cudaRuntimeGetVersion(&info->runtime_version);
    if (rc == cudaErrorInsufficientDriver)
        return wk_cuda_fault_message(info->driver_version ? WK_CUDA_OLD_DRIVER
                                                          : WK_CUDA_NO_DRIVER,
                                     cudaGetErrorString(rc), info->driver_version,
                                     info->runtime_version, NULL, 0, 0, e);
    if (rc != cudaSuccess || n == 0)
        return wk_cuda_fault_message(WK_CUDA_NO_DEVICE,
                                     rc != cudaSuccess ? cudaGetErrorString(rc)
                                                       : "the driver lists none",
                                     info->driver_version, info->runtime_version, NULL, 0, 0, e);
    cudaDeviceProp p;
    if ((rc = cudaSetDevice(0)) != cudaSuccess ||
        (rc = cudaGetDeviceProperties(&p, 0)) != cudaSuccess)
        return wk_cuda_fault_message(WK_CUDA_NO_DEVICE, cudaGetErrorString(rc),
                                     info->driver_version, info->runtime_version, NULL, 0, 0, e);
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->sm_count = p.multiProcessorCount;
    info->total_bytes = p.totalGlobalMem;
    int clock_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
    info->peak_gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    /* a kernel of this build: fails when no image fits the device's architecture */
    cudaFuncAttributes fa;
    if ((rc = cudaFuncGetAttributes(&fa, probe_kernel)) != cudaSuccess)
        return wk_cuda_fault_message(WK_CUDA_NO_IMAGE, cudaGetErrorString(rc),
                                     info->driver_version, info->runtime_version, info->name,
                                     p.major, p.minor, e);
    return 0;
}

int wk_cuda_mem_info(size_t *free_bytes, size_t *total_bytes, wk_err *e)
{
    cudaError_t rc = cudaMemGetInfo(free_bytes, total_bytes);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "cannot read the free device memory");
}

/* ---- memory ---- */

static double gib(size_t n)
{
    return (double)n / (1024.0 * 1024.0 * 1024.0);
}

void *wk_cuda_alloc(size_t n, const char *what, wk_err *e)
{
    void *p = NULL;
    cudaError_t rc = cudaMalloc(&p, n ? n : 1);
    if (rc != cudaSuccess) {
        wk_fail(e, "cannot allocate %.2f GiB of device memory for %s: %s", gib(n), what,
                cudaGetErrorString(rc));
        return NULL;
    }
    return p;
}

void wk_cuda_free(void *p)
{
    if (p)
        cudaFree(p);
}

void *wk_cuda_host_alloc(size_t n, const char *what, wk_err *e)
{
    void *p = NULL;
    cudaError_t rc = cudaMallocHost(&p, n ? n : 1);
    if (rc != cudaSuccess) {
        wk_fail(e, "cannot allocate %.2f GiB of page-locked host memory for %s: %s", gib(n),
                what, cudaGetErrorString(rc));
        return NULL;
    }
    return p;
}

void wk_cuda_host_free(void *p)
{
    if (p)
        cudaFreeHost(p);
}

int wk_cuda_upload(void *dst, const void *src, size_t n, wk_err *e)
{
    cudaError_t rc = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "copying the weights to the device");
}

/* ---- streams and graphs ---- */

int wk_cuda_stream_new(wk_cuda_stream **out, wk_err *e)
{
    wk_cuda_stream *s = (wk_cuda_stream *)calloc(1, sizeof *s);
    *out = s;
    if (!s)
        return wk_fail(e, "out of memory");
    cudaError_t rc = cudaStreamCreateWithFlags(&s->s, cudaStreamNonBlocking);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "cannot create a stream");
}

void wk_cuda_stream_free(wk_cuda_stream *s)
{
    if (!s)
        return;
    if (s->exec)
        cudaGraphExecDestroy(s->exec);
    if (s->graph)
        cudaGraphDestroy(s->graph);
    if (s->s)
        cudaStreamDestroy(s->s);
    free(s);
}

int wk_cuda_copy_in(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e)
{
    cudaError_t rc = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s->s);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "copying to the device");
}

int wk_cuda_copy_out(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e)
{
    cudaError_t rc = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s->s);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "copying from the device");
}

int wk_cuda_finish(wk_cuda_stream *s, wk_err *e)
{
    cudaError_t launch = s->launch_error;
    s->launch_error = cudaSuccess;
    cudaError_t rc = cudaStreamSynchronize(s->s);
    if (launch != cudaSuccess)
        return fail_cuda(e, launch, "a kernel could not be launched");
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "a kernel failed");
}

int wk_cuda_capture_begin(wk_cuda_stream *s, wk_err *e)
{
    cudaError_t rc = cudaStreamBeginCapture(s->s, cudaStreamCaptureModeRelaxed);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "cannot capture a graph");
}

int wk_cuda_capture_end(wk_cuda_stream *s, wk_err *e)
{
    cudaError_t rc = cudaStreamEndCapture(s->s, &s->graph);
    if (rc == cudaSuccess && s->launch_error != cudaSuccess)
        rc = s->launch_error;
    s->launch_error = cudaSuccess;
    if (rc == cudaSuccess)
        rc = cudaGraphInstantiate(&s->exec, s->graph, 0);
    if (rc != cudaSuccess) {
        if (s->graph)
            cudaGraphDestroy(s->graph);
        s->graph = NULL;
        s->exec = NULL;
        return fail_cuda(e, rc, "cannot capture the decoding step as a graph");
    }
    return 0;
}

bool wk_cuda_has_graph(const wk_cuda_stream *s)
{
    return s->exec != NULL;
}

int wk_cuda_replay(wk_cuda_stream *s, wk_err *e)
{
    cudaError_t rc = cudaGraphLaunch(s->exec, s->s);
    return rc == cudaSuccess ? 0 : fail_cuda(e, rc, "cannot launch the decoding graph");
}

/* ---- the copy bandwidth (the benchmark's yardstick) ---- */

int wk_cuda_copy_bandwidth(size_t bytes, int reps, double *gbs, wk_err *e)
{
    void *a = wk_cuda_alloc(bytes, "the bandwidth test", e), *b = NULL;
    cudaEvent_t t0 = NULL, t1 = NULL;
    cudaError_t rc = cudaSuccess;
    int ok = a && (b = wk_cuda_alloc(bytes, "the bandwidth test", e)) != NULL;
    if (ok && ((rc = cudaEventCreate(&t0)) != cudaSuccess ||
               (rc = cudaEventCreate(&t1)) != cudaSuccess ||
               (rc = cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice)) != cudaSuccess))
        ok = 0;
    float ms = 0;
    if (ok) {
        cudaEventRecord(t0);
        for (int i = 0; i < reps; i++)
            cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(t1);
        if ((rc = cudaEventSynchronize(t1)) != cudaSuccess ||
            (rc = cudaEventElapsedTime(&ms, t0, t1)) != cudaSuccess)
            ok = 0;
    }
    if (!ok && rc != cudaSuccess)
        fail_cuda(e, rc, "the copy bandwidth test");
    else if (ok)
        *gbs = 2.0 * (double)bytes * reps / (ms * 1e-3) / 1e9;
    if (t0)
        cudaEventDestroy(t0);
    if (t1)
        cudaEventDestroy(t1);
    wk_cuda_free(a);
    wk_cuda_free(b);
    return ok ? 0 : -1;
}
