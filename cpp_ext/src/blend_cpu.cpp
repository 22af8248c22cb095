// The CPU loop of blend (math in imggen/blend.h; loop helpers in cpu_loop.h): spans of pixels
// across OpenMP threads, a SIMD-cloned loop over each.
#include <algorithm>
#include <cstdint>

#include "cpu_loop.h"
#include "imggen/blend.h"

namespace imggen {
namespace {

IMGGEN_SIMD_CLONES
void blend_span(const std::uint8_t* __restrict inside, const std::uint8_t* __restrict outside,
                const std::uint8_t* __restrict mask, std::int64_t pixels, int channels,
                std::uint8_t* __restrict dst) {
    for (std::int64_t p = 0; p < pixels; ++p)
        for (int c = 0; c < channels; ++c)
            dst[p * channels + c] =
                blend1(inside[p * channels + c], outside[p * channels + c], mask[p]);
}

}  // namespace

void blend_cpu(const std::uint8_t* inside, const std::uint8_t* outside, const std::uint8_t* mask,
               std::int64_t pixels, int channels, std::uint8_t* dst) {
    if (pixels == 0 || channels <= 0) return;
    const std::int64_t span = std::max<std::int64_t>(1, kSpan / channels);
    const std::int64_t spans = (pixels + span - 1) / span;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (pixels * channels >= kParallelMinValues)
#endif
    for (std::int64_t s = 0; s < spans; ++s) {
        const std::int64_t start = s * span;
        const std::int64_t len = std::min(span, pixels - start);
        blend_span(inside + start * channels, outside + start * channels, mask + start, len,
                   channels, dst + start * channels);
    }
}

}  // namespace imggen
