"""Facts about the machine the runtime runs on."""

from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> int:
    """Logical CPUs this process may run on (cgroup/affinity aware where the OS says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores among the usable CPUs: SMT siblings share one core's FPUs, so
    compute-bound inference gains nothing from a second thread per core."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if cpus is None:
        return usable_cpus()
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            return usable_cpus()
    return max(1, len(cores))


CACHE_ENV = "IMGGEN_RT_CACHE"


def default_cache_dir() -> Path:
    """$IMGGEN_RT_CACHE, else $XDG_CACHE_HOME/imggen-rt, else ~/.cache/imggen-rt."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imggen-rt"
