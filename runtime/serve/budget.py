"""What one request may cost, checked before any work starts.

The inference thread cannot be interrupted mid-call: a request that asks for 64 images at
2048x2048 through a radius-64 sharpen would hold it for minutes (past its own 504, and every
request behind it would time out too). So a request's work is estimated from what it asks --
images x pixels x the chain's taps per pixel -- and refused with a 422 past a budget that a
2-core machine runs in about a second or two, with the numbers in the message.
"""

from __future__ import annotations

import math

from ..errors import ImggenError
from ..post import PostChain
from ..post.ops import Blur, Mask, Resize, Sharpen

# Pixel-taps (one multiply-add on one pixel channel-set): about 1 s of CPU work at the
# separable filters' measured rate on this project's machine (benchmarks/results/post.md).
MAX_WORK = 2e9
# Frames held in memory at once for one answer (raw answers are their size in bytes x 3-4).
MAX_OUT_PIXELS = 2**24  # 8 frames of 1080p


def _gaussian_taps(sigma: float) -> int:
    return 2 * (2 * math.ceil(3 * sigma) + 1)  # two separable passes


def request_work(
    images: int, height: int, width: int, post: PostChain | None, size: int | None
) -> tuple[float, int]:
    """(pixel-taps of work, output pixels) for `images` frames of the model's size."""
    pixels = float(height * width)
    work = pixels * 2  # denormalise + the encoder, roughly
    for op in post.ops if post is not None else ():
        if isinstance(op, Resize):
            scale = max(1.0, (height * width) / max(1, op.width * op.height))
            work += op.width * op.height * 2 * (8 + math.sqrt(scale))  # Lanczos/area taps
            height, width, pixels = op.height, op.width, float(op.width * op.height)
        elif isinstance(op, Blur):
            work += pixels * _gaussian_taps(op.sigma)
        elif isinstance(op, Sharpen):
            work += pixels * (_gaussian_taps(op.radius) + 2)
        elif isinstance(op, Mask):
            work += pixels * 16  # histogram, threshold, components / k-means passes
        else:
            work += pixels  # a colour op (fused) or alpha
    out = size * size if size else height * width
    work += out * 2
    return images * work, images * out


def check_budget(
    images: int, height: int, width: int, post: PostChain | None, size: int | None
) -> None:
    work, out = request_work(images, height, width, post, size)
    if out > MAX_OUT_PIXELS:
        raise ImggenError(
            f"request too large: {out / 1e6:.0f} M output pixels; at most "
            f"{MAX_OUT_PIXELS / 1e6:.0f} M per request (fewer images or a smaller size)"
        )
    if work > MAX_WORK:
        raise ImggenError(
            f"request too heavy: about {work:.2g} pixel-taps of work; at most {MAX_WORK:.0e} "
            "per request (fewer images, a smaller size or lighter filters)"
        )
