// The Python-facing functions of imggen_rt._postproc, one block per op: each is defined in
// src/<op>_binding.cpp (argument checks, then the CPU loop or the CUDA launch) and documented
// where bindings.cpp registers it. A *_cuda function raises RuntimeError in a build without
// CUDA. Arrays and scalars arrive as nb::handle so that every mistake reaches the checks
// (checks.h) and comes back as one clear ValueError.
//
// Public API: denormalize, denormalize_cuda and the build-info functions (imggen_rt.postprocess
// wraps denormalize). Internal: point, separable_filter, unsharp, blend, otsu_masks and their
// _cuda twins, the passes imggen_rt.post builds; they check every argument just the same.
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <vector>

namespace imggen::py {

namespace nb = nanobind;

// denormalize_binding.cpp
nb::object denormalize(nb::handle src, nb::handle low, nb::handle high, nb::handle order,
                       nb::handle out);
void denormalize_cuda(nb::handle src, nb::handle low, nb::handle high, nb::handle order,
                      nb::handle out, std::uintptr_t stream);

// point_binding.cpp
nb::object point(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                 nb::handle low, nb::handle high, nb::handle out);
void point_cuda(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                nb::handle low, nb::handle high, nb::handle out, std::uintptr_t stream);

// separable_filter_binding.cpp
nb::object separable_filter(nb::handle src, nb::handle index_x, nb::handle weight_x,
                            nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                            nb::handle out);
void separable_filter_cuda(nb::handle src, nb::handle index_x, nb::handle weight_x,
                           nb::handle index_y, nb::handle weight_y, nb::handle tmp, nb::handle out,
                           std::uintptr_t stream);

// unsharp_binding.cpp
nb::object unsharp(nb::handle src, nb::handle blurred, nb::handle amount, nb::handle threshold,
                   nb::handle out);
void unsharp_cuda(nb::handle src, nb::handle blurred, nb::handle amount, nb::handle threshold,
                  nb::handle out, std::uintptr_t stream);

// blend_binding.cpp
nb::object blend(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out);
void blend_cuda(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out,
                std::uintptr_t stream);

// otsu_masks_binding.cpp
nb::object otsu_masks(nb::handle frames, nb::handle dark, nb::handle out);
void otsu_masks_cuda(nb::handle frames, nb::handle dark, nb::handle hist, nb::handle out,
                     std::uintptr_t stream);

// build_info_binding.cpp: what this build holds and what it runs on.
bool built_with_cuda();
int cuda_device_count();
std::vector<int> cuda_architectures();
int openmp_threads();

}  // namespace imggen::py
