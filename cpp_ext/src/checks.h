// The argument checks every binding (src/<op>_binding.cpp) shares, and their error text.
//
// Arrays arrive untyped (any DLPack / buffer-protocol / __cuda_array_interface__ object) and
// are checked here, so a wrong dtype, rank, shape, stride, alignment, size, device, writability
// or a shared buffer is a one-line ValueError naming the argument, what it got and what was
// expected, not nanobind's overload-mismatch TypeError or a crash. Scalars arrive untyped too
// and are checked in the type the op uses them in (float32), before any conversion. Every
// check runs before any work; numbers in messages are printed with %g. A check only one op
// makes (its program rows, its tap tables, its value range) sits in that op's binding, built
// from these.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "imggen/pixel.h"

namespace imggen::py {

namespace nb = nanobind;
namespace dl = nb::dlpack;

constexpr int kDeviceCpu = 1, kDeviceCuda = 2, kDeviceCudaHost = 3, kDeviceCudaManaged = 13;

// An imported array, whatever protocol it came through. strides are in elements.
struct Array {
    void* data = nullptr;
    std::vector<std::int64_t> shape, strides;
    dl::dtype dtype{};
    int device_type = kDeviceCpu;
    int device_id = 0;         // -1: "the current CUDA device" (__cuda_array_interface__ has no id)
    nb::ndarray<nb::ro> keep;  // keeps a DLPack import alive for the call
    std::string name;          // the argument's name, for messages
    std::int64_t count = 0;    // elements (0 when an extent is 0), overflow-checked at import

    std::int64_t size() const { return count; }
    std::int64_t itemsize() const { return (dtype.bits + 7) / 8; }
    std::int64_t nbytes() const { return count * itemsize(); }
    bool empty() const { return count == 0; }
};

// An element type the functions take, with its name in messages.
struct Elem {
    dl::dtype_code code;
    int bits;
    const char* name;
};
constexpr Elem kU8{dl::dtype_code::UInt, 8, "uint8"};
constexpr Elem kU32{dl::dtype_code::UInt, 32, "uint32"};
constexpr Elem kI32{dl::dtype_code::Int, 32, "int32"};
constexpr Elem kF32{dl::dtype_code::Float, 32, "float32"};

// ---- wording -----------------------------------------------------------------------------

// Raises ValueError(msg).
[[noreturn]] void fail(const std::string& msg);
std::string shape_str(const std::vector<std::int64_t>& v);
std::string dtype_str(dl::dtype t);
// A number as %.9g (1e+300, not 300 digits; float32 values round-trip).
std::string num(double v);
bool is(dl::dtype t, dl::dtype_code code, int bits);

// ---- arrays ------------------------------------------------------------------------------

// Reads the array and checks what any array must satisfy: extents >= 0 whose product (times
// the item size) stays below kMaxArrayBytes. expected_dtype only words the error for an array
// type DLPack cannot carry.
Array import_array(nb::handle obj, const char* name, bool writable, const char* expected_dtype);
void check_dtype(const Array& a, Elem e);
// cuda: the array must be on a CUDA device (else: in host memory).
void check_device(const Array& a, bool cuda);
// numpy's rule: axes of length 1 may carry any stride, and empty arrays are contiguous.
void check_c_contiguous(const Array& a);
// The data pointer is a multiple of the item size (numpy's ALIGNED flag), so loads of
// float32/int32 values are aligned (a must on GPUs; undefined behaviour in C++ otherwise).
void check_aligned(const Array& a);
// C-contiguous and aligned.
void check_layout(const Array& a);
// No array written by the call (out, scratch) shares a byte with any other array of the call:
// "W must not share memory with O". Read-only arrays may share memory with each other.
void check_no_aliasing(std::initializer_list<const Array*> written,
                       std::initializer_list<const Array*> read);
void check_no_aliasing(std::initializer_list<const Array*> written,
                       const std::vector<const Array*>& read);
// import_array, then dtype, rank, device, contiguity and alignment, in that order.
Array checked(nb::handle obj, const char* name, bool writable, Elem e, std::size_t ndim, bool cuda);
// "NAME must have shape EXPECTED[ what]; got SHAPE"
void check_shape(const Array& a, const std::vector<std::int64_t>& expected, const char* what = "");
// "BN must have the shape of AN (A's shape); got SHAPE"
void check_same_shape(const Array& a, const Array& b);
// Channels (the last extent) of NHWC frames in lo..hi.
void check_channels(const Array& frames, std::int64_t lo, std::int64_t hi);
// (N, H, W): one value per pixel of (N, H, W, C) frames (a mask).
std::vector<std::int64_t> mask_shape(const Array& frames);
// The caller's out, or a new C-contiguous numpy array (CPU functions only).
nb::object out_or_new(nb::handle out, const std::vector<std::int64_t>& shape, const char* dtype);

// ---- other arguments ---------------------------------------------------------------------

// order "rgb", "bgr" or "gray" as the layout for a source of 3 (RGB) or 1 (gray) channels.
Layout layout_or_fail(nb::handle order, std::int64_t source_channels);
// A Python number (float, int, numpy scalar) as a double; ValueError for anything else.
double number_or_fail(nb::handle v, const char* name);
// A number that is finite in float32 (checked in double, before the conversion).
float finite_or_fail(nb::handle v, const char* name);
float finite_or_fail(double v, const char* name);
// True or False (or a numpy bool); ValueError for anything else.
bool bool_or_fail(nb::handle v, const char* name);

// ---- devices -----------------------------------------------------------------------------

// The device of two CUDA arrays (-1: the current one); "WHAT must be on the same device" when
// they name different ones.
int device_of(const Array& a, const Array& b, const char* what = "arrays");
#if defined(IMGGEN_WITH_CUDA)
// RuntimeError unless a CUDA device is usable (no driver, no device: CUDA's reason); then
// ValueError unless every non-empty array's pointer is memory the device can read (CUDA's
// pointer attributes; a made-up address in __cuda_array_interface__ is caught here).
void require_cuda_device(std::initializer_list<const Array*> arrays = {});
void require_cuda_device(const std::vector<const Array*>& arrays);
#endif
// The RuntimeError of every *_cuda function in a build without CUDA; cpu_alternative says what
// to use instead ("the CPU functions").
[[noreturn]] void no_cuda(const char* cpu_alternative);

}  // namespace imggen::py
