// point() and point_cuda(): argument checks and dispatch (math in imggen/point.h; shared checks
// in checks.h). The Python chain (imggen_rt.post) builds programs, so these are internal
// functions; their checks are the same as the public ones all the same: every row, parameter,
// LUT and array is validated before any work.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "checks.h"
#include "imggen/limits.h"
#include "imggen/point.h"

namespace imggen::py {
namespace {

struct PointCall {
    PointJob job{};
    std::vector<PointOp> ops;
    std::vector<Lut3D> luts;
    std::vector<Array> tables;  // the LUT arrays, for the aliasing check
    std::vector<std::int64_t> out_shape;
    Array src, program;
};

PointSource source_of(const Array& s) {
    if (is(s.dtype, dl::dtype_code::UInt, 8)) return PointSource::u8_nhwc;
    if (is(s.dtype, dl::dtype_code::Float, 32)) return PointSource::f32_nchw;
    if (is(s.dtype, dl::dtype_code::Float, 16)) return PointSource::f16_nchw;
    if (is(s.dtype, dl::dtype_code::Bfloat, 16)) return PointSource::bf16_nchw;
    fail("src must be float32/float16/bfloat16 (N, C, H, W) or uint8 (N, H, W, C); got " +
         dtype_str(s.dtype));
}

std::string row_str(std::int64_t row) { return "program row " + std::to_string(row); }

Lut3D lut_or_fail(const Array& table, const PointOp& op, std::int64_t row) {
    const std::int64_t n = table.shape[0];
    if (n < kMinLutSize || n > kMaxLutSize || table.shape[1] != n || table.shape[2] != n ||
        table.shape[3] != kLutStride)
        fail("LUT must be (N, N, N, " + std::to_string(kLutStride) +
             ") float32 (r, g, b, padding) with N in " + std::to_string(kMinLutSize) + ".." +
             std::to_string(kMaxLutSize) + "; got shape " + shape_str(table.shape));
    Lut3D lut{};
    lut.table = static_cast<const float*>(table.data);
    lut.size = static_cast<int>(n);
    lut.tetrahedral = op.p[6] != 0.0f;
    for (int c = 0; c < 3; ++c) {
        lut.lo[c] = op.p[c];
        lut.scale[c] = op.p[3 + c];
        if (!(lut.scale[c] > 0.0f))  // the parameters are finite (read_program)
            fail(row_str(row) + ": LUT domain must be finite with min < max (scale " +
                 num(lut.scale[c]) + ")");
    }
    return lut;
}

// The op kind and LUT index are float32 columns: range-checked as floats, then converted.
int kind_or_fail(float k, std::int64_t row) {
    if (!(k >= 0.0f && k <= static_cast<float>(PointKind::lut3d)) || k != std::floor(k))
        fail(row_str(row) + " has unknown op kind " + num(k) + " (0.." +
             std::to_string(static_cast<int>(PointKind::lut3d)) + ")");
    return static_cast<int>(k);
}

void read_program(PointCall& call, nb::handle program, nb::handle luts, bool cuda) {
    call.program = checked(program, "program", false, kF32, 2, false);
    const Array& p = call.program;
    if (p.shape[1] != kProgramColumns)
        fail("program must be (ops, " + std::to_string(kProgramColumns) + ") float32; got shape " +
             shape_str(p.shape));
    if (p.shape[0] > kMaxPointOps)
        fail("program has " + std::to_string(p.shape[0]) + " ops; at most " +
             std::to_string(kMaxPointOps) + " fuse into one pass");
    std::vector<nb::object> objects;
    if (!luts.is_none()) {
        if (!nb::isinstance<nb::list>(luts) && !nb::isinstance<nb::tuple>(luts))
            fail(std::string("luts must be a list of LUT arrays; got ") +
                 nb::inst_name(luts).c_str());
        for (nb::handle h : luts) objects.push_back(nb::borrow(h));
    }
    const auto* rows = static_cast<const float*>(p.data);
    for (std::int64_t i = 0; i < p.shape[0]; ++i) {
        const float* row = rows + i * kProgramColumns;
        PointOp op{};
        op.kind = static_cast<PointKind>(kind_or_fail(row[0], i));
        for (int k = 0; k < kPointParams; ++k) {
            op.p[k] = row[2 + k];
            if (!std::isfinite(op.p[k]))
                fail(row_str(i) + " has a parameter that is not finite (column " +
                     std::to_string(2 + k) + ": " + num(op.p[k]) + ")");
        }
        if (op.kind == PointKind::lut3d) {
            const float t = row[1];
            if (!(t >= 0.0f && t < static_cast<float>(objects.size())) || t != std::floor(t))
                fail(row_str(i) + " names LUT " + num(t) + " of " + std::to_string(objects.size()));
            if (call.luts.size() >= static_cast<std::size_t>(kMaxLuts))
                fail("at most " + std::to_string(kMaxLuts) + " LUTs fuse into one pass");
            call.tables.push_back(
                checked(objects[static_cast<std::size_t>(t)], "LUT", false, kF32, 4, cuda));
            call.luts.push_back(lut_or_fail(call.tables.back(), op, i));
            op.lut = static_cast<int>(call.luts.size()) - 1;
        }
        call.ops.push_back(op);
    }
}

PointCall point_call(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                     nb::handle low_obj, nb::handle high_obj, bool cuda) {
    PointCall call;
    call.src = import_array(src, "src", false, "float32, float16, bfloat16 or uint8");
    const Array& s = call.src;
    PointJob& job = call.job;
    job.source = source_of(s);
    // Numbers always; their range only matters (and is checked) for float sources.
    const double low = number_or_fail(low_obj, "low"), high = number_or_fail(high_obj, "high");
    check_device(s, cuda);
    if (s.shape.size() != 4) fail("src must be 4-D; got shape " + shape_str(s.shape));
    check_layout(s);
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
        const double max = 3.4028234663852886e38;  // FLT_MAX: checked before the conversion
        bool ok = std::fabs(low) <= max && std::fabs(high) <= max;
        float lo = 0.0f, hi = 1.0f, scale = 1.0f, offset = 0.0f;
        if (ok) {
            lo = static_cast<float>(low), hi = static_cast<float>(high);
            scale = 1.0f / (hi - lo);
            offset = 0.0f - lo * scale;
            ok = lo < hi && std::isfinite(scale) && std::isfinite(offset);
        }
        if (!ok)
            fail("low and high must be finite float32 values with low < high; got low=" + num(low) +
                 ", high=" + num(high));
        job.scale = scale;
        job.offset = offset;
    }
    job.layout = layout_or_fail(order, 3);  // the program's result is RGB
    job.src = s.data;
    read_program(call, program, luts, cuda);
    job.ops = call.ops.data();
    job.n_ops = static_cast<int>(call.ops.size());
    job.luts = call.luts.data();
    call.out_shape = {job.n, job.h, job.w, output_channels(job.layout)};
    return call;
}

void attach_out(PointCall& call, const Array& out) {
    check_shape(out, call.out_shape);
    std::vector<const Array*> read = {&call.src, &call.program};
    for (const Array& t : call.tables) read.push_back(&t);
    check_no_aliasing({&out}, read);
    call.job.dst = static_cast<std::uint8_t*>(out.data);
}

}  // namespace

nb::object point(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                 nb::handle low, nb::handle high, nb::handle out) {
    PointCall call = point_call(src, program, luts, order, low, high, false);
    nb::object result = out_or_new(out, call.out_shape, "uint8");
    const Array o = checked(result, "out", true, kU8, 4, false);
    attach_out(call, o);
    if (o.empty()) return result;
    {
        nb::gil_scoped_release unlocked;
        point_cpu(call.job);
    }
    return result;
}

void point_cuda(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                nb::handle low, nb::handle high, nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    PointCall call = point_call(src, program, luts, order, low, high, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    attach_out(call, o);
    const int device = device_of(call.src, o);
    if (o.empty()) return;
    std::vector<const Array*> device_arrays = {&call.src, &o};
    for (const Array& t : call.tables) device_arrays.push_back(&t);
    require_cuda_device(device_arrays);
    imggen::point_cuda(call.job, device, stream);
#else
    (void)src, (void)program, (void)luts, (void)order, (void)low, (void)high, (void)out;
    (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
