// denormalize: generator output (N, C, H, W) float in [low, high] -> (N, H, W, Cout) uint8.
//
// The one source of the pixel math. The CPU loop (denormalize_cpu.cpp) and the CUDA kernel
// (denormalize_cuda.cu) both call denormalize_pixel(), so a CPU test checks the GPU math too.
// Both are compiled without FMA contraction (-ffp-contract=off, --fmad=false): every multiply
// and add rounds to float32 on its own, which is what the numpy reference does, so all three
// agree bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define IMGGEN_HD __host__ __device__ __forceinline__
#else
#define IMGGEN_HD inline __attribute__((always_inline))
#endif

namespace imggen {

// Source channels are RGB (or one gray channel); the name says output <- source.
enum class Layout : int {
    rgb_from_rgb,    // C=3, order "rgb"
    bgr_from_rgb,    // C=3, order "bgr": channels reversed
    gray_from_rgb,   // C=3, order "gray": luma of the raw values, then denormalise
    gray_from_gray,  // C=1, order "gray"
    rgb_from_gray,   // C=1, order "rgb" or "bgr": the one channel replicated
};

constexpr IMGGEN_HD int source_channels(Layout l) {
    return (l == Layout::gray_from_gray || l == Layout::rgb_from_gray) ? 1 : 3;
}
constexpr IMGGEN_HD int output_channels(Layout l) {
    return (l == Layout::gray_from_rgb || l == Layout::gray_from_gray) ? 1 : 3;
}

// The value loads: the only place the source dtype matters.
IMGGEN_HD float load(float v) { return v; }
#if defined(__CUDACC__)
IMGGEN_HD float load(__half v) { return __half2float(v); }
#elif defined(__FLT16_MAX__)
// float16 -> float32 is exact; the x86-64-v3/v4 clones vectorise it (vcvtph2ps).
IMGGEN_HD float load(_Float16 v) { return static_cast<float>(v); }
#else
#error "imggen: the CPU float16 path needs a compiler with _Float16 (GCC >= 12, Clang >= 15)"
#endif

// y = v * scale + offset in two float32 roundings, then clamp and truncate. offset carries
// the +0.5, so truncation rounds half up. !(y > 0) also sends NaN to 0.
IMGGEN_HD std::uint8_t to_u8(float v, float scale, float offset) {
    float y = v * scale;
    y = y + offset;
    y = y > 0.0f ? y : 0.0f;
    y = y < 255.0f ? y : 255.0f;
    return static_cast<std::uint8_t>(static_cast<int>(y));
}

// BT.601 luma on the raw (not yet denormalised) values, fixed evaluation order.
IMGGEN_HD float luma(float r, float g, float b) {
    float rg = 0.299f * r + 0.587f * g;
    return rg + 0.114f * b;
}

// One pixel: src points at channel 0 of the pixel, channel c lives at src[c * plane].
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
    const float lo = static_cast<float>(low);
    const float hi = static_cast<float>(high);
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) return false;
    const float scale = 255.0f / (hi - lo);
    const float offset = 0.5f - lo * scale;
    if (!std::isfinite(scale) || !std::isfinite(offset)) return false;
    p->scale = scale;
    p->offset = offset;
    return true;
}

enum class DType : int { f32, f16 };

// One validated call: src is (n, C, h, w) C-contiguous, dst is (n, h, w, Cout) C-contiguous.
struct DenormJob {
    const void* src;
    DType dtype;
    std::int64_t n, h, w;
    Layout layout;
    DenormParams params;
    std::uint8_t* dst;
};

}  // namespace imggen
