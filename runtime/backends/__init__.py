"""Inference backends, one module each; heavy engines are imported only when chosen.

`auto` works like ONNX Runtime's provider list: TensorRT, then ONNX Runtime on CUDA, then
ONNX Runtime on the CPU, taking the first that can run here, and it says why it skipped the
others (`explain_auto`, logged at INFO).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImggenError
from .base import Backend

BACKEND_NAMES = ("auto", "ort", "ort-cuda", "ort-trt", "trt")
AUTO_ORDER = ("trt", "ort-cuda", "ort")

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
        from ..build.cache import ArtifactCache, find_engine
        from ..build.platform import import_cudart, import_tensorrt, tensorrt_platform

        trt = import_tensorrt()
        import_cudart()
        find_engine(ArtifactCache(), model, tensorrt_platform(trt))
    except ImggenError as e:
        return str(e)
    return None


def probe_ort_cuda(model: Path) -> str | None:
    """None when onnxruntime has its CUDA provider and a CUDA device is usable."""
    from ..build.platform import cuda_device_count
    from .ort_gpu import GPU_INSTALL, available_gpu_providers

    if "CUDAExecutionProvider" not in available_gpu_providers():
        return f"onnxruntime has no CUDAExecutionProvider: {GPU_INSTALL}"
    count, why = cuda_device_count()
    return None if count else f"no usable CUDA device: {why}"


def choose(probes: dict[str, Callable[[], str | None]]) -> BackendChoice:
    """The first backend of AUTO_ORDER whose probe finds nothing against it; ort always runs."""
    skipped: list[tuple[str, str]] = []
    for name in AUTO_ORDER:
        probe = probes.get(name)
        why_not = probe() if probe is not None else None
        if why_not is None:
            reason = "the CPU backend runs everywhere" if name == "ort" else "usable here"
            return BackendChoice(name, reason, tuple(skipped))
        skipped.append((name, why_not))
    raise AssertionError("unreachable: the ort probe never refuses")


def explain_auto(model: str | Path) -> BackendChoice:
    """What `auto` picks for `model` on this machine, and why (for `imggen-rt info`)."""
    path = Path(model)
    return choose({"trt": lambda: probe_trt(path), "ort-cuda": lambda: probe_ort_cuda(path)})


def create_backend(name: str, model: str | Path, threads: int | None = None) -> Backend:
    """A backend by name; `auto` picks the best one this machine can run."""
    if name == "auto":
        choice = explain_auto(model)
        log.info("backend auto -> %s", choice)
        name = choice.name
    if name == "ort":
        from .ort import OrtCpuBackend

        return OrtCpuBackend(model, threads=threads)
    if name in ("ort-cuda", "ort-trt"):
        from .ort_gpu import OrtGpuBackend

        provider = "tensorrt" if name == "ort-trt" else "cuda"
        return OrtGpuBackend(model, provider, threads=threads)
    if name == "trt":
        from .trt import load_trt_backend

        return load_trt_backend(model)
    raise ImggenError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


__all__ = ["BACKEND_NAMES", "Backend", "BackendChoice", "create_backend", "explain_auto"]
