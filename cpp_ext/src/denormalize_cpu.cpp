// The CPU loop of denormalize (math in imggen/denormalize.h; loop helpers in cpu_loop.h).
//
// Rows (n, h) are split across OpenMP threads; each row is one call of a row function whose
// inner loop runs over W contiguous source values per channel, so GCC vectorises it. The row
// functions are cloned for x86-64-v4 / v3 / baseline (4x over baseline code where the CPU
// allows).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cpu_loop.h"
#include "imggen/denormalize.h"

namespace imggen {
namespace {

template <Layout L, class T>
inline __attribute__((always_inline)) void row_loop(const T* __restrict src, std::ptrdiff_t plane,
                                                    std::int64_t w, DenormParams p,
                                                    std::uint8_t* __restrict dst) {
    constexpr int cout = output_channels(L);
    for (std::int64_t x = 0; x < w; ++x)
        denormalize_pixel<L>(src + x, plane, p.scale, p.offset, dst + x * cout);
}

template <class T>
inline __attribute__((always_inline)) void row_any(const T* __restrict src, std::ptrdiff_t plane,
                                                   std::int64_t w, Layout layout, DenormParams p,
                                                   std::uint8_t* __restrict dst) {
    switch (layout) {
        case Layout::rgb_from_rgb: row_loop<Layout::rgb_from_rgb>(src, plane, w, p, dst); break;
        case Layout::bgr_from_rgb: row_loop<Layout::bgr_from_rgb>(src, plane, w, p, dst); break;
        case Layout::gray_from_rgb: row_loop<Layout::gray_from_rgb>(src, plane, w, p, dst); break;
        case Layout::gray_from_gray: row_loop<Layout::gray_from_gray>(src, plane, w, p, dst); break;
        case Layout::rgb_from_gray: row_loop<Layout::rgb_from_gray>(src, plane, w, p, dst); break;
        case Layout::rgba_from_rgba: row_loop<Layout::rgba_from_rgba>(src, plane, w, p, dst); break;
        case Layout::bgra_from_rgba: row_loop<Layout::bgra_from_rgba>(src, plane, w, p, dst); break;
    }
}

// The cloned entry points: one plain function per source dtype, the templates inlined into
// each clone.
IMGGEN_SIMD_CLONES
void row_f32(const float* __restrict src, std::ptrdiff_t plane, std::int64_t w, Layout layout,
             DenormParams p, std::uint8_t* __restrict dst) {
    row_any(src, plane, w, layout, p, dst);
}

IMGGEN_SIMD_CLONES
void row_f16(const _Float16* __restrict src, std::ptrdiff_t plane, std::int64_t w, Layout layout,
             DenormParams p, std::uint8_t* __restrict dst) {
    row_any(src, plane, w, layout, p, dst);
}

IMGGEN_SIMD_CLONES
void row_bf16(const bfloat16* __restrict src, std::ptrdiff_t plane, std::int64_t w,
              Layout layout, DenormParams p, std::uint8_t* __restrict dst) {
    row_any(src, plane, w, layout, p, dst);
}

// Rows are handed out in chunks of about this many source values (128 KiB of float32).
constexpr std::int64_t kChunkValues = 1 << 15;

}  // namespace

void denormalize_cpu(const DenormJob& job) {
    const std::int64_t rows = job.n * job.h;
    const std::int64_t w = job.w;
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(job.h * job.w);
    const int cin = source_channels(job.layout);
    const int cout = output_channels(job.layout);
    const bool parallel = rows * w * cin >= kParallelMinValues;
    // Dynamic chunks: on a busy machine (the generator's own threads, a video encoder) a
    // descheduled thread then holds up its current chunk only, not a fixed half of the batch.
    const std::int64_t chunk =
        std::max<std::int64_t>(1, kChunkValues / std::max<std::int64_t>(1, w * cin));

#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, chunk) if (parallel)
#endif
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t n = r / job.h;
        const std::int64_t y = r - n * job.h;
        const std::ptrdiff_t src_off = (n * cin * job.h + y) * w;
        std::uint8_t* dst = job.dst + r * w * cout;
        switch (job.dtype) {
            case DType::f32:
                row_f32(static_cast<const float*>(job.src) + src_off, plane, w, job.layout,
                        job.params, dst);
                break;
            case DType::f16:
                row_f16(static_cast<const _Float16*>(job.src) + src_off, plane, w, job.layout,
                        job.params, dst);
                break;
            case DType::bf16:
                row_bf16(static_cast<const bfloat16*>(job.src) + src_off, plane, w, job.layout,
                         job.params, dst);
                break;
        }
    }
    (void)parallel, (void)chunk;
}

}  // namespace imggen
