// blend() and blend_cuda(): argument checks and dispatch (math in imggen/blend.h; shared checks
// in checks.h). Internal (the chain's @fg / @bg ops call it), checked like the public functions:
// frames of 1..kMaxFilterChannels channels, out sharing no memory with the inputs.
#include <cstdint>

#include "bindings.h"
#include "checks.h"
#include "imggen/blend.h"
#include "imggen/limits.h"

namespace imggen::py {
nb::object blend(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out) {
    const Array in = checked(inside, "inside", false, kU8, 4, false);
    const Array ou = checked(outside, "outside", false, kU8, 4, false);
    const Array m = checked(mask, "mask", false, kU8, 3, false);
    check_channels(in, 1, kMaxFilterChannels);
    check_same_shape(in, ou);
    check_shape(m, mask_shape(in));
    nb::object result = out_or_new(out, in.shape, "uint8");
    const Array o = checked(result, "out", true, kU8, 4, false);
    check_same_shape(in, o);
    check_no_aliasing({&o}, {&in, &ou, &m});
    if (o.empty()) return result;
    {
        nb::gil_scoped_release unlocked;
        blend_cpu(static_cast<const std::uint8_t*>(in.data),
                  static_cast<const std::uint8_t*>(ou.data),
                  static_cast<const std::uint8_t*>(m.data), m.size(), static_cast<int>(in.shape[3]),
                  static_cast<std::uint8_t*>(o.data));
    }
    return result;
}

void blend_cuda(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out,
                std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array in = checked(inside, "inside", false, kU8, 4, true);
    const Array ou = checked(outside, "outside", false, kU8, 4, true);
    const Array m = checked(mask, "mask", false, kU8, 3, true);
    const Array o = checked(out, "out", true, kU8, 4, true);
    check_channels(in, 1, kMaxFilterChannels);
    check_same_shape(in, ou);
    check_same_shape(in, o);
    check_shape(m, mask_shape(in));
    check_no_aliasing({&o}, {&in, &ou, &m});
    const int device = device_of(in, o);
    if (o.empty()) return;
    require_cuda_device({&in, &ou, &m, &o});
    imggen::blend_cuda(
        static_cast<const std::uint8_t*>(in.data), static_cast<const std::uint8_t*>(ou.data),
        static_cast<const std::uint8_t*>(m.data), m.size(), static_cast<int>(in.shape[3]),
        static_cast<std::uint8_t*>(o.data), device, stream);
#else
    (void)inside, (void)outside, (void)mask, (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
