// point: pointwise colour operations on one RGB pixel in [0, 1], between the load (denormalise
// float NCHW, or read 8-bit NHWC) and the store (quantise to 8 bits).
//
// The pixel math, the job, and the entry points (conventions in imggen/pixel.h): the CPU loop
// (src/point_cpu.cpp) and the CUDA kernel (src/point_cuda.cu) call these functions. A chain of
// pointwise ops is a "program": an array of PointOp rows run in order on each pixel, all in one
// pass over memory (at most kMaxPointOps rows and kMaxLuts LUTs, imggen/limits.h).
//
// Parameters are prepared on the host (imggen_rt.post.ops): exposure and white balance become
// per-channel gains, gamma becomes its reciprocal exponent, a .cube LUT's domain becomes an
// offset and a scale into lattice coordinates.
#pragma once

#include <cmath>
#include <cstdint>

#include "imggen/limits.h"
#include "imggen/pixel.h"

namespace imggen {

enum class PointKind : int {
    gain = 0,        // v *= p[c]                         exposure, white balance gains
    add = 1,         // v += p[c]                         brightness
    contrast = 2,    // v = (v - p[1]) * p[0] + p[1]      p[1] is the pivot
    saturation = 3,  // v = l + p[0] * (v - l)            l: BT.709 luma
    gamma = 4,       // v = max(v, 0) ^ p[0]              p[0] = 1 / gamma
    matrix = 5,      // v = M v, M row-major in p[0..8]
    lut3d = 6,       // v = LUT(v), trilinear or tetrahedral
};

constexpr int kPointParams = 12;
// A program as Python writes it: float32 (ops, kProgramColumns) rows of (kind, LUT index,
// kPointParams parameters); the binding converts each row to a PointOp.
constexpr int kProgramColumns = 2 + kPointParams;

// One row of a program.
struct PointOp {
    PointKind kind;
    int lut;  // index into the LUT table list (lut3d only)
    float p[kPointParams];
};

// A 3D LUT in .cube order, each entry padded to four floats (r, g, b, unused) so that a corner
// is one aligned 16-byte load and the interpolation runs on four lanes at once: entry (r, g, b)
// at table[4 * (r + size * (g + size * b))]; red varies fastest. Inputs map to lattice
// coordinates as (v - lo) * scale, clamped to the lattice.
constexpr int kLutStride = 4;

struct Lut3D {
    const float* table;
    int size;
    int tetrahedral;  // 0: trilinear
    float lo[3];
    float scale[3];  // (size - 1) / (hi - lo)
};

IMGGEN_HD float clamp01_to(float v, float hi) {
    v = v > 0.0f ? v : 0.0f;  // NaN -> 0 too
    return v < hi ? v : hi;
}

IMGGEN_HD float bt709_luma(float r, float g, float b) {
    float rg = 0.2126f * r + 0.7152f * g;
    return rg + 0.0722f * b;
}

IMGGEN_HD void op_gain(const float* p, float& r, float& g, float& b) {
    r = r * p[0];
    g = g * p[1];
    b = b * p[2];
}

IMGGEN_HD void op_add(const float* p, float& r, float& g, float& b) {
    r = r + p[0];
    g = g + p[1];
    b = b + p[2];
}

IMGGEN_HD float contrast1(float v, float c, float pivot) {
    float d = v - pivot;
    d = d * c;
    return d + pivot;
}

IMGGEN_HD void op_contrast(const float* p, float& r, float& g, float& b) {
    r = contrast1(r, p[0], p[1]);
    g = contrast1(g, p[0], p[1]);
    b = contrast1(b, p[0], p[1]);
}

IMGGEN_HD float mix1(float l, float v, float s) {
    float d = v - l;
    d = d * s;
    return l + d;
}

IMGGEN_HD void op_saturation(const float* p, float& r, float& g, float& b) {
    const float l = bt709_luma(r, g, b);
    r = mix1(l, r, p[0]);
    g = mix1(l, g, p[0]);
    b = mix1(l, b, p[0]);
}

IMGGEN_HD float gamma1(float v, float e) { return v > 0.0f ? powf(v, e) : 0.0f; }

IMGGEN_HD void op_gamma(const float* p, float& r, float& g, float& b) {
    r = gamma1(r, p[0]);
    g = gamma1(g, p[0]);
    b = gamma1(b, p[0]);
}

IMGGEN_HD float dot3(const float* m, float r, float g, float b) {
    float s = m[0] * r + m[1] * g;
    return s + m[2] * b;
}

IMGGEN_HD void op_matrix(const float* p, float& r, float& g, float& b) {
    const float nr = dot3(p, r, g, b);
    const float ng = dot3(p + 3, r, g, b);
    const float nb = dot3(p + 6, r, g, b);
    r = nr;
    g = ng;
    b = nb;
}

// Lattice coordinate of v on one axis: integer cell i0 (so that i0 + 1 is valid) and the
// fraction within it.
IMGGEN_HD void lattice(float v, float lo, float scale, int size, int& i0, float& f) {
    float x = (v - lo) * scale;
    x = clamp01_to(x, static_cast<float>(size - 1));
    int i = static_cast<int>(x);
    if (i > size - 2) i = size - 2;
    i0 = i;
    f = x - static_cast<float>(i);
}

IMGGEN_HD const float* lut_at(const Lut3D& l, int r, int g, int b) {
    return l.table + kLutStride * (r + l.size * (g + l.size * b));
}

IMGGEN_HD float lerp1(float a, float b, float t) { return a + (b - a) * t; }

IMGGEN_HD void lut_trilinear(const Lut3D& l, int ir, int ig, int ib, float fr, float fg, float fb,
                             float* out) {
    for (int c = 0; c < kLutStride; ++c) {
        const float c000 = lut_at(l, ir, ig, ib)[c], c100 = lut_at(l, ir + 1, ig, ib)[c];
        const float c010 = lut_at(l, ir, ig + 1, ib)[c], c110 = lut_at(l, ir + 1, ig + 1, ib)[c];
        const float c001 = lut_at(l, ir, ig, ib + 1)[c], c101 = lut_at(l, ir + 1, ig, ib + 1)[c];
        const float c011 = lut_at(l, ir, ig + 1, ib + 1)[c];
        const float c111 = lut_at(l, ir + 1, ig + 1, ib + 1)[c];
        const float c00 = lerp1(c000, c100, fr), c10 = lerp1(c010, c110, fr);
        const float c01 = lerp1(c001, c101, fr), c11 = lerp1(c011, c111, fr);
        out[c] = lerp1(lerp1(c00, c10, fg), lerp1(c01, c11, fg), fb);
    }
}

// Tetrahedral interpolation: the cube cell is split into six tetrahedra along its main
// diagonal; the order of the three fractions picks one, and the result blends its four corners:
// c000, c000 stepped along the largest fraction's axis (a), c111 stepped back along the
// smallest's (b), and c111. It keeps neutral (r = g = b) inputs on the LUT's neutral axis,
// which is why grading tools prefer it. The tetrahedron is chosen without branches (selects,
// not jumps): no mispredictions on the CPU, no divergence on the GPU. Ties go to red, then
// green (the reference sorts the same way).
IMGGEN_HD void lut_tetrahedral(const Lut3D& l, int ir, int ig, int ib, float fr, float fg, float fb,
                               float* out) {
    const bool rg = fr >= fg, gb = fg >= fb, rb = fr >= fb;
    const int big = rg && rb ? 0 : (!rg && gb ? 1 : 2);      // axis of the largest fraction
    const int small = !rg && !rb ? 0 : (rg && !gb ? 1 : 2);  // axis of the smallest
    const int mid = 3 - big - small;
    const float f[3] = {fr, fg, fb};
    const float t0 = f[big], t1 = f[mid], t2 = f[small];
    const float* c000 = lut_at(l, ir, ig, ib);
    const float* c111 = lut_at(l, ir + 1, ig + 1, ib + 1);
    const float* a = lut_at(l, ir + (big == 0), ig + (big == 1), ib + (big == 2));
    const float* b = lut_at(l, ir + (small != 0), ig + (small != 1), ib + (small != 2));
    for (int c = 0; c < kLutStride; ++c) {
        float v = (1.0f - t0) * c000[c];
        v = v + (t0 - t1) * a[c];
        v = v + (t1 - t2) * b[c];
        out[c] = v + t2 * c111[c];
    }
}

IMGGEN_HD void op_lut(const Lut3D& l, float& r, float& g, float& b) {
    int ir, ig, ib;
    float fr, fg, fb, out[kLutStride];
    lattice(r, l.lo[0], l.scale[0], l.size, ir, fr);
    lattice(g, l.lo[1], l.scale[1], l.size, ig, fg);
    lattice(b, l.lo[2], l.scale[2], l.size, ib, fb);
    if (l.tetrahedral)
        lut_tetrahedral(l, ir, ig, ib, fr, fg, fb, out);
    else
        lut_trilinear(l, ir, ig, ib, fr, fg, fb, out);
    r = out[0];
    g = out[1];
    b = out[2];
}

// One op on one pixel: what the CUDA kernel runs per op. The CPU loop calls the same op_*
// functions, one op at a time over a row, so that each loop vectorises.
IMGGEN_HD void apply_point(const PointOp& op, const Lut3D* luts, float& r, float& g, float& b) {
    switch (op.kind) {
        case PointKind::gain: op_gain(op.p, r, g, b); break;
        case PointKind::add: op_add(op.p, r, g, b); break;
        case PointKind::contrast: op_contrast(op.p, r, g, b); break;
        case PointKind::saturation: op_saturation(op.p, r, g, b); break;
        case PointKind::gamma: op_gamma(op.p, r, g, b); break;
        case PointKind::matrix: op_matrix(op.p, r, g, b); break;
        case PointKind::lut3d: op_lut(luts[op.lut], r, g, b); break;
    }
}

// [0, 1] -> uint8, rounding half up; NaN and negatives -> 0, above 1 -> 255.
IMGGEN_HD std::uint8_t quantize(float v) { return to_u8(v, 255.0f, 0.5f); }

// Where a point pass reads from: the generator's float NCHW output (mapped to [0, 1] by
// scale and offset), or 8-bit NHWC frames (existing images).
enum class PointSource : int { f32_nchw, f16_nchw, bf16_nchw, u8_nhwc };

// One validated point pass. src has n images of h x w with src_channels (1 or 3; a 4th
// channel of u8 NHWC input is skipped); dst is (n, h, w, output_channels(layout)) uint8, where
// layout says which output channels are written (rgb, bgr or gray) from the RGB result.
struct PointJob {
    const void* src;
    PointSource source;
    int src_channels;  // 1 or 3 (the logical colour channels)
    int src_stride;    // u8 NHWC: values per pixel (1, 3 or 4); NCHW: unused
    std::int64_t n, h, w;
    float scale, offset;  // float sources: v01 = v * scale + offset
    const PointOp* ops;
    int n_ops;
    const Lut3D* luts;
    Layout layout;  // rgb_from_rgb, bgr_from_rgb or gray_from_rgb
    std::uint8_t* dst;
};

// The output store: one pixel's RGB in [0, 1] to 1 or 3 uint8 values.
IMGGEN_HD void store_pixel(Layout layout, float r, float g, float b, std::uint8_t* dst) {
    if (layout == Layout::bgr_from_rgb) {
        dst[0] = quantize(b);
        dst[1] = quantize(g);
        dst[2] = quantize(r);
    } else if (layout == Layout::gray_from_rgb) {
        dst[0] = quantize(luma(r, g, b));
    } else {
        dst[0] = quantize(r);
        dst[1] = quantize(g);
        dst[2] = quantize(b);
    }
}

void point_cpu(const PointJob& job);
void point_cuda(const PointJob& job, int device, std::uintptr_t stream);

}  // namespace imggen
