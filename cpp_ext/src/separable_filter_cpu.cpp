// The CPU loop of separable_filter (math in imggen/separable_filter.h; loop helpers in
// cpu_loop.h): a horizontal pass into the float scratch, then a vertical pass, each summing the
// same products in the same order as the kernel's taps_h / taps_v.
//
// Rows are worked in tiles of at most kCpuFilterTile outputs, so per-thread buffers do not grow
// with the row length (a row of 2^29 pixels needs no 2^29-value buffer per thread). The vertical
// pass's tile lives on the thread's stack; the horizontal pass's converted source span depends
// on the tap count, so its buffers are allocated once, before the parallel region (a failed
// allocation is a MemoryError in the calling thread, never an exception inside OpenMP).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu_loop.h"
#include "imggen/limits.h"
#include "imggen/separable_filter.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace imggen {
namespace {

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
    if (t.out_len == 0) return s;  // no rows: nothing to read (t.index may hold no value)
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

// Source values one interior tile of kCpuFilterTile outputs reads: the tile and taps - 1 more
// pixels.
std::int64_t interior_span(const TapTable& t, int channels) {
    return (kCpuFilterTile + t.taps - 1) * channels;
}

IMGGEN_SIMD_CLONES
void filter_h_row(const TapTable& t, const ShiftInvariant& si, const std::uint8_t* __restrict row,
                  int channels, float* __restrict rowf, float* __restrict out) {
    auto general = [&](std::int64_t from, std::int64_t to) {
        for (std::int64_t x = from; x < to; ++x)
            for (int c = 0; c < channels; ++c)
                out[x * channels + c] = taps_h<false>(t, x, row, channels, c);
    };
    if (!si.any) {
        general(0, t.out_len);
        return;
    }
    general(0, si.x0);
    general(si.x1, t.out_len);
    // The interior as whole-tile sums, tap by tap: the loop over x vectorises, and each output
    // still adds the same products in the same order as taps_h. Output x reads source pixels
    // x + offset .. x + offset + taps - 1, converted to float once per tile.
    for (std::int64_t a = si.x0; a < si.x1; a += kCpuFilterTile) {
        const std::int64_t b = std::min(a + kCpuFilterTile, si.x1);
        const std::int64_t first = (a + si.offset) * channels;
        const std::int64_t span = (b - a + t.taps - 1) * channels;
        for (std::int64_t i = 0; i < span; ++i) rowf[i] = static_cast<float>(row[first + i]);
        const std::int64_t begin = a * channels, end = b * channels;
        std::fill(out + begin, out + end, 0.0f);
        for (int k = 0; k < t.taps; ++k)
            add_scaled(out + begin, rowf + k * channels, t.weight[k], end - begin);
    }
}

// The vertical pass sums whole tiles of a row at once (acc += w * row), so the loop over x
// vectorises. Each output still sees the same sums in the same order as taps_v, the kernel's
// function.
// acc: kCpuFilterTile floats of the calling thread (a restrict parameter, as GCC vectorises the
// tap loops only when it knows acc aliases nothing).
IMGGEN_SIMD_CLONES
void filter_v_row(const TapTable& t, std::int64_t y_out, const float* __restrict image,
                  std::int64_t row_len, float* __restrict acc, std::uint8_t* __restrict dst) {
    const std::int32_t* idx = t.index + y_out * t.taps;
    const float* wt = t.weight + y_out * t.taps;
    for (std::int64_t a = 0; a < row_len; a += kCpuFilterTile) {
        const std::int64_t n = std::min(kCpuFilterTile, row_len - a);
        std::fill(acc, acc + n, 0.0f);
        for (int k = 0; k < t.taps; ++k)
            add_scaled(acc, image + static_cast<std::int64_t>(idx[k]) * row_len + a, wt[k], n);
        for (std::int64_t i = 0; i < n; ++i) dst[a + i] = round_u8(acc[i]);
    }
}

}  // namespace

void separable_filter_cpu(const FilterJob& job) {
    const int c = job.channels;
    const std::int64_t out_w = job.x.out_len, out_h = job.y.out_len;
    if (job.n == 0 || out_w == 0 || out_h == 0) return;  // no output: nothing to compute
    const std::int64_t tmp_row = out_w * c;
    const bool parallel = job.n * job.h * job.w * c >= kParallelMinValues;
    const ShiftInvariant si = find_shift_invariant(job.x);
    // With images enough to go round, each thread filters whole images: an image's float
    // scratch is read back by the vertical pass while it is still in cache. A single large
    // frame is split by rows instead, one pass after the other.
    const int threads = parallel ? openmp_threads() : 1;
    const bool by_image = job.n >= 2 * threads;
    const std::int64_t chunk_rows = by_image ? job.h : 8;
    // The interior's converted source span, one per thread, allocated here (not in the region).
    const std::int64_t span = si.any ? interior_span(job.x, c) : 0;
    std::vector<float> spans(static_cast<std::size_t>(span * threads));
#if defined(_OPENMP)
#pragma omp parallel if (parallel) num_threads(threads)
#endif
    {
#if defined(_OPENMP)
        const int me = omp_get_thread_num();
#else
        const int me = 0;
#endif
        float* rowf = spans.data() + span * me;
        alignas(64) float acc[kCpuFilterTile];  // the vertical pass's tile, on this thread's stack
        auto h_rows = [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t row = first; row < last; ++row)
                filter_h_row(job.x, si, job.src + row * job.w * c, c, rowf,
                             job.tmp + row * tmp_row);
        };
        auto v_rows = [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t row = first; row < last; ++row) {
                const std::int64_t n = row / out_h;
                const std::int64_t y = row - n * out_h;
                filter_v_row(job.y, y, job.tmp + n * job.h * tmp_row, tmp_row, acc,
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
}

}  // namespace imggen
