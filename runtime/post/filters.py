"""Tap tables for the extension's separable filter: Gaussian blur and resampling.

For every output position on one axis a table row lists source indices and weights; the
extension only sums (imggen/separable_filter.h). The border rules and kernels live here, readable:
blur reflects at the border without repeating the edge pixel (OpenCV's BORDER_REFLECT_101),
resampling clamps to the edge; pixel centres sit at i + 0.5 (OpenCV's and PIL's convention).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError

Taps = tuple[NDArray[np.int32], NDArray[np.float32]]

LANCZOS_A = 4  # lobes, as OpenCV's INTER_LANCZOS4: 8 taps when enlarging
# A budget for one axis's table (rows x taps): building it takes about 20 bytes per entry in
# numpy, so a frame axis absurdly long for its filter is one error, not gigabytes of tables.
MAX_TAP_ENTRIES = 1 << 26


def _check_budget(what: str, rows: int, taps: int) -> None:
    if rows * taps > MAX_TAP_ENTRIES:
        raise ImggenError(
            f"{what}: a tap table of {rows} x {taps} entries is over the budget of "
            f"{MAX_TAP_ENTRIES} (a frame axis of {rows} pixels is too long for this filter)"
        )


def gaussian_kernel_size(sigma: float) -> int:
    """OpenCV's rule for 8-bit images: ksize = round(6 sigma + 1), made odd."""
    return round(sigma * 6 + 1) | 1


def _reflect101(i: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.abs(i) % period
    return np.where(i >= n, period - i, i)


@lru_cache(maxsize=64)
def gaussian_taps(length: int, sigma: float) -> Taps:
    """Same-size Gaussian blur along an axis of `length` pixels."""
    radius = gaussian_kernel_size(sigma) // 2
    _check_budget(f"blur sigma {sigma:g}", length, 2 * radius + 1)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets.astype(np.float64) ** 2) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    index = _reflect101(np.arange(length)[:, None] + offsets[None, :], length)
    weight = np.broadcast_to(kernel, index.shape)
    return _freeze(index, weight)


@lru_cache(maxsize=64)
def resize_taps(in_len: int, out_len: int, kind: str) -> Taps:
    """Resample an axis of in_len pixels to out_len with `kind` in bilinear, area, lanczos."""
    if in_len < 1 or out_len < 1:
        raise ImggenError(f"resize from {in_len} to {out_len} pixels: both must be at least 1")
    scale = in_len / out_len
    taps = {
        "area": math.ceil(scale) + 1,
        "bilinear": 2,
        "lanczos": 2 * math.ceil(LANCZOS_A * max(1.0, scale)),
    }.get(kind, 1)
    _check_budget(f"resize {in_len} -> {out_len} ({kind})", out_len, taps)
    centres = (np.arange(out_len) + 0.5) * scale - 0.5  # output centres in source coordinates
    if kind == "area":
        return _area_taps(in_len, out_len, scale)
    if kind == "bilinear":
        base = np.floor(centres)
        frac = centres - base
        index = base[:, None] + np.arange(2)[None, :]
        weight = np.stack([1 - frac, frac], axis=1)
    elif kind == "lanczos":
        # When shrinking, the kernel stretches by the scale so it also filters out what the
        # smaller grid cannot hold (OpenCV's LANCZOS4 does not, and aliases).
        stretch = max(1.0, scale)
        support = math.ceil(LANCZOS_A * stretch)
        base = np.floor(centres)
        index = base[:, None] + np.arange(-support + 1, support + 1)[None, :]
        x = (index - centres[:, None]) / stretch
        weight = np.sinc(x) * np.sinc(x / LANCZOS_A)
        weight[np.abs(x) >= LANCZOS_A] = 0.0
        weight /= weight.sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"unknown resize kind {kind!r}")
    index = np.clip(index, 0, in_len - 1)
    return _freeze(index.astype(np.int64), weight)


def _area_taps(in_len: int, out_len: int, scale: float) -> Taps:
    """Each output pixel averages the source span it covers, weighting partly covered pixels
    by their overlap (exact box filter)."""
    starts = np.arange(out_len) * scale
    ends = starts + scale
    first = np.floor(starts).astype(np.int64)
    taps = int(np.max(np.ceil(ends - 1e-9).astype(np.int64) - first))
    index = first[:, None] + np.arange(taps)[None, :]
    overlap = np.minimum(index + 1, ends[:, None]) - np.maximum(index, starts[:, None])
    weight = np.clip(overlap, 0.0, None) / scale
    index = np.clip(index, 0, in_len - 1)
    return _freeze(index, weight)


def _freeze(index: NDArray[np.int64], weight: NDArray[np.float64]) -> Taps:
    i = np.ascontiguousarray(index, dtype=np.int32)
    w = np.ascontiguousarray(weight, dtype=np.float32)
    i.flags.writeable = False
    w.flags.writeable = False
    return i, w


def resize_kind(filter_name: str, in_len: int, out_len: int) -> str:
    """`auto`: area when shrinking, Lanczos when enlarging, and bilinear when equal (exact)."""
    if filter_name != "auto":
        return filter_name
    if out_len < in_len:
        return "area"
    return "lanczos" if out_len > in_len else "bilinear"
