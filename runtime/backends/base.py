"""What every inference backend offers the generator."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..card import ModelCard


class Backend(Protocol):
    """Runs the generator graph: latents (and class ids) in, float NCHW images out.

    A backend owns its session and buffers for its whole life. The array `infer` returns may be
    a buffer the backend reuses: it is valid until the next call.
    """

    name: str
    card: ModelCard

    def infer(self, z: np.ndarray, class_id: np.ndarray | None = None) -> np.ndarray: ...

    def describe(self) -> dict[str, object]:
        """Options that matter for reproducing a run (provider, threads, precision...)."""
        ...

    def close(self) -> None: ...
