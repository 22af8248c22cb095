// imggen_rt._postproc: the module's functions and their docstrings; the work is elsewhere.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include "imggen/python_api.h"

namespace nb = nanobind;
using namespace nb::literals;

NB_MODULE(_postproc, m) {
    m.doc() = "Post-processing of generator output: float NCHW -> uint8 NHWC, CPU and CUDA.";

    // Arguments are nb::handle accepting None so that every mistake reaches the checks in
    // python_api.cpp and comes back as one clear ValueError.
    m.def("denormalize", &imggen::py::denormalize, "src"_a.none(), "low"_a, "high"_a,
          "order"_a.none() = "rgb", "out"_a.none() = nb::none(),
          "Map (N, C, H, W) float32/float16 values in [low, high] to (N, H, W, Cout) uint8.\n\n"
          "C is 1 or 3 (source channels are RGB). order is 'rgb', 'bgr' or 'gray' (BT.601\n"
          "luma of the raw values); a 1-channel source is replicated for 'rgb'/'bgr'. Values\n"
          "round half up; NaN and values below low give 0, values above high give 255. src\n"
          "must be a C-contiguous CPU array. out, when given, must be a C-contiguous uint8\n"
          "(N, H, W, Cout) array; it is filled and returned. Bad input raises ValueError.");

    m.def("denormalize_cuda", &imggen::py::denormalize_cuda, "src"_a.none(), "low"_a, "high"_a,
          "order"_a.none(), "out"_a.none(), "stream"_a = 0,
          "denormalize() on CUDA device arrays (DLPack or __cuda_array_interface__).\n\n"
          "Enqueues the kernel on stream (a cudaStream_t as an int, 0 = default stream) and\n"
          "returns without waiting; out (device uint8, (N, H, W, Cout)) is required. Only the\n"
          "uint8 result need leave the device. RuntimeError if the launch fails, there is no\n"
          "device, or the module was built without CUDA.");

    m.def("built_with_cuda", &imggen::py::built_with_cuda,
          "True when the CUDA kernel was compiled into this module.");
    m.def("cuda_device_count", &imggen::py::cuda_device_count,
          "Number of usable CUDA devices; 0 without a driver, a device, or CUDA support.");
    m.def("cuda_architectures", &imggen::py::cuda_architectures,
          "SM architectures with device code in this module, e.g. [75, 80, 86, 87, 89, 90].");
    m.def("openmp_threads", &imggen::py::openmp_threads,
          "Threads the CPU path uses (OMP_NUM_THREADS, else the core count; 1 without OpenMP).");
}
