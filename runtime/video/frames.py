"""Frame indices -> delivery-ready RGB frames: the one step between a walk and a sink.

Everything that turns a latent into the pixels a sink receives (inference, class morph, grey to
RGB, resize to the delivery size) lives here, so the render loop, the Ray workers and the
benchmark all make frames the same way and a frame stays a function of its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import ImggenError
from .walks import Walk

if TYPE_CHECKING:
    from ..generator import ImageGenerator
    from ..post import PostChain


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ImggenError(f"size must be WIDTHxHEIGHT like 1920x1080, got {text!r}") from None
    if w < 1 or h < 1 or w > 16384 or h > 16384:
        raise ImggenError(f"size must be between 1x1 and 16384x16384, got {text!r}")
    return w, h


def resize_frames(frames: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize (N, H, W, C) uint8 to (width, height): Lanczos when enlarging (keeps edges crisp),
    area averaging when shrinking (no aliasing). Each frame is resampled straight into the
    output batch."""
    if size is None:
        return frames
    w, h = size
    n, fh, fw, c = frames.shape
    if (fw, fh) == (w, h):
        return frames
    interp = cv2.INTER_AREA if w * h < fw * fh else cv2.INTER_LANCZOS4
    if c == 1:  # OpenCV reads and writes one-channel images as 2-D arrays
        out = np.empty((n, h, w), dtype=np.uint8)
        for i in range(n):
            cv2.resize(frames[i, :, :, 0], (w, h), dst=out[i], interpolation=interp)
        return out[..., None]
    out = np.empty((n, h, w, c), dtype=np.uint8)
    for i in range(n):
        cv2.resize(frames[i], (w, h), dst=out[i], interpolation=interp)
    return out


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """Gray (and gray + alpha) frames become RGB (+ alpha): every sink takes colour frames."""
    channels = frames.shape[-1]
    if channels in (3, 4):
        return frames
    n, h, w, _ = frames.shape
    if channels == 2:
        out = np.empty((n, h, w, 4), dtype=np.uint8)
        out[..., :3] = frames[..., :1]
        out[..., 3] = frames[..., 1]
        return out
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
    ) -> None:
        self.gen = gen
        self.walk = walk
        self.size = size
        self.post = post or None

    @property
    def length(self) -> int:
        return self.walk.length

    @property
    def has_alpha(self) -> bool:
        return self.post is not None and self.post.has_alpha

    def _infer(self, z: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
        return self.gen.frames_for_latents(z, classes, "rgb", post=self.post)

    def make(self, indices: Sequence[int]) -> np.ndarray:
        plan = self.walk.plan(indices)
        frames = self._infer(plan.z, plan.class_a)
        if plan.blend is not None and plan.class_b is not None:
            morph = np.flatnonzero(plan.blend > 0)
            if len(morph):
                other = self._infer(plan.z[morph], plan.class_b[morph])
                w = plan.blend[morph].reshape(-1, 1, 1, 1)
                mixed = frames[morph] * (1.0 - w) + other * w
                frames[morph] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        # Gray frames are resized before they become RGB: a third of the resampling work.
        return np.ascontiguousarray(to_rgb(resize_frames(frames, self.size)))

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames `make` returns."""
        if self.size is not None:
            return self.size
        h, w, _ = self.gen.frame_shape("rgb", self.post)
        return w, h
