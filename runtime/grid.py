"""Contact sheets: many images on one canvas."""

from __future__ import annotations

import math

import numpy as np


def contact_sheet(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) image, white gutters."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError("contact_sheet needs a non-empty (N, H, W, C) array")
    n, h, w, c = images.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        sheet[y : y + h, x : x + w] = img
    return sheet
