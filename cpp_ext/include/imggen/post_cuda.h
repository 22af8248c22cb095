// CUDA launches for the post-processing chain (math in imggen/point_ops.h, imggen/stencil_ops.h).
// Only compiled when the build has CUDA; nothing here includes CUDA headers. Every pointer in a
// job (frames, tables, LUTs) is a device pointer. Each call enqueues on `stream` (a cudaStream_t
// as an integer) on `device` (-1: the current one) and returns without waiting; a failed launch
// throws std::runtime_error with CUDA's error string.
#pragma once

#include <cstdint>

#include "imggen/point_ops.h"
#include "imggen/segment_ops.h"
#include "imggen/stencil_ops.h"

namespace imggen {

// The program travels as a kernel argument, so its size is bounded.
constexpr int kMaxPointOps = 16;
constexpr int kMaxLuts = 4;

void point_cuda(const PointJob& job, int device, std::uintptr_t stream);
void filter_cuda(const FilterJob& job, int device, std::uintptr_t stream);
void unsharp_cuda(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                  float amount, float threshold, std::uint8_t* dst, int device,
                  std::uintptr_t stream);
void blend_cuda(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
                std::int64_t pixels, int channels, std::uint8_t* dst, int device,
                std::uintptr_t stream);

// Otsu masks of n frames; hist is device scratch of n * 256 uint32 (zeroed here).
void otsu_masks_cuda(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels,
                     int channels, bool dark, std::uint32_t* hist, std::uint8_t* masks, int device,
                     std::uintptr_t stream);

}  // namespace imggen
