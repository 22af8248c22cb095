// The CPU loop of otsu_masks (math in imggen/otsu_masks.h; loop helpers in cpu_loop.h).
#include <cstdint>

#include "cpu_loop.h"
#include "imggen/otsu_masks.h"

namespace imggen {

void otsu_masks_cpu(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                    bool dark, std::uint8_t* masks) {
    // One frame per thread: the histogram is a per-frame reduction, and frames are many.
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (n * pixels >= kParallelMinValues)
#endif
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint8_t* frame = frames + i * pixels * channels;
        std::uint8_t* mask = masks + i * pixels;
        std::uint32_t hist[kHistBins] = {};
        for (std::int64_t p = 0; p < pixels; ++p) {
            mask[p] = luma_u8(frame + p * channels, channels);
            ++hist[mask[p]];
        }
        const int threshold = otsu_threshold(hist, pixels);
        for (std::int64_t p = 0; p < pixels; ++p)
            mask[p] = otsu_mask_value(mask[p], threshold, dark);
    }
}

}  // namespace imggen
