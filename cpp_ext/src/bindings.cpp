// imggen_rt._postproc: the module's functions and their docstrings. Each op's checks and
// dispatch are in src/<op>_binding.cpp (declared in bindings.h), its math in
// include/imggen/<op>.h, its loops in src/<op>_cpu.cpp and src/<op>_cuda.cu.
#include "bindings.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;
using namespace nb::literals;

NB_MODULE(_postproc, m) {
    m.doc() =
        "Post-processing of generator output: float NCHW -> uint8 NHWC frames, colour,\n"
        "filters and blending, on CPU and CUDA.\n\n"
        "Public: denormalize, denormalize_cuda and the build-info functions. Internal (the\n"
        "passes imggen_rt.post builds; use the chain): point, separable_filter, unsharp,\n"
        "blend, otsu_masks and their _cuda twins. Every function checks every argument\n"
        "before any work: bad input raises a one-line ValueError (MemoryError when memory\n"
        "runs out), never a crash; zero-size input returns at once.";

    // Arguments (arrays and scalars) are nb::handle accepting None so that every mistake
    // reaches the checks (checks.h) and comes back as one clear ValueError.
    m.def("denormalize", &imggen::py::denormalize, "src"_a.none(), "low"_a.none(), "high"_a.none(),
          "order"_a.none() = "rgb", "out"_a.none() = nb::none(),
          "Map (N, C, H, W) float32/float16/bfloat16 values in [low, high] to (N, H, W, Cout)\n"
          "uint8. bfloat16: a DLPack bfloat16 array (torch) or a numpy ml_dtypes.bfloat16 one.\n\n"
          "C is 1, 3 or 4 (source channels are RGB[A], straight alpha). order is 'rgb', 'bgr'\n"
          "or 'gray' (BT.601 luma of the raw values; not for RGBA); a 1-channel source is\n"
          "replicated for 'rgb'/'bgr'; RGBA gives RGBA or BGRA (alpha last). Values\n"
          "round half up; NaN and values below low give 0, values above high give 255. src\n"
          "must be a C-contiguous, aligned CPU array. out, when given, must be a C-contiguous\n"
          "uint8 (N, H, W, Cout) array sharing no memory with src; it is filled and returned.\n"
          "low and high must be finite in float32 with low < high. Bad input raises ValueError.");

    m.def("denormalize_cuda", &imggen::py::denormalize_cuda, "src"_a.none(), "low"_a.none(),
          "high"_a.none(), "order"_a.none(), "out"_a.none(), "stream"_a = 0,
          "denormalize() on CUDA device arrays (DLPack or __cuda_array_interface__).\n\n"
          "Enqueues the kernel on stream (a cudaStream_t as an int, 0 = default stream) and\n"
          "returns without waiting; out (device uint8, (N, H, W, Cout)) is required. Only the\n"
          "uint8 result need leave the device. RuntimeError if the launch fails, there is no\n"
          "device, or the module was built without CUDA.");

    // Internal: the chain's passes (imggen_rt.post builds programs and tap tables and calls
    // these), checked like the public functions.
    m.def("point", &imggen::py::point, "src"_a.none(), "program"_a.none(), "luts"_a.none(),
          "order"_a.none() = "rgb", "low"_a.none() = -1.0, "high"_a.none() = 1.0,
          "out"_a.none() = nb::none(),
          "One fused pass: load -> pointwise program -> quantise, into (N, H, W, Cout) uint8.\n\n"
          "src is float32/float16/bfloat16 (N, C, H, W) in [low, high] (generator output) or\n"
          "uint8 (N, H, W, C) frames (C 1, 3 or 4; alpha is not read). program is a float32\n"
          "(ops, 14) array of rows (kind, LUT index, 12 parameters); luts is a list of float32\n"
          "(N, N, N, 4) tables in .cube order, each entry (r, g, b, padding), N in 2..256. Every\n"
          "parameter must be finite; out shares no memory with src, program or a LUT. order\n"
          "picks the output channels. Internal: imggen_rt.post builds the programs.");
    m.def("separable_filter", &imggen::py::separable_filter, "src"_a.none(), "index_x"_a.none(),
          "weight_x"_a.none(), "index_y"_a.none(), "weight_y"_a.none(), "tmp"_a.none() = nb::none(),
          "out"_a.none() = nb::none(),
          "Filter uint8 (N, H, W, C) frames by tap tables: out[y, x] = sum_j wy[y, j] *\n"
          "sum_i wx[x, i] * src[iy[y, j], ix[x, i]], rounded; the tables' row counts give the\n"
          "output size (blur: same size; resize: the delivery size). tmp is the (N, H, out_w, C)\n"
          "float32 scratch between the two passes, reused when given. C is 1..4; every index\n"
          "must address the source axis; tmp and out share no memory with any other argument.\n"
          "Internal: imggen_rt.post.filters builds the tables.");
    m.def("unsharp", &imggen::py::unsharp, "src"_a.none(), "blurred"_a.none(), "amount"_a.none(),
          "threshold"_a.none(), "out"_a.none() = nb::none(),
          "Unsharp-mask combine: src + amount * (src - blurred) where |src - blurred| >=\n"
          "threshold (8-bit units), else src. amount and threshold must be finite in float32.\n"
          "Internal (the chain's sharpen).");
    m.def("blend", &imggen::py::blend, "inside"_a.none(), "outside"_a.none(), "mask"_a.none(),
          "out"_a.none() = nb::none(),
          "Per-pixel mix of two uint8 (N, H, W, C) frames by an (N, H, W) uint8 mask: 255 takes\n"
          "inside, 0 outside, values between blend. C is 1..4. Internal (the chain's @fg/@bg).");
    m.def("otsu_masks", &imggen::py::otsu_masks, "frames"_a.none(), "dark"_a.none() = false,
          "out"_a.none() = nb::none(),
          "Foreground masks (N, H, W) uint8 of (N, H, W, C) uint8 frames: 255 where the luma\n"
          "(OpenCV's fixed-point BT.601) is above each frame's Otsu threshold (at or below it\n"
          "when dark). C is 1, 3 or 4; frames have fewer than 2^32 pixels. Equal to\n"
          "cv2.threshold(gray, 0, 255, THRESH_BINARY | THRESH_OTSU) where OpenCV runs its own\n"
          "C++ (IPP builds may break exact ties of the variance the other way). Internal.");
    m.def("point_cuda", &imggen::py::point_cuda, "src"_a.none(), "program"_a.none(),
          "luts"_a.none(), "order"_a.none(), "low"_a.none(), "high"_a.none(), "out"_a.none(),
          "stream"_a = 0,
          "point() on CUDA device arrays (LUTs too), enqueued on stream; out is required.");
    m.def("separable_filter_cuda", &imggen::py::separable_filter_cuda, "src"_a.none(),
          "index_x"_a.none(), "weight_x"_a.none(), "index_y"_a.none(), "weight_y"_a.none(),
          "tmp"_a.none(), "out"_a.none(), "stream"_a = 0,
          "separable_filter() on CUDA device arrays (tables too), enqueued on stream. Device\n"
          "tables are not read on the host: the kernels clamp every index into the frame.");
    m.def("unsharp_cuda", &imggen::py::unsharp_cuda, "src"_a.none(), "blurred"_a.none(),
          "amount"_a.none(), "threshold"_a.none(), "out"_a.none(), "stream"_a = 0,
          "unsharp() on CUDA device arrays, enqueued on stream.");
    m.def("blend_cuda", &imggen::py::blend_cuda, "inside"_a.none(), "outside"_a.none(),
          "mask"_a.none(), "out"_a.none(), "stream"_a = 0,
          "blend() on CUDA device arrays, enqueued on stream.");

    m.def("otsu_masks_cuda", &imggen::py::otsu_masks_cuda, "frames"_a.none(), "dark"_a.none(),
          "hist"_a.none(), "out"_a.none(), "stream"_a = 0,
          "otsu_masks() on CUDA device arrays; hist is (N, 256) uint32 device scratch.");

    m.def("built_with_cuda", &imggen::py::built_with_cuda,
          "True when the CUDA kernel was compiled into this module.");
    m.def("cuda_device_count", &imggen::py::cuda_device_count,
          "Number of usable CUDA devices; 0 without a driver, a device, or CUDA support.");
    m.def("cuda_architectures", &imggen::py::cuda_architectures,
          "SM architectures with device code in this module, e.g. [75, 80, 86, 87, 89, 90].");
    m.def("openmp_threads", &imggen::py::openmp_threads,
          "Threads the CPU path uses (OMP_NUM_THREADS, else the core count; 1 without OpenMP).");
}
