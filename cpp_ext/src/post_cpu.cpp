// CPU loops for the post-processing chain.
//
// The point pass keeps one row of float R, G and B per thread: the load, each op of the
// program and the store run over that row in turn. The row stays in L1, so the whole chain is
// one pass over memory, and each op's loop is a plain loop over x that GCC vectorises (the
// per-op switch is hoisted out of it). Like denormalize_cpu.cpp, the row functions are cloned
// for x86-64-v4 / v3 / baseline and built without FMA contraction.
#include "imggen/post_cpu.h"

#include "imggen/denormalize_cpu.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "imggen/simd_clones.h"

namespace imggen {
namespace {

// Below this many values a parallel region costs more than it saves.
constexpr std::int64_t kParallelMinValues = 1 << 16;

template <class T>
inline __attribute__((always_inline)) void load_planar(const T* __restrict src,
                                                       std::ptrdiff_t plane, int channels,
                                                       std::int64_t w, float scale, float offset,
                                                       float* __restrict r, float* __restrict g,
                                                       float* __restrict b) {
    for (std::int64_t x = 0; x < w; ++x) {
        float v = load(src[x]) * scale;
        r[x] = v + offset;
    }
    if (channels == 1) {
        std::copy(r, r + w, g);
        std::copy(r, r + w, b);
        return;
    }
    for (std::int64_t x = 0; x < w; ++x) {
        float v = load(src[plane + x]) * scale;
        g[x] = v + offset;
    }
    for (std::int64_t x = 0; x < w; ++x) {
        float v = load(src[2 * plane + x]) * scale;
        b[x] = v + offset;
    }
}

IMGGEN_SIMD_CLONES
void load_row(const PointJob& job, std::int64_t row, float* __restrict r, float* __restrict g,
              float* __restrict b) {
    const std::int64_t w = job.w;
    const std::int64_t n = row / job.h;
    const std::int64_t y = row - n * job.h;
    if (job.source == PointSource::u8_nhwc) {
        const auto* src = static_cast<const std::uint8_t*>(job.src) + row * w * job.src_stride;
        const int step = job.src_stride;
        const int gc = job.src_channels == 1 ? 0 : 1, bc = job.src_channels == 1 ? 0 : 2;
        for (std::int64_t x = 0; x < w; ++x) {
            r[x] = static_cast<float>(src[x * step]) * job.scale + job.offset;
            g[x] = static_cast<float>(src[x * step + gc]) * job.scale + job.offset;
            b[x] = static_cast<float>(src[x * step + bc]) * job.scale + job.offset;
        }
        return;
    }
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(job.h * w);
    const std::ptrdiff_t off = (n * job.src_channels * job.h + y) * w;
    if (job.source == PointSource::f32_nchw)
        load_planar(static_cast<const float*>(job.src) + off, plane, job.src_channels, w,
                    job.scale, job.offset, r, g, b);
    else
        load_planar(static_cast<const _Float16*>(job.src) + off, plane, job.src_channels, w,
                    job.scale, job.offset, r, g, b);
}

// A LUT reads scattered lattice corners per pixel; vectorised across pixels those reads become
// gathers, which measured slower (about 1.4x) than one pixel at a time, where each corner is one
// 16-byte load of four lanes.
__attribute__((noinline, optimize("no-tree-vectorize"))) void lut_row(
    const Lut3D& lut, std::int64_t w, float* __restrict r, float* __restrict g,
    float* __restrict b) {
    for (std::int64_t x = 0; x < w; ++x) op_lut(lut, r[x], g[x], b[x]);
}

IMGGEN_SIMD_CLONES
void ops_row(const PointOp* ops, int n_ops, const Lut3D* luts, std::int64_t w,
             float* __restrict r, float* __restrict g, float* __restrict b) {
    for (int i = 0; i < n_ops; ++i) {
        const PointOp& op = ops[i];
        const float* p = op.p;
        switch (op.kind) {
            case PointKind::gain:
                for (std::int64_t x = 0; x < w; ++x) op_gain(p, r[x], g[x], b[x]);
                break;
            case PointKind::add:
                for (std::int64_t x = 0; x < w; ++x) op_add(p, r[x], g[x], b[x]);
                break;
            case PointKind::contrast:
                for (std::int64_t x = 0; x < w; ++x) op_contrast(p, r[x], g[x], b[x]);
                break;
            case PointKind::saturation:
                for (std::int64_t x = 0; x < w; ++x) op_saturation(p, r[x], g[x], b[x]);
                break;
            case PointKind::gamma:
                for (std::int64_t x = 0; x < w; ++x) op_gamma(p, r[x], g[x], b[x]);
                break;
            case PointKind::matrix:
                for (std::int64_t x = 0; x < w; ++x) op_matrix(p, r[x], g[x], b[x]);
                break;
            case PointKind::lut3d:
                lut_row(luts[op.lut], w, r, g, b);
                break;
        }
    }
}

IMGGEN_SIMD_CLONES
void store_row(Layout layout, std::int64_t w, const float* __restrict r,
               const float* __restrict g, const float* __restrict b,
               std::uint8_t* __restrict dst) {
    switch (layout) {
        case Layout::bgr_from_rgb:
            for (std::int64_t x = 0; x < w; ++x)
                store_pixel(Layout::bgr_from_rgb, r[x], g[x], b[x], dst + 3 * x);
            break;
        case Layout::gray_from_rgb:
            for (std::int64_t x = 0; x < w; ++x)
                store_pixel(Layout::gray_from_rgb, r[x], g[x], b[x], dst + x);
            break;
        default:
            for (std::int64_t x = 0; x < w; ++x)
                store_pixel(Layout::rgb_from_rgb, r[x], g[x], b[x], dst + 3 * x);
    }
}

// acc += w * src over n values: one tap of a whole-row sum. A function of its own so that the
// compiler sees two restrict pointers and vectorises it.
inline __attribute__((always_inline)) void add_scaled(float* __restrict acc,
                                                      const float* __restrict src, float w,
                                                      std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) acc[i] = acc[i] + w * src[i];
}

// Where a tap table is a plain convolution: the same weights on every row, and between x0 and
// x1 the taps of output x read source x + offset, x + offset + 1, ... (a blur's interior; its
// border rows reflect and take the general path).
struct ShiftInvariant {
    bool any = false;
    std::int64_t x0 = 0, x1 = 0, offset = 0;
};

ShiftInvariant find_shift_invariant(const TapTable& t) {
    ShiftInvariant s;
    const int k = t.taps;
    for (std::int64_t x = 1; x < t.out_len; ++x)
        if (!std::equal(t.weight, t.weight + k, t.weight + x * k)) return s;
    auto contiguous = [&](std::int64_t x, std::int64_t offset) {
        for (int j = 0; j < k; ++j)
            if (t.index[x * k + j] != x + offset + j) return false;
        return true;
    };
    const std::int64_t mid = t.out_len / 2;
    s.offset = static_cast<std::int64_t>(t.index[mid * k]) - mid;
    if (!contiguous(mid, s.offset)) return s;
    s.x0 = mid;
    while (s.x0 > 0 && contiguous(s.x0 - 1, s.offset)) --s.x0;
    s.x1 = mid + 1;
    while (s.x1 < t.out_len && contiguous(s.x1, s.offset)) ++s.x1;
    s.any = true;
    return s;
}

IMGGEN_SIMD_CLONES
void filter_h_row(const TapTable& t, const ShiftInvariant& si, const std::uint8_t* __restrict row,
                  std::int64_t w, int channels, float* __restrict rowf, float* __restrict out) {
    auto general = [&](std::int64_t from, std::int64_t to) {
        for (std::int64_t x = from; x < to; ++x)
            for (int c = 0; c < channels; ++c)
                out[x * channels + c] = taps_h(t, x, row, channels, c);
    };
    if (!si.any) {
        general(0, t.out_len);
        return;
    }
    general(0, si.x0);
    general(si.x1, t.out_len);
    // The interior as whole-row sums, tap by tap: the loop over x vectorises, and each output
    // still adds the same products in the same order as taps_h.
    for (std::int64_t i = 0; i < w * channels; ++i) rowf[i] = static_cast<float>(row[i]);
    const std::int64_t begin = si.x0 * channels, end = si.x1 * channels;
    std::fill(out + begin, out + end, 0.0f);
    for (int k = 0; k < t.taps; ++k)
        add_scaled(out + begin, rowf + begin + (si.offset + k) * channels, t.weight[k],
                   end - begin);
}

// The vertical pass sums whole rows at once (acc += w * row), so the loop over x vectorises.
// Each output still sees the same sums in the same order as taps_v, the kernel's function.
IMGGEN_SIMD_CLONES
void filter_v_row(const TapTable& t, std::int64_t y_out, const float* __restrict image,
                  std::int64_t row_len, float* __restrict acc, std::uint8_t* __restrict dst) {
    const std::int32_t* idx = t.index + y_out * t.taps;
    const float* wt = t.weight + y_out * t.taps;
    std::fill(acc, acc + row_len, 0.0f);
    for (int k = 0; k < t.taps; ++k)
        add_scaled(acc, image + static_cast<std::int64_t>(idx[k]) * row_len, wt[k], row_len);
    for (std::int64_t i = 0; i < row_len; ++i) dst[i] = round_u8(acc[i]);
}

IMGGEN_SIMD_CLONES
void unsharp_span(const std::uint8_t* __restrict src, const std::uint8_t* __restrict blurred,
                  std::int64_t count, float amount, float threshold, std::uint8_t* __restrict dst) {
    for (std::int64_t i = 0; i < count; ++i)
        dst[i] = unsharp1(src[i], blurred[i], amount, threshold);
}

IMGGEN_SIMD_CLONES
void blend_span(const std::uint8_t* __restrict inside, const std::uint8_t* __restrict outside,
                const std::uint8_t* __restrict mask, std::int64_t pixels, int channels,
                std::uint8_t* __restrict dst) {
    for (std::int64_t p = 0; p < pixels; ++p)
        for (int c = 0; c < channels; ++c)
            dst[p * channels + c] =
                blend1(inside[p * channels + c], outside[p * channels + c], mask[p]);
}

// Spans of about this many values per OpenMP chunk for the flat (elementwise) loops.
constexpr std::int64_t kSpan = 1 << 15;

}  // namespace

void point_cpu(const PointJob& job) {
    const std::int64_t rows = job.n * job.h;
    const std::int64_t w = job.w;
    const int cout = output_channels(job.layout);
    const bool parallel = rows * w * 3 >= kParallelMinValues;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
    {
        std::vector<float> buf(static_cast<std::size_t>(3 * w));
        float* r = buf.data();
        float* g = r + w;
        float* b = g + w;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 8)
#endif
        for (std::int64_t row = 0; row < rows; ++row) {
            load_row(job, row, r, g, b);
            ops_row(job.ops, job.n_ops, job.luts, w, r, g, b);
            store_row(job.layout, w, r, g, b, job.dst + row * w * cout);
        }
    }
    (void)parallel;
}

void filter_cpu(const FilterJob& job) {
    const int c = job.channels;
    const std::int64_t out_w = job.x.out_len, out_h = job.y.out_len;
    const std::int64_t tmp_row = out_w * c;
    const bool parallel = job.n * job.h * job.w * c >= kParallelMinValues;
    const ShiftInvariant si = find_shift_invariant(job.x);
    // With images enough to go round, each thread filters whole images: an image's float
    // scratch is read back by the vertical pass while it is still in cache. A single large
    // frame is split by rows instead, one pass after the other.
    const bool by_image = job.n >= 2 * openmp_threads();
    const std::int64_t chunk_rows = by_image ? job.h : 8;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
    {
        std::vector<float> rowf(static_cast<std::size_t>(job.w * c));
        std::vector<float> acc(static_cast<std::size_t>(tmp_row));
        auto h_rows = [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t row = first; row < last; ++row)
                filter_h_row(job.x, si, job.src + row * job.w * c, job.w, c, rowf.data(),
                             job.tmp + row * tmp_row);
        };
        auto v_rows = [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t row = first; row < last; ++row) {
                const std::int64_t n = row / out_h;
                const std::int64_t y = row - n * out_h;
                filter_v_row(job.y, y, job.tmp + n * job.h * tmp_row, tmp_row, acc.data(),
                             job.dst + row * tmp_row);
            }
        };
        if (by_image) {
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
            for (std::int64_t n = 0; n < job.n; ++n) {
                h_rows(n * job.h, (n + 1) * job.h);
                v_rows(n * out_h, (n + 1) * out_h);
            }
        } else {
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
            for (std::int64_t r = 0; r < job.n * job.h; r += chunk_rows)
                h_rows(r, std::min(r + chunk_rows, job.n * job.h));
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
            for (std::int64_t r = 0; r < job.n * out_h; r += chunk_rows)
                v_rows(r, std::min(r + chunk_rows, job.n * out_h));
        }
    }
    (void)parallel;
}

void unsharp_cpu(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                 float amount, float threshold, std::uint8_t* dst) {
    const std::int64_t spans = (count + kSpan - 1) / kSpan;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (count >= kParallelMinValues)
#endif
    for (std::int64_t s = 0; s < spans; ++s) {
        const std::int64_t start = s * kSpan;
        const std::int64_t len = std::min(kSpan, count - start);
        unsharp_span(src + start, blurred + start, len, amount, threshold, dst + start);
    }
}

void blend_cpu(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
               std::int64_t pixels, int channels, std::uint8_t* dst) {
    const std::int64_t span = kSpan / channels;
    const std::int64_t spans = (pixels + span - 1) / span;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (pixels * channels >= kParallelMinValues)
#endif
    for (std::int64_t s = 0; s < spans; ++s) {
        const std::int64_t start = s * span;
        const std::int64_t len = std::min(span, pixels - start);
        blend_span(inside + start * channels, outside + start * channels, mask + start, len,
                   channels, dst + start * channels);
    }
}

void otsu_masks_cpu(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                    bool dark, std::uint8_t* masks) {
    // One frame per thread: the histogram is a per-frame reduction, and frames are many.
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (n * pixels >= kParallelMinValues)
#endif
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint8_t* frame = frames + i * pixels * channels;
        std::uint8_t* mask = masks + i * pixels;
        std::uint32_t hist[kHistBins] = {};
        for (std::int64_t p = 0; p < pixels; ++p) {
            mask[p] = luma_u8(frame + p * channels, channels);
            ++hist[mask[p]];
        }
        const int threshold = otsu_threshold(hist, pixels);
        for (std::int64_t p = 0; p < pixels; ++p) mask[p] = otsu_mask_value(mask[p], threshold, dark);
    }
}

}  // namespace imggen
