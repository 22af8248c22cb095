"""The colour ops' meaning in numpy, float32 step by step: slow, for tests and for reading.

The extension must agree with these within one 8-bit level (libm's powf may differ from
numpy's in the last bit, which can move a value across a rounding boundary).
"""

from __future__ import annotations

from collections.abc import Sequence
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
        with np.errstate(invalid="ignore"):
            return np.where(v > 0, np.power(np.maximum(v, f32(0)), f32(1.0 / op.gamma)), f32(0))
    if isinstance(op, ColorMatrix):
        m = np.asarray(op.values, f32).reshape(3, 3)
        return np.stack([(m[i, 0] * r + m[i, 1] * g) + m[i, 2] * b for i in range(3)], axis=-1)
    if isinstance(op, Lut):
        return apply_lut(v, op)
    raise TypeError(f"no reference for {op!r}")


def apply_lut(v: F, op: Lut) -> F:
    """Trilinear or tetrahedral interpolation in the LUT's lattice, inputs clamped to it."""
    cube = op.cube
    n = cube.size
    lo = np.asarray(cube.domain_min, f32)
    hi = np.asarray(cube.domain_max, f32)
    x = np.clip((v - lo) * (f32(n - 1) / (hi - lo)), 0, n - 1)
    i = np.minimum(x.astype(np.int64), n - 2)
    f = x - i
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
