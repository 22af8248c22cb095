// The Python-facing functions of imggen_rt._postproc: argument checking and dispatch.
//
// Arrays arrive untyped (any DLPack / buffer-protocol / __cuda_array_interface__ object) and
// are checked here, so a wrong dtype, rank, shape or stride is a one-line ValueError that says
// what was expected, not nanobind's overload-mismatch TypeError.
#pragma once

#include <cstdint>
#include <vector>

#include <nanobind/nanobind.h>

namespace imggen::py {

namespace nb = nanobind;

// (N, C, H, W) float32/float16 CPU array -> (N, H, W, Cout) uint8, into out when given.
nb::object denormalize(nb::handle src, double low, double high, nb::handle order,
                       nb::handle out);

// The same on CUDA device arrays, enqueued on stream; out is required.
void denormalize_cuda(nb::handle src, double low, double high, nb::handle order,
                      nb::handle out, std::uintptr_t stream);

bool built_with_cuda();
int cuda_device_count();
std::vector<int> cuda_architectures();
int openmp_threads();

}  // namespace imggen::py
