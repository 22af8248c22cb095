// separable_filter: 8-bit NHWC frames filtered by tap tables, one axis at a time (Gaussian blur,
// and every resize filter).
//
// For each output position along an axis, a table row lists `taps` source indices and weights.
// The host (imggen_rt.post.filters) builds the tables: a Gaussian with reflected borders,
// bilinear / area / Lanczos-4 resampling with clamped borders, so the border rule and the kernel
// live in one readable place and these functions only sum. The pixel math, the job, and the
// entry points (conventions in imggen/pixel.h): the CPU loop (src/separable_filter_cpu.cpp) and
// the CUDA kernels (src/separable_filter_cuda.cu) call the same functions.
#pragma once

#include <cstdint>

#include "imggen/limits.h"
#include "imggen/pixel.h"

namespace imggen {

// Taps for one axis: out_len rows of `taps` (index, weight) pairs; indices address 0..in_len-1.
struct TapTable {
    const std::int32_t* index;
    const float* weight;
    std::int64_t out_len;
    int taps;
    std::int64_t in_len;
};

// A table index as a source position: 64-bit (index * channels passes 2^31 on rows wider than
// 2^29 pixels of 4 channels). kClamp: clamped into 0..in_len-1. The CPU binding rejects tables
// holding any index outside that range, so the CPU loop reads them as they are; device tables
// cannot be read on the host without a synchronisation, so the kernels clamp, and that keeps
// them inside the frame whatever a table holds (valid tables give the same sums either way).
template <bool kClamp>
IMGGEN_HD std::int64_t tap_index(std::int32_t i, std::int64_t in_len) {
    const std::int64_t v = i;
    if constexpr (kClamp) return v < 0 ? 0 : (v >= in_len ? in_len - 1 : v);
    (void)in_len;
    return v;
}

// Horizontal pass, one output value: sum over the taps of src row values (uint8) for channel c.
template <bool kClamp>
IMGGEN_HD float taps_h(const TapTable& t, std::int64_t x_out, const std::uint8_t* row, int channels,
                       int c) {
    const std::int32_t* idx = t.index + x_out * t.taps;
    const float* w = t.weight + x_out * t.taps;
    float s = 0.0f;
    for (int k = 0; k < t.taps; ++k)
        s = s + w[k] * static_cast<float>(row[tap_index<kClamp>(idx[k], t.in_len) * channels + c]);
    return s;
}

// Vertical pass, one output value: sum over the taps of the horizontal pass's float rows.
// `column` points at (row 0, this x, this channel); rows are row_stride floats apart. The
// result goes through round_u8 (imggen/pixel.h).
template <bool kClamp>
IMGGEN_HD float taps_v(const TapTable& t, std::int64_t y_out, const float* column,
                       std::int64_t row_stride) {
    const std::int32_t* idx = t.index + y_out * t.taps;
    const float* w = t.weight + y_out * t.taps;
    float s = 0.0f;
    for (int k = 0; k < t.taps; ++k)
        s = s + w[k] * column[tap_index<kClamp>(idx[k], t.in_len) * row_stride];
    return s;
}

// One validated separable filter: src (n, h, w, c) uint8 -> tmp (n, h, out_w, c) float ->
// dst (n, out_h, out_w, c) uint8, with 1 <= c <= kMaxFilterChannels.
struct FilterJob {
    const std::uint8_t* src;
    std::int64_t n, h, w;
    int channels;
    TapTable x, y;  // x.out_len = out_w, y.out_len = out_h
    float* tmp;
    std::uint8_t* dst;
};

// Horizontal taps into job.tmp, then vertical taps into job.dst.
void separable_filter_cpu(const FilterJob& job);
void separable_filter_cuda(const FilterJob& job, int device, std::uintptr_t stream);

}  // namespace imggen
