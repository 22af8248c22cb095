"""A backend by name, and what `auto` picks on this machine.

This module sits above both `backends/` (the sessions) and `engines/` (the cache a TensorRT
engine is found in), so neither of those imports the other's way back.

`auto` works like ONNX Runtime's provider list: TensorRT, then ONNX Runtime on CUDA, then
OpenVINO on the CPU when it is installed, then ONNX Runtime on the CPU, taking the first that
can run here, and it says why it skipped the others (`explain_auto`, logged at INFO).

On a CPU the rule is "OpenVINO when installed", and within it the lower-precision engine
(`imggen-rt build --target openvino`) whose build measured the largest speed-up over FP32
beside it, if any did; without one, FP32. When a caller lets it build (`create_backend(...,
build=progress)`: the CLI does unless IMGGEN_RT_ENGINE_BUILD=never or --engine-build never) and
the CPU runs bf16 in hardware, `auto` builds the bf16 engine on first use -- seconds for the
bundled model -- gates and times it like `imggen-rt build`, and takes it when it measured
faster; a refused build is remembered and not retried. INT8 is built only when asked for (NNCF
calibration takes minutes and fails the gate more often). The FP32 rule: side by side in one
run on every model and batch of the suite (benchmarks/results/suite.md), on an AMD Zen4 and an
Intel Xeon host, FP32 OpenVINO with the latency hint ran the generators' transposed
convolutions 1.1-1.4x faster than the tuned ONNX Runtime session; the one exception is a tiny
model at batch 1 (the 32x32 default: 0.41 vs 0.30 ms), where both are far below a millisecond:
a rule, because that difference is large and stable while single timings on shared machines are
not. A model OpenVINO cannot compile falls back to ONNX Runtime, reason logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .backends import Backend
from .card import ModelCard
from .errors import ImggenError

if TYPE_CHECKING:
    from .backends.trt import TrtBackend

BACKEND_NAMES = (
    "auto",
    "ort",
    "openvino",
    "openvino-bf16",
    "openvino-int8",
    "openvino-fp32",
    "ort-cuda",
    "ort-trt",
    "trt",
)
# Lower-precision OpenVINO engines `auto` may take, in the order it prefers them when they are
# measured equally fast; it takes one only if its build measured it faster than FP32.
OPENVINO_ENGINE_PRECISIONS = ("bf16", "int8")
AUTO_ORDER = ("trt", "ort-cuda", "openvino", "ort")
# "never": `auto` only takes engines built ahead with `imggen-rt build`.
ENGINE_BUILD_ENV = "IMGGEN_RT_ENGINE_BUILD"
ENGINE_BUILD_POLICIES = ("first-use", "never")
FIRST_USE_PRECISION = "bf16"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendChoice:
    """The backend `auto` picked, why, and why each one before it was skipped."""

    name: str
    reason: str
    skipped: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        text = f"{self.name} ({self.reason})"
        if self.skipped:
            text += "; skipped " + "; ".join(f"{n}: {why}" for n, why in self.skipped)
        return text


def probe_trt(model: Path) -> str | None:
    """None when TensorRT can run `model` here, else why not."""
    try:
        from .backends.platform import import_cudart, import_tensorrt, tensorrt_platform
        from .engines.cache import ArtifactCache, find_engine

        trt = import_tensorrt()
        import_cudart()
        find_engine(ArtifactCache(), model, tensorrt_platform(trt))
    except ImggenError as e:
        return str(e)
    return None


def probe_ort_cuda(model: Path) -> str | None:
    """None when onnxruntime has its CUDA provider and a CUDA device is usable."""
    from .backends.ort_gpu import GPU_INSTALL, available_gpu_providers
    from .backends.platform import cuda_device_count

    if "CUDAExecutionProvider" not in available_gpu_providers():
        return f"onnxruntime has no CUDAExecutionProvider: {GPU_INSTALL}"
    count, why = cuda_device_count()
    return None if count else f"no usable CUDA device: {why}"


def probe_openvino() -> str | None:
    """None when the openvino package is installed (found without importing it: import costs
    a few hundred ms, paid only when OpenVINO is chosen)."""
    import importlib.util

    from .backends.openvino import INSTALL

    try:
        found = importlib.util.find_spec("openvino") is not None
    except ImportError:  # an import hook that refuses the name: as good as not installed
        found = False
    return None if found else f"OpenVINO is not installed: {INSTALL}"


_REASONS = {
    "ort": "the CPU backend runs everywhere",
    "openvino": "installed; the fastest CPU backend measured (benchmarks/results/suite.md)",
}


def choose(probes: dict[str, Callable[[], str | None]]) -> BackendChoice:
    """The first backend of AUTO_ORDER whose probe finds nothing against it; ort always runs.

    A backend other than ort is considered only when a probe for it is given."""
    skipped: list[tuple[str, str]] = []
    for name in AUTO_ORDER:
        probe = probes.get(name)
        if probe is None and name != "ort":
            continue
        why_not = probe() if probe is not None else None
        if why_not is None:
            return BackendChoice(name, _REASONS.get(name, "usable here"), tuple(skipped))
        skipped.append((name, why_not))
    raise AssertionError("unreachable: the ort probe never refuses")


def explain_auto(model: str | Path) -> BackendChoice:
    """What `auto` picks for `model` on this machine, and why (for `imggen-rt info`)."""
    path = Path(model)
    choice = choose(
        {
            "trt": lambda: probe_trt(path),
            "ort-cuda": lambda: probe_ort_cuda(path),
            "openvino": probe_openvino,
        }
    )
    if choice.name == "openvino":
        engine = fastest_openvino_engine(path)
        if engine is not None:
            return BackendChoice(engine[0], engine[1], choice.skipped)
        from .backends.platform import cpu_supports

        if engine_build_policy() == "first-use" and cpu_supports(FIRST_USE_PRECISION) is None:
            note = "; no bf16 engine cached yet: generate, video and serve build it on first use"
            return BackendChoice(choice.name, choice.reason + note, choice.skipped)
    return choice


def fastest_openvino_engine(model: Path) -> tuple[str, str] | None:
    """("openvino-bf16", why) for the gated OpenVINO engine of `model` in the cache whose build
    measured the largest speed-up over FP32 on this CPU (and one at all); None when none."""
    from .engines.cache import ArtifactCache, find_engine

    cache = ArtifactCache()
    slots = {p: cache.slot(model.name, "openvino", p) for p in OPENVINO_ENGINE_PRECISIONS}
    if not any(slot.manifest_path.is_file() for slot in slots.values()):
        return None  # the common case, decided without importing OpenVINO
    from .backends.openvino import import_openvino
    from .backends.platform import openvino_platform

    here = openvino_platform(import_openvino())
    best: tuple[float, str, str] | None = None
    for precision in OPENVINO_ENGINE_PRECISIONS:
        try:
            _, manifest = find_engine(cache, model, here, "openvino", (precision,))
        except ImggenError as e:
            log.info("backend auto: no usable OpenVINO %s engine (%s)", precision, e)
            continue
        timing = manifest.timing
        engine_ms, fp32_ms = timing.get("engine_ms"), timing.get("fp32_ms")
        if engine_ms is None or fp32_ms is None or engine_ms >= fp32_ms:
            continue
        why = (
            f"the cached {precision} engine: {fp32_ms / engine_ms:.2f}x FP32 when built on "
            f"this CPU, parity {manifest.parity.psnr_db:.1f} dB"
        )
        # Builds run at different times under different loads: compare each engine's speed-up
        # over the FP32 run timed beside it, not milliseconds across builds.
        speedup = fp32_ms / engine_ms
        if best is None or speedup > best[0]:
            best = (speedup, f"openvino-{precision}", why)
    return None if best is None else (best[1], best[2])


def engine_build_policy() -> str:
    """$IMGGEN_RT_ENGINE_BUILD: "first-use" (the default) or "never"."""
    policy = os.environ.get(ENGINE_BUILD_ENV, "first-use").strip().lower() or "first-use"
    if policy not in ENGINE_BUILD_POLICIES:
        raise ImggenError(
            f"{ENGINE_BUILD_ENV} must be one of {', '.join(ENGINE_BUILD_POLICIES)}, not {policy!r}"
        )
    return policy


def first_use_engine(model: Path, progress: Callable[[str], None]) -> str | None:
    """Build the bf16 OpenVINO engine for `model` on first use (this CPU runs bf16 in
    hardware, none is cached, the gate did not refuse it before) and return the engine
    backend `auto` should take now, or None to stay on FP32 (the reason logged)."""
    from .backends.platform import cpu_supports
    from .engines.parity import ParityRefused
    from .engines.pipeline import BuildSpec, RefusedBefore, build

    unsupported = cpu_supports(FIRST_USE_PRECISION)
    if unsupported:
        log.info("backend auto: no engine built on first use (%s)", unsupported)
        return None
    spec = BuildSpec(model, "openvino", FIRST_USE_PRECISION, retry_refused=False)
    try:
        build(spec, progress)
    except RefusedBefore as e:
        log.info("backend auto: running FP32 OpenVINO (%s)", e)
        return None
    except ImggenError as e:
        log.info("backend auto: running FP32 OpenVINO (%s)", e)
        if isinstance(e, ParityRefused):  # the numbers are in the cache's refusal record
            progress(
                f"not used, running FP32: the parity gate refused it ({'; '.join(e.failures)})"
            )
        else:
            progress(f"not used, running FP32: {e}")
        return None
    engine = fastest_openvino_engine(model)
    if engine is None:
        progress("built, but not faster than FP32 on this CPU: running FP32")
        return None
    progress(f"using it: {engine[1]}")
    return engine[0]


def create_backend(
    name: str,
    model: str | Path,
    threads: int | None = None,
    build: Callable[[str], None] | None = None,
) -> Backend:
    """A backend by name; `auto` picks the best one this machine can run. With `build` (a
    progress callback) `auto` may build the CPU's bf16 engine on first use."""
    if name == "auto":
        choice = explain_auto(model)
        if choice.name == "openvino" and build is not None:
            engine = first_use_engine(Path(model), build)
            if engine is not None:
                choice = explain_auto(model)
        log.info("backend auto -> %s", choice)
        name = choice.name
        if name.startswith("openvino"):
            for candidate in dict.fromkeys((name, "openvino")):
                try:
                    return create_backend(candidate, model, threads)
                except ImggenError as e:
                    log.info("backend auto: %s cannot run this model (%s)", candidate, e)
            name = "ort"
    if name == "ort":
        from .backends.ort import OrtCpuBackend

        return OrtCpuBackend(model, threads=threads)
    if name == "openvino":
        from .backends.openvino import OpenVinoBackend

        return OpenVinoBackend(model, threads=threads)
    if name.startswith("openvino-") and name[9:] in ("fp32", *OPENVINO_ENGINE_PRECISIONS):
        return load_openvino_engine(model, name[9:], threads)
    if name in ("ort-cuda", "ort-trt"):
        from .backends.ort_gpu import OrtGpuBackend

        provider = "tensorrt" if name == "ort-trt" else "cuda"
        return OrtGpuBackend(model, provider, threads=threads)
    if name == "trt":
        return load_trt_backend(model)
    raise ImggenError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def load_trt_backend(
    model: str | Path, cache_dir: Path | None = None, cuda_graphs: bool = True
) -> TrtBackend:
    """The engine built for `model` (an ONNX, or a cache folder), checked by its manifest."""
    from .backends.platform import import_tensorrt, tensorrt_platform
    from .backends.trt import TrtBackend
    from .engines.cache import ArtifactCache, find_engine

    here = tensorrt_platform(import_tensorrt())
    engine_path, manifest = find_engine(ArtifactCache(cache_dir), Path(model), here)
    card = ModelCard.from_metadata(manifest.card, manifest.onnx_name)
    dla = manifest.request.builder.get("dla_core")
    return TrtBackend(
        engine_path.read_bytes(),
        card,
        str(engine_path),
        dla_core=dla if isinstance(dla, int) else None,
        cuda_graphs=cuda_graphs,
    )


def load_openvino_engine(
    model: str | Path, precision: str, threads: int | None = None, cache_dir: Path | None = None
) -> Backend:
    """The OpenVINO engine `imggen-rt build --target openvino` made for `model` on this CPU,
    checked by its manifest (refused when built elsewhere, stale or ungated)."""
    from .backends.openvino import OpenVinoBackend, import_openvino
    from .backends.platform import openvino_platform
    from .engines.cache import ArtifactCache, find_engine

    here = openvino_platform(import_openvino())
    path = Path(model)
    engine, manifest = find_engine(ArtifactCache(cache_dir), path, here, "openvino", (precision,))
    card = ModelCard.from_metadata(manifest.card, manifest.onnx_name)
    return OpenVinoBackend(path, threads, precision=precision, engine=engine, card=card)
