"""--engine-build: whether `--backend auto` may build this CPU's bf16 engine on first use, and
the status line it shows while it does (the build takes seconds for small models, longer for
large ones; without a line the first run would look hung)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from ..backend_factory import ENGINE_BUILD_ENV, ENGINE_BUILD_POLICIES, engine_build_policy

Progress = Callable[[str], None]


def add_engine_build_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine-build",
        choices=ENGINE_BUILD_POLICIES,
        default=None,
        help="with --backend auto on a CPU with bf16 in hardware: build, gate and cache the "
        "bf16 OpenVINO engine on first use (first-use), or only take engines built ahead "
        f"with `imggen-rt build` (never). Default: ${ENGINE_BUILD_ENV}, else first-use",
    )


@contextmanager
def engine_build_progress(args: argparse.Namespace) -> Iterator[Progress | None]:
    """The progress callback to hand `load(build=...)`, or None when builds are off. The status
    line appears only if a build starts; its outcome stays on screen as one line."""
    if (args.engine_build or engine_build_policy()) == "never":
        yield None
        return
    console = Console(stderr=True)
    status: Status | None = None
    started, last = 0.0, ""

    def progress(text: str) -> None:
        nonlocal status, started, last
        if status is None:
            started = time.perf_counter()
            status = console.status("", spinner="dots")
            status.start()
        last = text
        status.update(escape(f"first use: building the bf16 engine for this CPU: {text}"))

    try:
        yield progress
    finally:
        if status is not None:
            status.stop()
            seconds = time.perf_counter() - started
            console.print(escape(f"first use: bf16 engine ({seconds:.1f} s): {last}"))
