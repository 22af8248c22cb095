// The CUDA kernel of point (math in imggen/point.h; launch helpers in cuda_launch.cuh): one
// thread per pixel, grid-stride; load, every op of the program, store, as the CPU loop does.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>

#include "cuda_launch.cuh"
#include "imggen/limits.h"
#include "imggen/point.h"

namespace imggen {
namespace {

// The program by value: kernel arguments live in constant memory, which every thread reads.
struct Program {
    PointOp ops[kMaxPointOps];
    Lut3D luts[kMaxLuts];
    int n_ops;
};

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
        float raw;
        if (job.source == PointSource::f32_nchw)
            raw = load_value(static_cast<const float*>(job.src), at);
        else if (job.source == PointSource::f16_nchw)
            raw = load_value(static_cast<const __half*>(job.src), at);
        else
            raw = load_value(static_cast<const bfloat16*>(job.src), at);
        const float s = raw * job.scale;
        v[c] = s + job.offset;
    }
    r = v[0], g = v[1], b = v[2];
}

__global__ void point_kernel(PointJob job, Program prog) {
    const std::int64_t pixels = job.n * job.h * job.w;
    const int cout = output_channels(job.layout);
    const std::int64_t step = gpu::grid_step();
    for (std::int64_t i = gpu::first_index(); i < pixels; i += step) {
        float r, g, b;
        load_pixel(job, i, r, g, b);
        for (int k = 0; k < prog.n_ops; ++k) apply_point(prog.ops[k], prog.luts, r, g, b);
        store_pixel(job.layout, r, g, b, job.dst + i * cout);
    }
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
    gpu::on_device(device, "point kernel launch", [&] {
        point_kernel<<<gpu::blocks_for(job.n * job.h * job.w), gpu::kThreads, 0, s>>>(job, prog);
    });
}

}  // namespace imggen
