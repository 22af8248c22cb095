// unsharp() and unsharp_cuda(): argument checks and dispatch (math in imggen/unsharp.h; shared
// checks in checks.h).
#include <cstdint>

#include "bindings.h"
#include "checks.h"
#include "imggen/unsharp.h"

namespace imggen::py {

nb::object unsharp(nb::handle src, nb::handle blurred, double amount, double threshold,
                   nb::handle out) {
    const Array s = checked(src, "src", false, kU8, 4, false);
    const Array b = checked(blurred, "blurred", false, kU8, 4, false);
    check_same_shape(s, "src", b, "blurred");
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    nb::object result = out_or_new(out, s.shape, "uint8");
    const Array o = checked(result, "out", true, kU8, 4, false);
    check_same_shape(s, "src", o, "out");
    {
        nb::gil_scoped_release unlocked;
        unsharp_cpu(static_cast<const std::uint8_t*>(s.data),
                    static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                    static_cast<std::uint8_t*>(o.data));
    }
    return result;
}

void unsharp_cuda(nb::handle src, nb::handle blurred, double amount, double threshold,
                  nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array s = checked(src, "src", false, kU8, 4, true);
    const Array b = checked(blurred, "blurred", false, kU8, 4, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    check_same_shape(s, "src", b, "blurred");
    check_same_shape(s, "src", o, "out");
    const float a = finite_or_fail(amount, "amount"), th = finite_or_fail(threshold, "threshold");
    require_cuda_device();
    imggen::unsharp_cuda(static_cast<const std::uint8_t*>(s.data),
                         static_cast<const std::uint8_t*>(b.data), s.size(), a, th,
                         static_cast<std::uint8_t*>(o.data), device_of(s, o), stream);
#else
    (void)src, (void)blurred, (void)amount, (void)threshold, (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
