"""The chain's CUDA kernels: argument checks here, and device == CPU results on a GPU.

The kernels call the same host+device functions as the CPU loops (imggen/point.h,
imggen/separable_filter.h, ...) and are built without FMA contraction, so on a GPU the results
must equal the CPU's bit for bit (gamma's powf excepted: within one level).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_postproc import CudaRuntime, FakeDeviceArray, cuda, needs_cuda_build  # noqa: F401

from imggen_rt.post import Blur, CubeLut, Exposure, Gains, Gamma, Lut, PostChain, Saturation
from imggen_rt.post.filters import gaussian_taps, resize_taps
from imggen_rt.postprocess import _postproc

RNG = np.random.default_rng(11)
PROGRAM = PostChain(
    [
        Exposure(0.4),
        Gains(1.1, 1.0, 0.8),
        Saturation(1.3),
        Lut(CubeLut(RNG.random((17, 17, 17, 3), dtype=np.float32))),
        Gamma(1.4),
    ]
)._steps[0]


def test_chain_kernels_without_device_are_clear() -> None:
    if _postproc.cuda_device_count() > 0:
        pytest.skip("a CUDA device is present")
    src = FakeDeviceArray((1, 3, 4, 4), "<f4", 0x1000)
    out = FakeDeviceArray((1, 4, 4, 3), "|u1", 0x100000)
    frames = FakeDeviceArray((1, 4, 4, 3), "|u1", 0x200000)
    mask = FakeDeviceArray((1, 4, 4), "|u1", 0x300000)
    empty = np.zeros((0, 14), np.float32)
    hist = FakeDeviceArray((1, 256), "<u4", 0x400000)
    calls = [
        lambda: _postproc.point_cuda(src, empty, [], "rgb", -1.0, 1.0, out),
        lambda: _postproc.otsu_masks_cuda(frames, False, hist, mask),
        lambda: _postproc.unsharp_cuda(frames, frames, 1.0, 0.0, out),
        lambda: _postproc.blend_cuda(frames, frames, mask, out),
    ]
    for call in calls:
        with pytest.raises(RuntimeError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message
        expected = "no usable CUDA device" if _postproc.built_with_cuda() else "built without"
        assert expected in message


@needs_cuda_build
def test_chain_kernels_check_devices_and_shapes() -> None:
    src = FakeDeviceArray((1, 3, 4, 4), "<f4")
    cpu_out = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="out must be a CUDA device array"):
        _postproc.point_cuda(src, PROGRAM.program[:1], [], "rgb", -1.0, 1.0, cpu_out)
    with pytest.raises(ValueError, match="LUT must be a CUDA device array"):
        _postproc.point_cuda(
            src,
            PROGRAM.program,
            PROGRAM.luts,
            "rgb",
            -1.0,
            1.0,
            FakeDeviceArray((1, 4, 4, 3), "|u1"),
        )
    frames = FakeDeviceArray((1, 4, 4, 3), "|u1")
    with pytest.raises(ValueError, match="must have the shape of inside"):
        _postproc.blend_cuda(frames, frames, FakeDeviceArray((1, 4, 4), "|u1"),
                             FakeDeviceArray((1, 4, 5, 3), "|u1"))  # fmt: skip
    with pytest.raises(ValueError, match="must be a CPU array"):
        _postproc.point(src, PROGRAM.program[:1], [], "rgb")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("order", ["rgb", "bgr", "gray"])
def test_point_cuda_equals_cpu(cuda: CudaRuntime, dtype: Any, order: str) -> None:  # noqa: F811
    x = (RNG.random((3, 3, 29, 41), dtype=np.float32) * 2.2 - 1.1).astype(dtype)
    expected = _postproc.point(x, PROGRAM.program, PROGRAM.luts, order)
    luts = [cuda.upload(t) for t in PROGRAM.luts]
    out = cuda.upload(np.zeros_like(expected))
    _postproc.point_cuda(cuda.upload(x), PROGRAM.program, luts, order, -1.0, 1.0, out)
    got = out.download()
    assert np.abs(got.astype(int) - expected).max() <= 1  # powf: libm vs CUDA, last bit


@pytest.mark.gpu
def test_stencil_kernels_equal_cpu(cuda: CudaRuntime) -> None:  # noqa: F811
    frames = RNG.integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
    for ix, wx, iy, wy in [
        (*gaussian_taps(53, 1.5), *gaussian_taps(37, 1.5)),
        (*resize_taps(53, 120, "lanczos"), *resize_taps(37, 70, "lanczos")),
        (*resize_taps(53, 20, "area"), *resize_taps(37, 15, "area")),
    ]:
        expected = _postproc.separable_filter(frames, ix, wx, iy, wy)
        tmp = cuda.upload(np.zeros((2, 37, len(ix), 3), np.float32))
        out = cuda.upload(np.zeros_like(expected))
        tables = [cuda.upload(np.ascontiguousarray(t)) for t in (ix, wx, iy, wy)]
        _postproc.separable_filter_cuda(cuda.upload(frames), *tables, tmp, out)
        np.testing.assert_array_equal(out.download(), expected)
    blurred = PostChain([Blur(1.0)]).apply(frames)
    expected = _postproc.unsharp(frames, blurred, 0.7, 2.0)
    out = cuda.upload(np.zeros_like(frames))
    _postproc.unsharp_cuda(cuda.upload(frames), cuda.upload(blurred), 0.7, 2.0, out)
    np.testing.assert_array_equal(out.download(), expected)
    mask = RNG.integers(0, 256, frames.shape[:3], dtype=np.uint8)
    expected = _postproc.blend(frames, blurred, mask)
    out = cuda.upload(np.zeros_like(frames))
    _postproc.blend_cuda(cuda.upload(frames), cuda.upload(blurred), cuda.upload(mask), out)
    np.testing.assert_array_equal(out.download(), expected)


@pytest.mark.gpu
@pytest.mark.parametrize("dark", [False, True])
def test_otsu_cuda_equals_cpu(cuda: CudaRuntime, dark: bool) -> None:  # noqa: F811
    frames = RNG.integers(0, 256, (4, 37, 53, 3), dtype=np.uint8)
    frames[1] = 200  # a flat frame
    frames[2, :, :20] = 10  # two levels
    expected = _postproc.otsu_masks(frames, dark)
    hist = cuda.upload(np.zeros((4, 256), np.uint32))
    out = cuda.upload(np.zeros_like(expected))
    _postproc.otsu_masks_cuda(cuda.upload(frames), dark, hist, out)
    np.testing.assert_array_equal(out.download(), expected)
