"""The one interface every sink implements.

The render loop hands a sink batches of RGB frames in index order and asks it one question about
durability: up to which frame is the output safe on disk? That frontier is what the progress
record stores and where `--resume` continues, so each sink decides what "safe" means (a renamed
image file, a closed video segment, nothing at all for a pipe).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Sink:
    """Receives (N, H, W, 3) uint8 RGB frames; global frame indices start at `first_index`."""

    resumable = False
    supports_alpha = False  # whether RGBA frames (a chain ending in `alpha`) can be written

    def start(self, width: int, height: int, first_index: int) -> None:
        raise NotImplementedError

    def prepare(self, frames: np.ndarray) -> list[Any]:
        """The per-frame work that needs no encoder state (colour conversion, image
        compression). A pipelined render runs it on a thread of its own, between making frames
        and `write_prepared`, so it overlaps both."""
        raise NotImplementedError

    def write_prepared(self, items: list[Any]) -> None:
        """Hand prepared frames, in order, to the encoder, file or pipe."""
        raise NotImplementedError

    def write(self, frames: np.ndarray) -> None:
        self.write_prepared(self.prepare(frames))

    def committed(self) -> int:
        """The first frame index that is not yet durable (resume starts here)."""
        raise NotImplementedError

    def finish(self, complete: bool) -> None:
        """Close cleanly. `complete` is False after an interruption: the output left behind is
        still playable (or consists of whole frames) up to `committed()`."""
        raise NotImplementedError

    def use_slice(self, first: int, stop: int) -> None:
        """This render is the slice [first, stop) of a longer walk: name whatever the sink keeps
        beside its output (a video file's segment folder) by the slice."""

    def abandon(self) -> None:
        """A hard stop (a second Ctrl-C, an error) may have cut a write short: drop whatever is
        not yet durable, so that `finish(False)` keeps only whole, counted work up to
        `committed()`. Called before `finish`."""

    def state(self) -> dict[str, Any]:
        """What the progress record keeps so a resumed render can carry on."""
        return {}

    def restore(self, state: dict[str, Any], next_index: int) -> None:
        """Take back `state` from a progress record before a resumed `start`."""

    def describe(self) -> dict[str, Any]:
        """The settings that must match for a resume to continue this output."""
        return {}
