"""Sharding a render over a Ray cluster (the `ray` extra).

Workers are Ray actors, each holding one loaded model and the walk; the driver hands out chunks
of frame indices and takes the frames back in index order (ActorPool.map keeps order and keeps
only one chunk in flight per actor, so memory stays flat). The driver's single sink encodes them,
which is why a Ray render is the single-machine render, byte for byte: frames depend on their
index only, and one encoder sees them in the same order. The model travels as bytes through the
object store, so workers on other machines need the package installed but not the file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImggenError, first_line
from ..walks import Walk


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImggenError("--ray needs Ray: pip install 'imggen-rt[ray]'") from None
    return ray


class _Worker:
    """The body of one Ray actor: a generator and a FrameMaker, built once."""

    def __init__(
        self,
        model: bytes,
        backend: str,
        threads: int | None,
        walk: Walk,
        size: tuple[int, int] | None,
        post: Callable[[], Any] | None,
        fit: str,
    ) -> None:
        from ..generator import load
        from .frames import FrameMaker

        folder = tempfile.mkdtemp(prefix="imggen-ray-")
        path = Path(folder) / "model.onnx"
        path.write_bytes(model)
        self.gen = load(path, backend=backend, threads=threads)
        chain = post() if post is not None else None
        self.maker = FrameMaker(self.gen, walk, size, chain, fit)

    def make(self, indices: list[int]) -> np.ndarray:
        return self.maker.make(indices)


def worker_failure(error: BaseException) -> str:
    """One line saying why a Ray task or actor failed: the worker's own exception message.

    A failed task carries its exception as `cause`; an actor whose constructor raised only has
    the remote traceback as text, whose last line is `module.ErrorType: message`."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and str(cause).strip():
        text = str(cause)
    else:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        text = lines[-1] if lines else type(error).__name__
        text = re.sub(r"^[\w.]+(Error|Exception|Exit|Interrupt): ", "", text)
    return text.strip().splitlines()[0]


class RaySplit:
    """A BatchSource backed by `workers` Ray actors with `cpus` CPUs each (fractions allowed:
    on a 2-CPU box two actors at 0.5 leave room for Ray's own tasks)."""

    def __init__(
        self,
        model: Path,
        walk: Walk,
        size: tuple[int, int] | None,
        *,
        post: Callable[[], Any] | None = None,
        fit: str = "pad",
        workers: int = 2,
        cpus: float = 0.5,
        backend: str = "ort",
        threads: int | None = 1,
        chunk: int = 8,
        address: str | None = None,
    ) -> None:
        if workers < 1:
            raise ImggenError(f"--ray-workers must be >= 1, got {workers}")
        if not 0 < cpus <= 64:
            raise ImggenError(f"--ray-cpus must be in (0, 64], got {cpus}")
        self.ray = require_ray()
        self.chunk = chunk
        self._started = False
        if not self.ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:
                # "local" starts a private cluster even when another one runs on this machine
                # (ray.init() alone would join that one).
                kwargs["address"] = "local"
                kwargs["num_cpus"] = max(2, os.cpu_count() or 2)
            try:
                self.ray.init(**kwargs)
            except (ConnectionError, ValueError) as e:
                first = first_line(e)
                raise ImggenError(
                    f"cannot start or reach a Ray cluster ({address or 'local'}): {first}"
                ) from None
            self._started = True
        remote = self.ray.remote(num_cpus=cpus)(_Worker)
        model_ref = self.ray.put(model.read_bytes())
        self.actors = [
            remote.remote(model_ref, backend, threads, walk, size, post, fit)
            for _ in range(workers)
        ]

    def __call__(self, start: int, stop: int) -> Iterator[np.ndarray]:
        from ray.util import ActorPool

        pool = ActorPool(self.actors)
        chunks = [
            list(range(lo, min(stop, lo + self.chunk))) for lo in range(start, stop, self.chunk)
        ]
        try:
            yield from pool.map(lambda actor, idx: actor.make.remote(idx), chunks)
        except self.ray.exceptions.RayError as e:
            # e.g. a LUT of the post chain missing on a worker: its message, not Ray's traceback
            raise ImggenError(f"a Ray worker failed: {worker_failure(e)}") from None

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self._started:
            self.ray.shutdown()
