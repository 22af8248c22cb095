// otsu_masks() and otsu_masks_cuda(): argument checks and dispatch (math in
// imggen/otsu_masks.h; shared checks in checks.h).
#include <cstdint>
#include <string>

#include "bindings.h"
#include "checks.h"
#include "imggen/limits.h"
#include "imggen/otsu_masks.h"

namespace imggen::py {
nb::object otsu_masks(nb::handle frames, bool dark, nb::handle out) {
    const Array f = checked(frames, "frames", false, kU8, 4, false);
    nb::object result = out_or_new(out, mask_shape(f), "uint8");
    const Array m = checked(result, "out", true, kU8, 3, false);
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
    const Array f = checked(frames, "frames", false, kU8, 4, true);
    const Array h = checked(hist, "hist", true, kU32, 2, true);
    const Array m = checked(out, "out", true, kU8, 3, true);
    check_shape(h, "hist", {f.shape[0], kHistBins});
    check_shape(m, "out", mask_shape(f));
    check_disjoint(f, m);
    if (f.shape[0] > kMaxCudaOtsuFrames)
        fail("at most " + std::to_string(kMaxCudaOtsuFrames) + " frames per call");
    require_cuda_device();
    imggen::otsu_masks_cuda(static_cast<const std::uint8_t*>(f.data), f.shape[0],
                            f.shape[1] * f.shape[2], static_cast<int>(f.shape[3]), dark,
                            static_cast<std::uint32_t*>(h.data), static_cast<std::uint8_t*>(m.data),
                            device_of(f, m), stream);
#else
    (void)frames, (void)dark, (void)hist, (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
