"""Writing frames to image files atomically: a reader never sees half an image."""

from __future__ import annotations

import os
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


def output_folder(path: Path) -> Path:
    """`path` as a folder to write into: created if missing; an existing file, a path under a
    file, or a place this user cannot write is one ImggenError line."""
    if path.exists() and not path.is_dir():
        raise ImggenError(f"-o {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ImggenError(f"cannot create the folder {path}: {e.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ImggenError(f"cannot write into {path}: permission denied")
    return path
