// The CUDA kernel of blend (math in imggen/blend.h; launch helpers in cuda_launch.cuh): one
// thread per value, grid-stride.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_launch.cuh"
#include "imggen/blend.h"

namespace imggen {
namespace {

__global__ void blend_kernel(const std::uint8_t* inside, const std::uint8_t* outside,
                             const std::uint8_t* mask, std::int64_t pixels, int channels,
                             std::uint8_t* dst) {
    const std::int64_t total = pixels * channels;
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < total; i += step)
        dst[i] = blend1(inside[i], outside[i], mask[i / channels]);
}

}  // namespace

void blend_cuda(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
                std::int64_t pixels, int channels, std::uint8_t* dst, int device,
                std::uintptr_t stream) {
    if (pixels == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    gpu::on_device(device, "blend kernel launch", [&] {
        blend_kernel<<<gpu::blocks_for(pixels * channels), gpu::kThreads, 0, s>>>(
            inside, outside, mask, pixels, channels, dst);
    });
}

}  // namespace imggen
