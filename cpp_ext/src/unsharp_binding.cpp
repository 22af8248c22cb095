// unsharp() and unsharp_cuda(): argument checks and dispatch (math in imggen/unsharp.h; shared
// checks in checks.h). Internal (the chain's sharpen calls it), checked like the public
// functions: out shares no memory with src or blurred (those two may be the same array).
#include <cstdint>

#include "bindings.h"
#include "checks.h"
#include "imggen/unsharp.h"

namespace imggen::py {

nb::object unsharp(nb::handle src, nb::handle blurred, nb::handle amount, nb::handle threshold,
                   nb::handle out) {
    const Array s = checked(src, "src", false, kU8, 4, false);
    const Array b = checked(blurred, "blurred", false, kU8, 4, false);
    check_same_shape(s, b);
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    nb::object result = out_or_new(out, s.shape, "uint8");
    const Array o = checked(result, "out", true, kU8, 4, false);
    check_same_shape(s, o);
    check_no_aliasing({&o}, {&s, &b});
    if (o.empty()) return result;
    {
        nb::gil_scoped_release unlocked;
        unsharp_cpu(static_cast<const std::uint8_t*>(s.data),
                    static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                    static_cast<std::uint8_t*>(o.data));
    }
    return result;
}

void unsharp_cuda(nb::handle src, nb::handle blurred, nb::handle amount, nb::handle threshold,
                  nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array s = checked(src, "src", false, kU8, 4, true);
    const Array b = checked(blurred, "blurred", false, kU8, 4, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    check_same_shape(s, b);
    check_same_shape(s, o);
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    check_no_aliasing({&o}, {&s, &b});
    const int device = device_of(s, o);
    if (o.empty()) return;
    require_cuda_device({&s, &b, &o});
    imggen::unsharp_cuda(static_cast<const std::uint8_t*>(s.data),
                         static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                         static_cast<std::uint8_t*>(o.data), device, stream);
#else
    (void)src, (void)blurred, (void)amount, (void)threshold, (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
