// separable_filter() and separable_filter_cuda(): argument checks and dispatch (math in
// imggen/separable_filter.h; shared checks in checks.h). The Python chain
// (imggen_rt.post.filters) builds the tap tables, so these are internal functions, checked all
// the same: shapes, dtypes, every index (CPU), and that neither tmp nor out shares memory with
// any other argument (a scratch over the tables would rewrite indices after their check).
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "checks.h"
#include "imggen/limits.h"
#include "imggen/separable_filter.h"

namespace imggen::py {
namespace {

struct FilterCall {
    FilterJob job{};
    std::vector<std::int64_t> out_shape, tmp_shape;
    Array src, index_x, weight_x, index_y, weight_y;
};

// One axis's tables: (rows, taps) int32 indices and float32 weights of the same shape, taps in
// 1..kMaxTaps, and (CPU) every index inside the source axis of in_len pixels.
TapTable tap_table(Array& i_out, Array& w_out, nb::handle index, nb::handle weight,
                   const char* axis, std::int64_t in_len, bool cuda) {
    const std::string iname = std::string("index_") + axis, wname = std::string("weight_") + axis;
    i_out = checked(index, iname.c_str(), false, kI32, 2, cuda);
    w_out = checked(weight, wname.c_str(), false, kF32, 2, cuda);
    const Array& i = i_out;
    check_shape(w_out, i.shape);
    if (i.shape[1] < 1) fail(iname + " must have at least one tap per output");
    if (i.shape[1] > kMaxTaps)
        fail(iname + " has " + std::to_string(i.shape[1]) + " taps per output; at most " +
             std::to_string(kMaxTaps));
    if (in_len == 0 && i.shape[0] > 0)
        fail(iname + " has " + std::to_string(i.shape[0]) + " rows but src has no pixels along " +
             axis + " to read");
    TapTable t{static_cast<const std::int32_t*>(i.data), static_cast<const float*>(w_out.data),
               i.shape[0], static_cast<int>(i.shape[1]), in_len};
    if (!cuda) {  // device tables cannot be read here; the kernels clamp (tap_index)
        for (std::int64_t k = 0; k < i.size(); ++k)
            if (t.index[k] < 0 || t.index[k] >= in_len)
                fail(iname + " holds " + std::to_string(t.index[k]) + ", outside 0.." +
                     std::to_string(in_len - 1));
    }
    return t;
}

FilterCall filter_call(nb::handle src, nb::handle index_x, nb::handle weight_x, nb::handle index_y,
                       nb::handle weight_y, bool cuda) {
    FilterCall call;
    call.src = checked(src, "src", false, kU8, 4, cuda);
    const Array& s = call.src;
    check_channels(s, 1, kMaxFilterChannels);
    FilterJob& job = call.job;
    job.src = static_cast<const std::uint8_t*>(s.data);
    job.n = s.shape[0], job.h = s.shape[1], job.w = s.shape[2];
    job.channels = static_cast<int>(s.shape[3]);
    job.x = tap_table(call.index_x, call.weight_x, index_x, weight_x, "x", job.w, cuda);
    job.y = tap_table(call.index_y, call.weight_y, index_y, weight_y, "y", job.h, cuda);
    call.out_shape = {job.n, job.y.out_len, job.x.out_len, job.channels};
    call.tmp_shape = {job.n, job.h, job.x.out_len, job.channels};
    return call;
}

void attach_buffers(FilterCall& call, const Array& tmp, const Array& out) {
    check_shape(tmp, call.tmp_shape);
    check_shape(out, call.out_shape);
    check_no_aliasing({&tmp, &out},
                      {&call.src, &call.index_x, &call.weight_x, &call.index_y, &call.weight_y});
    call.job.tmp = static_cast<float*>(tmp.data);
    call.job.dst = static_cast<std::uint8_t*>(out.data);
}

}  // namespace

nb::object separable_filter(nb::handle src, nb::handle index_x, nb::handle weight_x,
                            nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                            nb::handle out) {
    FilterCall call = filter_call(src, index_x, weight_x, index_y, weight_y, false);
    nb::object t = out_or_new(tmp, call.tmp_shape, "float32");
    nb::object result = out_or_new(out, call.out_shape, "uint8");
    const Array ta = checked(t, "tmp", true, kF32, 4, false);
    const Array o = checked(result, "out", true, kU8, 4, false);
    attach_buffers(call, ta, o);
    if (o.empty()) return result;  // zero-size: return at once, no loop over empty extents
    {
        nb::gil_scoped_release unlocked;
        separable_filter_cpu(call.job);
    }
    return result;
}

void separable_filter_cuda(nb::handle src, nb::handle index_x, nb::handle weight_x,
                           nb::handle index_y, nb::handle weight_y, nb::handle tmp, nb::handle out,
                           std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    FilterCall call = filter_call(src, index_x, weight_x, index_y, weight_y, true);
    const Array ta = checked(tmp, "tmp", true, kF32, 4, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    attach_buffers(call, ta, o);
    const int device = device_of(call.src, o);
    if (o.empty()) return;
    require_cuda_device(
        {&call.src, &call.index_x, &call.weight_x, &call.index_y, &call.weight_y, &ta, &o});
    imggen::separable_filter_cuda(call.job, device, stream);
#else
    (void)src, (void)index_x, (void)weight_x, (void)index_y, (void)weight_y, (void)tmp;
    (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
