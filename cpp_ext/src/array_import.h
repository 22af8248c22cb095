// Importing arrays for imggen_rt._postproc: any DLPack / buffer-protocol /
// __cuda_array_interface__ object becomes one Array, and every check a caller can fail is a
// one-line ValueError naming the argument, what it got and what was expected.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
    int device_id = 0;  // -1: "the current CUDA device" (__cuda_array_interface__ has no id)
    nb::ndarray<nb::ro> keep;  // keeps a DLPack import alive for the call

    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto s : shape) n *= s;
        return n;
    }
    std::size_t nbytes() const { return static_cast<std::size_t>(size()) * (dtype.bits / 8); }
};

[[noreturn]] void fail(const std::string& msg);
std::string shape_str(const std::vector<std::int64_t>& v);
std::string dtype_str(dl::dtype t);
bool is(dl::dtype t, dl::dtype_code code, int bits);

// expected_dtype only words the error for an array type DLPack cannot carry.
Array import_array(nb::handle obj, const char* name, bool writable, const char* expected_dtype);
// cuda: the array must be on a CUDA device (else: in host memory).
void check_device(const Array& a, const char* name, bool cuda);
// numpy's rule: axes of length 1 may carry any stride, and empty arrays are contiguous.
void check_c_contiguous(const Array& a, const char* name);
void check_disjoint(const Array& src, const Array& out);

}  // namespace imggen::py
