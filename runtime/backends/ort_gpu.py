"""ONNX Runtime on an NVIDIA GPU: the CUDA or the TensorRT execution provider (onnxruntime-gpu).

ONNX Runtime silently falls back to the CPU when a GPU provider cannot start (a missing
libcublas, a driver too old); this backend checks which provider the session really got and
says why instead of running slowly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..card import ModelCard
from ..errors import ImggenError
from ..system import default_cache_dir, physical_cores
from .ort import OrtBackend, open_session
from .profiles import BatchProfile, ort_trt_profile_options

PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
GPU_INSTALL = "pip install onnxruntime-gpu (in place of onnxruntime)"
# The TensorRT provider builds an engine per input-shape range; one profile covering the
# usual batch sizes avoids rebuilds mid-run.
DEFAULT_PROFILE = BatchProfile((1, 16, 64))


def available_gpu_providers() -> list[str]:
    """The GPU providers this onnxruntime build offers (not whether a device exists)."""
    import onnxruntime as ort

    return [p for p in PROVIDERS.values() if p in ort.get_available_providers()]


class OrtGpuBackend(OrtBackend):
    """Inputs and the output are bound on the host, as in the CPU backend (the session setup
    after `open_session` is shared): the Backend protocol hands back host arrays."""

    def __init__(
        self,
        model: str | Path,
        provider: str = "cuda",
        *,
        device_id: int = 0,
        cache_dir: Path | None = None,
        profile: BatchProfile = DEFAULT_PROFILE,
        fp16: bool = False,
        cuda_graph: bool = False,
        opt_level: int = 3,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        if provider not in PROVIDERS:
            raise ImggenError(f"provider must be one of {', '.join(PROVIDERS)}, got {provider!r}")
        wanted = PROVIDERS[provider]
        if wanted not in ort.get_available_providers():
            raise ImggenError(f"onnxruntime {ort.__version__} here has no {wanted}: {GPU_INSTALL}")
        self.name = "ort-trt" if provider == "tensorrt" else "ort-cuda"
        self.provider = wanted
        self.threads = threads or physical_cores()
        cuda_options: dict[str, Any] = {"device_id": device_id}
        providers: list[Any] = []
        if provider == "tensorrt":
            from ..onnx_graph import card_of_file

            card = card_of_file(model)  # the profile needs the input shapes
            trt_options = _trt_options(
                card, device_id, cache_dir, profile, fp16, cuda_graph, opt_level
            )
            providers.append(("TensorrtExecutionProvider", trt_options))
            self._options = trt_options
        else:
            # A CUDA graph needs fixed shapes; the batch here varies, so it is opt-in.
            cuda_options["enable_cuda_graph"] = "1" if cuda_graph else "0"
            self._options = cuda_options
        providers += [("CUDAExecutionProvider", cuda_options), "CPUExecutionProvider"]

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        session = open_session(model, options, providers, f"ONNX Runtime ({wanted})")
        active = session.get_providers()
        if not active or active[0] != wanted:
            raise ImggenError(
                f"onnxruntime could not start {wanted} (the session fell back to {active}); "
                "usually a missing CUDA library (libcublas, libcudnn) or an old driver: "
                "see its warnings above"
            )
        super().__init__(session, Path(model).name)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "provider": self.provider,
            "provider_options": {k: str(v) for k, v in self._options.items()},
            "output_dtype": self._output_dtype.name,
        }


def _trt_options(
    card: ModelCard,
    device_id: int,
    cache_dir: Path | None,
    profile: BatchProfile,
    fp16: bool,
    cuda_graph: bool,
    opt_level: int,
) -> dict[str, Any]:
    """TensorRT provider options (names as in ONNX Runtime's TensorRT EP documentation).

    With TensorRT 11, `trt_fp16_enable` has no builder flag behind it: pass an FP16 ONNX
    (`imggen-rt build --target onnx-fp16`) rather than relying on it.
    """
    cache = (cache_dir or default_cache_dir()) / "ort-trt"
    cache.mkdir(parents=True, exist_ok=True)
    return {
        "device_id": device_id,
        "trt_fp16_enable": fp16,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": True,
        "trt_cuda_graph_enable": cuda_graph,
        "trt_builder_optimization_level": opt_level,
        **ort_trt_profile_options(card, profile),
    }
