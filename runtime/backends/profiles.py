"""Batch sizes -> the one optimisation profile (min/opt/max) an engine is built for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..card import ModelCard
from ..errors import ImggenError

MAX_BATCH = 4096  # the exporter's dynamic-axis bound


@dataclass(frozen=True)
class BatchProfile:
    """The batch sizes asked for and the profile covering them.

    TensorRT tunes its kernels for `opt` and accepts any batch in [min, max]. `opt` is the
    largest batch asked for: generation in bulk is where the time goes, and a batch-1 latency
    engine is asked for with `--batch 1` alone.
    """

    batches: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.batches:
            raise ImggenError("at least one batch size is required")
        if list(self.batches) != sorted(set(self.batches)):
            raise ImggenError(f"batch sizes must be sorted and distinct, got {self.batches}")
        if self.batches[0] < 1 or self.batches[-1] > MAX_BATCH:
            raise ImggenError(f"batch sizes must be in 1..{MAX_BATCH}, got {self.batches}")

    @property
    def min(self) -> int:
        return self.batches[0]

    @property
    def opt(self) -> int:
        return self.batches[-1]

    @property
    def max(self) -> int:
        return self.batches[-1]

    def to_dict(self) -> dict[str, object]:
        return {"min": self.min, "opt": self.opt, "max": self.max, "batches": list(self.batches)}


def profile_for(batches: Iterable[int]) -> BatchProfile:
    """Any order, repeats allowed: 16,1,8,8 -> batches (1, 8, 16)."""
    return BatchProfile(tuple(sorted({int(b) for b in batches})))


def parse_batches(text: str) -> BatchProfile:
    """'1,8,16' (the --batch option)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ImggenError(f"--batch must be comma-separated integers, got {text!r}") from None
    return profile_for(values)


def input_shapes(card: ModelCard, batch: int) -> dict[str, tuple[int, ...]]:
    """Every graph input's shape at one batch size (the card's contract: latent, classes,
    noise maps, knobs); a 0-d input has no batch axis and keeps its shape ()."""
    return {
        spec.name: () if spec.shape == () else (batch, *spec.item_shape)
        for spec in card.input_specs
    }


def ort_trt_profile_options(card: ModelCard, profile: BatchProfile) -> dict[str, str]:
    """The profile as ONNX Runtime's TensorRT provider options ("z:1x128,class_id:1")."""

    def spec(batch: int) -> str:
        return ",".join(
            f"{name}:{'x'.join(str(d) for d in shape)}"
            for name, shape in input_shapes(card, batch).items()
        )

    return {
        "trt_profile_min_shapes": spec(profile.min),
        "trt_profile_opt_shapes": spec(profile.opt),
        "trt_profile_max_shapes": spec(profile.max),
    }
