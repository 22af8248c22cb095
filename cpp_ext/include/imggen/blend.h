// blend: two 8-bit frames mixed by an 8-bit mask (a region's op applied inside it only).
//
// The pixel math and the entry points (conventions in imggen/pixel.h): the CPU loop
// (src/blend_cpu.cpp) and the CUDA kernel (src/blend_cuda.cu) call blend1().
#pragma once

#include <cstdint>

#include "imggen/pixel.h"

namespace imggen {

// Blend one value by an 8-bit mask: mask 255 takes `inside`, 0 takes `outside`.
IMGGEN_HD std::uint8_t blend1(std::uint8_t inside, std::uint8_t outside, std::uint8_t mask) {
    const float m = static_cast<float>(mask) * (1.0f / 255.0f);
    const float v = static_cast<float>(outside) +
                    m * (static_cast<float>(inside) - static_cast<float>(outside));
    return round_u8(v);
}

// dst = blend1(inside, outside, mask) for pixels of `channels` values; mask has one value per
// pixel.
void blend_cpu(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
               std::int64_t pixels, int channels, std::uint8_t* dst);
void blend_cuda(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
                std::int64_t pixels, int channels, std::uint8_t* dst, int device,
                std::uintptr_t stream);

}  // namespace imggen
