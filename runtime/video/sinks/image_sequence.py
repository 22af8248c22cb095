"""Numbered image files (PNG, TIFF, EXR, DPX), each written atomically.

EXR holds scene-linear light. By default the sRGB-encoded frames are decoded to linear
Rec.709 here; with a colour space (`--colour-space ACEScg`) OpenColorIO converts them from the
model's space and the file is written with OpenEXR, the space's name in its header as
`oiio:ColorSpace` (OpenImageIO's attribute, which Nuke, Houdini and oiiotool read).

Every frame is its own file, renamed into place whole, so whatever a crash leaves is a run of
complete frames; the progress record's frontier is the last frame renamed. Images are encoded by
FFmpeg's image encoders through PyAV (OpenCV here cannot write EXR or DPX).
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from typing import Any

import numpy as np

from ...atomic import atomic_write_bytes
from ...errors import ImggenError
from ...post.ocio import OcioTransform
from ._av import require_av
from .base import Sink
from .pattern import FramePattern

DEFAULT_START_NUMBER = 1001  # VFX convention: frame 1001 leaves handles before the cut
FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".exr": "exr", ".dpx": "dpx"}


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """EXR holds scene-linear light; the frames are sRGB-encoded display values."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


class ImageSequenceSink(Sink):
    resumable = True
    supports_alpha = True  # all but DPX; set per format in `__init__`

    def __init__(
        self,
        pattern: FramePattern,
        start_number: int,
        bit_depth: int = 8,
        colour_space: OcioTransform | None = None,
    ) -> None:
        self.av = require_av()
        ext = pattern.extension
        if ext not in FORMATS:
            raise ImggenError(
                f"unknown image format {ext!r}: use {', '.join(sorted(set(FORMATS)))}"
            )
        if bit_depth not in (8, 16):
            raise ImggenError(f"bit depth must be 8 or 16, got {bit_depth}")
        if bit_depth == 16 and ext not in (".png", ".tif", ".tiff"):
            raise ImggenError("--bit-depth 16 applies to PNG and TIFF (EXR is float, DPX 10-bit)")
        if start_number < 0:
            raise ImggenError(f"start number must be >= 0, got {start_number}")
        folder = pattern.folder
        if folder.exists() and not folder.is_dir():
            raise ImggenError(f"{folder} is not a folder")
        self.pattern = pattern
        self.start_number = start_number
        self.bit_depth = bit_depth
        self.codec = FORMATS[ext]
        if colour_space is not None and self.codec != "exr":
            raise ImggenError("a colour space applies to EXR sequences only")
        self.colour_space = colour_space
        self._exr_space = ""  # the name OCIO resolves the target to, for the header
        self.supports_alpha = self.codec != "dpx"
        self._ctx: dict[int, Any] = {}
        self._size = (0, 0)
        self._next = 0
        self._first = 0

    def describe(self) -> dict[str, Any]:
        return {
            "sink": "images",
            "format": self.codec,
            "bit_depth": self.bit_depth,
            "start_number": self.start_number,
            "colour_space": None if self.colour_space is None else str(self.colour_space),
        }

    def _pix_fmt(self, alpha: bool) -> tuple[str, str]:
        """(what the frame array is handed over as, what the encoder stores)."""
        if self.codec == "exr":
            return ("gbrapf32le",) * 2 if alpha else ("gbrpf32le",) * 2
        if self.codec == "dpx":
            return "gbrp10le", "gbrp10le"
        if self.bit_depth == 16:
            src = "rgba64le" if alpha else "rgb48le"
            if self.codec == "png":
                return src, src.replace("le", "be")
            return src, src
        return ("rgba",) * 2 if alpha else ("rgb24",) * 2

    def start(self, width: int, height: int, first_index: int) -> None:
        try:
            self.pattern.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ImggenError(f"cannot create {self.pattern.folder}: {e.strerror}") from None
        if not os.access(self.pattern.folder, os.W_OK):
            raise ImggenError(f"output folder {self.pattern.folder} is not writable")
        self._size = (width, height)
        self._first = self._next = first_index

    def _context(self, channels: int) -> Any:
        """One encoder per channel layout (RGB or RGBA), made on first use."""
        if channels not in self._ctx:
            ctx = self.av.CodecContext.create(self.codec, "w")
            ctx.width, ctx.height = self._size
            ctx.pix_fmt = self._pix_fmt(channels == 4)[1]
            ctx.time_base = Fraction(1, 24)
            self._ctx[channels] = ctx
        return self._ctx[channels]

    def _as_source(self, rgb: np.ndarray) -> np.ndarray:
        if self.codec == "exr":
            out = rgb.astype(np.float32) / 255.0
            out[..., :3] = _srgb_to_linear(out[..., :3])  # alpha stays linear coverage
            return out
        if self.codec == "dpx":
            return ((rgb.astype(np.uint32) * 1023 + 127) // 255).astype(np.uint16)
        if self.bit_depth == 16:
            return rgb.astype(np.uint16) * 257
        return rgb

    def encode(self, rgb: np.ndarray) -> bytes:
        if self.colour_space is not None:
            return self._encode_exr_in_space(rgb, self.colour_space)
        alpha = rgb.shape[2] == 4
        src_fmt, dst_fmt = self._pix_fmt(alpha)
        frame = self.av.VideoFrame.from_ndarray(self._as_source(rgb), format=src_fmt)
        if src_fmt != dst_fmt:
            frame = frame.reformat(format=dst_fmt)
        return b"".join(bytes(p) for p in self._context(rgb.shape[2]).encode(frame))

    def _encode_exr_in_space(self, rgb: np.ndarray, space: OcioTransform) -> bytes:
        """Half-float EXR (ZIP) of the frame converted by OCIO, alpha as linear coverage."""
        import OpenEXR

        values = rgb.astype(np.float32) * np.float32(1 / 255)
        colour = np.ascontiguousarray(values[..., :3])
        space.cpu().applyRGB(colour)
        if not self._exr_space:
            self._exr_space = space.target()
        if rgb.shape[2] == 4:
            values[..., :3] = colour
            channels = {"RGBA": values.astype(np.float16)}
        else:
            channels = {"RGB": colour.astype(np.float16)}
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "oiio:ColorSpace": self._exr_space,
        }
        # OpenEXR writes to a path only: encode in a scratch file, hand back the bytes (the
        # atomic rename into the sequence stays in write_prepared).
        with tempfile.TemporaryDirectory(prefix="imggen-exr-") as folder:
            scratch = os.path.join(folder, "frame.exr")
            OpenEXR.File(header, channels).write(scratch)
            with open(scratch, "rb") as f:
                return f.read()

    def prepare(self, frames: np.ndarray) -> list[Any]:
        return [self.encode(rgb) for rgb in frames]

    def write_prepared(self, items: list[Any]) -> None:
        for data in items:
            path = self.pattern.path(self.start_number + self._next)
            try:
                atomic_write_bytes(path, data, durable=False)
            except OSError as e:
                raise ImggenError(f"cannot write {path}: {e.strerror}") from None
            self._next += 1

    def committed(self) -> int:
        return self._next

    def finish(self, complete: bool) -> None:
        self._ctx = {}
