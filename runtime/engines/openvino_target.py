"""OpenVINO engines for this CPU: FP32, bf16 (whole graph) or INT8 (NNCF post-training
quantization), built, gated and cached like TensorRT engines.

The artifact is the OpenVINO model (IR) in the precision it runs in; compiling it for a batch
size takes well under a second, so the compiled form is not cached. The manifest binds it to
the OpenVINO version and the CPU's bf16/int8 instruction sets (`openvino_platform`): an
engine built elsewhere is refused with the reason, one built by another OpenVINO is rebuilt.
"""

from __future__ import annotations

import logging
import math
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
from .parity import ParityThresholds, gate_inputs, run_batched

OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")
# Seeds of their own for calibration and accuracy control; the parity gate uses 0..n-1.
CALIBRATION_SEEDS = range(1_000_000, 1_000_064)
VALIDATION_SEEDS = range(2_000_000, 2_000_032)
# Accuracy control stops reverting layers to FP32 once the model uses at most this share of the
# gate's allowance on the validation seeds: the rest is margin for the gate's own seeds.
ACCURACY_BUDGET = 0.8
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
            self.builder_fields["calibration_seeds"] = len(CALIBRATION_SEEDS)
            self.builder_fields["accuracy_budget"] = str(ACCURACY_BUDGET)

    def produce(self, model: Any, card: ModelCard, out: Path, progress: Any) -> None:
        ov = self.ov
        ov_model = ov.Core().read_model(str(self.spec.model))
        if self.spec.precision == "bf16":
            progress("bf16 output through the pre/post-processing API (the whole graph in bf16)")
            ov_model = bf16_output(ov, ov_model)
        elif self.spec.precision == "int8":
            progress(
                f"INT8 quantization (NNCF) on {len(CALIBRATION_SEEDS)} seeds, with accuracy "
                f"control on {len(VALIDATION_SEEDS)} more"
            )
            ov_model = _quantize(ov_model, card, self.spec.model, self.spec.thresholds)
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


def _samples(card: ModelCard, seeds: range) -> tuple[Feeds, list[dict[str, np.ndarray]]]:
    from ..generator import feeds_for_seeds  # (lazy, as in parity.gate_inputs)

    feeds = feeds_for_seeds(card, seeds)
    rows = [feeds.rows(slice(i, i + 1)) for i in range(len(feeds))]
    return feeds, [graph_inputs(card.input_specs, card.num_classes, row) for row in rows]


def gate_score(
    reference: np.ndarray, test: np.ndarray, data_range: float, thresholds: ParityThresholds
) -> float:
    """How much of the gate's allowance `test` uses, the worse of its two error limits: max
    abs error / the allowed one, RMS error / the RMS error the PSNR floor allows. <= 1 passes;
    NaN counts as inf."""
    err = np.asarray(test, np.float64) - reference
    if not np.isfinite(err).all():
        return math.inf
    allowed_max = thresholds.max_abs_error_fraction * data_range
    allowed_rms = data_range * 10 ** (-thresholds.min_psnr_db / 20)
    rms = float(np.sqrt(np.mean(err**2)))
    return max(float(np.abs(err).max()) / allowed_max, rms / allowed_rms)


def _quantize(
    ov_model: Any, card: ModelCard, model_path: Path, thresholds: ParityThresholds
) -> Any:
    """NNCF post-training quantization with accuracy control.

    Calibrated on latents drawn by seed (the model's own input distribution, free for a
    generator). Symmetric activations (the PERFORMANCE preset): oneDNN's AMX int8 strided
    deconvolution rejects zero points. Accuracy control then keeps layers in FP32, most
    harmful first, until the quantized model uses at most ACCURACY_BUDGET of the parity gate's
    allowance against FP32 ONNX Runtime on seeds of its own (measured on the bundled model:
    plain PTQ reached 0.245 max error against the gate's 0.2; reverting one of its four
    ConvTranspose layers gave 0.141 and 49.5 dB). Calibration, validation and the gate use
    disjoint seeds, so the gate still judges images the build never saw.
    """
    import nncf

    from ..backends.ort import OrtCpuBackend

    _, calibration = _samples(card, CALIBRATION_SEEDS)
    feeds, inputs = _samples(card, VALIDATION_SEEDS)
    reference_backend = OrtCpuBackend(model_path)
    try:
        references = run_batched(reference_backend.infer, feeds, 1, 1)
    finally:
        reference_backend.close()
    low, high = card.output_range

    def validate(compiled: Any, items: Any) -> tuple[float, list[float]]:
        output = compiled.output(0)
        per_image, outputs = [], []
        for x, reference in items:
            y = np.asarray(compiled(x)[output], np.float32)
            outputs.append(y)
            per_image.append(-gate_score(reference[None], y, high - low, thresholds))
        everything = -gate_score(references, np.concatenate(outputs), high - low, thresholds)
        return everything, per_image

    nncf.set_log_level(logging.WARNING)  # its INFO lines would bury the build's own status
    try:
        return nncf.quantize_with_accuracy_control(
            ov_model,
            nncf.Dataset(calibration),
            nncf.Dataset(list(zip(inputs, references, strict=True))),
            validate,
            max_drop=ACCURACY_BUDGET,
            drop_type=nncf.DropType.ABSOLUTE,
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(calibration),
        )
    except Exception as e:  # NNCF's own errors: one line, the gate never sees a broken model
        raise ImggenError(f"NNCF could not quantize the model: {type(e).__name__}: {e}") from None
