"""Generator output (N, C, H, W) float in the model's range -> (N, H, W, C) uint8 frames.

`denormalize` runs the compiled one-pass kernel (imggen_rt._postproc, OpenMP + SIMD on CPU);
`denormalize_reference` is the same op in numpy, written to state what the op means. The two
agree bit for bit, and so does the CUDA kernel, because all three do the same float32
operations in the same order:

    scale = 255 / (high - low);  offset = 0.5 - low * scale        (float32, once)
    y = v * scale;  y = y + offset                                  (two roundings, no FMA)
    u8 = 0 if not y > 0 (NaN too), 255 if y >= 255, else trunc(y)   (round half up)

gray from RGB is (0.299 r + 0.587 g) + 0.114 b on the raw values, then the same mapping.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# libgomp reads its wait policy once, when it loads with the extension. Its default keeps idle
# workers spinning, and on a busy machine (onnxruntime's own spinning pool, a video encoder)
# a spinning thread waiting at the loop's end barrier for a preempted one turns a 0.5 ms call
# into a wait for the next scheduler slice (measured: 8 ms vs 1.2 ms). Sleeping workers cost
# a futex wake per call instead. The variable is set for that load only, so OpenMP runtimes
# loaded later (torch's) and child processes keep their defaults; a user's setting wins.
_SET_WAIT_POLICY = "OMP_WAIT_POLICY" not in os.environ
if _SET_WAIT_POLICY:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
try:
    from . import _postproc as _postproc  # re-exported: the chain calls it too
finally:
    if _SET_WAIT_POLICY:
        del os.environ["OMP_WAIT_POLICY"]

_ORDERS = ("rgb", "bgr", "gray")
_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


def denormalize(
    images: ArrayLike,
    low: float,
    high: float,
    order: str = "rgb",
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Map images in [low, high] to uint8 (N, H, W, Cout) in one pass; reuse `out` when given.

    images is (N, C, H, W) float32, float16 or ml_dtypes.bfloat16 with C in {1, 3, 4} (RGB,
    RGBA with straight alpha); order is "rgb", "bgr" or "gray" (BT.601 luma of the raw values;
    not for RGBA, which gives RGBA or BGRA frames). Arrays keep their dtype
    (a bf16 engine's output is read as bf16, never widened first) and are copied only when not
    C-contiguous; nested lists are read as float32. Raises ValueError with a one-line reason
    for anything the kernel cannot take.
    """
    return _postproc.denormalize(_as_source(images), low, high, order, out)


def denormalize_reference(
    images: ArrayLike,
    low: float,
    high: float,
    order: str = "rgb",
) -> NDArray[np.uint8]:
    """The op's meaning in numpy, float32 step by step; slow, for tests."""
    x = np.asarray(images)
    if x.dtype not in (np.float32, np.float16) and x.dtype.name != "bfloat16":
        raise ValueError(f"images must be float32, float16 or bfloat16; got {x.dtype}")
    if x.ndim != 4 or x.shape[1] not in (1, 3, 4):
        raise ValueError(f"images must be (N, C, H, W) with C in (1, 3, 4); got shape {x.shape}")
    if order not in _ORDERS:
        raise ValueError(f"order must be 'rgb', 'bgr' or 'gray'; got {order!r}")
    scale, offset = _scale_offset(low, high)

    v = x.astype(np.float32)  # exact for float16 and bfloat16
    if x.shape[1] == 4:
        if order == "gray":
            raise ValueError("an RGBA source has no gray layout: order 'rgb' or 'bgr'")
        r, g, b, a = v[:, 0], v[:, 1], v[:, 2], v[:, 3]
        planes = [r, g, b, a] if order == "rgb" else [b, g, r, a]
    elif x.shape[1] == 3:
        r, g, b = v[:, 0], v[:, 1], v[:, 2]
        with np.errstate(over="ignore", invalid="ignore"):
            luma = (_LUMA[0] * r + _LUMA[1] * g) + _LUMA[2] * b
        planes = {"rgb": [r, g, b], "bgr": [b, g, r], "gray": [luma]}[order]
    else:
        planes = [v[:, 0]] * (1 if order == "gray" else 3)
    y: NDArray[np.float32] = np.stack(planes, axis=-1)

    with np.errstate(over="ignore", invalid="ignore"):
        y = y * scale
        y = y + offset
    y = np.where(y > 0, y, np.float32(0))  # NaN compares False -> 0
    y = np.minimum(y, np.float32(255))
    return y.astype(np.uint8)  # truncation; the +0.5 in offset makes it round half up


def cuda_device_usable() -> bool:
    """True when denormalize_cuda can run here: built with CUDA and a device is visible."""
    return _postproc.built_with_cuda() and _postproc.cuda_device_count() > 0


def _as_source(images: ArrayLike) -> NDArray[Any]:
    arr = images if isinstance(images, np.ndarray) else np.asarray(images)
    if not hasattr(images, "dtype") and arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def _scale_offset(low: float, high: float) -> tuple[np.float32, np.float32]:
    """scale and offset exactly as the kernel computes them (float32), or ValueError."""
    with np.errstate(all="ignore"):
        lo, hi = np.float32(low), np.float32(high)
        scale = np.float32(np.float32(255) / (hi - lo))
        offset = np.float32(np.float32(0.5) - lo * scale)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"low and high must be finite float32 values; got {low}, {high}")
    if not lo < hi:
        raise ValueError(f"low must be less than high (low < high in float32); got {low}, {high}")
    if not (np.isfinite(scale) and np.isfinite(offset)):
        raise ValueError(
            f"the range is too narrow: 255 / (high - low) overflows; got {low}, {high}"
        )
    return scale, offset
