// What every op's math shares: the host+device marker, the channel layouts, the value loads and
// the rounding stores.
//
// Each op has one header here with its pixel math (inline, host+device) and its job struct, and
// declares its two entry points at the end:
//   <op>_cpu   the CPU loop (src/<op>_cpu.cpp): OpenMP + SIMD clones, on the calling thread
//              plus the OpenMP team; the caller has validated the job.
//   <op>_cuda  the kernel launch (src/<op>_cuda.cu; defined only in CUDA builds). Every pointer
//              is a device pointer; it enqueues on `stream` (a cudaStream_t as an integer, 0 =
//              the default stream) on `device` (-1: the current one) and returns without
//              waiting; a failed launch throws std::runtime_error with CUDA's error string.
// Both call the same functions, so a CPU test checks the device math too. Both are compiled
// without FMA contraction (-ffp-contract=off, --fmad=false): every multiply and add rounds to
// float32 on its own, as the numpy reference (imggen_rt.post.reference) does.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define IMGGEN_HD __host__ __device__ __forceinline__
#else
#define IMGGEN_HD inline __attribute__((always_inline))
#endif

namespace imggen {

// Source channels are RGB, RGBA (straight alpha) or one gray channel; the name says
// output <- source.
enum class Layout : int {
    rgb_from_rgb,    // C=3, order "rgb"
    bgr_from_rgb,    // C=3, order "bgr": channels reversed
    gray_from_rgb,   // C=3, order "gray": luma (BT.601)
    gray_from_gray,  // C=1, order "gray"
    rgb_from_gray,   // C=1, order "rgb" or "bgr": the one channel replicated
    rgba_from_rgba,  // C=4, order "rgb": colour and alpha
    bgra_from_rgba,  // C=4, order "bgr": colour reversed, alpha last (OpenCV's BGRA)
};

constexpr IMGGEN_HD int source_channels(Layout l) {
    if (l == Layout::rgba_from_rgba || l == Layout::bgra_from_rgba) return 4;
    return (l == Layout::gray_from_gray || l == Layout::rgb_from_gray) ? 1 : 3;
}
constexpr IMGGEN_HD int output_channels(Layout l) {
    if (l == Layout::rgba_from_rgba || l == Layout::bgra_from_rgba) return 4;
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

// bfloat16 as its bits: the high half of a float32, so widening is a 16-bit shift and exact.
// A struct of our own rather than __nv_bfloat16 / __bf16, so the CPU loop and the kernel load it
// the same way with any compiler; OpenVINO's bf16 output and torch bf16 tensors arrive as these.
struct bfloat16 {
    std::uint16_t bits;
};
IMGGEN_HD float load(bfloat16 v) {
    const std::uint32_t u = static_cast<std::uint32_t>(v.bits) << 16;
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
#endif
}

// y = v * scale + offset in two float32 roundings, then clamp and truncate. offset carries
// the +0.5, so truncation rounds half up. !(y > 0) also sends NaN to 0.
IMGGEN_HD std::uint8_t to_u8(float v, float scale, float offset) {
    float y = v * scale;
    y = y + offset;
    y = y > 0.0f ? y : 0.0f;
    y = y < 255.0f ? y : 255.0f;
    return static_cast<std::uint8_t>(static_cast<int>(y));
}

// A value in 0..255 units to uint8: round half up, clamp (Lanczos rings past both ends).
IMGGEN_HD std::uint8_t round_u8(float v) { return to_u8(v, 1.0f, 0.5f); }

// BT.601 luma of float RGB, fixed evaluation order (denormalize: on the raw values; point: on
// the result, before quantising).
IMGGEN_HD float luma(float r, float g, float b) {
    float rg = 0.299f * r + 0.587f * g;
    return rg + 0.114f * b;
}

}  // namespace imggen
