// The post-processing chain's functions in imggen_rt._postproc (see bindings.cpp for their
// documentation). Arrays arrive untyped and are checked in python_api_post.cpp.
#pragma once

#include <cstdint>

#include <nanobind/nanobind.h>

namespace imggen::py {

namespace nb = nanobind;

nb::object point(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                 double low, double high, nb::handle out);
nb::object separable_filter(nb::handle src, nb::handle index_x, nb::handle weight_x,
                            nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                            nb::handle out);
nb::object unsharp(nb::handle src, nb::handle blurred, double amount, double threshold,
                   nb::handle out);
nb::object blend(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out);
nb::object otsu_masks(nb::handle frames, bool dark, nb::handle out);

void point_cuda(nb::handle src, nb::handle program, nb::handle luts, nb::handle order,
                double low, double high, nb::handle out, std::uintptr_t stream);
void separable_filter_cuda(nb::handle src, nb::handle index_x, nb::handle weight_x,
                           nb::handle index_y, nb::handle weight_y, nb::handle tmp,
                           nb::handle out, std::uintptr_t stream);
void unsharp_cuda(nb::handle src, nb::handle blurred, double amount, double threshold,
                  nb::handle out, std::uintptr_t stream);
void blend_cuda(nb::handle inside, nb::handle outside, nb::handle mask, nb::handle out,
                std::uintptr_t stream);
void otsu_masks_cuda(nb::handle frames, bool dark, nb::handle hist, nb::handle out,
                     std::uintptr_t stream);

}  // namespace imggen::py
