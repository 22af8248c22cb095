// Every bound on what the extension accepts, in one place: the bindings check them (and word
// their errors with them), the CPU loops and the CUDA kernels size by them.
#pragma once

#include <cstdint>

namespace imggen {

// point: a fused program travels to the kernel as a launch argument (constant memory), so its
// size is bounded; the CPU takes the same programs.
constexpr int kMaxPointOps = 16;  // rows of one program
constexpr int kMaxLuts = 4;       // 3D LUT ops in one program
constexpr int kMinLutSize = 2;    // lattice points per axis (a cell needs two)

// separable_filter: uint8 NHWC frames of 1 to 4 channels (gray .. RGBA).
constexpr int kMaxFilterChannels = 4;

// otsu_masks_cuda: the kernels walk the frames with blockIdx.y (at most 65535 in CUDA).
constexpr std::int64_t kMaxCudaOtsuFrames = 65535;

}  // namespace imggen
