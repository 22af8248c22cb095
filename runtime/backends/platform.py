"""The GPU libraries and device this process has: imported lazily, reported in one line.

TensorRT and cuda-python are optional; importing them only here means `import imggen_rt`
never needs them, and a missing one is an ImggenError that says which package to install.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ImggenError, first_line

TENSORRT_INSTALL = (
    "TensorRT is not installed: pip install tensorrt (CUDA 13) or tensorrt-cu12 (CUDA 12), "
    "plus cuda-python; on Jetson it comes with JetPack (sudo apt install python3-libnvinfer)"
)
CUDA_PYTHON_INSTALL = "cuda-python is not installed: pip install 'cuda-python>=12.6.1'"


def import_tensorrt() -> ModuleType:
    """The real TensorRT module, or ImggenError with the install command.

    The `tensorrt-stubs` package installs a `tensorrt/` folder holding only `.pyi` files,
    which Python imports as an empty namespace package: that is not TensorRT either.
    """
    try:
        trt = importlib.import_module("tensorrt")
    except ModuleNotFoundError as e:
        if e.name != "tensorrt":
            raise ImggenError(f"TensorRT does not import: {first_line(e)}") from None
        raise ImggenError(TENSORRT_INSTALL) from None
    except ImportError as e:  # installed, but a shared library (libnvinfer) is missing
        raise ImggenError(f"TensorRT does not import: {first_line(e)}") from None
    if not hasattr(trt, "Builder"):
        raise ImggenError(f"{TENSORRT_INSTALL} (found only type stubs)")
    return trt


def import_cudart() -> Any:
    """`cuda.bindings.runtime` (cuda-python >= 12.6.1; the old `cuda.cudart` is gone in 13)."""
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        # cuda-python < 12.6.1 has no cuda.bindings: the same fix as not installed.
        raise ImggenError(CUDA_PYTHON_INSTALL) from None


def cuda_call(result: tuple[Any, ...]) -> Any:
    """Unwrap a cuda-python `(err, value...)` tuple, raising ImggenError on an error.

    As NVIDIA's samples do: no value -> None, one value -> it, several -> the tuple.
    """
    err, values = result[0], result[1:]
    cudart = import_cudart()
    if err != cudart.cudaError_t.cudaSuccess:
        raise ImggenError(f"CUDA error: {error_text(err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def error_text(err: Any) -> str:
    """'cudaErrorInsufficientDriver (35): CUDA driver version is insufficient...'."""
    cudart = import_cudart()
    name = cudart.cudaGetErrorName(err)[1]
    text = cudart.cudaGetErrorString(err)[1]
    name = name.decode() if isinstance(name, bytes) else str(name)
    text = text.decode() if isinstance(text, bytes) else str(text)
    return f"{name} ({int(err)}): {text}"


def cuda_device_count() -> tuple[int, str]:
    """(usable devices, why none) from the CUDA runtime itself; never raises.

    Uses cuda-python when installed, else the post-process extension (which links the CUDA
    runtime statically), so ONNX Runtime's CUDA provider can be judged without cuda-python.
    """
    try:
        cudart = import_cudart()
    except ImggenError:
        from .. import _postproc

        if not _postproc.built_with_cuda():
            return 0, "cannot query CUDA: no cuda-python and the extension was built without CUDA"
        count = _postproc.cuda_device_count()
        return count, "" if count else "the CUDA runtime reports no usable device"
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess:
        return 0, error_text(err)
    if not count:
        return 0, "the CUDA runtime reports no device"
    return int(count), ""


def require_cuda_device(device: int = 0) -> None:
    count, why = cuda_device_count()
    if count == 0:
        raise ImggenError(f"no usable CUDA device: {why}")
    if not 0 <= device < count:
        raise ImggenError(f"CUDA device {device} does not exist (this machine has {count})")


@dataclass(frozen=True)
class Platform:
    """What an engine is bound to. A TensorRT engine loads only with the same TensorRT version
    on the same GPU model (NVIDIA: engines are specific to both); an OpenVINO CPU engine is
    built for one OpenVINO version and the CPU's instruction sets (bf16 and int8 kernels exist
    only where the ISA has them). `compute_capability` holds the GPU's compute capability or
    the CPU's relevant ISA flags."""

    library: str
    library_version: str
    device: str
    compute_capability: str
    cuda_runtime: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Platform:
        return cls(**{k: str(d[k]) for k in cls.__dataclass_fields__})

    def binding_fields(self) -> dict[str, str]:
        """The fields that make an engine foreign when they differ."""
        if self.library == "openvino":
            return {
                "OpenVINO": self.library_version,
                "CPU": self.device,
                "ISA": self.compute_capability,
            }
        return {
            "TensorRT": self.library_version,
            "GPU": self.device,
            "compute capability": self.compute_capability,
        }

    def describe(self) -> str:
        if self.library == "openvino":
            return f"{self.device} ({self.compute_capability}) with OpenVINO {self.library_version}"
        return (
            f"{self.device} (compute {self.compute_capability}) with TensorRT "
            f"{self.library_version}"
        )


def tensorrt_platform(trt: ModuleType, device: int = 0) -> Platform:
    cudart = import_cudart()
    require_cuda_device(device)
    props = cuda_call(cudart.cudaGetDeviceProperties(device))
    name = props.name
    name = name.split(b"\0", 1)[0].decode() if isinstance(name, bytes) else str(name)
    version = int(cuda_call(cudart.cudaRuntimeGetVersion()))
    return Platform(
        library="tensorrt",
        library_version=str(trt.__version__),
        device=name.strip(),
        compute_capability=f"{int(props.major)}.{int(props.minor)}",
        cuda_runtime=f"{version // 1000}.{version % 1000 // 10}",
    )


# The CPU features lower-precision OpenVINO engines depend on (Linux /proc/cpuinfo names).
CPU_ISA_FLAGS = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni")


def cpu_flags() -> tuple[str, set[str]]:
    """(CPU model name, its flags) from /proc/cpuinfo; ("unknown CPU", set()) elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU", set()
    name, flags = "unknown CPU", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "unknown CPU":
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return name, flags


def cpu_isa() -> tuple[str, ...]:
    """The lower-precision ISA extensions this CPU has, in CPU_ISA_FLAGS order."""
    _, flags = cpu_flags()
    return tuple(f for f in CPU_ISA_FLAGS if f in flags)


def cpu_supports(precision: str, isa: tuple[str, ...] | None = None) -> str | None:
    """None when this CPU runs `precision` in hardware, else why not (one line)."""
    have = set(cpu_isa() if isa is None else isa)
    if precision == "bf16" and not have & {"amx_bf16", "avx512_bf16"}:
        return "this CPU has neither AMX-BF16 nor AVX512-BF16: bf16 would run emulated"
    if precision == "int8" and not have & {"amx_int8", "avx512_vnni", "avx_vnni"}:
        return "this CPU has no int8 dot-product instructions (AMX-INT8, AVX512-VNNI, AVX-VNNI)"
    return None


def openvino_platform(ov: Any) -> Platform:
    name, _ = cpu_flags()
    return Platform(
        library="openvino",
        library_version=str(ov.__version__),
        device=name,
        compute_capability=",".join(cpu_isa()) or "no bf16/int8 extensions",
        cuda_runtime="",
    )
