// CPU loops for the post-processing chain (math in imggen/point_ops.h, imggen/stencil_ops.h).
// Each runs on the calling thread plus the OpenMP team; the caller has validated the job.
#pragma once

#include <cstdint>

#include "imggen/point_ops.h"
#include "imggen/segment_ops.h"
#include "imggen/stencil_ops.h"

namespace imggen {

// Load (denormalise or read 8-bit) -> every op of the program -> quantise, in one pass.
void point_cpu(const PointJob& job);

// Horizontal taps into job.tmp, then vertical taps into job.dst.
void filter_cpu(const FilterJob& job);

// dst[i] = unsharp1(src[i], blurred[i], amount, threshold) for count values.
void unsharp_cpu(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                 float amount, float threshold, std::uint8_t* dst);

// dst = blend1(inside, outside, mask) for pixels of `channels` values; mask has one value per
// pixel.
void blend_cpu(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
               std::int64_t pixels, int channels, std::uint8_t* dst);

// masks[i] = Otsu foreground of frame i (n frames of `pixels` pixels with `channels` values).
void otsu_masks_cpu(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                    bool dark, std::uint8_t* masks);

}  // namespace imggen
