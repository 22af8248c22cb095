// The CUDA kernels of separable_filter (math in imggen/separable_filter.h; launch helpers in
// cuda_launch.cuh): the horizontal pass into the float scratch, then the vertical pass, one
// thread per output value, grid-stride.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_launch.cuh"
#include "imggen/separable_filter.h"

namespace imggen {
namespace {

__global__ void filter_h_kernel(FilterJob job) {
    const std::int64_t c = job.channels;
    const std::int64_t per_row = job.x.out_len * c;
    const std::int64_t total = job.n * job.h * per_row;
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < total; i += step) {
        const std::int64_t row = i / per_row;
        const std::int64_t rest = i - row * per_row;
        const std::int64_t x = rest / c;
        job.tmp[i] = taps_h<true>(job.x, x, job.src + row * job.w * c, job.channels,
                                  static_cast<int>(rest - x * c));
    }
}

__global__ void filter_v_kernel(FilterJob job) {
    const std::int64_t per_row = job.x.out_len * job.channels;
    const std::int64_t per_image = job.y.out_len * per_row;
    const std::int64_t total = job.n * per_image;
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < total; i += step) {
        const std::int64_t n = i / per_image;
        const std::int64_t rest = i - n * per_image;
        const std::int64_t y = rest / per_row;
        const std::int64_t xc = rest - y * per_row;
        const float* column = job.tmp + n * job.h * per_row + xc;
        job.dst[i] = round_u8(taps_v<true>(job.y, y, column, per_row));
    }
}

}  // namespace

void separable_filter_cuda(const FilterJob& job, int device, std::uintptr_t stream) {
    const std::int64_t tmp_values = job.n * job.h * job.x.out_len * job.channels;
    const std::int64_t out_values = job.n * job.y.out_len * job.x.out_len * job.channels;
    if (out_values == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    gpu::on_device(device, "filter kernel launch", [&] {
        filter_h_kernel<<<gpu::blocks_for(tmp_values), gpu::kThreads, 0, s>>>(job);
        filter_v_kernel<<<gpu::blocks_for(out_values), gpu::kThreads, 0, s>>>(job);
    });
}

}  // namespace imggen
