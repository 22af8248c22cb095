"""The render loop: frames in index order from a source, into a sink, resumable.

Frame making and the sink's per-frame preparation (YUV conversion, image compression) run ahead
on worker threads (stages.Prefetch) while this thread feeds the encoder, so the slowest stage
sets the pace rather than the sum of them. Whatever stops the loop (the end, Ctrl-C, an error) the
sink is closed cleanly and the progress record names the first frame that is not durable;
`resume=True` starts there and the sink carries on from what the record kept. A first Ctrl-C
stops between two batches and keeps everything written; a hard stop (a second Ctrl-C, an error)
can land between an encoder call and the sink's bookkeeping, so the sink first drops what it had
not yet made durable (`Sink.abandon`) and only closed, counted work is kept.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImggenError
from . import progress
from .realtime import Pacer
from .sinks.base import Sink
from .stages import Prefetch

# Makes the frames [start, stop) as batches in index order.
BatchSource = Callable[[int, int], Iterator[np.ndarray]]


@dataclass
class RenderResult:
    first: int
    stop: int
    resumed_from: int | None
    frames_written: int  # frames that reached the sink (dropped ones are not written)
    seconds: float
    complete: bool
    realtime: dict[str, Any] | None = None
    frames_dropped: int = 0  # late frames a realtime pipe skipped

    @property
    def fps(self) -> float:
        return self.frames_written / self.seconds if self.seconds > 0 else 0.0


def batches_from(make: Callable[[list[int]], np.ndarray], batch_size: int) -> BatchSource:
    """A BatchSource from a function of frame indices (FrameMaker.make)."""
    if batch_size < 1:
        raise ImggenError(f"batch size must be >= 1, got {batch_size}")

    def source(start: int, stop: int) -> Iterator[np.ndarray]:
        for lo in range(start, stop, batch_size):
            yield make(list(range(lo, min(stop, lo + batch_size))))

    return source


def _resume_point(
    record_path: Path | None, fp: str, first: int, stop: int, sink: Sink
) -> tuple[int, bool]:
    """(frame to start at, True if already complete)."""
    if record_path is None or not sink.resumable:
        raise ImggenError("--resume needs a file output (a video file or an image sequence)")
    record = progress.load(record_path)
    if record is None:
        raise ImggenError(f"nothing to resume: no progress record at {record_path}")
    if record.fingerprint != fp or (record.first, record.stop) != (first, stop):
        raise ImggenError(
            f"cannot resume {record_path.name}: it was started with different settings or frames"
        )
    sink.restore(record.sink, record.next)
    return record.next, record.complete or record.next >= stop


def render(
    source: BatchSource,
    sink: Sink,
    frame_size: tuple[int, int],
    first: int,
    stop: int,
    *,
    record_path: Path | None = None,
    fingerprint: str = "",
    resume: bool = False,
    pipelined: bool = True,
    queue_depth: int = 2,
    realtime: Fraction | None = None,
    drop_late: bool = False,
    on_frames: Callable[[int], None] | None = None,
) -> RenderResult:
    """Render frames [first, stop) of `source` into `sink`."""
    if not 0 <= first < stop:
        raise ImggenError(f"empty frame range {first}:{stop}")
    start, resumed_from = first, None
    if resume:
        start, done = _resume_point(record_path, fingerprint, first, stop, sink)
        resumed_from = start
        if done:
            # Everything is durable but the last run stopped before finishing the output (a
            # stop after the last batch, a kill before the record went): finish it now.
            sink.finish(True)
            if record_path is not None:
                record_path.unlink(missing_ok=True)
            return RenderResult(first, stop, start, 0, 0.0, True)
    record = progress.ProgressRecord(fingerprint, first, stop, start)

    def save(complete: bool = False) -> None:
        if record_path is None:
            return
        record.next, record.complete, record.sink = sink.committed(), complete, sink.state()
        progress.save(record_path, record)

    sink.start(*frame_size, start)
    save()
    pacer = Pacer(realtime, allow_drop=drop_late) if realtime is not None else None
    produced: Iterator[np.ndarray] = source(start, stop)
    stages: list[Prefetch[Any]] = []
    if pipelined:
        # make -> prepare (colour conversion, compression) -> write: three threads, two queues
        made = Prefetch(produced, depth=queue_depth, name="make")
        stages = [
            Prefetch((sink.prepare(b) for b in made), depth=queue_depth, name="prepare"),
            made,
        ]
        prepared: Iterator[list[Any]] = iter(stages[0])
    else:
        prepared = (sink.prepare(b) for b in produced)
    written = dropped = 0
    t0, complete, hard_stop = time.perf_counter(), False, True
    position = start  # the next frame to come from the source (written or dropped)
    durable = sink.committed()
    stop_request = _StopOnSignal()
    try:
        for items in prepared:
            if pacer is None:
                sink.write_prepared(items)
                written += len(items)
            else:
                for item in items:
                    if pacer.admit():
                        sink.write_prepared([item])
                        pacer.sent()
                        written += 1
                    else:
                        dropped += 1
            position += len(items)
            if on_frames is not None:
                on_frames(len(items))
            if sink.committed() != durable:
                durable = sink.committed()
                save()
            if stop_request.is_set() and position < stop:
                break  # a Ctrl-C during the last batch lets the render finish instead
        else:
            complete = True
        hard_stop = False
    finally:
        stop_request.restore()
        for stage in stages:
            stage.close()
        if hard_stop:
            sink.abandon()
        sink.finish(complete)
        save(complete)
        if complete and record_path is not None:
            # A finished output needs no record: nothing is left beside an editor's files.
            record_path.unlink(missing_ok=True)
    if not complete:
        raise KeyboardInterrupt
    return RenderResult(
        first,
        stop,
        resumed_from,
        written,
        time.perf_counter() - t0,
        complete,
        pacer.stats.summary() if pacer is not None else None,
        dropped,
    )


class _StopOnSignal:
    """Turns Ctrl-C and SIGTERM into a request to stop between two batches.

    An interrupt landing inside an encoder call could leave a frame half counted; stopping at a
    batch boundary means the sink closes on whole frames. A second Ctrl-C stops at once, and
    the render then abandons whatever the sink had not made durable.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._saved: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def restore(self) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved = {}
