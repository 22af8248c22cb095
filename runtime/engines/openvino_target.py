"""OpenVINO engines for this CPU: FP32, bf16 (whole graph) or INT8 (NNCF post-training
quantization), built, gated and cached like TensorRT engines.

The artifact is the OpenVINO model (IR) in the precision it runs in; compiling it for a batch
size takes well under a second, so the compiled form is not cached. The manifest binds it to
the OpenVINO version and the CPU's bf16/int8 instruction sets (`openvino_platform`): an
engine built elsewhere is refused with the reason, one built by another OpenVINO is rebuilt.
"""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.openvino import OpenVinoBackend, bf16_output, import_openvino, save_ir
from ..backends.platform import Platform, cpu_supports, openvino_platform
from ..card import ModelCard
from ..contract import Feeds, graph_inputs
from ..errors import ImggenError
from .parity import gate_inputs, run_batched

OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")
CALIBRATION_SEEDS = 64
NNCF_INSTALL = "pip install nncf"


class OpenVinoTarget:
    artifact_name = "model.ovir"

    def __init__(self, spec: Any) -> None:
        if spec.precision not in OPENVINO_PRECISIONS:
            raise ImggenError(
                f"--target openvino builds {', '.join(OPENVINO_PRECISIONS)}, not {spec.precision}"
            )
        self.spec = spec
        self.ov = import_openvino()
        why = cpu_supports(spec.precision)
        if why is not None:
            raise ImggenError(f"--precision {spec.precision}: {why}")
        self.platform: Platform | None = openvino_platform(self.ov)
        self.label = f"OpenVINO {spec.precision.upper()} engine"
        self.builder_fields: dict[str, str | int | None] = {"ir": "openvino"}
        if spec.precision == "int8":
            self.builder_fields["nncf"] = _nncf_version()
            self.builder_fields["calibration_seeds"] = CALIBRATION_SEEDS

    def produce(self, model: Any, card: ModelCard, out: Path, progress: Any) -> None:
        ov = self.ov
        ov_model = ov.Core().read_model(str(self.spec.model))
        if self.spec.precision == "bf16":
            progress("bf16 output through the pre/post-processing API (the whole graph in bf16)")
            ov_model = bf16_output(ov, ov_model)
        elif self.spec.precision == "int8":
            progress(f"INT8 post-training quantization (NNCF) on {CALIBRATION_SEEDS} seeds")
            ov_model = _quantize(ov_model, card)
        save_ir(ov, ov_model, out)

    def outputs(self, artifact: Path, card: ModelCard, feeds: Feeds) -> np.ndarray:
        backend = self.backend(artifact, card)
        try:
            return run_batched(backend.infer, feeds, 1, self.spec.profile.max)
        finally:
            backend.close()

    def backend(self, artifact: Path, card: ModelCard) -> OpenVinoBackend:
        return OpenVinoBackend(
            self.spec.model, precision=self.spec.precision, engine=artifact, card=card
        )

    def timing(self, artifact: Path, card: ModelCard) -> dict[str, float]:
        """ms per image of this engine and of FP32 OpenVINO at the profile's optimum batch,
        timed alternately in this process (so `auto` can prefer it only where it is faster)."""
        batch = self.spec.profile.opt
        feeds = gate_inputs(card, batch)
        contenders = {
            "engine_ms": self.backend(artifact, card),
            "fp32_ms": OpenVinoBackend(self.spec.model),
        }
        best = {name: float("inf") for name in contenders}
        try:
            for backend in contenders.values():
                backend.infer(feeds)  # compile and warm up
            for _ in range(5):
                for name, backend in contenders.items():
                    t0 = time.perf_counter()
                    backend.infer(feeds)
                    best[name] = min(best[name], (time.perf_counter() - t0) * 1e3 / batch)
        finally:
            for backend in contenders.values():
                backend.close()
        return {"batch": float(batch), **best}


def _nncf_version() -> str:
    try:
        return f"nncf {metadata.version('nncf')}"
    except metadata.PackageNotFoundError:
        raise ImggenError(f"INT8 engines need NNCF: {NNCF_INSTALL}") from None


def _quantize(ov_model: Any, card: ModelCard) -> Any:
    """NNCF post-training quantization, calibrated on latents drawn by seed (the model's own
    input distribution, free for a generator). Symmetric activations (the PERFORMANCE preset):
    oneDNN's AMX int8 strided deconvolution rejects zero points."""
    import nncf

    feeds = gate_inputs(card, CALIBRATION_SEEDS)
    samples = [
        graph_inputs(card.input_specs, card.num_classes, feeds.rows(slice(i, i + 1)))
        for i in range(len(feeds))
    ]
    try:
        return nncf.quantize(
            ov_model,
            nncf.Dataset(samples),
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(samples),
        )
    except Exception as e:  # NNCF's own errors: one line, the gate never sees a broken model
        raise ImggenError(f"NNCF could not quantize the model: {type(e).__name__}: {e}") from None
