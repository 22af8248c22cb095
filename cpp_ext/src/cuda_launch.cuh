// What the kernel launches (src/<op>_cuda.cu) share: the block size, the grid size, the
// launch-error check and the device guard. Kernels are grid-stride loops, one thread per output
// value (or pixel), built with --fmad=false so they round like the CPU loops.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace imggen::gpu {

constexpr int kThreads = 256;
// Enough blocks to fill any current GPU; the grid-stride loops cover the rest.
constexpr std::int64_t kMaxBlocks = 65535;

inline unsigned blocks_for(std::int64_t work) {
    return static_cast<unsigned>(
        std::min<std::int64_t>((work + kThreads - 1) / kThreads, kMaxBlocks));
}

// The first index of this thread and the grid-stride step.
__device__ __forceinline__ std::int64_t first_index() {
    return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t grid_step() {
    return static_cast<std::int64_t>(blockDim.x) * gridDim.x;
}

inline void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess)
        throw std::runtime_error(std::string("imggen_rt._postproc: ") + what +
                                 " failed: " + cudaGetErrorString(err));
}

// Runs launch() on `device` (-1: the current one) and reports its launch error as "<what>
// failed: ..."; restores the caller's device.
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

}  // namespace imggen::gpu
