// What the CPU loops (src/<op>_cpu.cpp) share: SIMD clones, when to go parallel, the thread
// count.
//
// Rows or spans are split across OpenMP threads; each is one call of a row function whose
// inner loop runs over contiguous values, so GCC vectorises it. Every file is built with
// -ffp-contract=off (no FMA contraction), so the clones round like the kernels and the numpy
// reference.
#pragma once

#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

// IMGGEN_SIMD_CLONES: compile a CPU row function three times (x86-64-v4 = AVX-512, v3 = AVX2 +
// F16C, and the baseline) and let the loader pick one for this CPU. The wheel stays portable
// (never -march=native) and still gets wide vectors where the CPU has them. GCC only; other
// compilers and architectures get the one baseline build. target_clones on templates is not
// reliable in GCC 12, so cloned functions are plain functions with templates inlined into them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMGGEN_SIMD_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IMGGEN_SIMD_CLONES
#endif

namespace imggen {

// Below this many values a parallel region costs more than it saves.
constexpr std::int64_t kParallelMinValues = 1 << 16;

// Spans of about this many values per OpenMP chunk for the flat (elementwise) loops.
constexpr std::int64_t kSpan = 1 << 15;

// Threads an OpenMP parallel region would use now (1 when built without OpenMP).
inline int openmp_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace imggen
