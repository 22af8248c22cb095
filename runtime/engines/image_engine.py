"""Static-shape OpenVINO engines for image-to-image models, one per tile size.

An engine is the model reshaped to (batch, C, tile, tile) and compiled for this CPU in FP32 or
bf16. With every shape fixed the CPU plugin plans layouts and memory once (measured on the
bundled upscaler: 5-8% faster than the same model with dynamic axes), and bf16 runs its
convolutions at the CPU's bf16 rate (1.7x FP32 ONNX Runtime at 256 px tiles, AVX512-BF16).
Like a generator's engine it is gated against FP32 ONNX Runtime, here on synthetic test
images (`gate_images`), and cached by content (`cached_build`): one cache entry per model,
precision and tile size, so engines for 256 and 512 px tiles live side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..backends.openvino import PRECISION_HINTS, import_openvino, read_ir, save_ir
from ..backends.platform import cpu_supports, openvino_platform
from ..backends.profiles import BatchProfile
from ..errors import ImggenError, first_line
from .cache import ArtifactCache
from .manifest import BuildRequest, sha256_file
from .parity import ParityReport, ParityThresholds, check_parity
from .pipeline import Artifact, BuildOutcome, cached_build

if TYPE_CHECKING:
    from ..image_model import ImageModel

IMAGE_PRECISIONS = ("fp32", "bf16")
GATE_IMAGES = 8
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageEngineSpec:
    model: Path
    precision: str = "bf16"
    tile: int = 256  # input pixels a side (rounded up to the model's multiple)
    batch: int = 4  # tiles per call
    thresholds: ParityThresholds = field(default_factory=ParityThresholds)
    cache_dir: Path | None = None
    rebuild: bool = False
    retry_refused: bool = True
    may_build: bool = True

    def __post_init__(self) -> None:
        if self.precision not in IMAGE_PRECISIONS:
            raise ImggenError(
                f"image-model engines are {' or '.join(IMAGE_PRECISIONS)}, not {self.precision}"
            )
        if not 8 <= self.tile <= 4096 or not 1 <= self.batch <= 64:
            raise ImggenError(
                f"an engine's tile must be 8..4096 px and its batch 1..64, got "
                f"{self.tile} and {self.batch}"
            )


def gate_images(
    channels: int, side: int, count: int, value_range: tuple[float, float]
) -> np.ndarray:
    """Deterministic test images in the model's input range: smooth colour fields, fine
    noise and hard-edged shapes, so an engine is judged on flat areas, texture and edges."""
    rng = np.random.default_rng(15)
    images = np.empty((count, channels, side, side), np.float32)
    for i in range(count):
        field_ = cv2.resize(
            rng.random((4, 4, channels), np.float32), (side, side), interpolation=cv2.INTER_CUBIC
        ).reshape(side, side, channels)
        field_ += rng.normal(0, 0.08, (side, side, channels)).astype(np.float32)
        for _ in range(3):  # rectangles of a flat colour: horizontal and vertical edges
            x0, y0 = rng.integers(0, side, 2)
            x1, y1 = x0 + rng.integers(4, side // 2 + 5), y0 + rng.integers(4, side // 2 + 5)
            field_[y0:y1, x0:x1] = rng.random(channels)
        images[i] = np.clip(field_, 0, 1).transpose(2, 0, 1)
    low, high = value_range
    images *= np.float32(high - low)
    images += np.float32(low)
    return images


class OpenVinoImageEngine:
    """A built engine: (n <= batch, C, tile, tile) -> (n, C', tile * s, tile * s) float32."""

    def __init__(self, artifact: Path, precision: str, threads: int | None = None) -> None:
        ov = import_openvino()
        core = ov.Core()
        model = read_ir(core, artifact)
        shape = model.inputs[0].get_partial_shape()
        if not shape.is_static:
            raise ImggenError(f"{artifact} is not a static-shape image engine")
        self.batch, _, self.tile, _ = (int(d) for d in shape.to_shape())
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as e:
            raise ImggenError(f"OpenVINO cannot compile {artifact}: {first_line(e)}") from None
        self._output = compiled.output(0)
        self._request = compiled.create_infer_request()
        self._padded = np.zeros((self.batch, *shape.to_shape()[1:]), np.float32)

    def infer(self, tiles: np.ndarray) -> np.ndarray:
        n = len(tiles)
        if n > self.batch or tiles.shape[2:] != (self.tile, self.tile):
            raise ImggenError(
                f"this engine takes up to {self.batch} tiles of {self.tile} px, got {tiles.shape}"
            )
        if n < self.batch:  # a short last batch: the engine's shape is fixed
            self._padded[:n] = tiles
            tiles = self._padded
        out = self._request.infer({0: np.ascontiguousarray(tiles, np.float32)})[self._output]
        # a copy: the request reuses its output memory on the next call
        return np.array(out[:n], np.float32, copy=True)


def build_image_engine(
    spec: ImageEngineSpec, model: ImageModel, progress: Progress = lambda _: None
) -> BuildOutcome:
    """Build (or reuse) the engine of `model` (probed, on ONNX Runtime: the FP32 reference)."""
    ov = import_openvino()
    why = cpu_supports(spec.precision)
    if why is not None:
        raise ImggenError(f"--precision {spec.precision}: {why}")
    probed = model.spec
    if probed.scalars:
        raise ImggenError(
            f"{spec.model.name} has scalar inputs ({', '.join(probed.scalars)}): engines are "
            "built for models without them"
        )
    side = model.tile_spec(spec.tile, 0, batch=spec.batch).tile
    request = BuildRequest(
        target="openvino",
        precision=spec.precision,
        onnx_sha256=sha256_file(spec.model),
        profile=BatchProfile((spec.batch,)),
        builder={"ir": "openvino", "input": "image", "tile": side},
        platform=openvino_platform(ov),
    )
    slot = ArtifactCache(spec.cache_dir).slot(
        spec.model.name, "openvino", f"{spec.precision}-{side}px"
    )
    label = f"OpenVINO {spec.precision.upper()} engine for {side} px tiles"
    compiled: dict[Path, OpenVinoImageEngine] = {}  # the gate's engine, timed as it is

    def produce_and_gate(checked: Path) -> ParityReport:
        progress(f"reshaping to {spec.batch} tiles of {side} px")
        ov_model = ov.Core().read_model(str(spec.model))
        try:
            ov_model.reshape({ov_model.inputs[0]: [spec.batch, probed.channels, side, side]})
        except Exception as e:
            raise ImggenError(f"OpenVINO cannot fix the shape: {first_line(e)}") from None
        save_ir(ov, ov_model, checked)
        progress(f"parity gate: {GATE_IMAGES} test images against FP32 ONNX Runtime")
        images = gate_images(probed.channels, side, GATE_IMAGES, probed.input_range)
        reference = np.concatenate([model.infer(images[i : i + 1]) for i in range(len(images))])
        engine = compiled[checked] = OpenVinoImageEngine(checked, spec.precision)
        test = np.concatenate(
            [engine.infer(images[i : i + spec.batch]) for i in range(0, len(images), spec.batch)]
        )
        return check_parity(reference, test, probed.output_range, spec.thresholds)

    def timing(checked: Path) -> dict[str, float]:
        """ms per tile of the engine and of FP32 ONNX Runtime, alternately, one batch each."""
        tiles = gate_images(probed.channels, side, spec.batch, probed.input_range)
        contenders = {"engine_ms": compiled[checked].infer, "fp32_ms": model.infer}
        best = {name: float("inf") for name in contenders}
        for infer in contenders.values():
            infer(tiles)  # warm-up
        for _ in range(3):
            for name, infer in contenders.items():
                t0 = time.perf_counter()
                infer(tiles)
                best[name] = min(best[name], (time.perf_counter() - t0) * 1e3 / spec.batch)
        return {"batch": float(spec.batch), "tile": float(side), **best}

    card = {
        "kind": "image",
        "scale": str(probed.scale),
        "channels": f"{probed.channels}:{probed.out_channels}",
        "input_range": f"{probed.input_range[0]:g}:{probed.input_range[1]:g}",
        "output_range": f"{probed.output_range[0]:g}:{probed.output_range[1]:g}",
    }
    return cached_build(
        slot,
        request,
        Artifact("model.ovir", label, spec.model.name, card),
        produce_and_gate,
        timing,
        spec,
        progress,
    )
