"""Writing frames to image files atomically: a reader never sees half an image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .errors import ImggenError


def write_image(path: Path, frame: np.ndarray) -> None:
    """Write an (H, W, C) uint8 frame in OpenCV channel order (BGR or gray); format by suffix."""
    ok, encoded = cv2.imencode(path.suffix, frame)
    if not ok:
        raise ImggenError(f"cannot encode {path.name} as {path.suffix}")
    try:
        atomic_write_bytes(path, encoded.tobytes(), durable=False)
    except OSError as e:
        raise ImggenError(f"cannot write {path}: {e.strerror}") from None
