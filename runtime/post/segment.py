"""Regions of a frame: foreground masks (uint8, 255 inside) for compositing and for limiting
ops to a region.

Segmentation runs on the CPU with OpenCV's threshold, connected components and k-means: the
data-dependent, branchy part of post-processing, where a library that has been tuned for
decades beats a kernel of our own. The masked blend that uses a mask runs in the extension
(CPU or CUDA).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError


def _luma(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if frame.ndim == 2 or frame.shape[2] == 1:
        return np.ascontiguousarray(frame.reshape(frame.shape[:2]))
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY))


def otsu_mask(
    frame: NDArray[np.uint8], dark: bool = False, min_area: float = 0.01
) -> NDArray[np.uint8]:
    """Foreground of one (H, W, C) RGB or gray frame: luma above Otsu's threshold (below it for
    `dark`), keeping only connected components (8-connected) of at least min_area of the frame."""
    luma = _luma(frame)
    flag = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
    _, mask = cv2.threshold(luma, 0, 255, flag | cv2.THRESH_OTSU)
    if min_area <= 0:
        return np.asarray(mask, np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(count, np.uint8)
    smallest = min_area * mask.size
    for label in range(1, count):  # 0 is the background
        if stats[label, cv2.CC_STAT_AREA] >= smallest:
            keep[label] = 255
    return np.asarray(keep[labels], np.uint8)


def kmeans_mask(frame: NDArray[np.uint8], k: int = 3, seed: int = 0) -> NDArray[np.uint8]:
    """Cluster the frame's colours into k groups; the brightest group is the foreground.
    Deterministic: OpenCV's RNG is seeded, and initial centres use k-means++."""
    pixels = frame.reshape(-1, frame.shape[-1] if frame.ndim == 3 else 1)[:, :3]
    data = pixels.astype(np.float32)
    if len(np.unique(data, axis=0)) < k:
        # Fewer distinct colours than groups: every bright-enough pixel is foreground.
        return otsu_mask(frame, min_area=0)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    start = np.zeros((len(data), 1), np.int32)
    _, labels, centres = cv2.kmeans(data, k, start, criteria, 2, cv2.KMEANS_PP_CENTERS)
    brightest = int(np.argmax(centres.mean(axis=1)))
    mask = np.where(labels.reshape(frame.shape[:2]) == brightest, 255, 0)
    return mask.astype(np.uint8)


def masks_for(
    frames: NDArray[np.uint8], method: str, k: int = 3, min_area: float = 0.01
) -> NDArray[np.uint8]:
    """(N, H, W) uint8 masks for (N, H, W, C) frames."""
    if frames.ndim != 4:
        raise ImggenError(f"frames must be (N, H, W, C); got shape {frames.shape}")
    out = np.empty(frames.shape[:3], np.uint8)
    for i, frame in enumerate(frames):
        if method == "kmeans":
            out[i] = kmeans_mask(frame, k)
        else:
            out[i] = otsu_mask(frame, dark=method == "otsu-dark", min_area=min_area)
    return out
