"""Stages on threads joined by bounded queues.

Making frames (ONNX Runtime, OpenCV) and encoding them (FFmpeg through PyAV) both release the
GIL, so running them on separate threads overlaps them on separate cores. The queue is bounded:
a fast producer waits instead of piling frames into memory, so a render of any length runs in
flat memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Runs an iterator on a worker thread, `depth` items ahead of the consumer.

    The worker's exception is re-raised in the consumer; `close()` stops the worker at its next
    item (used when the consumer is interrupted).
    """

    def __init__(self, source: Iterator[T], depth: int = 4, name: str = "stage") -> None:
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as e:
            self._put(_Failure(e))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return  # closed: a stage reading from this one ends too
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
