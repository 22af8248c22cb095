// The CPU loop of point (math in imggen/point.h; loop helpers in cpu_loop.h).
//
// The pass keeps one tile of a row (at most kCpuTile pixels) as float R, G and B per thread, in
// a buffer on the thread's stack: the load, each op of the program and the store run over that
// tile in turn. The tile stays in L1, so the whole chain is one pass over memory, and each op's
// loop is a plain loop over x that GCC vectorises (the per-op switch is hoisted out of it).
// Every pixel goes through the same float operations whatever the tiling, so results do not
// depend on it; memory does not grow with the row length, and nothing is allocated inside the
// parallel region. The row functions are cloned for x86-64-v4 / v3 / baseline.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cpu_loop.h"
#include "imggen/limits.h"
#include "imggen/point.h"

namespace imggen {
namespace {

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

// Pixels x0 .. x0 + w - 1 of row `row` (an (image, y) pair) into r, g, b.
IMGGEN_SIMD_CLONES
void load_row(const PointJob& job, std::int64_t row, std::int64_t x0, std::int64_t w,
              float* __restrict r, float* __restrict g, float* __restrict b) {
    const std::int64_t n = row / job.h;
    const std::int64_t y = row - n * job.h;
    if (job.source == PointSource::u8_nhwc) {
        const int step = job.src_stride;
        const auto* src = static_cast<const std::uint8_t*>(job.src) + (row * job.w + x0) * step;
        const int gc = job.src_channels == 1 ? 0 : 1, bc = job.src_channels == 1 ? 0 : 2;
        for (std::int64_t x = 0; x < w; ++x) {
            r[x] = static_cast<float>(src[x * step]) * job.scale + job.offset;
            g[x] = static_cast<float>(src[x * step + gc]) * job.scale + job.offset;
            b[x] = static_cast<float>(src[x * step + bc]) * job.scale + job.offset;
        }
        return;
    }
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(job.h * job.w);
    const std::ptrdiff_t off = (n * job.src_channels * job.h + y) * job.w + x0;
    if (job.source == PointSource::f32_nchw)
        load_planar(static_cast<const float*>(job.src) + off, plane, job.src_channels, w, job.scale,
                    job.offset, r, g, b);
    else if (job.source == PointSource::f16_nchw)
        load_planar(static_cast<const _Float16*>(job.src) + off, plane, job.src_channels, w,
                    job.scale, job.offset, r, g, b);
    else
        load_planar(static_cast<const bfloat16*>(job.src) + off, plane, job.src_channels, w,
                    job.scale, job.offset, r, g, b);
}

// A LUT reads scattered lattice corners per pixel; vectorised across pixels those reads become
// gathers, which measured slower (about 1.4x) than one pixel at a time, where each corner is one
// 16-byte load of four lanes. So a LUT runs in two passes over the tile: the lattice cells and
// fractions (plain arithmetic, vectorised), then the corners, one pixel at a time. The same
// operations as op_lut() in the same order: the results are identical.
struct LatticeTile {
    alignas(64) int ir[kCpuTile], ig[kCpuTile], ib[kCpuTile];
    alignas(64) float fr[kCpuTile], fg[kCpuTile], fb[kCpuTile];
};

IMGGEN_SIMD_CLONES
void lattice_row(const Lut3D& l, std::int64_t w, const float* __restrict r,
                 const float* __restrict g, const float* __restrict b, LatticeTile& t) {
    const int n = l.size;
    for (std::int64_t x = 0; x < w; ++x) lattice(r[x], l.lo[0], l.scale[0], n, t.ir[x], t.fr[x]);
    for (std::int64_t x = 0; x < w; ++x) lattice(g[x], l.lo[1], l.scale[1], n, t.ig[x], t.fg[x]);
    for (std::int64_t x = 0; x < w; ++x) lattice(b[x], l.lo[2], l.scale[2], n, t.ib[x], t.fb[x]);
}

[[gnu::noinline, gnu::optimize("no-tree-vectorize")]]
void corners_row(const Lut3D& l, std::int64_t w, const LatticeTile& t, float* __restrict r,
                 float* __restrict g, float* __restrict b) {
    float out[kLutStride];
    for (std::int64_t x = 0; x < w; ++x) {
        if (l.tetrahedral)
            lut_tetrahedral(l, t.ir[x], t.ig[x], t.ib[x], t.fr[x], t.fg[x], t.fb[x], out);
        else
            lut_trilinear(l, t.ir[x], t.ig[x], t.ib[x], t.fr[x], t.fg[x], t.fb[x], out);
        r[x] = out[0];
        g[x] = out[1];
        b[x] = out[2];
    }
}

void lut_row(const Lut3D& lut, std::int64_t w, float* __restrict r, float* __restrict g,
             float* __restrict b, LatticeTile& tile) {
    lattice_row(lut, w, r, g, b, tile);
    corners_row(lut, w, tile, r, g, b);
}

IMGGEN_SIMD_CLONES
void ops_row(const PointOp* ops, int n_ops, const Lut3D* luts, std::int64_t w, float* __restrict r,
             float* __restrict g, float* __restrict b, LatticeTile& tile) {
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
            case PointKind::lut3d: lut_row(luts[op.lut], w, r, g, b, tile); break;
        }
    }
}

IMGGEN_SIMD_CLONES
void store_row(Layout layout, std::int64_t w, const float* __restrict r, const float* __restrict g,
               const float* __restrict b, std::uint8_t* __restrict dst) {
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

}  // namespace

void point_cpu(const PointJob& job) {
    const std::int64_t rows = job.n * job.h;
    const std::int64_t w = job.w;
    if (rows == 0 || w == 0) return;
    const int cout = output_channels(job.layout);
    const std::int64_t tiles = (w + kCpuTile - 1) / kCpuTile;  // per row
    const std::int64_t segments = rows * tiles;
    const bool parallel = rows * w * 3 >= kParallelMinValues;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
    {
        alignas(64) float buf[3 * kCpuTile];  // this thread's tile: on its stack, not the heap
        LatticeTile lattice;                   // 24 KiB, likewise
        float* r = buf;
        float* g = r + kCpuTile;
        float* b = g + kCpuTile;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 8)
#endif
        for (std::int64_t s = 0; s < segments; ++s) {
            const std::int64_t row = s / tiles;
            const std::int64_t x0 = (s - row * tiles) * kCpuTile;
            const std::int64_t len = std::min(kCpuTile, w - x0);
            load_row(job, row, x0, len, r, g, b);
            ops_row(job.ops, job.n_ops, job.luts, len, r, g, b, lattice);
            store_row(job.layout, len, r, g, b, job.dst + (row * w + x0) * cout);
        }
    }
    (void)parallel;
}

}  // namespace imggen
