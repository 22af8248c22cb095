"""What one benchmark run measures: a model, its contenders, batch sizes and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ImggenError

# imggen-rt's own backends (end to end: seeds -> latents -> infer -> uint8 frames) and the
# peers (inference alone, called the way their own docs show).
IMGGEN_BACKENDS = ("auto", "ort", "openvino", "openvino-bf16", "openvino-int8")
# What a user would pick instead: FP32 peers, and the lower-precision ones on modern CPUs.
PEERS = ("torch-eager", "ort-default", "openvino-direct", "torch-bf16", "openvino-bf16-direct")
DEFAULT_BACKENDS = ("auto", "ort", "openvino", *PEERS)


@dataclass(frozen=True)
class BenchConfig:
    model: Path
    label: str = ""
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    batches: tuple[int, ...] = (1, 16)
    warmup_s: float = 1.0
    duration_s: float = 5.0
    # torch eager needs the weights as a torch module: the training checkpoint the ONNX was
    # exported from (checked against the ONNX's output before any timing).
    torch_checkpoint: Path | None = None
    threads: int | None = None
    cold_start: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in (*IMGGEN_BACKENDS, *PEERS)]
        if unknown:
            raise ImggenError(
                f"unknown backend(s) {', '.join(unknown)}; choose from "
                f"{', '.join((*IMGGEN_BACKENDS, *PEERS))}"
            )
        if not self.batches or min(self.batches) < 1:
            raise ImggenError("batch sizes must be integers >= 1")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise ImggenError("duration must be > 0 and warm-up >= 0 seconds")


def parse_seconds(text: str) -> float:
    """'5s', '500ms', '2' (seconds) -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s)?\s*", text)
    if not m:
        raise ImggenError(f"not a duration: {text!r} (use e.g. 5s, 500ms)")
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


def parse_batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ImggenError(f"batch sizes must be integers like 1,4,16; got {text!r}") from None
    if not batches or min(batches) < 1:
        raise ImggenError(f"batch sizes must be integers >= 1; got {text!r}")
    return batches


def parse_backends(text: str) -> tuple[str, ...]:
    names = tuple(b.strip() for b in text.split(",") if b.strip())
    if not names:
        raise ImggenError("--backends needs at least one name")
    return names
