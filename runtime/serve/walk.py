"""A latent walk as one batched request: the KeyframeWalk `imggen-rt video` renders (slerp
between keyframe latents, optional easing) planned for every frame, so the page's preview shows
exactly the frames the video has for the same seeds, truncation and class."""

from __future__ import annotations

from ..generator import ImageGenerator
from ..post import PostChain
from ..walks import KeyframeWalk
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
    return FrameRequest(gen.feeds_for_walk(walk, range(walk.length), body.scalars), post)
