// The CPU loop of unsharp (math in imggen/unsharp.h; loop helpers in cpu_loop.h): spans of
// values across OpenMP threads, a SIMD-cloned loop over each.
#include <algorithm>
#include <cstdint>

#include "cpu_loop.h"
#include "imggen/unsharp.h"

namespace imggen {
namespace {

IMGGEN_SIMD_CLONES
void unsharp_span(const std::uint8_t* __restrict src, const std::uint8_t* __restrict blurred,
                  std::int64_t count, float amount, float threshold, std::uint8_t* __restrict dst) {
    for (std::int64_t i = 0; i < count; ++i)
        dst[i] = unsharp1(src[i], blurred[i], amount, threshold);
}

}  // namespace

void unsharp_cpu(const std::uint8_t* src, const std::uint8_t* blurred, std::int64_t count,
                 float amount, float threshold, std::uint8_t* dst) {
    const std::int64_t spans = (count + kSpan - 1) / kSpan;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (count >= kParallelMinValues)
#endif
    for (std::int64_t s = 0; s < spans; ++s) {
        const std::int64_t start = s * kSpan;
        const std::int64_t len = std::min(kSpan, count - start);
        unsharp_span(src + start, blurred + start, len, amount, threshold, dst + start);
    }
}

}  // namespace imggen
