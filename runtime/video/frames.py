"""Frame indices -> delivery-ready RGB frames: the one step between a walk and a sink.

The generator makes a walk's frames (inference, class morph, the post chain); this adds what a
sink needs (grey to RGB, the delivery size), so the render loop, the Ray workers and the
benchmark all make frames the same way and a frame stays a function of its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import ImggenError
from ..resize import FITS, resize_frames
from ..walks import Walk

if TYPE_CHECKING:
    from ..generator import ImageGenerator
    from ..post import PostChain


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """Gray frames become RGB: every sink takes colour frames. (Gray + alpha is never made:
    a chain that adds alpha makes RGBA, `generator.colour_frames`.)"""
    if frames.shape[-1] in (3, 4):
        return frames
    n, h, w, _ = frames.shape
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):  # OpenCV's SIMD loop: ~10x a numpy broadcast into interleaved RGB
        cv2.cvtColor(frames[i, :, :, 0], cv2.COLOR_GRAY2RGB, dst=out[i])
    return out


class FrameMaker:
    """Makes the frames of one walk at one delivery size: (N, H, W, 3) uint8 RGB, or RGBA when
    the post-process chain ends in `alpha`.

    `post` (an imggen_rt.post.PostChain) runs inside the generator, fused with denormalising;
    `size` is the delivery size, applied last so it holds whatever the chain did.
    """

    def __init__(
        self,
        gen: ImageGenerator,
        walk: Walk,
        size: tuple[int, int] | None = None,
        post: PostChain | None = None,
        fit: str = "pad",
    ) -> None:
        if fit not in FITS:
            raise ImggenError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
        self.gen = gen
        self.walk = walk
        self.size = size
        self.fit = fit
        self.post = post or None

    @property
    def length(self) -> int:
        return self.walk.length

    @property
    def has_alpha(self) -> bool:
        return self.gen.has_alpha(self.post)

    def make(self, indices: Sequence[int]) -> np.ndarray:
        frames = self.gen.frames_for_walk(self.walk, indices, "rgb", post=self.post)
        # Gray frames are resized before they become RGB: a third of the resampling work.
        return np.ascontiguousarray(to_rgb(resize_frames(frames, self.size, self.fit)))

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames `make` returns."""
        if self.size is not None:
            return self.size
        h, w, _ = self.gen.frame_shape("rgb", self.post)
        return w, h
