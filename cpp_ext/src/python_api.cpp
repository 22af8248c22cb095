// Argument checking for imggen_rt._postproc: every error a caller can cause becomes one
// ValueError line naming what was wrong and what was expected.
#include "imggen/python_api.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "imggen/denormalize.h"
#include "imggen/denormalize_cpu.h"
#if defined(IMGGEN_WITH_CUDA)
#include "imggen/denormalize_cuda.h"
#endif

namespace imggen::py {
namespace {

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

bool is(dl::dtype t, dl::dtype_code code, int bits) {
    return t.code == static_cast<std::uint8_t>(code) && t.bits == bits && t.lanes == 1;
}

// __cuda_array_interface__ (numba, CuPy, cuda-python, PyCUDA...): nanobind reads only DLPack
// and the buffer protocol, so the dict is read here.
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

Array import_array(nb::handle obj, const char* name, bool writable) {
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
        fail(std::string(name) + " must be " + (writable ? "uint8" : "float32 or float16") +
             "; got " + got + " of dtype " + nb::str(nb::handle(dtype)).c_str());
    }
    fail(std::string(name) + " must be an array (numpy, DLPack or __cuda_array_interface__); got " +
         got);
}

void check_device(const Array& a, const char* name, bool cuda) {
    const bool ok = cuda ? (a.device_type == kDeviceCuda || a.device_type == kDeviceCudaManaged)
                         : (a.device_type == kDeviceCpu || a.device_type == kDeviceCudaHost);
    if (!ok)
        fail(std::string(name) + " must be a " + (cuda ? "CUDA device" : "CPU") +
             " array; got a " + device_str(a.device_type) + " array (use " +
             (cuda ? "denormalize() for CPU arrays)" : "denormalize_cuda() for device arrays)"));
}

// numpy's rule: axes of length 1 may carry any stride, and empty arrays are contiguous.
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

DenormParams params_or_fail(double low, double high) {
    DenormParams p{};
    if (make_params(low, high, &p)) return p;
    const float lo = static_cast<float>(low), hi = static_cast<float>(high);
    const char* why = "the range is too narrow: 255 / (high - low) overflows float32";
    if (!std::isfinite(lo) || !std::isfinite(hi))
        why = "low and high must be finite float32 values";
    else if (!(lo < hi))
        why = "low must be less than high (low < high in float32)";
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s; got low=%.9g, high=%.9g", why, low, high);
    fail(buf);
}

void check_src(const Array& a, bool cuda) {
    if (a.shape.size() != 4)
        fail("src must be 4-D (N, C, H, W); got " + std::to_string(a.shape.size()) +
             "-D shape " + shape_str(a.shape));
    if (!is(a.dtype, dl::dtype_code::Float, 32) && !is(a.dtype, dl::dtype_code::Float, 16))
        fail("src must be float32 or float16; got " + dtype_str(a.dtype));
    const std::int64_t c = a.shape[1];
    if (c != 1 && c != 3) {
        const bool nhwc = a.shape[3] == 1 || a.shape[3] == 3;
        fail("src must have 1 or 3 channels on axis 1 (N, C, H, W); got shape " +
             shape_str(a.shape) + (nhwc ? " (channels-last input? this op takes NCHW)" : ""));
    }
    check_device(a, "src", cuda);
    check_c_contiguous(a, "src");
}

Layout layout_or_fail(nb::handle order, std::int64_t channels) {
    std::string o;
    if (nb::isinstance<nb::str>(order)) o = nb::cast<std::string>(order);
    if (o != "rgb" && o != "bgr" && o != "gray")
        fail(std::string("order must be 'rgb', 'bgr' or 'gray'; got ") + nb::repr(order).c_str());
    if (channels == 3)
        return o == "rgb" ? Layout::rgb_from_rgb : o == "bgr" ? Layout::bgr_from_rgb
                                                              : Layout::gray_from_rgb;
    return o == "gray" ? Layout::gray_from_gray : Layout::rgb_from_gray;
}

void check_out(const Array& o, const std::vector<std::int64_t>& expected, bool cuda) {
    if (o.shape != expected)
        fail("out must have shape " + shape_str(expected) + " (N, H, W, output channels); got " +
             shape_str(o.shape));
    if (!is(o.dtype, dl::dtype_code::UInt, 8))
        fail("out must be uint8; got " + dtype_str(o.dtype));
    check_device(o, "out", cuda);
    check_c_contiguous(o, "out");
}

void check_disjoint(const Array& src, const Array& out) {
    const auto* s = static_cast<const char*>(src.data);
    const auto* d = static_cast<const char*>(out.data);
    if (src.nbytes() && out.nbytes() && s < d + out.nbytes() && d < s + src.nbytes())
        fail("out must not share memory with src");
}

DenormJob make_job(const Array& src, Layout layout, DenormParams p, const Array& out) {
    DenormJob job{};
    job.src = src.data;
    job.dtype = src.dtype.bits == 32 ? DType::f32 : DType::f16;
    job.n = src.shape[0];
    job.h = src.shape[2];
    job.w = src.shape[3];
    job.layout = layout;
    job.params = p;
    job.dst = static_cast<std::uint8_t*>(out.data);
    return job;
}

std::vector<std::int64_t> out_shape(const Array& src, Layout layout) {
    return {src.shape[0], src.shape[2], src.shape[3], output_channels(layout)};
}

}  // namespace

nb::object denormalize(nb::handle src, double low, double high, nb::handle order,
                       nb::handle out) {
    const DenormParams p = params_or_fail(low, high);
    const Array s = import_array(src, "src", false);
    check_src(s, false);
    const Layout layout = layout_or_fail(order, s.shape[1]);
    const std::vector<std::int64_t> shape = out_shape(s, layout);

    nb::object result;
    if (out.is_none()) {
        nb::object np_empty = nb::module_::import_("numpy").attr("empty");
        result = np_empty(nb::make_tuple(shape[0], shape[1], shape[2], shape[3]), "uint8");
    } else {
        result = nb::borrow(out);
    }
    const Array o = import_array(result, "out", true);
    check_out(o, shape, false);
    check_disjoint(s, o);

    const DenormJob job = make_job(s, layout, p, o);
    if (s.size() > 0) {
        nb::gil_scoped_release unlocked;
        denormalize_cpu(job);
    }
    return result;
}

void denormalize_cuda(nb::handle src, double low, double high, nb::handle order,
                      nb::handle out, std::uintptr_t stream) {
#if defined(IMGGEN_WITH_CUDA)
    const DenormParams p = params_or_fail(low, high);
    const Array s = import_array(src, "src", false);
    check_src(s, true);
    const Layout layout = layout_or_fail(order, s.shape[1]);
    const std::vector<std::int64_t> shape = out_shape(s, layout);
    if (out.is_none())
        fail("out is required: a CUDA uint8 array of shape " + shape_str(shape));
    const Array o = import_array(out, "out", true);
    check_out(o, shape, true);
    check_disjoint(s, o);
    if (s.device_id >= 0 && o.device_id >= 0 && s.device_id != o.device_id)
        fail("src and out must be on the same device; got cuda:" + std::to_string(s.device_id) +
             " and cuda:" + std::to_string(o.device_id));
    if (imggen::cuda_device_count() == 0)
        throw std::runtime_error("imggen_rt._postproc: no usable CUDA device (" +
                                 imggen::cuda_device_error() + ")");
    const int device = s.device_id >= 0 ? s.device_id : o.device_id;
    imggen::denormalize_cuda(make_job(s, layout, p, o), device, stream);
#else
    (void)src, (void)low, (void)high, (void)order, (void)out, (void)stream;
    throw std::runtime_error(
        "imggen_rt._postproc was built without CUDA (no nvcc at build time, or IMGGEN_CUDA=OFF); "
        "use denormalize() on CPU arrays or rebuild with IMGGEN_CUDA=ON");
#endif
}

bool built_with_cuda() {
#if defined(IMGGEN_WITH_CUDA)
    return true;
#else
    return false;
#endif
}

int cuda_device_count() {
#if defined(IMGGEN_WITH_CUDA)
    return imggen::cuda_device_count();
#else
    return 0;
#endif
}

std::vector<int> cuda_architectures() {
#if defined(IMGGEN_WITH_CUDA) && defined(IMGGEN_CUDA_ARCHS)
    return {IMGGEN_CUDA_ARCHS};
#else
    return {};
#endif
}

int openmp_threads() { return imggen::openmp_threads(); }

}  // namespace imggen::py
