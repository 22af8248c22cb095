// CUDA kernel for denormalize: one thread per output pixel, grid-stride, same
// denormalize_pixel() as the CPU loop. Built with --fmad=false so results match the CPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "imggen/denormalize.h"
#include "imggen/denormalize_cuda.h"

namespace imggen {
namespace {

template <Layout L, class T>
__global__ void denormalize_kernel(const T* __restrict__ src, std::int64_t pixels,
                                   std::int64_t plane, DenormParams p,
                                   std::uint8_t* __restrict__ dst) {
    constexpr int cin = source_channels(L);
    constexpr int cout = output_channels(L);
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < pixels; i += step) {
        const std::int64_t image = i / plane;
        const std::int64_t pos = i - image * plane;
        denormalize_pixel<L>(src + image * cin * plane + pos, plane, p.scale, p.offset,
                             dst + i * cout);
    }
}

template <Layout L, class T>
void launch(const DenormJob& job, cudaStream_t stream) {
    constexpr int kThreads = 256;
    const std::int64_t plane = job.h * job.w;
    const std::int64_t pixels = job.n * plane;
    // Enough blocks to fill any current GPU; the grid-stride loop covers the rest.
    const std::int64_t blocks = std::min<std::int64_t>((pixels + kThreads - 1) / kThreads, 65535);
    denormalize_kernel<L><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        static_cast<const T*>(job.src), pixels, plane, job.params, job.dst);
}

template <class T>
void launch_any(const DenormJob& job, cudaStream_t stream) {
    switch (job.layout) {
        case Layout::rgb_from_rgb: launch<Layout::rgb_from_rgb, T>(job, stream); break;
        case Layout::bgr_from_rgb: launch<Layout::bgr_from_rgb, T>(job, stream); break;
        case Layout::gray_from_rgb: launch<Layout::gray_from_rgb, T>(job, stream); break;
        case Layout::gray_from_gray: launch<Layout::gray_from_gray, T>(job, stream); break;
        case Layout::rgb_from_gray: launch<Layout::rgb_from_gray, T>(job, stream); break;
    }
}

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("imggen_rt._postproc: ") + what + " failed: " +
                                 cudaGetErrorString(err));
}

}  // namespace

void denormalize_cuda(const DenormJob& job, int device, std::uintptr_t stream_handle) {
    if (job.n * job.h * job.w == 0) return;
    int previous = 0;
    check(cudaGetDevice(&previous), "cudaGetDevice");
    if (device < 0) device = previous;
    if (previous != device) check(cudaSetDevice(device), "cudaSetDevice");
    cudaGetLastError();  // clear a stale error so the check below reports this launch
    const auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
    if (job.dtype == DType::f32)
        launch_any<float>(job, stream);
    else
        launch_any<__half>(job, stream);
    const cudaError_t err = cudaGetLastError();
    if (previous != device) cudaSetDevice(previous);
    check(err, "denormalize kernel launch");
}

int cuda_device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

std::string cuda_device_error() {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    cudaGetLastError();
    if (err != cudaSuccess) return cudaGetErrorString(err);
    return count > 0 ? "" : "no CUDA device found";
}

}  // namespace imggen
