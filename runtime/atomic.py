"""A file lock between processes, and atomic file writes.

Two `imggen-rt build` runs of one cache entry must not build it twice nor interleave their
writes; a reader must never see half a file. The lock is fcntl's advisory lock (Linux, Jetson,
macOS): the kernel drops it when its holder dies, so a crashed build never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o644  # mkstemp makes files private (0600); cached artifacts are meant to be shared


@contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block.

    Blocks while another process holds it; `on_wait` is called once before blocking so a
    command line can say why it is waiting.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def atomic_write_bytes(path: Path, data: bytes | memoryview, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    A rename within one directory is atomic on POSIX, so readers see the old file or the new
    one; a crash leaves at most a `.tmp-*` file behind, never a truncated `path`. `durable`
    also fsyncs before the rename (survives power loss); frame writers skip it for speed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def temp_path_beside(path: Path) -> Path:
    """A fresh name in `path`'s folder for an artifact that is checked before it is committed
    with `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return Path(tmp)
