"""Writing frames to image files atomically: a reader never sees half an image."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import ImggenError


def write_image(path: Path, frame: np.ndarray) -> None:
    """Write an (H, W, C) uint8 frame in OpenCV channel order (BGR or gray); format by suffix."""
    ok, encoded = cv2.imencode(path.suffix, frame)
    if not ok:
        raise ImggenError(f"cannot encode {path.name} as {path.suffix}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(encoded.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ImggenError(f"cannot write {path}: {e.strerror}") from None
