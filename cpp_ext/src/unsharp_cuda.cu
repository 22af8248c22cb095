// The CUDA kernel of unsharp (math in imggen/unsharp.h; launch helpers in cuda_launch.cuh):
// one thread per value, grid-stride.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_launch.cuh"
#include "imggen/unsharp.h"

namespace imggen {
namespace {

__global__ void unsharp_kernel(const std::uint8_t* src, const std::uint8_t* blurred,
                               std::int64_t count, float amount, float threshold,
                               std::uint8_t* dst) {
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < count; i += step)
        dst[i] = unsharp1(src[i], blurred[i], amount, threshold);
}

}  // namespace

void unsharp_cuda(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                  float amount, float threshold, std::uint8_t* dst, int device,
                  std::uintptr_t stream) {
    if (count == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    gpu::on_device(device, "unsharp kernel launch", [&] {
        unsharp_kernel<<<gpu::blocks_for(count), gpu::kThreads, 0, s>>>(src, blurred, count, amount,
                                                                        threshold, dst);
    });
}

}  // namespace imggen
