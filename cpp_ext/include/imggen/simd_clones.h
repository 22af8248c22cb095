// IMGGEN_SIMD_CLONES: compile a CPU row function three times (x86-64-v4 = AVX-512, v3 = AVX2 +
// F16C, and the baseline) and let the loader pick one for this CPU. The wheel stays portable
// (never -march=native) and still gets wide vectors where the CPU has them. GCC only; other
// compilers and architectures get the one baseline build.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMGGEN_SIMD_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IMGGEN_SIMD_CLONES
#endif
