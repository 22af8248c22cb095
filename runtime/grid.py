"""Contact sheets: many images on one canvas."""

from __future__ import annotations

import math

import numpy as np

from .errors import ImggenError

# Backgrounds RGBA frames are shown on (light and dark make alpha edges visible; checker is
# what image editors show for transparency; transparent keeps the alpha in the sheet).
BACKGROUNDS = ("light", "dark", "checker", "transparent")
_GREYS = {"light": 236, "dark": 24}
CHECKER_CELL = 8


def background_plane(name: str, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 grey levels of a named background."""
    if name in _GREYS:
        return np.full((height, width), _GREYS[name], np.uint8)
    if name == "checker":
        y, x = np.mgrid[0:height, 0:width] // CHECKER_CELL
        return np.where((y + x) % 2 == 0, 204, 153).astype(np.uint8)
    raise ImggenError(f"background must be one of {', '.join(BACKGROUNDS)}; got {name!r}")


def composite(frames: np.ndarray, background: str) -> np.ndarray:
    """(N, H, W, 4) straight-alpha uint8 over a background -> (N, H, W, 3); frames without
    alpha, and `transparent`, come back as they are."""
    if frames.shape[-1] != 4 or background == "transparent":
        return frames
    grey = background_plane(background, frames.shape[1], frames.shape[2])
    alpha = frames[..., 3:].astype(np.float32) * np.float32(1 / 255)
    out = frames[..., :3] * alpha + grey[None, ..., None].astype(np.float32) * (1 - alpha)
    result: np.ndarray = (out + 0.5).astype(np.uint8)
    return result


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
