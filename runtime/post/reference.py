"""The colour ops' meaning in numpy, float32 step by step: slow, for tests and for reading.

Every op is the extension's float32 arithmetic in the same order, with the same parameters as
the program row holds them (float32), the same clamps and the same NaN rules, so the CPU loop
equals this reference bit for bit at any parameters, extreme ones included. Gamma is the one
transcendental: it calls C's powf (libm, through ctypes), the function the CPU loop calls;
numpy's own float32 power differs from it in the last bit on about a fifth of values, which
would move results across a rounding boundary. Where libm cannot be loaded the reference
falls back to float64 pow rounded to float32 (equal to powf on all but ~0.1% of values). The
CUDA kernel's powf is NVIDIA's: within one 8-bit level of this after a gamma, more where a
later op of the same program multiplies that last-bit difference (contrast 100, say).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .ops import (
    Brightness,
    ColorMatrix,
    Contrast,
    Exposure,
    Gains,
    Gamma,
    Lut,
    PointOp,
    Saturation,
)

F = NDArray[np.float32]
f32 = np.float32


def to_unit_rgb(src: NDArray[Any], low: float = -1.0, high: float = 1.0) -> F:
    """(N, C, H, W) float in [low, high] or (N, H, W, C) uint8 -> (N, H, W, 3) float32 in [0, 1]."""
    if src.dtype == np.uint8:
        v = src[..., :3].astype(f32) * f32(1 / 255)
        return np.repeat(v, 3, axis=3) if v.shape[3] == 1 else v
    scale = f32(1) / (f32(high) - f32(low))
    offset = f32(0) - f32(low) * scale
    v = np.moveaxis(src.astype(f32), 1, 3) * scale + offset
    return np.repeat(v, 3, axis=3) if v.shape[3] == 1 else v


def quantize(v: F, order: str = "rgb") -> NDArray[np.uint8]:
    if order == "gray":
        r, g, b = v[..., 0], v[..., 1], v[..., 2]
        v = ((f32(0.299) * r + f32(0.587) * g) + f32(0.114) * b)[..., None]
    elif order == "bgr":
        v = v[..., ::-1]
    with np.errstate(invalid="ignore", over="ignore"):
        y = v * f32(255) + f32(0.5)
    y = np.where(y > 0, y, f32(0))
    out: NDArray[np.uint8] = np.minimum(y, f32(255)).astype(np.uint8)
    return out


def apply_ops(v: F, ops: Sequence[PointOp]) -> F:
    for op in ops:
        v = apply_op(v, op)
    return v


def apply_op(v: F, op: PointOp) -> F:
    return np.asarray(_apply_op(v, op), dtype=f32)


def _apply_op(v: F, op: PointOp) -> Any:
    r, g, b = v[..., 0], v[..., 1], v[..., 2]
    if isinstance(op, Exposure):
        return v * f32(2.0**op.stops)
    if isinstance(op, Gains):
        return v * np.array([op.r, op.g, op.b], f32)
    if isinstance(op, Brightness):
        return v + f32(op.offset)
    if isinstance(op, Contrast):
        return (v - f32(op.pivot)) * f32(op.amount) + f32(op.pivot)
    if isinstance(op, Saturation):
        luma = ((f32(0.2126) * r + f32(0.7152) * g) + f32(0.0722) * b)[..., None]
        return luma + (v - luma) * f32(op.amount)
    if isinstance(op, Gamma):
        return powf_positive(v, f32(1.0 / op.gamma))
    if isinstance(op, ColorMatrix):
        m = np.asarray(op.values, f32).reshape(3, 3)
        return np.stack([(m[i, 0] * r + m[i, 1] * g) + m[i, 2] * b for i in range(3)], axis=-1)
    if isinstance(op, Lut):
        return apply_lut(v, op)
    raise TypeError(f"no reference for {op!r}")


def powf_positive(v: F, exponent: np.float32) -> F:
    """v ** exponent where v > 0, else 0 (NaN too), through C's powf like the CPU loop."""
    positive = v > 0
    out = np.zeros(v.shape, f32)
    out[positive] = _powf(v[positive], f32(exponent))
    return out


def _powf(base: F, exponent: np.float32) -> F:
    libm = _libm()
    if libm is None:
        with np.errstate(all="ignore"):
            powered: F = np.power(base.astype(np.float64), np.float64(exponent)).astype(f32)
        return powered
    powf = libm.powf
    e = float(exponent)
    flat = [powf(float(x), e) for x in base.reshape(-1)]
    return np.asarray(flat, f32).reshape(base.shape)


@lru_cache(maxsize=1)
def _libm() -> Any:
    name = ctypes.util.find_library("m")
    try:
        libm = ctypes.CDLL(name) if name else None
    except OSError:
        libm = None
    if libm is not None:
        libm.powf.restype = ctypes.c_float
        libm.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    return libm


def apply_lut(v: F, op: Lut) -> F:
    """Trilinear or tetrahedral interpolation in the LUT's lattice, inputs clamped to it
    (NaN to the lattice's first point, as the extension's clamp does)."""
    cube = op.cube
    n = cube.size
    row = op.row(0)  # the program row: DOMAIN_MIN and (n - 1) / (max - min), in float32
    lo, scale = row[2:5], row[5:8]
    with np.errstate(over="ignore", invalid="ignore"):
        x = (v - lo) * scale
    x = np.where(x > 0, x, f32(0))  # NaN -> 0
    x = np.minimum(x, f32(n - 1))
    i = np.minimum(x.astype(np.int64), n - 2)
    f = (x - i.astype(f32)).astype(f32)
    t = cube.table  # [b, g, r, c]

    def at(dr: int, dg: int, db: int) -> F:
        out: F = t[i[..., 2] + db, i[..., 1] + dg, i[..., 0] + dr]
        return out

    fr, fg, fb = f[..., 0:1], f[..., 1:2], f[..., 2:3]
    if op.interpolation == "trilinear":
        c00 = at(0, 0, 0) + (at(1, 0, 0) - at(0, 0, 0)) * fr
        c10 = at(0, 1, 0) + (at(1, 1, 0) - at(0, 1, 0)) * fr
        c01 = at(0, 0, 1) + (at(1, 0, 1) - at(0, 0, 1)) * fr
        c11 = at(0, 1, 1) + (at(1, 1, 1) - at(0, 1, 1)) * fr
        c0 = c00 + (c10 - c00) * fg
        c1 = c01 + (c11 - c01) * fg
        trilinear: F = c0 + (c1 - c0) * fb
        return trilinear
    # Tetrahedral: walk from corner 000 to 111 along the axes in order of decreasing fraction.
    order = np.argsort(-f, axis=-1, kind="stable")
    steps = np.take_along_axis(f, order, axis=-1)
    result = (1 - steps[..., 0:1]) * at(0, 0, 0)
    for k in range(3):
        # The k-th corner: the first k+1 axes of `order` stepped by one.
        step = np.zeros(i.shape, np.int64)
        for j in range(k + 1):
            np.put_along_axis(step, order[..., j : j + 1], 1, axis=-1)
        weight = steps[..., k : k + 1] - (steps[..., k + 1 : k + 2] if k < 2 else 0)
        value = t[i[..., 2] + step[..., 2], i[..., 1] + step[..., 1], i[..., 0] + step[..., 0]]
        result = result + weight * value
    return result.astype(f32)
