// denormalize() and denormalize_cuda(): argument checks and dispatch (math in
// imggen/denormalize.h; shared checks in checks.h).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "checks.h"
#include "imggen/denormalize.h"

namespace imggen::py {
namespace {

DenormParams params_or_fail(nb::handle low_obj, nb::handle high_obj) {
    const double low = number_or_fail(low_obj, "low"), high = number_or_fail(high_obj, "high");
    DenormParams p{};
    if (make_params(low, high, &p)) return p;
    const double max = 3.4028234663852886e38;  // FLT_MAX
    const char* why = "the range is too narrow: 255 / (high - low) overflows float32";
    if (!(std::fabs(low) <= max) || !(std::fabs(high) <= max))
        why = "low and high must be finite float32 values";
    else if (!(static_cast<float>(low) < static_cast<float>(high)))
        why = "low must be less than high (low < high in float32)";
    fail(std::string(why) + "; got low=" + num(low) + ", high=" + num(high));
}

void check_src(const Array& a, bool cuda) {
    if (a.shape.size() != 4)
        fail("src must be 4-D (N, C, H, W); got " + std::to_string(a.shape.size()) + "-D shape " +
             shape_str(a.shape));
    if (!is(a.dtype, dl::dtype_code::Float, 32) && !is(a.dtype, dl::dtype_code::Float, 16) &&
        !is(a.dtype, dl::dtype_code::Bfloat, 16))
        fail("src must be float32, float16 or bfloat16; got " + dtype_str(a.dtype));
    const std::int64_t c = a.shape[1];
    if (c != 1 && c != 3 && c != 4) {
        const bool nhwc = a.shape[3] == 1 || a.shape[3] == 3 || a.shape[3] == 4;
        fail("src must have 1, 3 or 4 channels on axis 1 (N, C, H, W); got shape " +
             shape_str(a.shape) + (nhwc ? " (channels-last input? this op takes NCHW)" : ""));
    }
    check_device(a, cuda);
    check_layout(a);
}

void check_out(const Array& o, const std::vector<std::int64_t>& expected, bool cuda) {
    check_shape(o, expected, " (N, H, W, output channels)");
    check_dtype(o, kU8);
    check_device(o, cuda);
    check_layout(o);
}

DenormJob make_job(const Array& src, Layout layout, DenormParams p, const Array& out) {
    DenormJob job{};
    job.src = src.data;
    job.dtype = src.dtype.bits == 32                            ? DType::f32
                : src.dtype.code == uint8_t(dl::dtype_code::Bfloat) ? DType::bf16
                                                                    : DType::f16;
    job.n = src.shape[0];
    job.h = src.shape[2];
    job.w = src.shape[3];
    job.layout = layout;
    job.params = p;
    job.dst = static_cast<std::uint8_t*>(out.data);
    return job;
}

std::vector<std::int64_t> out_shape(const Array& src, Layout layout) {
    return {src.shape[0], src.shape[2], src.shape[3], output_channels(layout)};
}

}  // namespace

nb::object denormalize(nb::handle src, nb::handle low, nb::handle high, nb::handle order,
                       nb::handle out) {
    const DenormParams p = params_or_fail(low, high);
    const Array s = import_array(src, "src", false, "float32, float16 or bfloat16");
    check_src(s, false);
    const Layout layout = layout_or_fail(order, s.shape[1]);
    const std::vector<std::int64_t> shape = out_shape(s, layout);
    nb::object result = out_or_new(out, shape, "uint8");
    const Array o = import_array(result, "out", true, "uint8");
    check_out(o, shape, false);
    check_no_aliasing({&o}, {&s});
    if (s.empty()) return result;  // nothing to do (and no loop over huge empty extents)

    const DenormJob job = make_job(s, layout, p, o);
    {
        nb::gil_scoped_release unlocked;
        denormalize_cpu(job);
    }
    return result;
}

void denormalize_cuda(nb::handle src, nb::handle low, nb::handle high, nb::handle order,
                      nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const DenormParams p = params_or_fail(low, high);
    const Array s = import_array(src, "src", false, "float32, float16 or bfloat16");
    check_src(s, true);
    const Layout layout = layout_or_fail(order, s.shape[1]);
    const std::vector<std::int64_t> shape = out_shape(s, layout);
    if (out.is_none()) fail("out is required: a CUDA uint8 array of shape " + shape_str(shape));
    const Array o = import_array(out, "out", true, "uint8");
    check_out(o, shape, true);
    check_no_aliasing({&o}, {&s});
    const int device = device_of(s, o, "src and out");
    if (s.empty()) return;
    require_cuda_device({&s, &o});
    imggen::denormalize_cuda(make_job(s, layout, p, o), device, stream);
#else
    (void)src, (void)low, (void)high, (void)order, (void)out, (void)stream;
    no_cuda("denormalize() on CPU arrays");
#endif
}

}  // namespace imggen::py
