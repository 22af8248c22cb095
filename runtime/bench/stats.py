"""Latency statistics as trtexec reports them, from a list of per-iteration milliseconds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# trtexec flags a run as unstable above this coefficient of variation; so do we.
CV_WARNING = 0.025


def summarize(ms: Sequence[float]) -> dict[str, float]:
    """min/max/mean/median/p90/p95/p99 and the coefficient of variation (sample std / mean).

    Percentiles interpolate linearly between order statistics (numpy's default), so they are
    well defined for any number of samples >= 1.
    """
    if len(ms) == 0:
        raise ValueError("no samples")
    x = np.asarray(ms, dtype=np.float64)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    p90, p95, p99 = (float(v) for v in np.percentile(x, [90, 95, 99]))
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": mean,
        "median": float(np.median(x)),
        "p90": p90,
        "p95": p95,
        "p99": p99,
        "cv": std / mean if mean > 0 else 0.0,
        "n": len(x),
    }


def rounded(stats: dict[str, float], digits: int = 6) -> dict[str, float]:
    return {k: (v if k == "n" else round(v, digits)) for k, v in stats.items()}
