"""Post-processing of generator output: float NCHW -> uint8 NHWC, CPU and CUDA.

Compiled from cpp_ext/ (nanobind). Bad input raises ValueError with a one-line message.
"""

import numpy as np
from numpy.typing import NDArray

def denormalize(
    src: NDArray[np.float32] | NDArray[np.float16],
    low: float,
    high: float,
    order: str = "rgb",
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Map (N, C, H, W) values in [low, high] to (N, H, W, Cout) uint8; fills and returns out."""

def denormalize_cuda(
    src: object,
    low: float,
    high: float,
    order: str,
    out: object,
    stream: int = 0,
) -> None:
    """denormalize() on CUDA device arrays (DLPack or __cuda_array_interface__), async on stream."""

def built_with_cuda() -> bool:
    """True when the CUDA kernel was compiled into this module."""

def cuda_device_count() -> int:
    """Usable CUDA devices; 0 without a driver, a device, or CUDA support. Never raises."""

def cuda_architectures() -> list[int]:
    """SM architectures with device code in this module, e.g. [75, 80, 86, 87, 89, 90]."""

def openmp_threads() -> int:
    """Threads the CPU path uses (OMP_NUM_THREADS, else the core count)."""
