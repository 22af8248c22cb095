// Every bound on what the extension accepts, in one place: the bindings check them (and word
// their errors with them), the CPU loops and the CUDA kernels size by them.
#pragma once

#include <cstdint>

namespace imggen {

// Any array: the product of its non-zero extents times its item size stays below this, so
// every element or byte count the loops form (n * h, n * h * w * c, ...) fits in int64 with
// room to spare, even for zero-size arrays with huge extents.
constexpr std::int64_t kMaxArrayBytes = std::int64_t{1} << 62;

// point: a fused program travels to the kernel as a launch argument (constant memory), so its
// size is bounded; the CPU takes the same programs.
constexpr int kMaxPointOps = 16;  // rows of one program
constexpr int kMaxLuts = 4;       // 3D LUT ops in one program
constexpr int kMinLutSize = 2;    // lattice points per axis (a cell needs two)
// Lattice points per axis at most (the .cube reader's bound): entry offsets (4 * size^3) stay
// far inside the int the lattice math uses.
constexpr int kMaxLutSize = 256;

// separable_filter, blend: uint8 NHWC frames of 1 to 4 channels (gray .. RGBA).
constexpr int kMaxFilterChannels = 4;
// separable_filter: taps per output position (an int in the loops).
constexpr std::int64_t kMaxTaps = std::int64_t{1} << 30;

// otsu_masks: the histogram counts in uint32, so a frame has fewer pixels than 2^32.
constexpr std::int64_t kMaxOtsuPixels = (std::int64_t{1} << 32) - 1;
// otsu_masks_cuda: the kernels walk the frames with blockIdx.y (at most 65535 in CUDA).
constexpr std::int64_t kMaxCudaOtsuFrames = 65535;

// The CPU loops work on rows in tiles of at most this many pixels (point: three float rows of
// it) or values (the filter's passes), in per-thread buffers on the stack: no heap allocation
// inside a parallel region, and memory that does not grow with the row length.
constexpr std::int64_t kCpuTile = 1024;
constexpr std::int64_t kCpuFilterTile = 4096;

}  // namespace imggen
