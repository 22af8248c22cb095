"""Raw RGB24 frames on a byte stream (stdout): H*W*3 bytes a frame, no header, nothing else.

The consumer (ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r FPS -i -) knows the geometry from its
own arguments, so a single stray byte (a log line, a warning) would shift every later frame; all
messages therefore go to stderr.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, BinaryIO, NoReturn

import numpy as np

from ...errors import ImggenError
from .base import Sink


class PipeSink(Sink):
    """Shared by the raw and Y4M pipes: writes bytes, turns a closed pipe into one message."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._next = 0
        self._size = (0, 0)

    def start(self, width: int, height: int, first_index: int) -> None:
        self._size = (width, height)
        self._next = first_index
        self._send(self.header())

    def header(self) -> bytes:
        return b""

    def frame_bytes(self, rgb: np.ndarray) -> bytes | memoryview:
        raise NotImplementedError

    def _send(self, data: bytes | memoryview) -> None:
        if not data:
            return
        try:
            self.stream.write(data)
        except BrokenPipeError:
            self._closed_by_reader()

    def _closed_by_reader(self) -> NoReturn:
        """Point the descriptor at /dev/null, so that the interpreter's last flush of stdout
        at exit does not print "Exception ignored ... BrokenPipeError" after our one line."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        raise ImggenError(f"the reader closed the pipe after {self._next} frames") from None

    def prepare(self, frames: np.ndarray) -> list[Any]:
        return [self.frame_bytes(rgb) for rgb in frames]

    def write_prepared(self, items: list[Any]) -> None:
        for data in items:
            self._send(data)
            self._next += 1
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._closed_by_reader()

    def committed(self) -> int:
        return self._next

    def finish(self, complete: bool) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.stream.flush()


class RawPipeSink(PipeSink):
    def describe(self) -> dict[str, Any]:
        return {"sink": "raw", "pix_fmt": "rgb24"}

    def frame_bytes(self, rgb: np.ndarray) -> bytes | memoryview:
        return np.ascontiguousarray(rgb).tobytes()
