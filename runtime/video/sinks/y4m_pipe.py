"""YUV4MPEG2 on a byte stream: a self-describing header, then `FRAME\n` and the Y, U, V planes.

Unlike raw RGB, the consumer needs no geometry arguments (`ffmpeg -i -`). Y4M carries no RGB
and no matrix tag, so the conversion uses the matrix asked for (BT.709 by default) and the header
states the range. 4:4:4 keeps every chroma sample; 4:2:0 is what most players expect.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np

from ...errors import ImggenError
from ._av import require_av
from .colour import Colour, to_yuv
from .raw_pipe import PipeSink

CHROMA = {"444": ("yuv444p", "C444"), "420": ("yuv420p", "C420jpeg")}


class Y4MPipeSink(PipeSink):
    def __init__(self, stream: BinaryIO, fps: Fraction, colour: Colour, chroma: str = "444"):
        super().__init__(stream)
        if chroma not in CHROMA:
            raise ImggenError(f"Y4M chroma must be one of {', '.join(CHROMA)}, got {chroma!r}")
        self.av = require_av()
        self.fps = fps
        self.colour = colour
        self.pix_fmt, self.tag = CHROMA[chroma]

    def describe(self) -> dict[str, Any]:
        return {"sink": "y4m", "pix_fmt": self.pix_fmt, "colour": [self.colour.space]}

    def start(self, width: int, height: int, first_index: int) -> None:
        if self.pix_fmt == "yuv420p" and (width % 2 or height % 2):
            raise ImggenError(f"Y4M 4:2:0 needs an even width and height, not {width}x{height}")
        super().start(width, height, first_index)

    def header(self) -> bytes:
        w, h = self._size
        rng = "LIMITED" if self.colour.range == "limited" else "FULL"
        fps = self.fps
        return (
            f"YUV4MPEG2 W{w} H{h} F{fps.numerator}:{fps.denominator} Ip A1:1 {self.tag} "
            f"XCOLORRANGE={rng}\n"
        ).encode("ascii")

    def frame_bytes(self, rgb: np.ndarray) -> bytes | memoryview:
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        yuv = to_yuv(frame, self.pix_fmt, self.colour)
        w, h = self._size
        parts = [b"FRAME\n"]
        for plane, (pw, ph) in zip(yuv.planes, self._plane_sizes(w, h), strict=True):
            data = np.frombuffer(memoryview(plane), dtype=np.uint8)
            rows = data.reshape(-1, plane.line_size)[:ph, :pw]
            parts.append(rows.tobytes())
        return b"".join(parts)

    def _plane_sizes(self, w: int, h: int) -> list[tuple[int, int]]:
        if self.pix_fmt == "yuv420p":
            return [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
        return [(w, h)] * 3
