"""A latent walk as one batched request: the video part's KeyframeWalk (slerp between keyframe
latents, optional easing) planned for every frame, so the page's preview shows exactly the
frames `imggen-rt video` renders for the same seeds, truncation and class."""

from __future__ import annotations

import numpy as np

from ..generator import ImageGenerator
from ..post import PostChain
from ..video.walks import KeyframeWalk
from .schemas import WalkRequest
from .source import FrameRequest


def walk_request(gen: ImageGenerator, body: WalkRequest, post: PostChain | None) -> FrameRequest:
    """All frames of the walk in one class (default: the first seed's), ready to batch."""
    classes = gen.resolve_classes(body.class_, body.seeds[:1])
    walk = KeyframeWalk(
        body.seeds,
        body.frames_per_seed,
        gen.card.latent_dim,
        classes=None if classes is None else classes * len(body.seeds),
        easing=body.easing,
        loop_back=body.loop_back,
        truncation=body.truncation,
    )
    plan = walk.plan(range(walk.length))
    class_ids = None if classes is None else np.full(walk.length, classes[0], dtype=np.int64)
    return FrameRequest(plan.z, class_ids, post)
