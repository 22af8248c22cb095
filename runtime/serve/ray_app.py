"""Scale-out on Ray Serve: the same FastAPI app as `imggen-rt serve`, one copy per replica.

Each replica loads the models itself (an ONNX session cannot travel between processes) and
builds the app with `create_app`, so routes, validation, token, metrics and page are the ones
the single-box server has. Only the frame source differs: a request is split into one item per
image and handed to a `@serve.batch` function, which merges items from concurrent requests up to
--max-batch images or --max-wait-ms, like the in-process DynamicBatcher. Ray spreads requests
over replicas and, with autoscaling, adds replicas while requests pile up.

Ray is imported only here, and this module only in --ray mode (or by `serve run`).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from ..bundled import model_reference
from ..errors import ImggenError, first_line
from ..generator import ImageGenerator, load
from .app import create_app, model_name, read_token
from .config import APP_NAME, Scaling, ServeConfig
from .infer import all_answered, frames_for_requests
from .metrics import ServerMetrics
from .source import FrameRequest, FrameSource, QueueFull, ShuttingDown

RAY_MISSING = "--ray needs Ray Serve: pip install 'imggen-rt[ray]'"


def import_serve() -> Any:
    """`ray.serve`, or the one-line install hint."""
    try:
        from ray import serve
    except ImportError:
        raise ImggenError(RAY_MISSING) from None
    return serve


@dataclass(frozen=True)
class BatchItem:
    """One image of one request: what `@serve.batch` counts towards max_batch_size."""

    model: str
    request: FrameRequest


class RayBatchSource:
    """A FrameSource that feeds a replica's `@serve.batch` function image by image."""

    def __init__(
        self,
        name: str,
        batched: Callable[[BatchItem], Awaitable[np.ndarray]],
        metrics: ServerMetrics,
        max_queue: int,
    ) -> None:
        self.name = name
        self.batched = batched
        self.metrics = metrics
        self.max_queue = max_queue
        self._waiting_images = 0
        self._accepting = True

    @property
    def accepting(self) -> bool:
        return self._accepting

    def start(self) -> None:
        pass  # Ray's batch queue starts with the first call

    async def submit(self, request: FrameRequest) -> np.ndarray:
        if not self._accepting:
            raise ShuttingDown
        if self._waiting_images + len(request) > self.max_queue:
            raise QueueFull
        self._set_waiting(len(request))
        try:
            parts = await asyncio.gather(
                *(
                    self.batched(BatchItem(self.name, _one_image(request, i)))
                    for i in range(len(request))
                )
            )
        finally:
            self._set_waiting(-len(request))
        return np.concatenate(parts)

    async def drain(self) -> None:
        self._accepting = False
        while self._waiting_images:
            await asyncio.sleep(0.01)

    def _set_waiting(self, delta: int) -> None:
        self._waiting_images += delta
        self.metrics.queue_depth.labels(self.name).set(self._waiting_images)


def _one_image(request: FrameRequest, i: int) -> FrameRequest:
    return FrameRequest(request.feeds.rows(slice(i, i + 1)), request.post)


class ImggenReplica:
    """The body of one Ray Serve replica (wrapped by `serve.ingress()` in `deployment`)."""

    def __init__(self, models: list[str], backend: str, config: ServeConfig, threads: int) -> None:
        serve = import_serve()
        self.generators: dict[str, ImageGenerator] = {}
        for path in models:
            name = model_name(Path(path), set(self.generators))
            self.generators[name] = load(path, backend=backend, threads=threads)
        self.config = config
        self.metrics: ServerMetrics | None = None
        # One inference thread: the event loop keeps taking requests (filling the next batch)
        # while a batch runs, and the backend, which is not reentrant, sees one call at a time.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="infer")
        self.batched: Callable[[BatchItem], Awaitable[np.ndarray]] = serve.batch(
            max_batch_size=config.max_batch, batch_wait_timeout_s=config.max_wait_ms / 1000
        )(self.infer_batch)

    def __serve_build_asgi_app__(self) -> FastAPI:
        """Ray calls this on the replica after __init__: the app, built around this replica."""
        return create_app(self.generators, self.config, self._source)

    def _source(self, name: str, _: ImageGenerator, metrics: ServerMetrics) -> FrameSource:
        self.metrics = metrics
        return RayBatchSource(name, self.batched, metrics, self.config.max_queue)

    async def infer_batch(self, items: list[BatchItem]) -> list[np.ndarray]:
        """The `@serve.batch` function: every item's frame, one generator call per model (and
        per post chain) for the whole batch, run on the inference thread."""
        loop = asyncio.get_running_loop()
        answers: list[np.ndarray | None] = [None] * len(items)
        for name in dict.fromkeys(item.model for item in items):
            members = [i for i, item in enumerate(items) if item.model == name]
            started = time.perf_counter()
            frames = await loop.run_in_executor(
                self._executor,
                frames_for_requests,
                self.generators[name],
                [items[i].request for i in members],
            )
            if self.metrics is not None:
                self.metrics.stage_seconds.labels(name, "infer").observe(
                    time.perf_counter() - started
                )
                self.metrics.batch_images.labels(name).observe(len(members))
            for i, frame in zip(members, frames, strict=True):
                answers[i] = frame
        return all_answered(answers)


def deployment(models: list[Path], backend: str, config: ServeConfig, scaling: Scaling) -> Any:
    """The bound Ray Serve application (`serve.run` it, or return it from a builder)."""
    serve = import_serve()
    ingress = serve.ingress()(ImggenReplica)
    options = scaling.deployment_options(config)
    paths = [str(p.resolve()) for p in models]
    return serve.deployment(**options)(ingress).bind(paths, backend, config, scaling.threads)


def app_builder(raw_args: dict[str, Any]) -> Any:
    """For `serve run imggen_rt.serve.ray_app:app_builder model=a.onnx replicas=2` and for
    Serve config files (`import_path` + `args`) on a multi-node cluster. Keys mirror the
    CLI flags with underscores; `model` takes a comma-separated list; `replicas=auto`
    autoscales between min_replicas and max_replicas."""
    known = {
        "model", "backend", "max_batch", "max_wait_ms", "max_queue", "timeout", "token_file",
        "replicas", "min_replicas", "max_replicas", "target_ongoing_requests", "replica_cpus",
    }  # fmt: skip
    args = {key: str(value) for key, value in raw_args.items()}  # YAML gives numbers too
    unknown = sorted(set(args) - known)
    if unknown:
        raise ImggenError(f"unknown argument(s) {', '.join(unknown)}; known: {sorted(known)}")

    def number(key: str) -> float | None:
        if key not in args:
            return None
        try:
            value = float(args[key])
        except ValueError:
            raise ImggenError(f"{key} must be a number, got {args[key]!r}") from None
        if not math.isfinite(value):
            raise ImggenError(f"{key} must be a finite number, got {args[key]!r}")
        return value

    def count(key: str) -> int | None:
        value = number(key)
        return None if value is None else int(value)

    token = read_token(Path(args["token_file"])) if "token_file" in args else None
    config = ServeConfig.from_options(
        count("max_batch"), number("max_wait_ms"), count("max_queue"), number("timeout"), token
    )
    scaling = Scaling.from_options(
        args.get("replicas"),
        count("min_replicas"),
        count("max_replicas"),
        number("target_ongoing_requests"),
        number("replica_cpus"),
    )
    names = args["model"].split(",") if "model" in args else [None]
    return deployment(
        [model_reference(m) for m in names], args.get("backend", "auto"), config, scaling
    )


def run(
    application: Any,
    host: str,
    port: int,
    address: str | None,
    num_cpus: int | None,
) -> None:
    """Start (or join) a Ray cluster, serve the app on host:port until SIGINT/SIGTERM, then
    take it down: the whole local cluster, or only this app on a cluster we joined."""
    import signal
    import threading

    import ray

    serve = import_serve()
    try:
        if address is None:
            # address="local": always a new cluster of our own, never one found on the machine
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False)
        else:
            ray.init(address=address)
    except Exception as e:  # ConnectionError, RuntimeError, ...: Ray's types vary by version
        where = "a local Ray cluster" if address is None else f"the Ray cluster at {address}"
        raise ImggenError(f"cannot start {where}: {first_line(e)}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            serve.start(http_options={"host": host, "port": port})
            serve.run(application, name=APP_NAME, route_prefix="/")
        except Exception as e:  # a port in use, a replica that fails to start (bad backend)
            raise ImggenError(f"Ray Serve could not start the app: {first_line(e)}") from None
        print(f"imggen-rt: serving on Ray at http://{host}:{port}", flush=True)
        stop.wait()
    finally:
        if address is None:
            serve.shutdown()
        else:
            serve.delete(APP_NAME)
        ray.shutdown()
