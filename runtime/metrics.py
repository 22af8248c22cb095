"""Image comparison metrics for parity checks."""

from __future__ import annotations

import math

import numpy as np


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB; inf when identical, nan when `test` holds NaN."""
    ref = np.asarray(reference, dtype=np.float64)
    err = np.asarray(test, dtype=np.float64) - ref
    mse = float(np.mean(err * err))
    if math.isnan(mse):
        return math.nan
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)


def max_abs_error(reference: np.ndarray, test: np.ndarray) -> float:
    diff = np.abs(np.asarray(test, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    return float(np.max(diff)) if diff.size else 0.0
