"""`imggen-rt serve` in a subprocess on loopback, for tests that talk to it over real HTTP."""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """A free port between Ray's worker ports (10002-19999) and the kernel's ephemeral range
    (32768 and up, where Ray's own processes bind while a cluster starts): a port taken from
    the ephemeral range was once grabbed by a Ray process before the server bound it."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


@contextlib.contextmanager
def server(
    model: Path,
    *options: str,
    env: dict[str, str] | None = None,
    start_timeout: float = 60,
    log: IO[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The server's output goes to a pipe, or to `log` for chatty servers (Ray logs every
    request) that would otherwise fill the pipe and stall."""
    port = free_port()
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "serve", "-m", str(model)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), *options],
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # still starting after the deadline: stop it before reading
                raise RuntimeError(f"server did not start: {proc.communicate()[0] or 'see log'}")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
