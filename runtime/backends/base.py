"""What a backend can do, stated in its type.

Every backend runs the generator graph and hands back its float output on the host, laid out
as the graph has it (`Backend.infer`; the card's contract says how, and the generator makes it
NCHW RGB). A backend that can also finish the frames where the graph ran -- on a GPU:
denormalise, a post chain's leading colour ops and the 8-bit rounding, so that only uint8
frames cross back to the host -- is a `DeviceFramesBackend`. The generator picks its path with
`isinstance`, so a reader sees from the class line alone which path a backend takes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from ..card import ModelCard
from ..contract import Feeds

# A post chain's leading colour program (imggen_rt.post): program rows and LUT tables.
ColourProgram = tuple[NDArray[np.float32], list[NDArray[np.float32]]]


class Backend(ABC):
    """Runs the generator graph: canonical feeds in (mapped to the graph's inputs by the
    card's contract, `contract.graph_inputs`), the graph's float output out.

    A backend owns its session and buffers for its whole life and is not reentrant. The array
    `infer` returns may be a buffer the backend reuses: it is valid until the next call.
    """

    name: str
    card: ModelCard
    # The batch sizes a backend takes (a TensorRT engine's profile sets its own); the
    # generator splits and pads batches to fit them.
    min_batch: int = 1
    max_batch: int | None = None

    @abstractmethod
    def infer(self, feeds: Feeds) -> np.ndarray:
        """The graph's float output on the host, as the graph lays it out (the card's
        `output` says how; `contract.canonical_output` makes it NCHW RGB): float32, float16
        or ml_dtypes.bfloat16, in the precision the engine made it (the extension reads all
        three; `np.asarray(x, np.float32)` widens exactly where a caller needs FP32)."""

    @abstractmethod
    def describe(self) -> dict[str, object]:
        """Options that matter for reproducing a run (provider, threads, precision...)."""

    @abstractmethod
    def close(self) -> None: ...


class DeviceFramesBackend(Backend):
    """A backend that also makes the uint8 frames on its device (`infer_frames`), with a
    chain's leading colour program fused into that pass; only the frames come back. The
    device pass reads NCHW RGB: for a graph with another output layout the generator takes
    the host path."""

    @abstractmethod
    def infer_frames(
        self,
        feeds: Feeds,
        order: str = "rgb",
        out: NDArray[np.uint8] | None = None,
        colour: ColourProgram | None = None,
    ) -> NDArray[np.uint8]:
        """uint8 (N, H, W, Cout) frames. Without `out` the result may live in a buffer the
        backend reuses until the next call."""
