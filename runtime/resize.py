"""Delivery sizes for 8-bit frames: the one resize helper of the server and the video sinks.

(A post chain's `resize=` op is a chain step run by the extension; this is the last step before
a frame leaves: OpenCV, area averaging when shrinking, Lanczos when enlarging.)
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import ImggenError


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ImggenError(f"size must be WIDTHxHEIGHT like 1920x1080, got {text!r}") from None
    if w < 1 or h < 1 or w > 16384 or h > 16384:
        raise ImggenError(f"size must be between 1x1 and 16384x16384, got {text!r}")
    return w, h


FITS = ("pad", "crop", "stretch")


def fit_box(src: tuple[int, int], dst: tuple[int, int], fit: str) -> tuple[int, int, int, int]:
    """(scaled width, scaled height, x, y): where the scaled source lands in the delivery frame.

    'pad' keeps the whole image and the aspect ratio (pillar/letterbox bars, black), 'crop'
    fills the frame and cuts the overflow evenly, 'stretch' ignores the aspect ratio. x, y are
    negative when cropping.
    """
    if fit not in FITS:
        raise ImggenError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    (fw, fh), (w, h) = src, dst
    if fit == "stretch":
        return w, h, 0, 0
    scale = min(w / fw, h / fh) if fit == "pad" else max(w / fw, h / fh)
    sw, sh = max(1, round(fw * scale)), max(1, round(fh * scale))
    return sw, sh, (w - sw) // 2, (h - sh) // 2


def _resize_one(src: np.ndarray, dst: np.ndarray, size: tuple[int, int], interp: int) -> None:
    if src.ndim == 3 and src.shape[2] == 1:  # OpenCV reads and writes 1-channel images as 2-D
        src, dst = src[:, :, 0], dst[:, :, 0]
    if dst.flags.c_contiguous:
        cv2.resize(src, size, dst=dst, interpolation=interp)
    else:
        dst[...] = cv2.resize(src, size, interpolation=interp).reshape(dst.shape)


def resize_frames(frames: np.ndarray, size: tuple[int, int] | None, fit: str = "pad") -> np.ndarray:
    """Resize (N, H, W, C) uint8 to the delivery size (width, height): Lanczos when enlarging
    (keeps edges crisp), area averaging when shrinking (no aliasing); see `fit_box`. RGBA
    (straight alpha) is resampled premultiplied, so the colour of transparent pixels does not
    bleed into the edges; pad bars are transparent."""
    if size is None:
        return frames
    if frames.shape[3] == 4 and (frames.shape[2], frames.shape[1]) != tuple(size):
        return _unpremultiplied(_resize(_premultiplied(frames), size, fit))
    return _resize(frames, size, fit)


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    out = rgba.astype(np.float32)
    out[..., :3] *= out[..., 3:] * np.float32(1 / 255)
    return out


def _unpremultiplied(rgba: np.ndarray) -> np.ndarray:
    alpha = np.clip(rgba[..., 3:], 0, 255)
    colour = np.divide(
        rgba[..., :3] * 255, alpha, out=np.zeros_like(rgba[..., :3]), where=alpha > 0.5
    )
    out = np.concatenate([np.clip(colour, 0, 255), alpha], axis=3)
    return (out + 0.5).astype(np.uint8)


def _resize(frames: np.ndarray, size: tuple[int, int], fit: str) -> np.ndarray:
    w, h = size
    n, fh, fw, c = frames.shape
    if (fw, fh) == (w, h):
        return frames
    sw, sh, x, y = fit_box((fw, fh), (w, h), fit)
    interp = cv2.INTER_AREA if sw * sh < fw * fh else cv2.INTER_LANCZOS4
    out = np.zeros((n, h, w, c), dtype=frames.dtype)
    if (sw, sh, x, y) == (w, h, 0, 0):
        for i in range(n):
            _resize_one(frames[i], out[i], (w, h), interp)
    elif x >= 0 and y >= 0:  # pad: resample into the middle of a black frame
        for i in range(n):
            _resize_one(frames[i], out[i, y : y + sh, x : x + sw], (sw, sh), interp)
    else:  # crop: resample the whole, keep the middle
        scaled = np.empty((sh, sw, c), dtype=frames.dtype)
        for i in range(n):
            _resize_one(frames[i], scaled, (sw, sh), interp)
            out[i] = scaled[-y : -y + h, -x : -x + w]
    return out
