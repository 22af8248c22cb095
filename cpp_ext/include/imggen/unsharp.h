// unsharp: the unsharp-mask combine of 8-bit frames with their blurred copy (the blur itself is
// a separable_filter pass).
//
// The pixel math and the entry points (conventions in imggen/pixel.h): the CPU loop
// (src/unsharp_cpu.cpp) and the CUDA kernel (src/unsharp_cuda.cu) call unsharp1().
#pragma once

#include <cstdint>

#include "imggen/pixel.h"

namespace imggen {

// Unsharp mask on one value: where the detail |src - blurred| reaches the threshold (in 8-bit
// units), add amount times the detail.
IMGGEN_HD std::uint8_t unsharp1(std::uint8_t src, std::uint8_t blurred, float amount,
                                float threshold) {
    const float s = static_cast<float>(src);
    const float d = s - static_cast<float>(blurred);
    const float ad = d < 0.0f ? -d : d;
    if (ad < threshold) return src;
    return round_u8(s + amount * d);
}

// dst[i] = unsharp1(src[i], blurred[i], amount, threshold) for count values.
void unsharp_cpu(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                 float amount, float threshold, std::uint8_t* dst);
void unsharp_cuda(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                  float amount, float threshold, std::uint8_t* dst, int device,
                  std::uintptr_t stream);

}  // namespace imggen
