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
    (keeps edges crisp), area averaging when shrinking (no aliasing); see `fit_box`."""
    if size is None:
        return frames
    w, h = size
    n, fh, fw, c = frames.shape
    if (fw, fh) == (w, h):
        return frames
    sw, sh, x, y = fit_box((fw, fh), (w, h), fit)
    interp = cv2.INTER_AREA if sw * sh < fw * fh else cv2.INTER_LANCZOS4
    out = np.zeros((n, h, w, c), dtype=np.uint8)
    if (sw, sh, x, y) == (w, h, 0, 0):
        for i in range(n):
            _resize_one(frames[i], out[i], (w, h), interp)
    elif x >= 0 and y >= 0:  # pad: resample into the middle of a black frame
        for i in range(n):
            _resize_one(frames[i], out[i, y : y + sh, x : x + sw], (sw, sh), interp)
    else:  # crop: resample the whole, keep the middle
        scaled = np.empty((sh, sw, c), dtype=np.uint8)
        for i in range(n):
            _resize_one(frames[i], scaled, (sw, sh), interp)
            out[i] = scaled[-y : -y + h, -x : -x + w]
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
        return np.ascontiguousarray(to_rgb(resize_frames(frames, self.size, self.fit)))

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames `make` returns."""
        if self.size is not None:
            return self.size
        h, w, _ = self.gen.frame_shape("rgb", self.post)
        return w, h
