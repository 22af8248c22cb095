// The CUDA kernels of otsu_masks (math in imggen/otsu_masks.h; launch helpers in
// cuda_launch.cuh): luma and per-frame histograms, then each frame's threshold and mask.
// blockIdx.y is the frame (so at most kMaxCudaOtsuFrames frames per call).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "cuda_launch.cuh"
#include "imggen/limits.h"
#include "imggen/otsu_masks.h"

namespace imggen {
namespace {

// Luma of every pixel into the mask buffer and a histogram per frame: each block counts its
// stretch in shared memory, then adds it to the frame's bins.
__global__ void luma_hist_kernel(const std::uint8_t* frames, std::int64_t pixels, int channels,
                                 std::uint32_t* hist, std::uint8_t* masks) {
    __shared__ std::uint32_t local[kHistBins];
    for (int b = threadIdx.x; b < kHistBins; b += blockDim.x) local[b] = 0;
    __syncthreads();
    const std::int64_t frame = blockIdx.y;
    const std::uint8_t* src = frames + frame * pixels * channels;
    std::uint8_t* mask = masks + frame * pixels;
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t p = gpu::first_index(); p < pixels; p += step) {
        const std::uint8_t y = luma_u8(src + p * channels, channels);
        mask[p] = y;
        atomicAdd(&local[y], 1u);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < kHistBins; b += blockDim.x)
        if (local[b]) atomicAdd(&hist[frame * kHistBins + b], local[b]);
}

// The threshold (one thread per block works it out from the histogram), then the mask.
__global__ void otsu_mask_kernel(std::int64_t pixels, bool dark, const std::uint32_t* hist,
                                 std::uint8_t* masks) {
    __shared__ int threshold;
    const std::int64_t frame = blockIdx.y;
    if (threadIdx.x == 0) threshold = otsu_threshold(hist + frame * kHistBins, pixels);
    __syncthreads();
    std::uint8_t* mask = masks + frame * pixels;
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t p = gpu::first_index(); p < pixels; p += step)
        mask[p] = otsu_mask_value(mask[p], threshold, dark);
}

}  // namespace

void otsu_masks_cuda(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                     bool dark, std::uint32_t* hist, std::uint8_t* masks, int device,
                     std::uintptr_t stream) {
    if (n * pixels == 0) return;
    if (n > kMaxCudaOtsuFrames) throw std::runtime_error("imggen_rt._postproc: too many frames");
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    // A few blocks per frame: frames are small, and blockIdx.y walks them.
    const dim3 grid(std::min<unsigned>(gpu::blocks_for(pixels), 32u), static_cast<unsigned>(n));
    const std::size_t hist_bytes = static_cast<std::size_t>(n) * kHistBins * sizeof(std::uint32_t);
    gpu::on_device(device, "otsu kernels launch", [&] {
        cudaMemsetAsync(hist, 0, hist_bytes, s);
        luma_hist_kernel<<<grid, gpu::kThreads, 0, s>>>(frames, pixels, channels, hist, masks);
        otsu_mask_kernel<<<grid, gpu::kThreads, 0, s>>>(pixels, dark, hist, masks);
    });
}

}  // namespace imggen
