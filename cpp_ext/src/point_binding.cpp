// point() and point_cuda(): argument checks and dispatch (math in imggen/point.h; shared checks
// in checks.h). The Python chain (imggen_rt.post) builds programs, so these checks are the last
// line of defence, not the API.
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

Lut3D lut_or_fail(nb::handle table_obj, const PointOp& op, std::int64_t row, bool cuda) {
    const Array table = checked(table_obj, "LUT", false, kF32, 4, cuda);
    const std::int64_t n = table.shape[0];
    if (n < kMinLutSize || table.shape[1] != n || table.shape[2] != n ||
        table.shape[3] != kLutStride)
        fail("LUT must be (N, N, N, " + std::to_string(kLutStride) +
             ") float32 (r, g, b, padding) with N >= " + std::to_string(kMinLutSize) +
             "; got shape " + shape_str(table.shape));
    Lut3D lut{};
    lut.table = static_cast<const float*>(table.data);
    lut.size = static_cast<int>(n);
    lut.tetrahedral = op.p[6] != 0.0f;
    for (int c = 0; c < 3; ++c) {
        lut.lo[c] = op.p[c];
        lut.scale[c] = op.p[3 + c];
        if (!std::isfinite(lut.lo[c]) || !(lut.scale[c] > 0.0f) || !std::isfinite(lut.scale[c]))
            fail("program row " + std::to_string(row) +
                 ": LUT domain must be finite with min < max");
    }
    return lut;
}

void read_program(PointCall& call, nb::handle program, nb::handle luts, bool cuda) {
    const Array p = checked(program, "program", false, kF32, 2, false);
    if (p.shape[1] != kProgramColumns)
        fail("program must be (ops, " + std::to_string(kProgramColumns) + ") float32; got shape " +
             shape_str(p.shape));
    if (p.shape[0] > kMaxPointOps)
        fail("program has " + std::to_string(p.shape[0]) + " ops; at most " +
             std::to_string(kMaxPointOps) + " fuse into one pass");
    std::vector<nb::object> tables;
    if (!luts.is_none())
        for (nb::handle h : luts) tables.push_back(nb::borrow(h));
    const auto* rows = static_cast<const float*>(p.data);
    for (std::int64_t i = 0; i < p.shape[0]; ++i) {
        const float* row = rows + i * kProgramColumns;
        const int kind = static_cast<int>(row[0]);
        if (!(row[0] == static_cast<float>(kind)) || kind < 0 ||
            kind > static_cast<int>(PointKind::lut3d))
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
            if (call.luts.size() >= static_cast<std::size_t>(kMaxLuts))
                fail("at most " + std::to_string(kMaxLuts) + " LUTs fuse into one pass");
            call.luts.push_back(lut_or_fail(tables[t], op, i, cuda));
            op.lut = static_cast<int>(call.luts.size()) - 1;
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
    if (s.shape.size() != 4) fail("src must be 4-D; got shape " + shape_str(s.shape));
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
    check_shape(out, "out", call.out_shape);
    check_disjoint(call.src, out);
    call.job.dst = static_cast<std::uint8_t*>(out.data);
}

}  // namespace

nb::object point(nb::handle src, nb::handle program, nb::handle luts, nb::handle order, double low,
                 double high, nb::handle out) {
    PointCall call = point_call(src, program, luts, order, low, high, false);
    nb::object result = out_or_new(out, call.out_shape, "uint8");
    const Array o = checked(result, "out", true, kU8, 4, false);
    attach_out(call, o);
    if (call.job.n * call.job.h * call.job.w > 0) {
        nb::gil_scoped_release unlocked;
        point_cpu(call.job);
    }
    return result;
}

void point_cuda(nb::handle src, nb::handle program, nb::handle luts, nb::handle order, double low,
                double high, nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    PointCall call = point_call(src, program, luts, order, low, high, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    attach_out(call, o);
    require_cuda_device();
    imggen::point_cuda(call.job, device_of(call.src, o), stream);
#else
    (void)src, (void)program, (void)luts, (void)order, (void)low, (void)high, (void)out;
    (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
