// Stencil operations on 8-bit NHWC frames: separable filtering (Gaussian blur, resize) by tap
// tables, the unsharp-mask combine, and masked blending.
//
// One engine serves blur and every resize filter: for each output position along an axis, a
// table row lists `taps` source indices and weights. The host (imggen_rt.post.filters) builds
// the tables: a Gaussian with reflected borders, bilinear / area / Lanczos-4 resampling with
// clamped borders, so the border rule and the kernel live in one readable place and these
// functions only sum. The CPU loops (stencil_cpu.cpp) and the CUDA kernels (post_cuda.cu) call
// the same functions.
#pragma once

#include <cstdint>

#include "imggen/denormalize.h"
#include "imggen/point_ops.h"

namespace imggen {

// Taps for one axis: out_len rows of `taps` (index, weight) pairs.
struct TapTable {
    const std::int32_t* index;
    const float* weight;
    std::int64_t out_len;
    int taps;
};

// Horizontal pass, one output value: sum over the taps of src row values (uint8) for channel c.
IMGGEN_HD float taps_h(const TapTable& t, std::int64_t x_out, const std::uint8_t* row, int channels,
                       int c) {
    const std::int32_t* idx = t.index + x_out * t.taps;
    const float* w = t.weight + x_out * t.taps;
    float s = 0.0f;
    for (int k = 0; k < t.taps; ++k) s = s + w[k] * static_cast<float>(row[idx[k] * channels + c]);
    return s;
}

// Vertical pass, one output value: sum over the taps of the horizontal pass's float rows.
// `column` points at (row 0, this x, this channel); rows are row_stride floats apart.
IMGGEN_HD float taps_v(const TapTable& t, std::int64_t y_out, const float* column,
                       std::int64_t row_stride) {
    const std::int32_t* idx = t.index + y_out * t.taps;
    const float* w = t.weight + y_out * t.taps;
    float s = 0.0f;
    for (int k = 0; k < t.taps; ++k) s = s + w[k] * column[idx[k] * row_stride];
    return s;
}

// A filtered value (in 0..255 units) to uint8: round half up, clamp (Lanczos rings past both).
IMGGEN_HD std::uint8_t round_u8(float v) { return to_u8(v, 1.0f, 0.5f); }

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

// Blend one value by an 8-bit mask: mask 255 takes `inside`, 0 takes `outside`.
IMGGEN_HD std::uint8_t blend1(std::uint8_t inside, std::uint8_t outside, std::uint8_t mask) {
    const float m = static_cast<float>(mask) * (1.0f / 255.0f);
    const float v = static_cast<float>(outside) + m * (static_cast<float>(inside) -
                                                       static_cast<float>(outside));
    return round_u8(v);
}

// One validated separable filter: src (n, h, w, c) uint8 -> tmp (n, h, out_w, c) float ->
// dst (n, out_h, out_w, c) uint8.
struct FilterJob {
    const std::uint8_t* src;
    std::int64_t n, h, w;
    int channels;
    TapTable x, y;  // x.out_len = out_w, y.out_len = out_h
    float* tmp;
    std::uint8_t* dst;
};

}  // namespace imggen
