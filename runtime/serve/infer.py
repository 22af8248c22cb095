"""One merged inference call for many clients' requests, shared by both batching engines.

Requests carrying the same post chain object share one generator call (the server hands every
request with the same spec the same object); a request with another chain never has it applied
to its frames, and the generator runs a merged batch in pieces where the model needs it (a
0-d knob with different values, a fixed batch), so merging can change speed but never an
image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..contract import Feeds
from ..generator import ImageGenerator
from ..post import PostChain
from .source import FrameRequest


def frames_for_requests(
    generator: ImageGenerator, requests: Sequence[FrameRequest]
) -> list[np.ndarray]:
    """Each request's frames, in request order, from one generator call per distinct chain."""
    groups: dict[PostChain | None, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.post, []).append(i)
    answers: list[np.ndarray | None] = [None] * len(requests)
    for post, members in groups.items():
        feeds = Feeds.concat([requests[i].feeds for i in members])
        frames = generator.frames(feeds, post=post)
        start = 0
        for i in members:
            stop = start + len(requests[i])
            answers[i] = frames[start:stop]
            start = stop
    return all_answered(answers)


def all_answered(answers: list[np.ndarray | None]) -> list[np.ndarray]:
    """The answers in request order; every request belongs to exactly one group, so a gap is
    a bug, and dropping it would hand the next request's frames to the wrong client."""
    missing = [i for i, a in enumerate(answers) if a is None]
    if missing:
        raise RuntimeError(f"no frames were made for requests {missing}")
    return [a for a in answers if a is not None]
