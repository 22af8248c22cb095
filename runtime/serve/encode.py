"""Frames -> bytes in the format a client asked for."""

from __future__ import annotations

import cv2
import numpy as np

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def encode(frame: np.ndarray, fmt: str) -> bytes:
    """An (H, W, C) grey, RGB or RGBA uint8 frame as PNG/JPEG/WebP bytes (OpenCV wants BGR)."""
    if frame.shape[2] == 3:
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    elif frame.shape[2] == 4:  # a post chain ending in `alpha`
        image = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA)
    else:
        image = frame
    ok, data = cv2.imencode(f".{fmt}", image)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {fmt} image")
    return data.tobytes()
