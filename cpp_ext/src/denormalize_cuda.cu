// The CUDA kernel of denormalize (math in imggen/denormalize.h; launch helpers in
// cuda_launch.cuh): one thread per output pixel, grid-stride, the same denormalize_pixel() as
// the CPU loop.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_launch.cuh"
#include "imggen/denormalize.h"

namespace imggen {
namespace {

template <Layout L, class T>
__global__ void denormalize_kernel(const T* __restrict__ src, std::int64_t pixels,
                                   std::int64_t plane, DenormParams p,
                                   std::uint8_t* __restrict__ dst) {
    constexpr int cin = source_channels(L);
    constexpr int cout = output_channels(L);
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < pixels; i += step) {
        const std::int64_t image = i / plane;
        const std::int64_t pos = i - image * plane;
        denormalize_pixel<L>(src + image * cin * plane + pos, plane, p.scale, p.offset,
                             dst + i * cout);
    }
}

template <Layout L, class T>
void launch_layout(const DenormJob& job, cudaStream_t stream) {
    const std::int64_t plane = job.h * job.w;
    const std::int64_t pixels = job.n * plane;
    denormalize_kernel<L><<<gpu::blocks_for(pixels), gpu::kThreads, 0, stream>>>(
        static_cast<const T*>(job.src), pixels, plane, job.params, job.dst);
}

template <class T>
void launch_dtype(const DenormJob& job, cudaStream_t stream) {
    switch (job.layout) {
        case Layout::rgb_from_rgb: launch_layout<Layout::rgb_from_rgb, T>(job, stream); break;
        case Layout::bgr_from_rgb: launch_layout<Layout::bgr_from_rgb, T>(job, stream); break;
        case Layout::gray_from_rgb: launch_layout<Layout::gray_from_rgb, T>(job, stream); break;
        case Layout::gray_from_gray: launch_layout<Layout::gray_from_gray, T>(job, stream); break;
        case Layout::rgb_from_gray: launch_layout<Layout::rgb_from_gray, T>(job, stream); break;
        case Layout::rgba_from_rgba: launch_layout<Layout::rgba_from_rgba, T>(job, stream); break;
        case Layout::bgra_from_rgba: launch_layout<Layout::bgra_from_rgba, T>(job, stream); break;
    }
}

}  // namespace

void denormalize_cuda(const DenormJob& job, int device, std::uintptr_t stream) {
    if (job.n * job.h * job.w == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    gpu::on_device(device, "denormalize kernel launch", [&] {
        switch (job.dtype) {
            case DType::f32: launch_dtype<float>(job, s); break;
            case DType::f16: launch_dtype<__half>(job, s); break;
            case DType::bf16: launch_dtype<bfloat16>(job, s); break;
        }
    });
}

}  // namespace imggen
