// denormalize: generator output (N, C, H, W) float in [low, high] -> (N, H, W, Cout) uint8.
//
// The pixel math, the job, and the entry points (conventions in imggen/pixel.h): the CPU loop
// (src/denormalize_cpu.cpp) and the CUDA kernel (src/denormalize_cuda.cu) both call
// denormalize_pixel(), and with no FMA contraction they agree with the numpy reference
// (imggen_rt.postprocess.denormalize_reference) bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "imggen/pixel.h"

namespace imggen {

// One pixel: src points at channel 0 of the pixel, channel c lives at src[c * plane]. gray
// from RGB is the luma of the raw values, then the same mapping; alpha maps like a colour
// channel (the card's range covers all channels).
template <Layout L, class T>
IMGGEN_HD void denormalize_pixel(const T* src, std::ptrdiff_t plane, float scale, float offset,
                                 std::uint8_t* dst) {
    if constexpr (L == Layout::rgb_from_rgb) {
        dst[0] = to_u8(load(src[0]), scale, offset);
        dst[1] = to_u8(load(src[plane]), scale, offset);
        dst[2] = to_u8(load(src[2 * plane]), scale, offset);
    } else if constexpr (L == Layout::bgr_from_rgb) {
        dst[0] = to_u8(load(src[2 * plane]), scale, offset);
        dst[1] = to_u8(load(src[plane]), scale, offset);
        dst[2] = to_u8(load(src[0]), scale, offset);
    } else if constexpr (L == Layout::gray_from_rgb) {
        dst[0] = to_u8(luma(load(src[0]), load(src[plane]), load(src[2 * plane])), scale, offset);
    } else if constexpr (L == Layout::rgba_from_rgba) {
        dst[0] = to_u8(load(src[0]), scale, offset);
        dst[1] = to_u8(load(src[plane]), scale, offset);
        dst[2] = to_u8(load(src[2 * plane]), scale, offset);
        dst[3] = to_u8(load(src[3 * plane]), scale, offset);
    } else if constexpr (L == Layout::bgra_from_rgba) {
        dst[0] = to_u8(load(src[2 * plane]), scale, offset);
        dst[1] = to_u8(load(src[plane]), scale, offset);
        dst[2] = to_u8(load(src[0]), scale, offset);
        dst[3] = to_u8(load(src[3 * plane]), scale, offset);
    } else if constexpr (L == Layout::gray_from_gray) {
        dst[0] = to_u8(load(src[0]), scale, offset);
    } else {
        const std::uint8_t u = to_u8(load(src[0]), scale, offset);
        dst[0] = u;
        dst[1] = u;
        dst[2] = u;
    }
}

// scale and offset are computed once on the host, in float32, from the declared range.
struct DenormParams {
    float scale;
    float offset;
};

// False when [low, high] is not a usable range in float32 (not finite, empty, or so narrow
// that the scale overflows).
inline bool make_params(double low, double high, DenormParams* p) {
    // Checked in double first: converting a double beyond float32's range is undefined.
    const double max = 3.4028234663852886e38;  // FLT_MAX
    if (!(std::fabs(low) <= max) || !(std::fabs(high) <= max)) return false;
    const float lo = static_cast<float>(low);
    const float hi = static_cast<float>(high);
    if (!(lo < hi)) return false;
    const float scale = 255.0f / (hi - lo);
    const float offset = 0.5f - lo * scale;
    if (!std::isfinite(scale) || !std::isfinite(offset)) return false;
    p->scale = scale;
    p->offset = offset;
    return true;
}

enum class DType : int { f32, f16, bf16 };

// One validated call: src is (n, C, h, w) C-contiguous, dst is (n, h, w, Cout) C-contiguous.
struct DenormJob {
    const void* src;
    DType dtype;
    std::int64_t n, h, w;
    Layout layout;
    DenormParams params;
    std::uint8_t* dst;
};

void denormalize_cpu(const DenormJob& job);
void denormalize_cuda(const DenormJob& job, int device, std::uintptr_t stream);

}  // namespace imggen
