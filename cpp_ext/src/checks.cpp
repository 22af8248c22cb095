// The argument checks shared by every binding of imggen_rt._postproc (see checks.h).
#include "checks.h"

#include <nanobind/stl/string.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "imggen/limits.h"

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

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
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
        if (a.shape.size() > 32) throw std::invalid_argument("too many dimensions");
        const std::string ts = nb::cast<std::string>(cai["typestr"]);
        const std::string kinds = "fuibc";
        if (ts.size() < 3 || ts.size() > 4 || ts[0] == '>' ||
            kinds.find(ts[1]) == std::string::npos ||
            ts.find_first_not_of("0123456789", 2) != std::string::npos)
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
            // C order; the strides only matter for a non-empty array, whose extents multiply
            // within kMaxArrayBytes (checked below), so a plain product is safe there.
            a.strides.assign(a.shape.size(), 0);
            std::int64_t acc = 1;
            for (std::size_t i = a.shape.size(); i-- > 0;) {
                a.strides[i] = acc;
                if (a.shape[i] > 0 && acc <= kMaxArrayBytes / a.shape[i]) acc *= a.shape[i];
            }
        } else {
            std::vector<std::int64_t> byte_strides;
            for (nb::handle s : nb::cast<nb::tuple>(strides))
                byte_strides.push_back(nb::cast<std::int64_t>(s));
            if (byte_strides.size() != a.shape.size())
                throw std::invalid_argument("strides and shape differ in length");
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

// numpy has no bfloat16 of its own: ml_dtypes adds one (what OpenVINO's bf16 tensors come back
// as), which neither the buffer protocol nor numpy's DLPack export can carry. Such an array is
// read through a uint16 view of its bits and marked bfloat16 again.
bool bfloat16_bits(nb::handle obj, Array* out) {
    if (!nb::hasattr(obj, "dtype") || !nb::hasattr(obj, "view")) return false;
    const nb::object dtype = obj.attr("dtype");
    if (!nb::hasattr(dtype, "name") || !nb::hasattr(dtype, "itemsize")) return false;
    nb::str dtype_name;
    if (!nb::try_cast(dtype.attr("name"), dtype_name, false)) return false;
    if (std::string(dtype_name.c_str()) != "bfloat16") return false;
    nb::ndarray<nb::ro> bits;
    try {
        if (!nb::try_cast(obj.attr("view")("uint16"), bits, false)) return false;
    } catch (const nb::python_error&) {
        return false;  // not numpy's view(): reported as an unsupported dtype by the caller
    }
    *out = from_ndarray(bits);
    out->dtype = dl::dtype{static_cast<std::uint8_t>(dl::dtype_code::Bfloat), 16, 1};
    return true;
}

// Extents >= 0, and the product of the non-zero ones times the item size below
// kMaxArrayBytes: every count formed from them later fits in int64.
Array finish(Array a, const char* name) {
    a.name = name;
    std::int64_t product = a.itemsize() > 0 ? a.itemsize() : 1;
    bool zero = false;
    for (std::int64_t s : a.shape) {
        if (s < 0) fail(std::string(name) + " has a negative extent: shape " + shape_str(a.shape));
        if (s == 0) {
            zero = true;
            continue;
        }
        if (product > kMaxArrayBytes / s)
            fail(std::string(name) + " has shape " + shape_str(a.shape) +
                 ": too large (its extents multiply past 2^62 bytes)");
        product *= s;
    }
    a.count = zero ? 0 : product / (a.itemsize() > 0 ? a.itemsize() : 1);
    return a;
}

}  // namespace

Array import_array(nb::handle obj, const char* name, bool writable, const char* expected_dtype) {
    if (writable) {
        nb::ndarray<> t;
        if (nb::try_cast(obj, t, false)) return finish(from_ndarray(t), name);
    }
    nb::ndarray<nb::ro> t;
    if (nb::try_cast(obj, t, false)) {
        if (writable) fail(std::string(name) + " is read-only; it must be writable");
        return finish(from_ndarray(t), name);
    }
    if (nb::hasattr(obj, "__cuda_array_interface__"))
        return finish(from_cuda_array_interface(obj, name, writable), name);
    if (!writable) {
        Array a;
        if (bfloat16_bits(obj, &a)) return finish(a, name);
    }
    const std::string got = nb::inst_name(obj).c_str();
    if (nb::hasattr(obj, "dtype")) {  // an array type whose dtype DLPack cannot carry
        const nb::object dtype = obj.attr("dtype");
        fail(std::string(name) + " must be " + expected_dtype + "; got " + got + " of dtype " +
             nb::str(nb::handle(dtype)).c_str());
    }
    fail(std::string(name) + " must be an array (numpy, DLPack or __cuda_array_interface__); got " +
         got);
}

void check_device(const Array& a, bool cuda) {
    const bool ok = cuda ? (a.device_type == kDeviceCuda || a.device_type == kDeviceCudaManaged)
                         : (a.device_type == kDeviceCpu || a.device_type == kDeviceCudaHost);
    if (!ok)
        fail(a.name + " must be a " + (cuda ? "CUDA device" : "CPU") + " array; got a " +
             device_str(a.device_type) + " array (" +
             (cuda ? "CPU arrays go to the functions without _cuda)"
                   : "device arrays go to the *_cuda functions)"));
}

void check_c_contiguous(const Array& a) {
    if (a.empty()) return;
    std::int64_t expected = 1;
    for (std::size_t i = a.shape.size(); i-- > 0;) {
        if (a.shape[i] != 1 && a.strides[i] != expected) {
            std::vector<std::int64_t> bytes;
            for (auto s : a.strides) bytes.push_back(s * a.itemsize());
            fail(a.name + " must be C-contiguous; got byte strides " + shape_str(bytes) +
                 " for shape " + shape_str(a.shape) + " (use numpy.ascontiguousarray)");
        }
        expected *= a.shape[i];
    }
}

void check_aligned(const Array& a) {
    if (a.empty() || a.itemsize() <= 1) return;
    const auto address = reinterpret_cast<std::uintptr_t>(a.data);
    if (address % static_cast<std::uintptr_t>(a.itemsize()) != 0)
        fail(a.name + " is not aligned: its data starts at an address that is not a multiple of " +
             std::to_string(a.itemsize()) + " bytes (" + dtype_str(a.dtype) +
             "); pass an aligned copy, e.g. numpy.require(a, requirements='CA')");
}

void check_layout(const Array& a) {
    check_c_contiguous(a);
    check_aligned(a);
}

namespace {

bool overlaps(const Array& a, const Array& b) {
    if (a.empty() || b.empty()) return false;
    const auto* s = static_cast<const char*>(a.data);
    const auto* d = static_cast<const char*>(b.data);
    return s < d + b.nbytes() && d < s + a.nbytes();
}

template <class Read>
void no_aliasing(std::initializer_list<const Array*> written, const Read& read) {
    for (const Array* w : written) {
        for (const Array* o : written)
            if (o != w && overlaps(*w, *o))
                fail(w->name + " must not share memory with " + o->name);
        for (const Array* o : read)
            if (o != w && overlaps(*w, *o))
                fail(w->name + " must not share memory with " + o->name);
    }
}

}  // namespace

void check_no_aliasing(std::initializer_list<const Array*> written,
                       std::initializer_list<const Array*> read) {
    no_aliasing(written, read);
}

void check_no_aliasing(std::initializer_list<const Array*> written,
                       const std::vector<const Array*>& read) {
    no_aliasing(written, read);
}

void check_dtype(const Array& a, Elem e) {
    if (!is(a.dtype, e.code, e.bits))
        fail(a.name + " must be " + e.name + "; got " + dtype_str(a.dtype));
}

Array checked(nb::handle obj, const char* name, bool writable, Elem e, std::size_t ndim,
              bool cuda) {
    const Array a = import_array(obj, name, writable, e.name);
    check_dtype(a, e);
    if (a.shape.size() != ndim)
        fail(std::string(name) + " must be " + std::to_string(ndim) + "-D; got shape " +
             shape_str(a.shape));
    check_device(a, cuda);
    check_layout(a);
    return a;
}

void check_shape(const Array& a, const std::vector<std::int64_t>& expected, const char* what) {
    if (a.shape != expected)
        fail(a.name + " must have shape " + shape_str(expected) + what + "; got " +
             shape_str(a.shape));
}

void check_same_shape(const Array& a, const Array& b) {
    if (a.shape != b.shape)
        fail(b.name + " must have the shape of " + a.name + " " + shape_str(a.shape) + "; got " +
             shape_str(b.shape));
}

void check_channels(const Array& frames, std::int64_t lo, std::int64_t hi) {
    const std::int64_t c = frames.shape.back();
    if (c < lo || c > hi)
        fail(frames.name + " must be (N, H, W, C) uint8 with C in " + std::to_string(lo) + ".." +
             std::to_string(hi) + "; got shape " + shape_str(frames.shape));
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
    if (source_channels == 4) {
        if (o == "gray") fail("an RGBA source has no gray layout: order 'rgb' or 'bgr'");
        return o == "rgb" ? Layout::rgba_from_rgba : Layout::bgra_from_rgba;
    }
    if (source_channels == 3)
        return o == "rgb"   ? Layout::rgb_from_rgb
               : o == "bgr" ? Layout::bgr_from_rgb
                            : Layout::gray_from_rgb;
    return o == "gray" ? Layout::gray_from_gray : Layout::rgb_from_gray;
}

namespace {

std::string short_repr(nb::handle v) {
    std::string r = nb::repr(v).c_str();
    if (r.size() > 40) r = r.substr(0, 37) + "...";
    return r;
}

}  // namespace

double number_or_fail(nb::handle v, const char* name) {
    if (!v.is_valid() || v.is_none() || nb::isinstance<nb::str>(v) || nb::isinstance<nb::bytes>(v))
        fail(std::string(name) + " must be a number; got " + short_repr(v));
    const double d = PyFloat_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred()) {
        const bool overflow = PyErr_ExceptionMatches(PyExc_OverflowError);
        PyErr_Clear();
        if (overflow)
            fail(std::string(name) + " must be a finite float32 value; got " + short_repr(v));
        fail(std::string(name) + " must be a number; got " + short_repr(v));
    }
    return d;
}

float finite_or_fail(double v, const char* name) {
    if (!(std::fabs(v) <= static_cast<double>(FLT_MAX)))  // NaN too
        fail(std::string(name) + " must be a finite float32 value; got " + num(v));
    return static_cast<float>(v);
}

float finite_or_fail(nb::handle v, const char* name) {
    return finite_or_fail(number_or_fail(v, name), name);
}

bool bool_or_fail(nb::handle v, const char* name) {
    if (v.is(Py_True)) return true;
    if (v.is(Py_False)) return false;
    if (v.is_valid() && std::string(nb::inst_name(v).c_str()) == "numpy.bool")
        return PyObject_IsTrue(v.ptr()) == 1;
    if (v.is_valid() && std::string(nb::inst_name(v).c_str()) == "numpy.bool_")
        return PyObject_IsTrue(v.ptr()) == 1;
    fail(std::string(name) + " must be True or False; got " + short_repr(v));
}

int device_of(const Array& a, const Array& b, const char* what) {
    if (a.device_id >= 0 && b.device_id >= 0 && a.device_id != b.device_id)
        fail(std::string(what) + " must be on the same device; got cuda:" +
             std::to_string(a.device_id) + " and cuda:" + std::to_string(b.device_id));
    return a.device_id >= 0 ? a.device_id : b.device_id;
}

#if defined(IMGGEN_WITH_CUDA)
namespace {

template <class Arrays>
void require_cuda(const Arrays& arrays) {
    if (imggen::cuda_device_count() == 0)
        throw std::runtime_error("imggen_rt._postproc: no usable CUDA device (" +
                                 imggen::cuda_device_error() + ")");
    for (const Array* a : arrays) {
        if (a->empty()) continue;
        const std::string problem = imggen::cuda_pointer_problem(a->data);
        if (!problem.empty())
            fail(a->name + "'s data pointer is not readable by the device: " + problem);
    }
}

}  // namespace

void require_cuda_device(std::initializer_list<const Array*> arrays) { require_cuda(arrays); }
void require_cuda_device(const std::vector<const Array*>& arrays) { require_cuda(arrays); }
#endif

void no_cuda(const char* cpu_alternative) {
    throw std::runtime_error(
        std::string("imggen_rt._postproc was built without CUDA (no nvcc at build time, or "
                    "IMGGEN_CUDA=OFF); use ") +
        cpu_alternative + " or rebuild with IMGGEN_CUDA=ON");
}

}  // namespace imggen::py
