"""Inference backends, one module each; heavy engines are imported only when chosen."""

from __future__ import annotations

from pathlib import Path

from ..errors import ImggenError
from .base import Backend

BACKEND_NAMES = ("auto", "ort")


def create_backend(name: str, model: str | Path, threads: int | None = None) -> Backend:
    """`auto` picks the best backend this machine has; today that is ONNX Runtime on the CPU."""
    if name in ("auto", "ort"):
        from .ort import OrtCpuBackend

        return OrtCpuBackend(model, threads=threads)
    raise ImggenError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


__all__ = ["BACKEND_NAMES", "Backend", "create_backend"]
