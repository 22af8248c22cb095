"""Dynamic batching: requests from many clients merged into one inference call.

One worker task per model takes the oldest request, then keeps taking requests until the batch
holds `max_batch` images or `max_wait_ms` has passed since it started, runs the batch on one
inference thread, and hands each request its own frames. Requests waiting for inference are
bounded (`max_queue` images): past that a request is refused at once (HTTP 429) instead of
growing the latency of everyone behind it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..generator import ImageGenerator
from .infer import frames_for_requests
from .metrics import ServerMetrics
from .source import FrameRequest, QueueFull, ShuttingDown

__all__ = ["DynamicBatcher", "QueueFull", "ShuttingDown"]


@dataclass
class Job:
    request: FrameRequest
    future: asyncio.Future[np.ndarray]
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    def __init__(
        self,
        name: str,
        generator: ImageGenerator,
        metrics: ServerMetrics,
        max_batch: int = 16,
        max_wait_ms: float = 5.0,
        max_queue: int = 256,
    ) -> None:
        self.name = name
        self.generator = generator
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self._jobs: collections.deque[Job] = collections.deque()
        self._waiting_images = 0  # images submitted and not yet handed to inference
        self._wakeup = asyncio.Event()
        self._accepting = True
        self._busy = False
        # One inference thread per model: the backend owns its buffers and is not reentrant.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"infer-{name}")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    @property
    def accepting(self) -> bool:
        return self._accepting

    async def submit(self, request: FrameRequest) -> np.ndarray:
        """Frames (N, H, W, C) uint8 for the request, computed in some merged batch."""
        if not self._accepting:
            raise ShuttingDown
        if self._waiting_images + len(request) > self.max_queue:
            raise QueueFull
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._jobs.append(Job(request, future))
        self._waiting_images += len(request)
        self.metrics.queue_depth.labels(self.name).set(self._waiting_images)
        self._wakeup.set()
        return await future

    async def drain(self) -> None:
        """Refuse new work, finish what is queued, then stop the worker."""
        self._accepting = False
        while self._jobs or self._busy:
            await asyncio.sleep(0.01)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def _next_job(self) -> Job:
        while not self._jobs:
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._jobs.popleft()

    async def _collect(self) -> list[Job]:
        """The oldest job plus whatever fits before the batch is full or the wait is over."""
        batch = [await self._next_job()]
        self._busy = True  # from here until the batch is answered, drain() must wait
        images = len(batch[0].request)
        deadline = time.perf_counter() + self.max_wait
        while images < self.max_batch:
            if self._jobs:
                if images + len(self._jobs[0].request) > self.max_batch:
                    break  # it opens the next batch
                job = self._jobs.popleft()
                batch.append(job)
                images += len(job.request)
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                break
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            try:
                self._waiting_images -= sum(len(j.request) for j in batch)
                self.metrics.queue_depth.labels(self.name).set(self._waiting_images)
                live = [j for j in batch if not j.future.done()]  # cancelled: client left
                if not live:
                    continue
                started = time.perf_counter()
                for job in live:
                    self.metrics.stage_seconds.labels(self.name, "queue").observe(
                        started - job.enqueued
                    )
                try:
                    frames = await loop.run_in_executor(self._executor, self._infer, live)
                except Exception as e:  # deliver the failure to every waiting request
                    for job in live:
                        if not job.future.done():
                            job.future.set_exception(e)
                    continue
                self.metrics.stage_seconds.labels(self.name, "infer").observe(
                    time.perf_counter() - started
                )
                self.metrics.batch_images.labels(self.name).observe(sum(len(f) for f in frames))
                for job, job_frames in zip(live, frames, strict=True):
                    if not job.future.done():
                        job.future.set_result(job_frames)
            finally:
                self._busy = False

    def _infer(self, jobs: list[Job]) -> list[np.ndarray]:
        """Runs on the inference thread (the backend owns its buffers and is not reentrant)."""
        return frames_for_requests(self.generator, [j.request for j in jobs])
