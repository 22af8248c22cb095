"""The parity gate: a lower-precision artifact is used only if it matches the FP32 reference.

FP16 and TensorRT engines fail in known ways (NaN from overflowing activations, black images
from a collapsed normalisation, plain drift), so each is compared with the FP32 ONNX Runtime
output on fixed seeds, and refused with the numbers when it misses a threshold.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..card import ModelCard
from ..contract import Feeds
from ..errors import ImggenError
from ..metrics import max_abs_error, psnr

DEFAULT_SEEDS = 16

InferFn = Callable[[Feeds], np.ndarray]


@dataclass(frozen=True)
class ParityThresholds:
    """Defaults for images in the card's range, PSNR over that range.

    40 dB is an RMS error of 1% of the range, about 2.5 uint8 levels: invisible, yet far
    below what FP16 reaches on a healthy generator (about 80 dB on the tests' generators); a
    broken conversion lands far lower (7.5 dB for the precision-starved one in the tests). The
    largest single-value error allowed is a tenth of the range (13 uint8 levels): a few
    saturated pixels may move, a region may not.
    """

    min_psnr_db: float = 40.0
    max_abs_error_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not self.max_abs_error_fraction > 0:
            raise ImggenError("the max-error threshold must be > 0")


@dataclass(frozen=True)
class ParityReport:
    seeds: int
    psnr_db: float
    max_abs_error: float
    nan_count: int
    blank_images: int
    data_range: float
    thresholds: ParityThresholds
    failures: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return (
            f"PSNR {self.psnr_db:.1f} dB, max abs error {self.max_abs_error:.3g}, "
            f"{self.nan_count} NaN/Inf, {self.blank_images} blank images on {self.seeds} seeds"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures"] = list(self.failures)
        d["passed"] = self.passed
        # JSON has no inf/nan: identical outputs give an infinite PSNR.
        d["psnr_db"] = _json_float(self.psnr_db)
        d["max_abs_error"] = _json_float(self.max_abs_error)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParityReport:
        return cls(
            seeds=int(d["seeds"]),
            psnr_db=_float(d["psnr_db"]),
            max_abs_error=_float(d["max_abs_error"]),
            nan_count=int(d["nan_count"]),
            blank_images=int(d["blank_images"]),
            data_range=float(d["data_range"]),
            thresholds=ParityThresholds(**d["thresholds"]),
            failures=tuple(str(f) for f in d.get("failures", ())),
        )

    def judged_by(self, thresholds: ParityThresholds) -> ParityReport:
        """The same measurements against other thresholds (a cached artifact re-judged)."""
        return _judge(
            self.seeds,
            self.psnr_db,
            self.max_abs_error,
            self.nan_count,
            self.blank_images,
            self.data_range,
            thresholds,
        )


def gate_inputs(card: ModelCard, seeds: int = DEFAULT_SEEDS) -> Feeds:
    """Seeds 0..n-1 as the generator feeds them: for conditional models class seed %
    num_classes (every class), noise maps from each seed, knobs at their defaults."""
    from ..generator import feeds_for_seeds

    return feeds_for_seeds(card, range(seeds))


def run_batched(infer: InferFn, feeds: Feeds, min_batch: int, max_batch: int) -> np.ndarray:
    """All outputs as one float32 array, in batches an engine's profile accepts.

    A short last batch is padded by repeating its first row up to `min_batch`; the padding is
    dropped from the result.
    """
    outputs = []
    for start in range(0, len(feeds), max_batch):
        rows = np.arange(start, min(start + max_batch, len(feeds)))
        n = len(rows)
        if n < min_batch:
            rows = np.concatenate([rows, np.repeat(rows[:1], min_batch - n)])
        # Copy: a backend may hand back a buffer it reuses on the next call.
        outputs.append(np.array(infer(feeds.rows(rows))[:n], dtype=np.float32))
    return np.concatenate(outputs)


def check_parity(
    reference: np.ndarray,
    test: np.ndarray,
    output_range: tuple[float, float],
    thresholds: ParityThresholds | None = None,
) -> ParityReport:
    """Compare `test` with the FP32 `reference` (both (N, C, H, W) in `output_range`)."""
    thresholds = thresholds or ParityThresholds()
    if reference.shape != test.shape:
        raise ImggenError(f"parity: output shape {test.shape} differs from {reference.shape}")
    low, high = output_range
    data_range = high - low
    finite = np.isfinite(test)
    nan_count = int(test.size - np.count_nonzero(finite))
    blank = _blank_images(reference, test, data_range)
    # NaN makes the PSNR NaN (honest); the max error is that of the finite values.
    clean = np.where(finite, test, reference)
    return _judge(
        len(test),
        psnr(reference, test, data_range),
        max_abs_error(reference, clean),
        nan_count,
        blank,
        data_range,
        thresholds,
    )


class ParityRefused(ImggenError):
    """An artifact missed the gate; `failures` says how, in a few words each."""

    def __init__(self, message: str, failures: tuple[str, ...]) -> None:
        super().__init__(message)
        self.failures = failures


def require_parity(report: ParityReport, artifact: str) -> None:
    """Refuse a failing artifact with its numbers."""
    if not report.passed:
        raise ParityRefused(
            f"{artifact} failed the parity gate against the FP32 reference: "
            f"{'; '.join(report.failures)} ({report.summary()}); nothing was written",
            report.failures,
        )


def _judge(
    seeds: int,
    psnr_db: float,
    max_err: float,
    nan_count: int,
    blank_images: int,
    data_range: float,
    thresholds: ParityThresholds,
) -> ParityReport:
    failures = []
    if nan_count:
        failures.append(f"{nan_count} NaN/Inf values")
    if blank_images:
        failures.append(f"{blank_images} blank images where the reference has content")
    if math.isnan(psnr_db) or psnr_db < thresholds.min_psnr_db:
        failures.append(f"PSNR {psnr_db:.1f} dB < {thresholds.min_psnr_db:g} dB")
    max_allowed = thresholds.max_abs_error_fraction * data_range
    if not max_err <= max_allowed:
        failures.append(f"max abs error {max_err:.3g} > {max_allowed:.3g}")
    return ParityReport(
        seeds, psnr_db, max_err, nan_count, blank_images, data_range, thresholds, tuple(failures)
    )


def _blank_images(reference: np.ndarray, test: np.ndarray, data_range: float) -> int:
    """Images that are one flat value (all black is the usual case) where the reference is not.

    Flat means a spread below one uint8 level; a reference image that is itself flat cannot
    tell a broken engine from a dull model, so it does not count.
    """
    level = data_range / 255.0
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN image: spread NaN
        test_spread = np.nanmax(test, axis=(1, 2, 3)) - np.nanmin(test, axis=(1, 2, 3))
    ref_spread = reference.max(axis=(1, 2, 3)) - reference.min(axis=(1, 2, 3))
    flat = ~(test_spread >= level)  # all-NaN images are flat too
    return int(np.count_nonzero(flat & (ref_spread >= level)))


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _float(x: float | str) -> float:
    return float(x)
