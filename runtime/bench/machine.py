"""The machine as the benchmark saw it: description, and its limits measured in the same run.

Absolute times on a shared machine move by 20-30% from run to run; a result stated as a
fraction of the machine's own matmul and copy rates, measured minutes apart in the same run,
moves far less.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..system import physical_cores, usable_cpus

MATMUL_N = 2048
COPY_BYTES = 256 << 20


def describe_machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "arch": platform.machine(),
        "usable_cpus": usable_cpus(),
        "physical_cores": physical_cores(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }


def matmul_gflops(n: int = MATMUL_N, reps: int = 5) -> float:
    """float32 n x n matmul with numpy's BLAS (all its threads): the best of `reps`, 2n^3 FLOPs.

    The best, not the median: it estimates what the cores can do when the machine lets them,
    which is the ceiling a generator's convolutions are compared with.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)  # BLAS thread start-up and page faults out of the timing
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def copy_gbps(nbytes: int = COPY_BYTES, reps: int = 5) -> float:
    """Single-thread np.copyto of `nbytes`, read + write counted, best of `reps`."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best / 1e9


def bf16_matmul_gflops(n: int = MATMUL_N, reps: int = 5) -> float | None:
    """bf16 n x n matmul with torch (its oneDNN kernels: AMX or AVX512-BF16 where the CPU has
    them), best of `reps`; None without torch. The ceiling bf16 engines are compared with."""
    try:
        import torch
    except ImportError:
        return None
    a = torch.randn(n, n).to(torch.bfloat16)
    b = torch.randn(n, n).to(torch.bfloat16)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def measure_limits() -> dict[str, float | None]:
    bf16 = bf16_matmul_gflops()
    return {
        "matmul_gflops": round(matmul_gflops(), 1),
        "bf16_matmul_gflops": None if bf16 is None else round(bf16, 1),
        "copy_gbps": round(copy_gbps(), 2),
    }


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux's VmHWM first: ru_maxrss survives exec, so a worker started by a parent that once
    held 600 MB would report the parent's peak. ru_maxrss is KiB on Linux, bytes on macOS.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
