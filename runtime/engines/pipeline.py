"""One build: look in the cache, build under the lock when needed, gate, commit.

The two targets differ only in how the artifact is made and run; the cache, the lock, the
parity gate against the FP32 ONNX Runtime reference and the atomic commit are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..atomic import temp_path_beside
from ..backends.platform import Platform
from ..backends.profiles import BatchProfile
from ..card import ModelCard
from ..contract import Feeds
from ..errors import ImggenError
from ..fp16 import fp16_model_with_card
from ..onnx_graph import load_model, read_card
from .cache import ArtifactCache, CacheSlot, State
from .manifest import BuildRequest, Manifest, sha256_file
from .parity import (
    DEFAULT_SEEDS,
    ParityReport,
    ParityThresholds,
    check_parity,
    gate_inputs,
    require_parity,
    run_batched,
)
from .trt_builder import TrtOptions

Progress = Callable[[str], None]


class RefusedBefore(ImggenError):
    """The gate refused this exact build before and the spec says not to retry it."""


class NotBuiltAhead(ImggenError):
    """No matching artifact is cached and the spec says not to build one."""


@dataclass(frozen=True)
class BuildSpec:
    model: Path
    target: str = "trt"
    precision: str = "fp16"
    profile: BatchProfile = field(default_factory=lambda: BatchProfile((1, 8, 16)))
    trt: TrtOptions = field(default_factory=TrtOptions)
    thresholds: ParityThresholds = field(default_factory=ParityThresholds)
    parity_seeds: int = DEFAULT_SEEDS
    cache_dir: Path | None = None
    rebuild: bool = False
    # False for builds nobody asked for (auto's build on first use): an artifact the gate
    # refused before for this exact request is not tried again.
    retry_refused: bool = True
    # False: only an artifact built ahead is taken (IMGGEN_RT_ENGINE_BUILD=never).
    may_build: bool = True


@dataclass(frozen=True)
class BuildOutcome:
    action: str  # "reused" or "built"
    reason: str
    artifact: Path
    manifest: Manifest


class _Target(Protocol):
    label: str  # what the user calls it, for messages
    artifact_name: str
    platform: Platform | None
    builder_fields: dict[str, str | int | None]

    def produce(self, model: Any, card: ModelCard, out: Path, progress: Progress) -> None: ...

    def outputs(self, artifact: Path, card: ModelCard, feeds: Feeds) -> np.ndarray: ...

    def timing(self, artifact: Path, card: ModelCard) -> dict[str, float]:
        """Build-time speed figures for the manifest ({} when the target measures none)."""
        ...


def build(spec: BuildSpec, progress: Progress = lambda _: None) -> BuildOutcome:
    if spec.parity_seeds < 1:
        raise ImggenError("the parity gate needs at least one seed")
    model = load_model(spec.model)
    card = read_card(model, spec.model.name)
    target = _target(spec)
    request = BuildRequest(
        target=spec.target,
        precision=spec.precision,
        onnx_sha256=sha256_file(spec.model),
        profile=spec.profile,
        builder=target.builder_fields,
        platform=target.platform,
    )
    slot = ArtifactCache(spec.cache_dir).slot(spec.model.name, spec.target, spec.precision)

    def produce_and_gate(checked: Path) -> ParityReport:
        target.produce(model, card, checked, progress)
        progress(f"parity gate: {spec.parity_seeds} seeds against FP32 ONNX Runtime")
        return _gate(spec, card, target, checked)

    return cached_build(
        slot,
        request,
        Artifact(target.artifact_name, target.label, spec.model.name, card.to_metadata()),
        produce_and_gate,
        lambda checked: target.timing(checked, card),
        spec,
        progress,
    )


@dataclass(frozen=True)
class Artifact:
    """What a build makes, for its manifest and messages."""

    name: str  # file name in the cache folder
    label: str  # what the user calls it
    onnx_name: str
    card: dict[str, str]  # what the runtime needs to run it without the ONNX


class _Policy(Protocol):
    @property
    def thresholds(self) -> ParityThresholds: ...
    @property
    def rebuild(self) -> bool: ...
    @property
    def retry_refused(self) -> bool: ...
    @property
    def may_build(self) -> bool: ...


def cached_build(
    slot: CacheSlot,
    request: BuildRequest,
    artifact: Artifact,
    produce_and_gate: Callable[[Path], ParityReport],
    timing: Callable[[Path], dict[str, float]],
    policy: _Policy,
    progress: Progress,
) -> BuildOutcome:
    """Reuse the slot's artifact when it matches `request`, else build it under the slot's
    lock (produce_and_gate writes it to a temporary path and measures it against FP32),
    refuse it unless it passes the gate, and commit it with its manifest."""
    waiting = f"waiting for another build of {slot.name} to finish"
    with slot.locked(on_wait=lambda: progress(waiting)):
        verdict = slot.verdict(request, artifact.name)
        if verdict.state is State.MATCH and verdict.manifest and not policy.rebuild:
            # The stored measurements, judged by this run's thresholds.
            require_parity(
                verdict.manifest.parity.judged_by(policy.thresholds), "the cached artifact"
            )
            return BuildOutcome(
                "reused", verdict.reason, slot.dir / artifact.name, verdict.manifest
            )
        if verdict.state is State.FOREIGN and not policy.rebuild:
            raise ImggenError(
                f"{slot.dir} holds an artifact {verdict.reason}; refusing to replace it: "
                "use another --cache-dir, or --rebuild to replace it"
            )
        if not policy.may_build:
            raise NotBuiltAhead(f"no {artifact.label} built ahead ({verdict.reason})")
        refused = None if policy.retry_refused else slot.refusal(request)
        if refused is not None:
            raise RefusedBefore(f"the {artifact.label} was refused before: {refused}")
        reason = "--rebuild" if policy.rebuild else verdict.reason
        checked = temp_path_beside(slot.dir / artifact.name)
        try:
            try:
                report = produce_and_gate(checked)
                require_parity(report, f"the {artifact.label}")
            except ImggenError as e:
                # the same request would fail the same way: a build on first use skips it
                slot.record_refusal(request, str(e))
                raise
            manifest = Manifest(
                timing=timing(checked),
                request=request,
                artifact=artifact.name,
                artifact_sha256=sha256_file(checked),
                parity=report,
                onnx_name=artifact.onnx_name,
                card=artifact.card,
            )
            path = slot.commit(checked, manifest)
        finally:
            checked.unlink(missing_ok=True)
            if slot.dir.is_dir() and not any(slot.dir.iterdir()):
                slot.dir.rmdir()  # a refused first build leaves no empty folder
    return BuildOutcome("built", reason, path, manifest)


def _gate(spec: BuildSpec, card: ModelCard, target: _Target, artifact: Path) -> ParityReport:
    from ..backends.ort import OrtCpuBackend

    feeds = gate_inputs(card, spec.parity_seeds)
    reference_backend = OrtCpuBackend(spec.model)
    try:
        reference = run_batched(reference_backend.infer, feeds, 1, spec.profile.max)
    finally:
        reference_backend.close()
    test = target.outputs(artifact, card, feeds)
    return check_parity(reference, test, card.output_range, spec.thresholds)


def _target(spec: BuildSpec) -> _Target:
    if spec.target == "onnx-fp16":
        if spec.precision != "fp16":
            raise ImggenError("--target onnx-fp16 makes an FP16 model: use --precision fp16")
        return Fp16OnnxTarget(spec)
    if spec.target == "trt":
        return TrtTarget(spec)
    if spec.target == "openvino":
        from .openvino_target import OpenVinoTarget

        return OpenVinoTarget(spec)
    raise ImggenError(f"unknown target {spec.target!r}; choose trt, onnx-fp16 or openvino")


def _converter_version() -> str:
    try:
        return f"onnxconverter-common {metadata.version('onnxconverter-common')}"
    except metadata.PackageNotFoundError:
        raise ImggenError(
            "FP16 conversion needs onnxconverter-common: pip install 'imggen-rt[train]'"
        ) from None


class Fp16OnnxTarget:
    """FP16 weights and activations, FP32 inputs/outputs; runs anywhere ONNX Runtime runs."""

    label = "FP16 ONNX"
    artifact_name = "model.fp16.onnx"
    platform: Platform | None = None

    def __init__(self, spec: BuildSpec) -> None:
        self.spec = spec
        self.builder_fields: dict[str, str | int | None] = {"converter": _converter_version()}

    def produce(self, model: Any, card: ModelCard, out: Path, progress: Progress) -> None:
        import onnx

        progress("converting to FP16 (inputs and output stay FP32)")
        onnx.save(fp16_model_with_card(model, card), str(out))

    def outputs(self, artifact: Path, card: ModelCard, feeds: Feeds) -> np.ndarray:
        from ..backends.ort import OrtCpuBackend

        backend = OrtCpuBackend(artifact)
        try:
            return run_batched(backend.infer, feeds, 1, self.spec.profile.max)
        finally:
            backend.close()

    def timing(self, artifact: Path, card: ModelCard) -> dict[str, float]:
        return {}


class TrtTarget:
    """A TensorRT engine for this GPU and TensorRT version."""

    artifact_name = "engine.plan"

    def __init__(self, spec: BuildSpec) -> None:
        from ..backends.platform import import_cudart, import_tensorrt, tensorrt_platform

        self.spec = spec
        self.label = f"TensorRT {spec.precision.upper()} engine"
        self.trt = import_tensorrt()
        import_cudart()
        self.platform: Platform | None = tensorrt_platform(self.trt)
        self.builder_fields = spec.trt.to_manifest()
        if spec.precision == "fp16" and spec.trt.typing == "strong":
            self.builder_fields["converter"] = _converter_version()

    def produce(self, model: Any, card: ModelCard, out: Path, progress: Progress) -> None:
        from .cache import ArtifactCache
        from .trt_builder import build_plan

        spec = self.spec
        if spec.precision == "fp16" and spec.trt.typing == "strong":
            progress("converting to FP16 for a strongly typed network")
            model = fp16_model_with_card(model, card)
        assert self.platform is not None
        timing = ArtifactCache(spec.cache_dir).timing_cache_path(self.platform)
        progress(f"building the TensorRT engine on {self.platform.describe()} (minutes)")
        plan = build_plan(
            self.trt,
            model.SerializeToString(),
            card,
            spec.profile,
            spec.trt,
            spec.precision,
            timing,
        )
        out.write_bytes(plan)

    def outputs(self, artifact: Path, card: ModelCard, feeds: Feeds) -> np.ndarray:
        from ..backends.trt import TrtBackend

        profile = self.spec.profile
        with TrtBackend(
            artifact.read_bytes(), card, artifact.name, dla_core=self.spec.trt.dla_core
        ) as backend:
            return run_batched(backend.infer, feeds, profile.min, profile.max)

    def timing(self, artifact: Path, card: ModelCard) -> dict[str, float]:
        return {}
