// The chain functions of imggen_rt._postproc (point pass, separable filter, unsharp combine,
// masked blend): argument checking and dispatch to the CPU loops or CUDA kernels. Every
// mistake a caller can make is one ValueError line; the Python chain (imggen_rt.post) builds
// programs and tap tables, so these checks are the last line of defence, not the API.
#include "imggen/python_api_post.h"

#include <nanobind/stl/string.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "array_import.h"
#include "imggen/point_ops.h"
#include "imggen/post_cpu.h"
#include "imggen/segment_ops.h"
#include "imggen/stencil_ops.h"
#if defined(IMGGEN_WITH_CUDA)
#include "imggen/denormalize_cuda.h"
#include "imggen/post_cuda.h"
#endif

namespace imggen::py {
namespace {

// Same bounds as the kernels (imggen/post_cuda.h), so CPU and device accept the same chains.
constexpr int kMaxOps = 16, kMaxLutOps = 4, kProgramColumns = 2 + kPointParams;

Array checked(nb::handle obj, const char* name, bool writable, dl::dtype_code code, int bits,
              std::size_t ndim, bool cuda) {
    const char* dtype_name = code == dl::dtype_code::UInt ? (bits == 8 ? "uint8" : "uint32")
                             : code == dl::dtype_code::Int ? "int32"
                                                           : "float32";
    const Array a = import_array(obj, name, writable, dtype_name);
    if (!is(a.dtype, code, bits))
        fail(std::string(name) + " must be " + dtype_name + "; got " + dtype_str(a.dtype));
    if (a.shape.size() != ndim)
        fail(std::string(name) + " must be " + std::to_string(ndim) + "-D; got shape " +
             shape_str(a.shape));
    check_device(a, name, cuda);
    check_c_contiguous(a, name);
    return a;
}

void check_shape(const Array& a, const char* name, const std::vector<std::int64_t>& expected) {
    if (a.shape != expected)
        fail(std::string(name) + " must have shape " + shape_str(expected) + "; got " +
             shape_str(a.shape));
}

nb::object new_array(const std::vector<std::int64_t>& shape, const char* dtype) {
    nb::object np_empty = nb::module_::import_("numpy").attr("empty");
    nb::list dims;
    for (auto d : shape) dims.append(d);
    return np_empty(nb::tuple(dims), dtype);
}

int device_of(const Array& a, const Array& b) {
    if (a.device_id >= 0 && b.device_id >= 0 && a.device_id != b.device_id)
        fail("arrays must be on the same device; got cuda:" + std::to_string(a.device_id) +
             " and cuda:" + std::to_string(b.device_id));
    return a.device_id >= 0 ? a.device_id : b.device_id;
}

// ---- point pass ----------------------------------------------------------------------------

struct PointCall {
    PointJob job{};
    std::vector<PointOp> ops;
    std::vector<Lut3D> luts;
    std::vector<std::int64_t> out_shape;
    Array src;
};

PointSource source_of(const Array& s) {
    if (is(s.dtype, dl::dtype_code::UInt, 8)) return PointSource::u8_nhwc;
    if (is(s.dtype, dl::dtype_code::Float, 32)) return PointSource::f32_nchw;
    if (is(s.dtype, dl::dtype_code::Float, 16)) return PointSource::f16_nchw;
    fail("src must be float32/float16 (N, C, H, W) or uint8 (N, H, W, C); got " +
         dtype_str(s.dtype));
}

void read_program(PointCall& call, nb::handle program, nb::handle luts, bool cuda) {
    const Array p = checked(program, "program", false, dl::dtype_code::Float, 32, 2, false);
    if (p.shape[1] != kProgramColumns)
        fail("program must be (ops, " + std::to_string(kProgramColumns) + ") float32; got shape " +
             shape_str(p.shape));
    if (p.shape[0] > kMaxOps)
        fail("program has " + std::to_string(p.shape[0]) + " ops; at most " +
             std::to_string(kMaxOps) + " fuse into one pass");
    std::vector<nb::object> tables;
    if (!luts.is_none())
        for (nb::handle h : luts) tables.push_back(nb::borrow(h));
    const auto* rows = static_cast<const float*>(p.data);
    for (std::int64_t i = 0; i < p.shape[0]; ++i) {
        const float* row = rows + i * kProgramColumns;
        const int kind = static_cast<int>(row[0]);
        if (!(row[0] == static_cast<float>(kind)) || kind < 0 || kind > 6)
            fail("program row " + std::to_string(i) + " has unknown op kind " +
                 std::to_string(row[0]));
        PointOp op{};
        op.kind = static_cast<PointKind>(kind);
        for (int k = 0; k < kPointParams; ++k) op.p[k] = row[2 + k];
        if (op.kind == PointKind::lut3d) {
            const auto t = static_cast<std::size_t>(row[1]);
            if (!(row[1] >= 0.0f) || t >= tables.size())
                fail("program row " + std::to_string(i) + " names LUT " + std::to_string(row[1]) +
                     " of " + std::to_string(tables.size()));
            if (call.luts.size() >= static_cast<std::size_t>(kMaxLutOps))
                fail("at most " + std::to_string(kMaxLutOps) + " LUTs fuse into one pass");
            const Array table = checked(tables[t], "LUT", false, dl::dtype_code::Float, 32, 4, cuda);
            const std::int64_t n = table.shape[0];
            if (n < 2 || table.shape[1] != n || table.shape[2] != n ||
                table.shape[3] != kLutStride)
                fail("LUT must be (N, N, N, 4) float32 (r, g, b, padding) with N >= 2; got shape " +
                     shape_str(table.shape));
            Lut3D lut{};
            lut.table = static_cast<const float*>(table.data);
            lut.size = static_cast<int>(n);
            lut.tetrahedral = op.p[6] != 0.0f;
            for (int c = 0; c < 3; ++c) {
                lut.lo[c] = op.p[c];
                lut.scale[c] = op.p[3 + c];
                if (!std::isfinite(lut.lo[c]) || !(lut.scale[c] > 0.0f) ||
                    !std::isfinite(lut.scale[c]))
                    fail("program row " + std::to_string(i) + ": LUT domain must be finite with "
                         "min < max");
            }
            op.lut = static_cast<int>(call.luts.size());
            call.luts.push_back(lut);
        }
        call.ops.push_back(op);
    }
}

PointCall point_call(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                     double low, double high, bool cuda) {
    PointCall call;
    call.src = import_array(src, "src", false, "float32, float16 or uint8");
    const Array& s = call.src;
    PointJob& job = call.job;
    job.source = source_of(s);
    check_device(s, "src", cuda);
    check_c_contiguous(s, "src");
    if (s.shape.size() != 4)
        fail("src must be 4-D; got shape " + shape_str(s.shape));
    if (job.source == PointSource::u8_nhwc) {
        const std::int64_t c = s.shape[3];
        if (c != 1 && c != 3 && c != 4)
            fail("uint8 src must be (N, H, W, C) with C in (1, 3, 4); got shape " +
                 shape_str(s.shape));
        job.n = s.shape[0], job.h = s.shape[1], job.w = s.shape[2];
        job.src_channels = c == 1 ? 1 : 3;
        job.src_stride = static_cast<int>(c);
        job.scale = 1.0f / 255.0f;
        job.offset = 0.0f;
    } else {
        const std::int64_t c = s.shape[1];
        if (c != 1 && c != 3)
            fail("float src must be (N, C, H, W) with C in (1, 3); got shape " +
                 shape_str(s.shape));
        job.n = s.shape[0], job.h = s.shape[2], job.w = s.shape[3];
        job.src_channels = static_cast<int>(c);
        const float lo = static_cast<float>(low), hi = static_cast<float>(high);
        const float scale = 1.0f / (hi - lo);
        if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi) || !std::isfinite(scale))
            fail("low and high must be finite with low < high; got low=" + std::to_string(low) +
                 ", high=" + std::to_string(high));
        job.scale = scale;
        job.offset = 0.0f - lo * scale;
    }
    std::string o;
    if (nb::isinstance<nb::str>(order)) o = nb::cast<std::string>(order);
    if (o != "rgb" && o != "bgr" && o != "gray")
        fail(std::string("order must be 'rgb', 'bgr' or 'gray'; got ") + nb::repr(order).c_str());
    job.layout = o == "rgb" ? Layout::rgb_from_rgb
                 : o == "bgr" ? Layout::bgr_from_rgb
                              : Layout::gray_from_rgb;
    job.src = s.data;
    read_program(call, program, luts, cuda);
    job.ops = call.ops.data();
    job.n_ops = static_cast<int>(call.ops.size());
    job.luts = call.luts.data();
    call.out_shape = {job.n, job.h, job.w, output_channels(job.layout)};
    return call;
}

// ---- separable filter ----------------------------------------------------------------------

TapTable tap_table(nb::handle index, nb::handle weight, const char* axis, std::int64_t in_len,
                   bool cuda) {
    const std::string iname = std::string("index_") + axis, wname = std::string("weight_") + axis;
    const Array i = checked(index, iname.c_str(), false, dl::dtype_code::Int, 32, 2, cuda);
    const Array w = checked(weight, wname.c_str(), false, dl::dtype_code::Float, 32, 2, cuda);
    check_shape(w, wname.c_str(), i.shape);
    if (i.shape[1] < 1) fail(iname + " must have at least one tap per output");
    TapTable t{static_cast<const std::int32_t*>(i.data), static_cast<const float*>(w.data),
               i.shape[0], static_cast<int>(i.shape[1])};
    if (!cuda) {  // device tables cannot be read here; the Python chain builds them in range
        for (std::int64_t k = 0; k < i.size(); ++k)
            if (t.index[k] < 0 || t.index[k] >= in_len)
                fail(iname + " holds " + std::to_string(t.index[k]) + ", outside 0.." +
                     std::to_string(in_len - 1));
    }
    return t;
}

struct FilterCall {
    FilterJob job{};
    std::vector<std::int64_t> out_shape, tmp_shape;
    Array src;
};

FilterCall filter_call(nb::handle src, nb::handle index_x, nb::handle weight_x,
                       nb::handle index_y, nb::handle weight_y, bool cuda) {
    FilterCall call;
    call.src = checked(src, "src", false, dl::dtype_code::UInt, 8, 4, cuda);
    const Array& s = call.src;
    FilterJob& job = call.job;
    job.src = static_cast<const std::uint8_t*>(s.data);
    job.n = s.shape[0], job.h = s.shape[1], job.w = s.shape[2];
    job.channels = static_cast<int>(s.shape[3]);
    if (job.channels < 1 || job.channels > 4)
        fail("src must be (N, H, W, C) uint8 with C in 1..4; got shape " + shape_str(s.shape));
    job.x = tap_table(index_x, weight_x, "x", job.w, cuda);
    job.y = tap_table(index_y, weight_y, "y", job.h, cuda);
    call.out_shape = {job.n, job.y.out_len, job.x.out_len, job.channels};
    call.tmp_shape = {job.n, job.h, job.x.out_len, job.channels};
    return call;
}

void attach_filter_buffers(FilterCall& call, const Array& tmp, const Array& out) {
    check_shape(tmp, "tmp", call.tmp_shape);
    check_shape(out, "out", call.out_shape);
    check_disjoint(call.src, out);
    call.job.tmp = static_cast<float*>(tmp.data);
    call.job.dst = static_cast<std::uint8_t*>(out.data);
}

// ---- elementwise ---------------------------------------------------------------------------

void check_same_shape(const Array& a, const char* an, const Array& b, const char* bn) {
    if (a.shape != b.shape)
        fail(std::string(bn) + " must have the shape of " + an + " " + shape_str(a.shape) +
             "; got " + shape_str(b.shape));
}

std::vector<std::int64_t> mask_shape(const Array& frames) {
    return {frames.shape[0], frames.shape[1], frames.shape[2]};
}

float finite_or_fail(double v, const char* name) {
    const float f = static_cast<float>(v);
    if (!std::isfinite(f)) fail(std::string(name) + " must be finite; got " + std::to_string(v));
    return f;
}

#if defined(IMGGEN_WITH_CUDA)
void require_device() {
    if (imggen::cuda_device_count() == 0)
        throw std::runtime_error("imggen_rt._postproc: no usable CUDA device (" +
                                 imggen::cuda_device_error() + ")");
}
#else
[[noreturn]] void no_cuda() {
    throw std::runtime_error(
        "imggen_rt._postproc was built without CUDA (no nvcc at build time, or IMGGEN_CUDA=OFF); "
        "use the CPU functions or rebuild with IMGGEN_CUDA=ON");
}
#endif

}  // namespace

nb::object point(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                 double low, double high, nb::handle out) {
    PointCall call = point_call(src, program, luts, order, low, high, false);
    nb::object result = out.is_none() ? new_array(call.out_shape, "uint8") : nb::borrow(out);
    const Array o = checked(result, "out", true, dl::dtype_code::UInt, 8, 4, false);
    check_shape(o, "out", call.out_shape);
    check_disjoint(call.src, o);
    call.job.dst = static_cast<std::uint8_t*>(o.data);
    if (call.job.n * call.job.h * call.job.w > 0) {
        nb::gil_scoped_release unlocked;
        point_cpu(call.job);
    }
    return result;
}

nb::object separable_filter(nb::handle src, nb::handle index_x, nb::handle weight_x,
                            nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                            nb::handle out) {
    FilterCall call = filter_call(src, index_x, weight_x, index_y, weight_y, false);
    nb::object t = tmp.is_none() ? new_array(call.tmp_shape, "float32") : nb::borrow(tmp);
    nb::object result = out.is_none() ? new_array(call.out_shape, "uint8") : nb::borrow(out);
    const Array ta = checked(t, "tmp", true, dl::dtype_code::Float, 32, 4, false);
    const Array o = checked(result, "out", true, dl::dtype_code::UInt, 8, 4, false);
    attach_filter_buffers(call, ta, o);
    {
        nb::gil_scoped_release unlocked;
        filter_cpu(call.job);
    }
    return result;
}

nb::object unsharp(nb::handle src, nb::handle blurred, double amount, double threshold,
                   nb::handle out) {
    const Array s = checked(src, "src", false, dl::dtype_code::UInt, 8, 4, false);
    const Array b = checked(blurred, "blurred", false, dl::dtype_code::UInt, 8, 4, false);
    check_same_shape(s, "src", b, "blurred");
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    nb::object result = out.is_none() ? new_array(s.shape, "uint8") : nb::borrow(out);
    const Array o = checked(result, "out", true, dl::dtype_code::UInt, 8, 4, false);
    check_same_shape(s, "src", o, "out");
    {
        nb::gil_scoped_release unlocked;
        unsharp_cpu(static_cast<const std::uint8_t*>(s.data),
                    static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                    static_cast<std::uint8_t*>(o.data));
    }
    return result;
}

nb::object blend(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out) {
    const Array in = checked(inside, "inside", false, dl::dtype_code::UInt, 8, 4, false);
    const Array ou = checked(outside, "outside", false, dl::dtype_code::UInt, 8, 4, false);
    const Array m = checked(mask, "mask", false, dl::dtype_code::UInt, 8, 3, false);
    check_same_shape(in, "inside", ou, "outside");
    check_shape(m, "mask", mask_shape(in));
    nb::object result = out.is_none() ? new_array(in.shape, "uint8") : nb::borrow(out);
    const Array o = checked(result, "out", true, dl::dtype_code::UInt, 8, 4, false);
    check_same_shape(in, "inside", o, "out");
    {
        nb::gil_scoped_release unlocked;
        blend_cpu(static_cast<const std::uint8_t*>(in.data),
                  static_cast<const std::uint8_t*>(ou.data),
                  static_cast<const std::uint8_t*>(m.data), m.size(),
                  static_cast<int>(in.shape[3]), static_cast<std::uint8_t*>(o.data));
    }
    return result;
}

nb::object otsu_masks(nb::handle frames, bool dark, nb::handle out) {
    const Array f = checked(frames, "frames", false, dl::dtype_code::UInt, 8, 4, false);
    nb::object result = out.is_none() ? new_array(mask_shape(f), "uint8") : nb::borrow(out);
    const Array m = checked(result, "out", true, dl::dtype_code::UInt, 8, 3, false);
    check_shape(m, "out", mask_shape(f));
    check_disjoint(f, m);
    {
        nb::gil_scoped_release unlocked;
        otsu_masks_cpu(static_cast<const std::uint8_t*>(f.data), f.shape[0],
                       f.shape[1] * f.shape[2], static_cast<int>(f.shape[3]), dark,
                       static_cast<std::uint8_t*>(m.data));
    }
    return result;
}

void otsu_masks_cuda(nb::handle frames, bool dark, nb::handle hist, nb::handle out,
                     std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array f = checked(frames, "frames", false, dl::dtype_code::UInt, 8, 4, true);
    const Array h = checked(hist, "hist", true, dl::dtype_code::UInt, 32, 2, true);
    const Array m = checked(out, "out", true, dl::dtype_code::UInt, 8, 3, true);
    check_shape(h, "hist", {f.shape[0], kHistBins});
    check_shape(m, "out", mask_shape(f));
    check_disjoint(f, m);
    if (f.shape[0] > 65535) fail("at most 65535 frames per call");
    require_device();
    imggen::otsu_masks_cuda(static_cast<const std::uint8_t*>(f.data), f.shape[0],
                            f.shape[1] * f.shape[2], static_cast<int>(f.shape[3]), dark,
                            static_cast<std::uint32_t*>(h.data), static_cast<std::uint8_t*>(m.data),
                            device_of(f, m), stream);
#else
    (void)frames, (void)dark, (void)hist, (void)out, (void)stream;
    no_cuda();
#endif
}

void point_cuda(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                double low, double high, nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    PointCall call = point_call(src, program, luts, order, low, high, true);
    const Array o = checked(out, "out", true, dl::dtype_code::UInt, 8, 4, true);
    check_shape(o, "out", call.out_shape);
    check_disjoint(call.src, o);
    call.job.dst = static_cast<std::uint8_t*>(o.data);
    require_device();
    imggen::point_cuda(call.job, device_of(call.src, o), stream);
#else
    (void)src, (void)program, (void)luts, (void)order, (void)low, (void)high, (void)out;
    (void)stream;
    no_cuda();
#endif
}

void separable_filter_cuda(nb::handle src, nb::handle index_x, nb::handle weight_x,
                           nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                           nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    FilterCall call = filter_call(src, index_x, weight_x, index_y, weight_y, true);
    const Array ta = checked(tmp, "tmp", true, dl::dtype_code::Float, 32, 4, true);
    const Array o = checked(out, "out", true, dl::dtype_code::UInt, 8, 4, true);
    attach_filter_buffers(call, ta, o);
    require_device();
    imggen::filter_cuda(call.job, device_of(call.src, o), stream);
#else
    (void)src, (void)index_x, (void)weight_x, (void)index_y, (void)weight_y, (void)tmp;
    (void)out, (void)stream;
    no_cuda();
#endif
}

void unsharp_cuda(nb::handle src, nb::handle blurred, double amount, double threshold,
                  nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array s = checked(src, "src", false, dl::dtype_code::UInt, 8, 4, true);
    const Array b = checked(blurred, "blurred", false, dl::dtype_code::UInt, 8, 4, true);
    const Array o = checked(out, "out", true, dl::dtype_code::UInt, 8, 4, true);
    check_same_shape(s, "src", b, "blurred");
    check_same_shape(s, "src", o, "out");
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    require_device();
    imggen::unsharp_cuda(static_cast<const std::uint8_t*>(s.data),
                         static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                         static_cast<std::uint8_t*>(o.data), device_of(s, o), stream);
#else
    (void)src, (void)blurred, (void)amount, (void)threshold, (void)out, (void)stream;
    no_cuda();
#endif
}

void blend_cuda(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out,
                std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array in = checked(inside, "inside", false, dl::dtype_code::UInt, 8, 4, true);
    const Array ou = checked(outside, "outside", false, dl::dtype_code::UInt, 8, 4, true);
    const Array m = checked(mask, "mask", false, dl::dtype_code::UInt, 8, 3, true);
    const Array o = checked(out, "out", true, dl::dtype_code::UInt, 8, 4, true);
    check_same_shape(in, "inside", ou, "outside");
    check_same_shape(in, "inside", o, "out");
    check_shape(m, "mask", mask_shape(in));
    require_device();
    imggen::blend_cuda(static_cast<const std::uint8_t*>(in.data),
                       static_cast<const std::uint8_t*>(ou.data),
                       static_cast<const std::uint8_t*>(m.data), m.size(),
                       static_cast<int>(in.shape[3]), static_cast<std::uint8_t*>(o.data),
                       device_of(in, o), stream);
#else
    (void)inside, (void)outside, (void)mask, (void)out, (void)stream;
    no_cuda();
#endif
}

}  // namespace imggen::py
