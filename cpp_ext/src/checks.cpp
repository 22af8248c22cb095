// The argument checks shared by every binding of imggen_rt._postproc (see checks.h).
#include "checks.h"

#include <nanobind/stl/string.h>

#include <cmath>
#include <exception>
#include <stdexcept>

#if defined(IMGGEN_WITH_CUDA)
#include "cuda_device.h"
#endif

namespace imggen::py {

[[noreturn]] void fail(const std::string& msg) { throw nb::value_error(msg.c_str()); }

std::string shape_str(const std::vector<std::int64_t>& v) {
    std::string s = "(";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + (v.size() == 1 ? ",)" : ")");
}

std::string dtype_str(dl::dtype t) {
    std::string base;
    switch (static_cast<dl::dtype_code>(t.code)) {
        case dl::dtype_code::Int: base = "int"; break;
        case dl::dtype_code::UInt: base = "uint"; break;
        case dl::dtype_code::Float: base = "float"; break;
        case dl::dtype_code::Bfloat: base = "bfloat"; break;
        case dl::dtype_code::Complex: base = "complex"; break;
        case dl::dtype_code::Bool: return "bool";
        default: base = "dtype-code-" + std::to_string(t.code) + "-bits-";
    }
    std::string s = base + std::to_string(t.bits);
    if (t.lanes != 1) s += "x" + std::to_string(t.lanes);
    return s;
}

bool is(dl::dtype t, dl::dtype_code code, int bits) {
    return t.code == static_cast<std::uint8_t>(code) && t.bits == bits && t.lanes == 1;
}

// __cuda_array_interface__ (numba, CuPy, cuda-python, PyCUDA...): nanobind reads only DLPack
// and the buffer protocol, so the dict is read here.
namespace {

std::string device_str(int device_type) {
    switch (device_type) {
        case kDeviceCpu: return "CPU";
        case kDeviceCuda: return "CUDA";
        case kDeviceCudaHost: return "CUDA pinned host";
        case kDeviceCudaManaged: return "CUDA managed";
        case 10: return "ROCm";
        default: return "DLPack device type " + std::to_string(device_type);
    }
}

Array from_cuda_array_interface(nb::handle obj, const char* name, bool writable) {
    Array a;
    try {
        nb::dict cai = nb::cast<nb::dict>(obj.attr("__cuda_array_interface__"));
        nb::tuple data = nb::cast<nb::tuple>(cai["data"]);
        a.data = reinterpret_cast<void*>(nb::cast<std::uintptr_t>(data[0]));
        const bool readonly = nb::cast<bool>(data[1]);
        if (writable && readonly) fail(std::string(name) + " is read-only; it must be writable");
        for (nb::handle s : nb::cast<nb::tuple>(cai["shape"])) {
            a.shape.push_back(nb::cast<std::int64_t>(s));
            if (a.shape.back() < 0) throw std::invalid_argument("negative extent");
        }
        const std::string ts = nb::cast<std::string>(cai["typestr"]);
        const std::string kinds = "fuibc";
        if (ts.size() < 3 || ts[0] == '>' || kinds.find(ts[1]) == std::string::npos)
            fail(std::string(name) + " has unsupported typestr '" + ts + "'");
        const dl::dtype_code codes[] = {dl::dtype_code::Float, dl::dtype_code::UInt,
                                        dl::dtype_code::Int, dl::dtype_code::Bool,
                                        dl::dtype_code::Complex};
        const int bytes = std::stoi(ts.substr(2));
        if (bytes <= 0 || bytes > 16)
            fail(std::string(name) + " has unsupported typestr '" + ts + "'");
        a.dtype = dl::dtype{static_cast<std::uint8_t>(codes[kinds.find(ts[1])]),
                            static_cast<std::uint8_t>(bytes * 8), 1};
        nb::object strides = cai.contains("strides") ? nb::borrow(cai["strides"]) : nb::none();
        if (strides.is_none()) {
            a.strides.assign(a.shape.size(), 0);
            std::int64_t acc = 1;
            for (std::size_t i = a.shape.size(); i-- > 0;) {
                a.strides[i] = acc;
                acc *= a.shape[i];
            }
        } else {
            std::vector<std::int64_t> byte_strides;
            for (nb::handle s : nb::cast<nb::tuple>(strides))
                byte_strides.push_back(nb::cast<std::int64_t>(s));
            for (std::int64_t b : byte_strides) {
                if (b % bytes != 0)  // not a whole number of elements: cannot be contiguous
                    fail(std::string(name) + " must be C-contiguous; got byte strides " +
                         shape_str(byte_strides) + " for shape " + shape_str(a.shape));
                a.strides.push_back(b / bytes);
            }
        }
    } catch (const nb::builtin_exception&) {
        throw;
    } catch (const std::exception&) {
        fail(std::string(name) + " has a malformed __cuda_array_interface__");
    }
    a.device_type = kDeviceCuda;
    a.device_id = -1;
    return a;
}

template <class NdArray>
Array from_ndarray(const NdArray& t) {
    Array a;
    a.data = const_cast<void*>(static_cast<const void*>(t.data()));
    for (std::size_t i = 0; i < t.ndim(); ++i) {
        a.shape.push_back(static_cast<std::int64_t>(t.shape(i)));
        a.strides.push_back(t.stride(i));
    }
    a.dtype = t.dtype();
    a.device_type = t.device_type();
    a.device_id = t.device_id();
    a.keep = nb::ndarray<nb::ro>(t);
    return a;
}

}  // namespace

Array import_array(nb::handle obj, const char* name, bool writable, const char* expected_dtype) {
    if (writable) {
        nb::ndarray<> t;
        if (nb::try_cast(obj, t, false)) return from_ndarray(t);
    }
    nb::ndarray<nb::ro> t;
    if (nb::try_cast(obj, t, false)) {
        if (writable) fail(std::string(name) + " is read-only; it must be writable");
        return from_ndarray(t);
    }
    if (nb::hasattr(obj, "__cuda_array_interface__"))
        return from_cuda_array_interface(obj, name, writable);
    const std::string got = nb::inst_name(obj).c_str();
    if (nb::hasattr(obj, "dtype")) {  // an array type whose dtype DLPack cannot carry
        const nb::object dtype = obj.attr("dtype");
        fail(std::string(name) + " must be " + expected_dtype + "; got " + got + " of dtype " +
             nb::str(nb::handle(dtype)).c_str());
    }
    fail(std::string(name) + " must be an array (numpy, DLPack or __cuda_array_interface__); got " +
         got);
}

void check_device(const Array& a, const char* name, bool cuda) {
    const bool ok = cuda ? (a.device_type == kDeviceCuda || a.device_type == kDeviceCudaManaged)
                         : (a.device_type == kDeviceCpu || a.device_type == kDeviceCudaHost);
    if (!ok)
        fail(std::string(name) + " must be a " + (cuda ? "CUDA device" : "CPU") + " array; got a " +
             device_str(a.device_type) + " array (" +
             (cuda ? "CPU arrays go to the functions without _cuda)"
                   : "device arrays go to the *_cuda functions)"));
}

void check_c_contiguous(const Array& a, const char* name) {
    if (a.size() == 0) return;
    std::int64_t expected = 1;
    for (std::size_t i = a.shape.size(); i-- > 0;) {
        if (a.shape[i] != 1 && a.strides[i] != expected) {
            std::vector<std::int64_t> bytes;
            for (auto s : a.strides) bytes.push_back(s * (a.dtype.bits / 8));
            fail(std::string(name) + " must be C-contiguous; got byte strides " + shape_str(bytes) +
                 " for shape " + shape_str(a.shape) + " (use numpy.ascontiguousarray)");
        }
        expected *= a.shape[i];
    }
}

void check_disjoint(const Array& src, const Array& out) {
    const auto* s = static_cast<const char*>(src.data);
    const auto* d = static_cast<const char*>(out.data);
    if (src.nbytes() && out.nbytes() && s < d + out.nbytes() && d < s + src.nbytes())
        fail("out must not share memory with src");
}

void check_dtype(const Array& a, const char* name, Elem e) {
    if (!is(a.dtype, e.code, e.bits))
        fail(std::string(name) + " must be " + e.name + "; got " + dtype_str(a.dtype));
}

Array checked(nb::handle obj, const char* name, bool writable, Elem e, std::size_t ndim,
              bool cuda) {
    const Array a = import_array(obj, name, writable, e.name);
    check_dtype(a, name, e);
    if (a.shape.size() != ndim)
        fail(std::string(name) + " must be " + std::to_string(ndim) + "-D; got shape " +
             shape_str(a.shape));
    check_device(a, name, cuda);
    check_c_contiguous(a, name);
    return a;
}

void check_shape(const Array& a, const char* name, const std::vector<std::int64_t>& expected,
                 const char* what) {
    if (a.shape != expected)
        fail(std::string(name) + " must have shape " + shape_str(expected) + what + "; got " +
             shape_str(a.shape));
}

void check_same_shape(const Array& a, const char* an, const Array& b, const char* bn) {
    if (a.shape != b.shape)
        fail(std::string(bn) + " must have the shape of " + an + " " + shape_str(a.shape) +
             "; got " + shape_str(b.shape));
}

std::vector<std::int64_t> mask_shape(const Array& frames) {
    return {frames.shape[0], frames.shape[1], frames.shape[2]};
}

nb::object out_or_new(nb::handle out, const std::vector<std::int64_t>& shape, const char* dtype) {
    if (!out.is_none()) return nb::borrow(out);
    nb::object np_empty = nb::module_::import_("numpy").attr("empty");
    nb::list dims;
    for (auto d : shape) dims.append(d);
    return np_empty(nb::tuple(dims), dtype);
}

Layout layout_or_fail(nb::handle order, std::int64_t source_channels) {
    std::string o;
    if (nb::isinstance<nb::str>(order)) o = nb::cast<std::string>(order);
    if (o != "rgb" && o != "bgr" && o != "gray")
        fail(std::string("order must be 'rgb', 'bgr' or 'gray'; got ") + nb::repr(order).c_str());
    if (source_channels == 3)
        return o == "rgb"   ? Layout::rgb_from_rgb
               : o == "bgr" ? Layout::bgr_from_rgb
                            : Layout::gray_from_rgb;
    return o == "gray" ? Layout::gray_from_gray : Layout::rgb_from_gray;
}

float finite_or_fail(double v, const char* name) {
    const float f = static_cast<float>(v);
    if (!std::isfinite(f)) fail(std::string(name) + " must be finite; got " + std::to_string(v));
    return f;
}

int device_of(const Array& a, const Array& b, const char* what) {
    if (a.device_id >= 0 && b.device_id >= 0 && a.device_id != b.device_id)
        fail(std::string(what) + " must be on the same device; got cuda:" +
             std::to_string(a.device_id) + " and cuda:" + std::to_string(b.device_id));
    return a.device_id >= 0 ? a.device_id : b.device_id;
}

#if defined(IMGGEN_WITH_CUDA)
void require_cuda_device() {
    if (imggen::cuda_device_count() == 0)
        throw std::runtime_error("imggen_rt._postproc: no usable CUDA device (" +
                                 imggen::cuda_device_error() + ")");
}
#endif

void no_cuda(const char* cpu_alternative) {
    throw std::runtime_error(
        std::string("imggen_rt._postproc was built without CUDA (no nvcc at build time, or "
                    "IMGGEN_CUDA=OFF); use ") +
        cpu_alternative + " or rebuild with IMGGEN_CUDA=ON");
}

}  // namespace imggen::py
