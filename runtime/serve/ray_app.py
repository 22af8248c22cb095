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
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from ..errors import ImggenError, first_line
from ..generator import ImageGenerator, default_model_path, load
from .app import ServeConfig, create_app, model_name, read_token
from .infer import all_answered, frames_for_requests
from .metrics import ServerMetrics
from .source import FrameRequest, FrameSource, QueueFull, ShuttingDown

APP_NAME = "imggen"
RAY_MISSING = "--ray needs Ray Serve: pip install 'imggen-rt[ray]'"


def import_serve() -> Any:
    """`ray.serve`, or the one-line install hint."""
    try:
        from ray import serve
    except ImportError:
        raise ImggenError(RAY_MISSING) from None
    return serve


@dataclass(frozen=True)
class Scaling:
    """How many replicas: a fixed count, or autoscaling between min and max on the number of
    requests each replica has in flight. `replica_cpus` is fractional so several replicas (or
    one replica beside Ray's own actors) fit on a 2-CPU box; it also sets the replica's
    inference threads (at least one)."""

    replicas: int | None = 1
    min_replicas: int = 1
    max_replicas: int = 2
    target_ongoing_requests: float = 8.0
    replica_cpus: float = 0.5

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replicas < 1:
            raise ImggenError(f"replicas must be >= 1, got {self.replicas}")
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise ImggenError(
                f"need 0 <= min replicas <= max replicas, max >= 1; got "
                f"{self.min_replicas}..{self.max_replicas}"
            )
        if self.target_ongoing_requests <= 0:
            raise ImggenError("target ongoing requests must be > 0")
        if self.replica_cpus <= 0:
            raise ImggenError(f"replica CPUs must be > 0, got {self.replica_cpus}")

    @property
    def threads(self) -> int:
        return max(1, round(self.replica_cpus))

    def deployment_options(self, config: ServeConfig) -> dict[str, Any]:
        """Keyword arguments for `serve.deployment`."""
        options: dict[str, Any] = {
            "name": APP_NAME,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
            # Requests waiting in @serve.batch count as ongoing: the limit must let a batch
            # fill. Images per replica are bounded by the frame source (429), like one box.
            "max_ongoing_requests": max(config.max_queue, 2 * config.max_batch),
            # Past this many requests waiting in a proxy for a free replica, Ray answers 503:
            # the cluster's queue is bounded too, not only each replica's.
            "max_queued_requests": config.max_queue,
            "graceful_shutdown_timeout_s": config.timeout_s,
        }
        if self.replicas is not None:
            options["num_replicas"] = self.replicas
        else:
            options["num_replicas"] = "auto"
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return options


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

    def number(key: str, default: float) -> float:
        try:
            return float(args.get(key, default))
        except ValueError:
            raise ImggenError(f"{key} must be a number, got {args[key]!r}") from None

    token = read_token(Path(args["token_file"])) if "token_file" in args else None
    config = ServeConfig(
        int(number("max_batch", 16)),
        number("max_wait_ms", 5.0),
        int(number("max_queue", 256)),
        number("timeout", 30.0),
        token,
    )
    replicas = args.get("replicas", "1")
    scaling = Scaling(
        replicas=None if replicas == "auto" else int(number("replicas", 1)),
        min_replicas=int(number("min_replicas", 1)),
        max_replicas=int(number("max_replicas", 2)),
        target_ongoing_requests=number("target_ongoing_requests", 8.0),
        replica_cpus=number("replica_cpus", 0.5),
    )
    models = [Path(m) for m in args["model"].split(",")] if "model" in args else None
    return deployment(
        models or [default_model_path()], args.get("backend", "auto"), config, scaling
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
