"""Where the app gets frames from: the seam between the HTTP routes and the batching engine.

The routes, validation, metrics and page are the same whether frames come from the in-process
DynamicBatcher (`imggen-rt serve`) or from a Ray Serve replica's `@serve.batch` function
(`imggen-rt serve --ray`); only this small interface differs between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..contract import Feeds
from ..post import PostChain


class QueueFull(Exception):
    """More images are waiting than the server allows; the client should retry later."""


class ShuttingDown(Exception):
    """The server is draining its queue and takes no new requests."""


@dataclass(frozen=True)
class FrameRequest:
    """One client's images: the generator's feeds for them (latents already drawn and
    truncated, class ids) and the post chain to apply. Feeds rather than seeds so a latent walk
    goes through the same batching as seeds do; requests are merged only when `post` is the
    same object."""

    feeds: Feeds
    post: PostChain | None = None

    def __len__(self) -> int:
        return len(self.feeds)


class FrameSource(Protocol):
    @property
    def accepting(self) -> bool:
        """False once draining: /readyz turns 503 and new requests get 503."""

    def start(self) -> None:
        """Called once inside the running event loop, before the first request."""

    async def submit(self, request: FrameRequest) -> np.ndarray:
        """Frames (N, H, W, C) uint8 for the request, computed in some merged batch.
        Raises QueueFull or ShuttingDown."""

    async def drain(self) -> None:
        """Refuse new work and return once everything accepted has been answered."""
