"""imggen_rt._postproc (the compiled denormalize) against its numpy reference, exactly.

The CPU loop and the CUDA kernel share one inline function, so exact agreement here also
pins the GPU math; the `gpu` tests check the kernel itself where a device exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imggen_rt import _postproc
from imggen_rt.postprocess import cuda_device_usable, denormalize, denormalize_reference

ORDERS = ("rgb", "bgr", "gray")
RANGES = ((-1.0, 1.0), (0.0, 1.0), (0.0, 255.0))
SHAPES = ((1, 3, 1, 7), (3, 1, 5, 3), (2, 3, 4, 5), (1, 1, 1, 1), (2, 3, 33, 65), (2, 3, 128, 128))
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 3.4e38], np.float32)


def make_images(shape: tuple[int, ...], dtype: Any, low: float, high: float, seed: int = 0) -> Any:
    """Values spread 20% beyond [low, high] on both sides, with NaN/inf/huge sprinkled in."""
    rng = np.random.default_rng(seed)
    span = high - low
    x = rng.uniform(low - 0.2 * span, high + 0.2 * span, size=shape).astype(np.float32)
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, size=min(flat.size, len(SPECIALS)), replace=False)
    flat[idx] = SPECIALS[: len(idx)]
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def assert_same(got: Any, want: Any) -> None:
    assert got.dtype == np.uint8
    assert got.shape == want.shape
    diff = np.argwhere(got != want)
    assert diff.size == 0, f"{len(diff)} pixels differ, first at {tuple(diff[0])}"


# --- the op's meaning, by hand (checks the reference and the extension alike) --------------------


@pytest.mark.parametrize("fn", [denormalize, denormalize_reference], ids=["ext", "ref"])
def test_known_values(fn: Any) -> None:
    # [-1, 1]: scale 127.5, offset 128. -1 -> 0.5 -> 0, 1 -> 255.5 -> 255, 0 -> 128 (half up).
    v = np.array([-1, 1, 0, -2, 2, np.nan, np.inf, -np.inf], np.float32)
    x = v.reshape(1, 1, 1, -1)
    got = fn(x, -1.0, 1.0, "gray")[0, 0, :, 0]
    assert got.tolist() == [0, 255, 128, 0, 255, 0, 255, 0]
    # round half up at an exact .5: [0, 255] has scale 1, offset .5; 2.5 + .5 = 3.0 -> 3.
    half = np.array([2.5, 2.49, 254.5, 254.6], np.float32).reshape(1, 1, 1, -1)
    assert fn(half, 0.0, 255.0, "gray")[0, 0, :, 0].tolist() == [3, 2, 255, 255]


@pytest.mark.parametrize("fn", [denormalize, denormalize_reference], ids=["ext", "ref"])
def test_channel_orders(fn: Any) -> None:
    rgb = np.array([0.0, 0.5, 1.0], np.float32).reshape(1, 3, 1, 1)  # r=0, g=.5, b=1 in [0, 1]
    assert fn(rgb, 0.0, 1.0, "rgb")[0, 0, 0].tolist() == [0, 128, 255]
    assert fn(rgb, 0.0, 1.0, "bgr")[0, 0, 0].tolist() == [255, 128, 0]
    # luma = .587 * .5 + .114 = .4075 -> 103.9125 + .5 -> 104
    assert fn(rgb, 0.0, 1.0, "gray")[0, 0, 0].tolist() == [104]
    one = np.full((1, 1, 1, 1), 0.25, np.float32)
    assert fn(one, 0.0, 1.0, "rgb")[0, 0, 0].tolist() == [64, 64, 64]
    assert fn(one, 0.0, 1.0, "bgr")[0, 0, 0].tolist() == [64, 64, 64]
    assert fn(one, 0.0, 1.0, "gray")[0, 0, 0].tolist() == [64]


def test_layout_nchw_to_nhwc() -> None:
    x = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    got = denormalize(x, 0.0, 255.0, "rgb")
    assert_same(got, x.transpose(0, 2, 3, 1).astype(np.uint8))
    assert_same(denormalize(x, 0.0, 255.0, "bgr"), got[..., ::-1])


# --- extension == reference, exactly -------------------------------------------------------------


# bfloat16 is what a bf16 OpenVINO engine hands back (numpy's ml_dtypes type): read as is.
FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f16", "bf16"])
@pytest.mark.parametrize("low_high", RANGES, ids=lambda r: f"{r[0]:g}_{r[1]:g}")
@pytest.mark.parametrize("order", ORDERS)
def test_matches_reference(
    shape: tuple[int, ...], dtype: Any, low_high: tuple[float, float], order: str
) -> None:
    low, high = low_high
    x = make_images(shape, dtype, low, high, seed=sum(shape) + ORDERS.index(order))
    assert_same(denormalize(x, low, high, order), denormalize_reference(x, low, high, order))


def test_every_float16_value() -> None:
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16).reshape(4, 1, 128, 128)
    for low, high in RANGES:
        for order in ("gray", "rgb"):
            assert_same(
                denormalize(x, low, high, order), denormalize_reference(x, low, high, order)
            )
    x3 = x.reshape(1, 4, 128, 128)[:, :3].copy()
    assert_same(denormalize(x3, -1.0, 1.0, "gray"), denormalize_reference(x3, -1.0, 1.0, "gray"))


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f16", "bf16"])
@pytest.mark.parametrize("order", ["rgb", "bgr"])
@pytest.mark.parametrize("shape", [(2, 4, 5, 7), (1, 4, 33, 65), (3, 4, 1, 1)])
def test_rgba_matches_reference(shape: tuple[int, ...], dtype: Any, order: str) -> None:
    x = make_images(shape, dtype, -1.0, 1.0, seed=sum(shape))
    got = denormalize(x, -1.0, 1.0, order)
    assert got.shape == (shape[0], shape[2], shape[3], 4)
    assert_same(got, denormalize_reference(x, -1.0, 1.0, order))
    rgb = denormalize(np.ascontiguousarray(x[:, :3]), -1.0, 1.0, order)
    alpha = denormalize(np.ascontiguousarray(x[:, 3:]), -1.0, 1.0, "gray")
    assert_same(got, np.concatenate([rgb, alpha], axis=3))  # alpha maps like a colour channel


def test_every_bfloat16_value() -> None:
    bits = np.arange(1 << 16, dtype=np.uint16).reshape(4, 1, 128, 128)
    x = bits.view(ml_dtypes.bfloat16)
    widened = (bits.astype(np.uint32) << 16).view(np.float32)  # what bf16 means, by its bits
    for low, high in RANGES:
        for order in ("gray", "rgb"):
            want = denormalize_reference(widened, low, high, order)
            assert_same(denormalize(x, low, high, order), want)
            assert_same(denormalize_reference(x, low, high, order), want)
    x3 = x.reshape(1, 4, 128, 128)[:, :3].copy()
    w3 = widened.reshape(1, 4, 128, 128)[:, :3].copy()
    assert_same(denormalize(x3, -1.0, 1.0, "bgr"), denormalize_reference(w3, -1.0, 1.0, "bgr"))


def test_bfloat16_strided_and_read_only() -> None:
    x = make_images((2, 3, 6, 10), ml_dtypes.bfloat16, -1.0, 1.0)
    want = denormalize_reference(x, -1.0, 1.0, "rgb")
    assert_same(denormalize(x[:, :, :, ::-1], -1.0, 1.0), want[:, :, ::-1])
    x.flags.writeable = False
    assert_same(_postproc.denormalize(x, -1.0, 1.0), want)
    with pytest.raises(ValueError, match="C-contiguous"):
        _postproc.denormalize(x[:, :, :, ::2], -1.0, 1.0)


def fma_sensitive_values(low: float, high: float) -> Any:
    """Values next to the integer steps of v * scale + offset where a fused multiply-add
    truncates to a different integer than two float32 roundings do."""
    lo, hi = np.float32(low), np.float32(high)
    scale = np.float32(255) / (hi - lo)
    offset = np.float32(0.5) - lo * scale
    v0 = ((np.arange(1, 255) - np.float64(offset)) / np.float64(scale)).astype(np.float32)
    up, down, cands = v0.copy(), v0.copy(), [v0]
    for _ in range(64):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        cands += [up, down]
    v = np.concatenate(cands)
    two_roundings = np.trunc(v * scale + offset)
    fused = np.trunc(
        (v.astype(np.float64) * np.float64(scale) + np.float64(offset)).astype(np.float32)
    )
    return v[two_roundings != fused]


@pytest.mark.parametrize("low_high", [(-1.0, 1.0), (-1.5, 2.25)])
def test_no_fma_contraction(low_high: tuple[float, float]) -> None:
    v = fma_sensitive_values(*low_high)
    assert v.size > 20  # the probe must have teeth
    x = v.reshape(1, 1, 1, -1)
    assert_same(denormalize(x, *low_high, "gray"), denormalize_reference(x, *low_high, "gray"))


@st.composite
def image_batches(draw: st.DrawFn) -> tuple[Any, float, float, str]:
    dtype = draw(st.sampled_from(FLOATS))
    n, c = draw(st.integers(0, 3)), draw(st.sampled_from([1, 3]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 40))
    if dtype == ml_dtypes.bfloat16:  # hypothesis has no bfloat16: draw its bits
        x = draw(hnp.arrays(np.uint16, (n, c, h, w))).view(dtype)
    else:
        width = 32 if dtype == np.float32 else 16
        x = draw(hnp.arrays(dtype, (n, c, h, w), elements=st.floats(width=width)))
    low = draw(st.floats(-1e3, 1e3, width=32))
    high = low + draw(st.floats(2.0**-7, 2.0**10, width=32))
    return x, low, high, draw(st.sampled_from(ORDERS))


@settings(max_examples=300, deadline=None)
@given(image_batches())
def test_matches_reference_random(case: tuple[Any, float, float, str]) -> None:
    x, low, high, order = case
    assert_same(denormalize(x, low, high, order), denormalize_reference(x, low, high, order))


# --- out= ----------------------------------------------------------------------------------------


def test_out_is_filled_and_returned() -> None:
    out = np.full((2, 4, 5, 3), 7, np.uint8)
    for seed in range(3):  # a reused buffer
        x = make_images((2, 3, 4, 5), np.float32, -1.0, 1.0, seed)
        got = denormalize(x, -1.0, 1.0, "bgr", out=out)
        assert got is out
        assert_same(out, denormalize_reference(x, -1.0, 1.0, "bgr"))


def test_out_via_extension_returns_same_object() -> None:
    x = make_images((1, 1, 3, 3), np.float16, 0.0, 1.0)
    out = np.empty((1, 3, 3, 1), np.uint8)
    assert _postproc.denormalize(x, 0.0, 1.0, "gray", out) is out


def test_empty_batch() -> None:
    got = denormalize(np.zeros((0, 3, 4, 5), np.float32), -1.0, 1.0, "gray")
    assert got.shape == (0, 4, 5, 1) and got.dtype == np.uint8


# --- the Python wrapper --------------------------------------------------------------------------


def test_wrapper_takes_lists_and_strided_arrays() -> None:
    x = make_images((2, 3, 6, 10), np.float32, -1.0, 1.0)
    want = denormalize_reference(x, -1.0, 1.0, "rgb")
    assert_same(denormalize(x.tolist(), -1.0, 1.0, "rgb"), want)
    wide = np.zeros((2, 3, 6, 20), np.float32)
    wide[..., ::2] = x
    assert not wide[..., ::2].flags.c_contiguous
    assert_same(denormalize(wide[..., ::2], -1.0, 1.0, "rgb"), want)
    assert_same(denormalize(np.asfortranarray(x), -1.0, 1.0, "rgb"), want)


def test_read_only_source_is_fine() -> None:
    x = make_images((1, 3, 2, 2), np.float32, -1.0, 1.0)
    x.flags.writeable = False
    assert_same(denormalize(x, -1.0, 1.0), denormalize_reference(x, -1.0, 1.0))


def test_reference_rejects_bad_range() -> None:
    with pytest.raises(ValueError, match="low < high"):
        denormalize_reference(np.zeros((1, 1, 1, 1), np.float32), 1.0, 1.0)


# --- bad input: one-line ValueError, never a crash -----------------------------------------------

f32 = np.zeros((2, 3, 4, 5), np.float32)
_shared = np.zeros(2 * 3 * 4 * 5, np.float32)
_ro_out = np.zeros((2, 4, 5, 3), np.uint8)
_ro_out.flags.writeable = False

BAD_CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any], str]] = {
    "rank3": ((f32[0], -1.0, 1.0), {}, "4-D"),
    "rank5": ((f32[None], -1.0, 1.0), {}, "4-D"),
    "float64": ((f32.astype(np.float64), -1.0, 1.0), {}, "or bfloat16; got float64"),
    "int8": ((f32.astype(np.int8), -1.0, 1.0), {}, "got int8"),
    "uint8": ((f32.astype(np.uint8), -1.0, 1.0), {}, "got uint8"),
    "bool": ((f32.astype(bool), -1.0, 1.0), {}, "got bool"),
    "complex": ((f32.astype(np.complex64), -1.0, 1.0), {}, "got complex64"),
    "2ch": ((np.zeros((1, 2, 4, 4), np.float32), -1.0, 1.0), {}, "1, 3 or 4 channels"),
    "5ch": ((np.zeros((1, 5, 4, 4), np.float32), -1.0, 1.0), {}, "1, 3 or 4 channels"),
    "rgba-gray": ((np.zeros((1, 4, 4, 4), np.float32), -1.0, 1.0, "gray"), {}, "no gray layout"),
    "nhwc": ((np.zeros((1, 5, 5, 3), np.float32), -1.0, 1.0), {}, "NCHW"),
    "transposed": ((f32.transpose(0, 1, 3, 2), -1.0, 1.0), {}, "C-contiguous"),
    "strided": ((np.zeros((1, 3, 4, 10), np.float32)[..., ::2], -1.0, 1.0), {}, "C-contiguous"),
    "order_case": ((f32, -1.0, 1.0, "RGB"), {}, "'rgb', 'bgr' or 'gray'; got 'RGB'"),
    "order_type": ((f32, -1.0, 1.0, 3), {}, "got 3"),
    "order_none": ((f32, -1.0, 1.0, None), {}, "got None"),
    "low_eq_high": ((f32, 1.0, 1.0), {}, "low < high"),
    "low_gt_high": ((f32, 1.0, -1.0), {}, "low < high"),
    "low_nan": ((f32, float("nan"), 1.0), {}, "finite"),
    "high_inf": ((f32, 0.0, float("inf")), {}, "finite"),
    "beyond_float32": ((f32, 0.0, 1e39), {}, "finite"),
    "equal_in_float32": ((f32, 1.0, 1.0 + 1e-12), {}, "low < high"),
    "too_narrow": ((f32, 0.0, 1e-44), {}, "too narrow"),
    "not_array": (("images", -1.0, 1.0), {}, "must be an array"),
    "none": ((None, -1.0, 1.0), {}, "must be an array"),
    "object_array": ((np.array([[[[None]]]], dtype=object), -1.0, 1.0), {}, "dtype object"),
    "out_shape": ((f32, -1.0, 1.0, "rgb"), {"out": np.zeros((2, 4, 5, 1), np.uint8)}, "shape"),
    "out_nchw": ((f32, -1.0, 1.0, "rgb"), {"out": np.zeros((2, 3, 4, 5), np.uint8)}, "shape"),
    "out_dtype": ((f32, -1.0, 1.0, "rgb"), {"out": np.zeros((2, 4, 5, 3), np.float32)}, "uint8"),
    "out_strided": (
        (f32, -1.0, 1.0, "rgb"),
        {"out": np.zeros((2, 4, 10, 3), np.uint8)[:, :, ::2]},
        "C-contiguous",
    ),
    "out_read_only": ((f32, -1.0, 1.0, "rgb"), {"out": _ro_out}, "read-only"),
    "out_not_array": ((f32, -1.0, 1.0, "rgb"), {"out": [1, 2]}, "must be an array"),
    "out_aliases_src": (
        (_shared.reshape(2, 3, 4, 5), -1.0, 1.0, "gray"),
        {"out": _shared.view(np.uint8)[:40].reshape(2, 4, 5, 1)},
        "share memory",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_input_is_one_line_value_error(name: str) -> None:
    args, kwargs, expected = BAD_CALLS[name]
    with pytest.raises(ValueError) as info:
        _postproc.denormalize(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert expected in message, message


def test_wrapper_raises_the_same() -> None:
    with pytest.raises(ValueError, match="float32, float16 or bfloat16; got float64"):
        denormalize(np.zeros((1, 3, 2, 2)), -1.0, 1.0)


# --- module facts --------------------------------------------------------------------------------


def test_module_facts() -> None:
    assert _postproc.openmp_threads() >= 1
    count = _postproc.cuda_device_count()
    assert isinstance(count, int) and count >= 0
    assert cuda_device_usable() == (_postproc.built_with_cuda() and count > 0)
    archs = _postproc.cuda_architectures()
    if _postproc.built_with_cuda():
        assert {87, 90} <= set(archs), archs  # Jetson Orin, H100
    else:
        assert archs == [] and count == 0


# --- CUDA ----------------------------------------------------------------------------------------


class FakeDeviceArray:
    """Describes device memory through __cuda_array_interface__ without owning any."""

    def __init__(
        self,
        shape: tuple[int, ...],
        typestr: str,
        ptr: int = 0x1000,
        strides: tuple[int, ...] | None = None,
    ) -> None:
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "data": (ptr, False),
            "strides": strides,
            "version": 3,
        }


def test_denormalize_cuda_without_device_or_cuda_is_clear() -> None:
    if _postproc.cuda_device_count() > 0:
        pytest.skip("a CUDA device is present")
    src = FakeDeviceArray((1, 3, 4, 4), "<f4", 0x1000)
    out = FakeDeviceArray((1, 4, 4, 3), "|u1", 0x100000)
    with pytest.raises(RuntimeError) as info:
        _postproc.denormalize_cuda(src, -1.0, 1.0, "rgb", out)
    message = str(info.value)
    assert "\n" not in message
    if _postproc.built_with_cuda():
        assert "no usable CUDA device" in message
    else:
        assert "built without CUDA" in message


needs_cuda_build = pytest.mark.skipif(
    not _postproc.built_with_cuda(), reason="module built without CUDA"
)


@needs_cuda_build
@pytest.mark.parametrize(
    ("src", "out", "expected"),
    [
        (f32, FakeDeviceArray((2, 4, 5, 3), "|u1"), "src must be a CUDA device array; got a CPU"),
        (FakeDeviceArray((2, 3, 4, 5), "<f8"), FakeDeviceArray((2, 4, 5, 3), "|u1"), "float64"),
        (FakeDeviceArray((2, 3, 4), "<f4"), FakeDeviceArray((2, 4, 5, 3), "|u1"), "4-D"),
        (FakeDeviceArray((2, 3, 4, 5), "<f4"), FakeDeviceArray((2, 4, 5, 1), "|u1"), "shape"),
        (
            FakeDeviceArray((2, 3, 4, 5), "<f2"),
            np.zeros((2, 4, 5, 3), np.uint8),
            "out must be a CUDA",
        ),
        (FakeDeviceArray((2, 3, 4, 5), "<f4"), None, "out is required"),
        (
            FakeDeviceArray((2, 3, 4, 5), "<f4", strides=(240, 80, 20, 8)),
            FakeDeviceArray((2, 4, 5, 3), "|u1"),
            "C-contiguous",
        ),
        (
            FakeDeviceArray((2, 3, 4, 5), "<f4", strides=(240, 80, 20, 2)),
            FakeDeviceArray((2, 4, 5, 3), "|u1"),
            "C-contiguous",
        ),
        (FakeDeviceArray((2, -3, 4, 5), "<f4"), FakeDeviceArray((2, 4, 5, 3), "|u1"), "malformed"),
    ],
)
def test_denormalize_cuda_checks_arguments(src: Any, out: Any, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        _postproc.denormalize_cuda(src, -1.0, 1.0, "rgb", out)
    assert "\n" not in str(info.value) and expected in str(info.value), str(info.value)


@needs_cuda_build
def test_cpu_denormalize_rejects_device_arrays() -> None:
    with pytest.raises(ValueError, match="must be a CPU array; got a CUDA array"):
        _postproc.denormalize(FakeDeviceArray((1, 3, 2, 2), "<f4"), -1.0, 1.0)


class CudaRuntime:
    """Just enough of libcudart through ctypes to move test arrays to and from a device."""

    def __init__(self) -> None:
        names = [ctypes.util.find_library("cudart"), "libcudart.so", "libcudart.so.13"]
        home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
        names.append(os.path.join(home, "lib64", "libcudart.so"))
        for name in filter(None, names):
            try:
                self.lib = ctypes.CDLL(name)
                return
            except OSError:
                continue
        pytest.skip("libcudart not found for the GPU test harness")

    def check(self, err: int) -> None:
        assert err == 0, f"CUDA error {err}"

    def upload(self, host: Any) -> DeviceArray:
        arr = DeviceArray(self, host.shape, host.dtype)
        self.check(
            self.lib.cudaMemcpy(
                ctypes.c_void_p(arr.ptr),
                host.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_size_t(host.nbytes),
                1,
            )
        )
        return arr


class DeviceArray:
    def __init__(self, rt: CudaRuntime, shape: tuple[int, ...], dtype: Any) -> None:
        self.rt, self.shape, self.dtype = rt, tuple(shape), np.dtype(dtype)
        self.nbytes = int(np.prod(shape)) * self.dtype.itemsize
        p = ctypes.c_void_p()
        rt.check(rt.lib.cudaMalloc(ctypes.byref(p), ctypes.c_size_t(max(self.nbytes, 1))))
        self.ptr = int(p.value or 0)
        self.__cuda_array_interface__ = {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "strides": None,
            "version": 3,
        }

    def download(self) -> Any:
        host = np.empty(self.shape, self.dtype)
        self.rt.check(self.rt.lib.cudaDeviceSynchronize())
        self.rt.check(
            self.rt.lib.cudaMemcpy(
                host.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_void_p(self.ptr),
                ctypes.c_size_t(self.nbytes),
                2,
            )
        )
        return host

    def __del__(self) -> None:
        self.rt.lib.cudaFree(ctypes.c_void_p(self.ptr))


@pytest.fixture
def cuda() -> Iterator[CudaRuntime]:
    if _postproc.cuda_device_count() == 0:
        pytest.skip("no CUDA device")
    yield CudaRuntime()


@pytest.mark.gpu
@pytest.mark.parametrize("shape", SHAPES[:5], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["f32", "f16"])
@pytest.mark.parametrize("order", ORDERS)
def test_cuda_matches_reference(
    cuda: CudaRuntime, shape: tuple[int, ...], dtype: Any, order: str
) -> None:
    x = make_images(shape, dtype, -1.0, 1.0, seed=3)
    want = denormalize_reference(x, -1.0, 1.0, order)
    out = DeviceArray(cuda, want.shape, np.uint8)
    _postproc.denormalize_cuda(cuda.upload(x), -1.0, 1.0, order, out)
    assert_same(out.download(), want)


@pytest.mark.gpu
def test_cuda_no_fma_and_every_float16(cuda: CudaRuntime) -> None:
    v = fma_sensitive_values(-1.0, 1.0).reshape(1, 1, 1, -1)
    out = DeviceArray(cuda, (1, 1, v.shape[-1], 1), np.uint8)
    _postproc.denormalize_cuda(cuda.upload(v), -1.0, 1.0, "gray", out)
    assert_same(out.download(), denormalize_reference(v, -1.0, 1.0, "gray"))
    h = np.arange(1 << 16, dtype=np.uint16).view(np.float16).reshape(4, 1, 128, 128)
    out = DeviceArray(cuda, (4, 128, 128, 3), np.uint8)
    _postproc.denormalize_cuda(cuda.upload(h), 0.0, 1.0, "bgr", out)
    assert_same(out.download(), denormalize_reference(h, 0.0, 1.0, "bgr"))


@pytest.mark.gpu
def test_cuda_every_bfloat16(cuda: CudaRuntime) -> None:
    """bf16 on the device arrives through DLPack (torch): __cuda_array_interface__ has no
    typestr for it."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    bits = np.arange(1 << 16, dtype=np.uint16).reshape(4, 1, 128, 128)
    src = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).cuda()
    for order, shape in (("gray", (4, 128, 128, 1)), ("rgb", (4, 128, 128, 3))):
        out = torch.empty(shape, dtype=torch.uint8, device="cuda")
        _postproc.denormalize_cuda(src, -1.0, 1.0, order, out)
        torch.cuda.synchronize()
        want = denormalize_reference(bits.view(ml_dtypes.bfloat16), -1.0, 1.0, order)
        assert_same(out.cpu().numpy(), want)


@pytest.mark.gpu
def test_cuda_on_a_stream(cuda: CudaRuntime) -> None:
    stream = ctypes.c_void_p()
    cuda.check(cuda.lib.cudaStreamCreate(ctypes.byref(stream)))
    try:
        x = make_images((2, 3, 64, 48), np.float32, 0.0, 1.0, seed=5)
        out = DeviceArray(cuda, (2, 64, 48, 3), np.uint8)
        _postproc.denormalize_cuda(
            cuda.upload(x), 0.0, 1.0, "rgb", out, stream=int(stream.value or 0)
        )
        cuda.check(cuda.lib.cudaStreamSynchronize(stream))
        assert_same(out.download(), denormalize_reference(x, 0.0, 1.0, "rgb"))
    finally:
        cuda.lib.cudaStreamDestroy(stream)
