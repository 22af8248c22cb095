"""Regions of a frame: foreground masks (uint8, 255 inside) for compositing and for limiting
ops to a region.

The Otsu mask (luma, histogram, threshold, mask) runs in the extension, on the CPU or on CUDA
device arrays. Its luma is OpenCV's (cvtColor RGB2GRAY, 15-bit fixed point) and its threshold
OpenCV's own C++ (THRESH_OTSU: first maximum of the between-class variance, in double), so the
mask equals OpenCV's bit for bit; OpenCV builds with Intel IPP (the x86-64 wheels) compute the
threshold in IPP, which can break an exact tie of the variance the other way (the README says
how often). Empty frames give empty masks. The data-dependent rest, dropping
small connected components and k-means colour groups, uses OpenCV on the CPU, where a library
tuned for decades beats a kernel of our own. The masked blend that applies a mask runs in the
extension too.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError
from ..postprocess import _postproc


def otsu_mask(
    frame: NDArray[np.uint8], dark: bool = False, min_area: float = 0.01
) -> NDArray[np.uint8]:
    """Foreground of one (H, W, C) RGB or gray frame: luma above Otsu's threshold (below it for
    `dark`), keeping only connected components (8-connected) of at least min_area of the frame."""
    if frame.ndim not in (2, 3):
        raise ImggenError(f"frame must be (H, W) or (H, W, C); got shape {frame.shape}")
    frames = np.ascontiguousarray((frame if frame.ndim == 3 else frame[..., None])[None])
    return _keep_large_components(_postproc.otsu_masks(frames, dark)[0], min_area)


def _keep_large_components(mask: NDArray[np.uint8], min_area: float) -> NDArray[np.uint8]:
    if min_area <= 0 or mask.size == 0:  # OpenCV asserts on an empty image
        return mask
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
    if frames.size == 0:
        return np.zeros(frames.shape[:3], np.uint8)
    if method == "kmeans":
        return np.stack([kmeans_mask(frame, k) for frame in frames])
    masks = _postproc.otsu_masks(np.ascontiguousarray(frames), method == "otsu-dark")
    for i in range(len(masks)):
        masks[i] = _keep_large_components(masks[i], min_area)
    return masks
