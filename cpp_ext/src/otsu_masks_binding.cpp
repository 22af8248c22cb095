// otsu_masks() and otsu_masks_cuda(): argument checks and dispatch (math in
// imggen/otsu_masks.h; shared checks in checks.h). Internal (the chain's mask=otsu calls it),
// checked like the public functions: frames of 1, 3 or 4 channels and fewer than 2^32 pixels
// (the histogram counts in uint32), out and hist sharing no memory with anything else.
#include <cstdint>
#include <string>

#include "bindings.h"
#include "checks.h"
#include "imggen/limits.h"
#include "imggen/otsu_masks.h"

namespace imggen::py {
namespace {

void check_frames(const Array& f) {
    const std::int64_t c = f.shape[3];
    if (c != 1 && c != 3 && c != 4)
        fail("frames must be (N, H, W, C) uint8 with C in (1, 3, 4); got shape " +
             shape_str(f.shape));
    if (f.shape[1] > 0 && f.shape[2] > kMaxOtsuPixels / f.shape[1])
        fail("frames of " + std::to_string(f.shape[1]) + "x" + std::to_string(f.shape[2]) +
             " pixels are too large: at most 2^32 - 1 pixels per frame (the histogram counts in "
             "uint32)");
}

}  // namespace

nb::object otsu_masks(nb::handle frames, nb::handle dark_obj, nb::handle out) {
    const Array f = checked(frames, "frames", false, kU8, 4, false);
    check_frames(f);
    const bool dark = bool_or_fail(dark_obj, "dark");
    nb::object result = out_or_new(out, mask_shape(f), "uint8");
    const Array m = checked(result, "out", true, kU8, 3, false);
    check_shape(m, mask_shape(f));
    check_no_aliasing({&m}, {&f});
    if (m.empty()) return result;
    {
        nb::gil_scoped_release unlocked;
        otsu_masks_cpu(static_cast<const std::uint8_t*>(f.data), f.shape[0],
                       f.shape[1] * f.shape[2], static_cast<int>(f.shape[3]), dark,
                       static_cast<std::uint8_t*>(m.data));
    }
    return result;
}

void otsu_masks_cuda(nb::handle frames, nb::handle dark_obj, nb::handle hist, nb::handle out,
                     std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const Array f = checked(frames, "frames", false, kU8, 4, true);
    check_frames(f);
    const bool dark = bool_or_fail(dark_obj, "dark");
    const Array h = checked(hist, "hist", true, kU32, 2, true);
    const Array m = checked(out, "out", true, kU8, 3, true);
    check_shape(h, {f.shape[0], kHistBins});
    check_shape(m, mask_shape(f));
    if (f.shape[0] > kMaxCudaOtsuFrames)
        fail("at most " + std::to_string(kMaxCudaOtsuFrames) + " frames per call; got " +
             std::to_string(f.shape[0]));
    check_no_aliasing({&h, &m}, {&f});
    const int device = device_of(f, m);
    if (m.empty()) return;
    require_cuda_device({&f, &h, &m});
    imggen::otsu_masks_cuda(static_cast<const std::uint8_t*>(f.data), f.shape[0],
                            f.shape[1] * f.shape[2], static_cast<int>(f.shape[3]), dark,
                            static_cast<std::uint32_t*>(h.data), static_cast<std::uint8_t*>(m.data),
                            device, stream);
#else
    (void)frames, (void)dark_obj, (void)hist, (void)out, (void)stream;
    no_cuda("the CPU functions");
#endif
}

}  // namespace imggen::py
