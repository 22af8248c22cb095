"""Real-time pacing: frame k goes out at t0 + k / fps, and the numbers a live show needs.

A frame that is not ready by its deadline is a miss; on a live output (a pipe) one that is more
than a whole frame late is dropped, so the output keeps its clock instead of drifting further
behind. Files never drop frames: nobody watches them live, and a gap would break resume. Frame
intervals (time between consecutive frames leaving) give the jitter a downstream player sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass
class RealtimeStats:
    fps: float
    frames_out: int = 0
    misses: int = 0
    dropped: int = 0
    intervals: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        iv = np.asarray(self.intervals) * 1e3
        target = 1e3 / self.fps
        p50 = float(np.percentile(iv, 50)) if len(iv) else 0.0
        p99 = float(np.percentile(iv, 99)) if len(iv) else 0.0
        return {
            "target_fps": round(self.fps, 3),
            "frames_out": self.frames_out,
            "deadline_misses": self.misses,
            "dropped": self.dropped,
            "interval_ms_target": round(target, 3),
            "interval_ms_p50": round(p50, 3),
            "interval_ms_p99": round(p99, 3),
            "jitter_ms_p99": round(float(np.percentile(np.abs(iv - target), 99)), 3)
            if len(iv)
            else 0.0,
        }


class Pacer:
    """Decides, frame by frame, when to send and whether to drop."""

    def __init__(self, fps: Fraction, allow_drop: bool = True, slack: float = 0.002) -> None:
        self.period = float(1 / fps)
        self.allow_drop = allow_drop
        self.slack = slack
        self.stats = RealtimeStats(float(fps))
        self._t0: float | None = None
        self._k = 0
        self._last: float | None = None

    def admit(self) -> bool:
        """Wait for the next frame's deadline; False means this frame is dropped."""
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now  # the clock starts with the first frame, not with model loading
        deadline = self._t0 + self._k * self.period
        self._k += 1
        if self.allow_drop and now > deadline + self.period:
            self.stats.dropped += 1
            self.stats.misses += 1
            return False
        if now > deadline + self.slack:
            self.stats.misses += 1
        elif now < deadline:
            time.sleep(deadline - now)
        return True

    def sent(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.stats.intervals.append(now - self._last)
        self._last = now
        self.stats.frames_out += 1
