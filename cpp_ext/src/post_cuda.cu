// CUDA kernels for the post-processing chain: one thread per output value (or pixel),
// grid-stride, calling the same functions as the CPU loops. Built with --fmad=false like the
// denormalize kernel, so the sums round as they do on the CPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "imggen/post_cuda.h"

namespace imggen {
namespace {

// The program by value: kernel arguments live in constant memory, which every thread reads.
struct Program {
    PointOp ops[kMaxPointOps];
    Lut3D luts[kMaxLuts];
    int n_ops;
};

constexpr int kThreads = 256;

unsigned blocks_for(std::int64_t work) {
    return static_cast<unsigned>(
        std::min<std::int64_t>((work + kThreads - 1) / kThreads, 65535));
}

template <class T>
__device__ float load_value(const T* src, std::int64_t i) {
    return load(src[i]);
}

__device__ void load_pixel(const PointJob& job, std::int64_t i, float& r, float& g, float& b) {
    const std::int64_t plane = job.h * job.w;
    if (job.source == PointSource::u8_nhwc) {
        const auto* px = static_cast<const std::uint8_t*>(job.src) + i * job.src_stride;
        const int gc = job.src_channels == 1 ? 0 : 1, bc = job.src_channels == 1 ? 0 : 2;
        r = static_cast<float>(px[0]) * job.scale + job.offset;
        g = static_cast<float>(px[gc]) * job.scale + job.offset;
        b = static_cast<float>(px[bc]) * job.scale + job.offset;
        return;
    }
    const std::int64_t image = i / plane;
    const std::int64_t base = image * job.src_channels * plane + (i - image * plane);
    const std::int64_t gp = job.src_channels == 1 ? 0 : plane;
    float v[3];
    for (int c = 0; c < 3; ++c) {
        const std::int64_t at = base + (c == 0 ? 0 : c == 1 ? gp : 2 * gp);
        const float raw = job.source == PointSource::f32_nchw
                              ? load_value(static_cast<const float*>(job.src), at)
                              : load_value(static_cast<const __half*>(job.src), at);
        const float s = raw * job.scale;
        v[c] = s + job.offset;
    }
    r = v[0], g = v[1], b = v[2];
}

__global__ void point_kernel(PointJob job, Program prog) {
    const std::int64_t pixels = job.n * job.h * job.w;
    const int cout = output_channels(job.layout);
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < pixels; i += step) {
        float r, g, b;
        load_pixel(job, i, r, g, b);
        for (int k = 0; k < prog.n_ops; ++k) apply_point(prog.ops[k], prog.luts, r, g, b);
        store_pixel(job.layout, r, g, b, job.dst + i * cout);
    }
}

__global__ void filter_h_kernel(FilterJob job) {
    const std::int64_t c = job.channels;
    const std::int64_t per_row = job.x.out_len * c;
    const std::int64_t total = job.n * job.h * per_row;
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < total; i += step) {
        const std::int64_t row = i / per_row;
        const std::int64_t rest = i - row * per_row;
        const std::int64_t x = rest / c;
        job.tmp[i] = taps_h(job.x, x, job.src + row * job.w * c, job.channels,
                            static_cast<int>(rest - x * c));
    }
}

__global__ void filter_v_kernel(FilterJob job) {
    const std::int64_t per_row = job.x.out_len * job.channels;
    const std::int64_t per_image = job.y.out_len * per_row;
    const std::int64_t total = job.n * per_image;
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < total; i += step) {
        const std::int64_t n = i / per_image;
        const std::int64_t rest = i - n * per_image;
        const std::int64_t y = rest / per_row;
        const std::int64_t xc = rest - y * per_row;
        const float* column = job.tmp + n * job.h * per_row + xc;
        job.dst[i] = round_u8(taps_v(job.y, y, column, per_row));
    }
}

__global__ void unsharp_kernel(const std::uint8_t* src, const std::uint8_t* blurred,
                               std::int64_t count, float amount, float threshold,
                               std::uint8_t* dst) {
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < count; i += step)
        dst[i] = unsharp1(src[i], blurred[i], amount, threshold);
}

__global__ void blend_kernel(const std::uint8_t* inside, const std::uint8_t* outside,
                             const std::uint8_t* mask, std::int64_t pixels, int channels,
                             std::uint8_t* dst) {
    const std::int64_t total = pixels * channels;
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < total; i += step)
        dst[i] = blend1(inside[i], outside[i], mask[i / channels]);
}

// Luma of every pixel into the mask buffer and a histogram per frame: blockIdx.y is the
// frame; each block counts its stretch in shared memory, then adds it to the frame's bins.
__global__ void luma_hist_kernel(const std::uint8_t* frames, std::int64_t pixels, int channels,
                                 std::uint32_t* hist, std::uint8_t* masks) {
    __shared__ std::uint32_t local[kHistBins];
    for (int b = threadIdx.x; b < kHistBins; b += blockDim.x) local[b] = 0;
    __syncthreads();
    const std::int64_t frame = blockIdx.y;
    const std::uint8_t* src = frames + frame * pixels * channels;
    std::uint8_t* mask = masks + frame * pixels;
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t p = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         p < pixels; p += step) {
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
    const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
    for (std::int64_t p = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         p < pixels; p += step)
        mask[p] = otsu_mask_value(mask[p], threshold, dark);
}

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("imggen_rt._postproc: ") + what + " failed: " +
                                 cudaGetErrorString(err));
}

// Runs launch() on `device` and reports its launch error; restores the caller's device.
template <class Launch>
void on_device(int device, const char* what, Launch launch) {
    int previous = 0;
    check(cudaGetDevice(&previous), "cudaGetDevice");
    if (device < 0) device = previous;
    if (previous != device) check(cudaSetDevice(device), "cudaSetDevice");
    cudaGetLastError();  // clear a stale error so the check below reports this launch
    launch();
    const cudaError_t err = cudaGetLastError();
    if (previous != device) cudaSetDevice(previous);
    check(err, what);
}

}  // namespace

void point_cuda(const PointJob& job, int device, std::uintptr_t stream) {
    if (job.n * job.h * job.w == 0) return;
    if (job.n_ops > kMaxPointOps) throw std::runtime_error("imggen_rt._postproc: too many ops");
    Program prog{};
    prog.n_ops = job.n_ops;
    for (int k = 0; k < job.n_ops; ++k) {
        prog.ops[k] = job.ops[k];
        if (job.ops[k].kind == PointKind::lut3d) {
            if (job.ops[k].lut >= kMaxLuts)
                throw std::runtime_error("imggen_rt._postproc: too many LUTs");
            prog.luts[job.ops[k].lut] = job.luts[job.ops[k].lut];
        }
    }
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    on_device(device, "point kernel launch", [&] {
        point_kernel<<<blocks_for(job.n * job.h * job.w), kThreads, 0, s>>>(job, prog);
    });
}

void filter_cuda(const FilterJob& job, int device, std::uintptr_t stream) {
    const std::int64_t tmp_values = job.n * job.h * job.x.out_len * job.channels;
    const std::int64_t out_values = job.n * job.y.out_len * job.x.out_len * job.channels;
    if (out_values == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    on_device(device, "filter kernel launch", [&] {
        filter_h_kernel<<<blocks_for(tmp_values), kThreads, 0, s>>>(job);
        filter_v_kernel<<<blocks_for(out_values), kThreads, 0, s>>>(job);
    });
}

void unsharp_cuda(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                  float amount, float threshold, std::uint8_t* dst, int device,
                  std::uintptr_t stream) {
    if (count == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    on_device(device, "unsharp kernel launch", [&] {
        unsharp_kernel<<<blocks_for(count), kThreads, 0, s>>>(src, blurred, count, amount,
                                                              threshold, dst);
    });
}

void blend_cuda(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
                std::int64_t pixels, int channels, std::uint8_t* dst, int device,
                std::uintptr_t stream) {
    if (pixels == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    on_device(device, "blend kernel launch", [&] {
        blend_kernel<<<blocks_for(pixels * channels), kThreads, 0, s>>>(inside, outside, mask,
                                                                        pixels, channels, dst);
    });
}

void otsu_masks_cuda(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels,
                     int channels, bool dark, std::uint32_t* hist, std::uint8_t* masks, int device,
                     std::uintptr_t stream) {
    if (n * pixels == 0) return;
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    // A few blocks per frame: frames are small, and blockIdx.y walks them (up to 65535).
    const dim3 grid(std::min<unsigned>(blocks_for(pixels), 32u), static_cast<unsigned>(n));
    on_device(device, "otsu kernels launch", [&] {
        cudaMemsetAsync(hist, 0, static_cast<std::size_t>(n) * kHistBins * sizeof(std::uint32_t), s);
        luma_hist_kernel<<<grid, kThreads, 0, s>>>(frames, pixels, channels, hist, masks);
        otsu_mask_kernel<<<grid, kThreads, 0, s>>>(pixels, dark, hist, masks);
    });
}

}  // namespace imggen
