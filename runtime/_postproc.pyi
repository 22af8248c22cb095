"""Post-processing of generator output: float NCHW -> uint8 NHWC, CPU and CUDA.

Compiled from cpp_ext/ (nanobind). Public: denormalize, denormalize_cuda and the build-info
functions (imggen_rt.postprocess wraps denormalize). Internal: point, separable_filter,
unsharp, blend, otsu_masks and their _cuda twins, the passes imggen_rt.post builds; use the
chain (imggen_rt.post.parse_post).

Every function checks every argument before any work, internal ones included: dtype, rank,
shape, channel count, C-contiguity, alignment (numpy's ALIGNED; numpy.require(a,
requirements="CA") makes an aligned copy), sizes the loops' counts could overflow, no output or
scratch array sharing memory with any other argument, scalars finite in float32 (the type
they are used in). Bad input raises ValueError with a one-line message (numbers as %g), a
failed allocation MemoryError, never a crash; zero-size input returns at once. The *_cuda
functions also check that each device pointer is memory CUDA can read; they raise
RuntimeError without a device or in a build without CUDA.
"""

from collections.abc import Sequence

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

# The post-processing chain (imggen_rt.post builds programs and tap tables and calls these).

def point(
    src: NDArray[np.float32] | NDArray[np.float16] | NDArray[np.uint8],
    program: NDArray[np.float32],
    luts: list[NDArray[np.float32]],
    order: str = "rgb",
    low: float = -1.0,
    high: float = 1.0,
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """One fused pass: load -> pointwise program -> quantise, into (N, H, W, Cout) uint8."""

def separable_filter(
    src: NDArray[np.uint8],
    index_x: NDArray[np.int32],
    weight_x: NDArray[np.float32],
    index_y: NDArray[np.int32],
    weight_y: NDArray[np.float32],
    tmp: NDArray[np.float32] | None = None,
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Filter (N, H, W, C) uint8 frames (C 1..4) by tap tables (blur: same size; resize: new
    size); every index must address the source axis; tmp and out share no memory with the rest."""

def unsharp(
    src: NDArray[np.uint8],
    blurred: NDArray[np.uint8],
    amount: float,
    threshold: float,
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """src + amount * (src - blurred) where |src - blurred| >= threshold."""

def blend(
    inside: NDArray[np.uint8],
    outside: NDArray[np.uint8],
    mask: NDArray[np.uint8],
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Mix two (N, H, W, C) frames (C 1..4) by an (N, H, W) mask: 255 inside, 0 outside."""

def otsu_masks(
    frames: NDArray[np.uint8], dark: bool = False, out: NDArray[np.uint8] | None = None
) -> NDArray[np.uint8]:
    """(N, H, W) masks of (N, H, W, C) frames (C 1, 3 or 4): 255 where OpenCV's luma is above
    each frame's Otsu threshold (OpenCV's own C++ THRESH_OTSU, bit for bit)."""

def otsu_masks_cuda(frames: object, dark: bool, hist: object, out: object, stream: int = 0) -> None:
    """otsu_masks() on CUDA device arrays; hist is (N, 256) uint32 device scratch (N <= 65535)."""

def point_cuda(
    src: object,
    program: object,
    luts: Sequence[object],
    order: str,
    low: float,
    high: float,
    out: object,
    stream: int = 0,
) -> None:
    """point() on CUDA device arrays (LUTs too), enqueued on stream."""

def separable_filter_cuda(
    src: object,
    index_x: object,
    weight_x: object,
    index_y: object,
    weight_y: object,
    tmp: object,
    out: object,
    stream: int = 0,
) -> None:
    """separable_filter() on CUDA device arrays (tables too), enqueued on stream.

    Device tables are not read on the host: the kernels clamp every index into the frame (the
    CPU function rejects an index outside it)."""

def unsharp_cuda(
    src: object, blurred: object, amount: float, threshold: float, out: object, stream: int = 0
) -> None:
    """unsharp() on CUDA device arrays, enqueued on stream."""

def blend_cuda(inside: object, outside: object, mask: object, out: object, stream: int = 0) -> None:
    """blend() on CUDA device arrays, enqueued on stream."""
