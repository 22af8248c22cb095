"""What a backend can do is in its type: the GPU paths exercised on the CPU with stand-ins.

The ONNX Runtime CUDA provider and TensorRT cannot run here, so the code around them is driven
through stand-ins that record what they were asked and compute with the real CPU parts:
- `ort-cuda`/`ort-trt` construction: onnxruntime's InferenceSession is replaced by one that
  records the providers and options it was given, reports the GPU provider as active, and runs a
  real CPU session underneath;
- the generator's device-frames branch: a DeviceFramesBackend whose `infer_frames` runs the
  extension's CPU loops where a GPU backend runs its CUDA kernels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime
import pytest
from numpy.typing import NDArray
from tiny_models import TinyGenerator

from imggen_rt import _postproc
from imggen_rt.backend_factory import create_backend
from imggen_rt.backends import Backend, ColourProgram, DeviceFramesBackend
from imggen_rt.backends.ort import OrtCpuBackend
from imggen_rt.backends.ort_gpu import OrtGpuBackend
from imggen_rt.contract import Feeds
from imggen_rt.errors import ImggenError
from imggen_rt.generator import ImageGenerator
from imggen_rt.post import parse_post

REAL_SESSION = onnxruntime.InferenceSession


class RecordingSession:
    """Stands in for onnxruntime.InferenceSession: records how it was made, claims the first
    provider asked for, and runs the model on a real CPU session."""

    made: ClassVar[list[dict[str, Any]]] = []
    claim_gpu = True

    def __init__(self, path: str, options: Any = None, providers: Any = None) -> None:
        self.providers = providers
        RecordingSession.made.append({"path": path, "options": options, "providers": providers})
        self._real = REAL_SESSION(path, providers=["CPUExecutionProvider"])

    def get_providers(self) -> list[str]:
        first = self.providers[0]
        name = first[0] if isinstance(first, tuple) else first
        return [name, "CPUExecutionProvider"] if self.claim_gpu else ["CPUExecutionProvider"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def fake_gpu_ort(monkeypatch: pytest.MonkeyPatch) -> type[RecordingSession]:
    real = onnxruntime.get_available_providers()
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: gpu + real)
    monkeypatch.setattr(onnxruntime, "InferenceSession", RecordingSession)
    RecordingSession.made = []
    RecordingSession.claim_gpu = True
    return RecordingSession


def test_ort_cuda_is_built_and_generates_like_the_cpu_backend(
    fake_gpu_ort: type[RecordingSession], tiny_conditional: TinyGenerator
) -> None:
    backend = create_backend("ort-cuda", tiny_conditional.path)
    assert isinstance(backend, OrtGpuBackend) and not isinstance(backend, DeviceFramesBackend)
    (made,) = fake_gpu_ort.made
    cuda_name, cuda_options = made["providers"][0]
    assert cuda_name == "CUDAExecutionProvider"
    assert cuda_options == {"device_id": 0, "enable_cuda_graph": "0"}
    assert made["providers"][-1] == "CPUExecutionProvider"
    assert backend.describe()["provider"] == "CUDAExecutionProvider"

    with ImageGenerator(backend, tiny_conditional.path) as on_gpu:
        frames = on_gpu.generate(seeds=[3, 4, 5], batch_size=2)
        again = on_gpu.generate(seeds=[3, 4, 5], batch_size=3)  # rebinds for another batch
    with ImageGenerator(OrtCpuBackend(tiny_conditional.path), tiny_conditional.path) as on_cpu:
        expected = on_cpu.generate(seeds=[3, 4, 5])
    np.testing.assert_array_equal(frames, expected)
    np.testing.assert_array_equal(again, expected)


def test_ort_trt_passes_a_batch_profile(
    fake_gpu_ort: type[RecordingSession], tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    backend = OrtGpuBackend(tiny_rgb.path, "tensorrt", cache_dir=tmp_path)
    name, options = fake_gpu_ort.made[0]["providers"][0]
    assert name == "TensorrtExecutionProvider" and backend.name == "ort-trt"
    assert options["trt_engine_cache_path"] == str(tmp_path / "ort-trt")
    assert options["trt_profile_min_shapes"] == "z:1x8"
    assert options["trt_profile_max_shapes"] == "z:64x8"
    z = np.zeros((2, 8), np.float32)
    np.testing.assert_allclose(backend.infer(Feeds(z)), tiny_rgb.reference(z), atol=1e-6)


def test_a_silent_cpu_fallback_is_refused(
    fake_gpu_ort: type[RecordingSession], tiny_rgb: TinyGenerator
) -> None:
    fake_gpu_ort.claim_gpu = False
    with pytest.raises(ImggenError, match="could not start CUDAExecutionProvider"):
        create_backend("ort-cuda", tiny_rgb.path)


def test_ort_cuda_without_the_gpu_build_says_what_to_install(tiny_rgb: TinyGenerator) -> None:
    with pytest.raises(ImggenError, match="pip install onnxruntime-gpu"):
        create_backend("ort-cuda", tiny_rgb.path)


class CpuDeviceFrames(DeviceFramesBackend):
    """A DeviceFramesBackend whose 'device pass' is the extension's CPU loop: the same call a
    TensorRT backend makes to `denormalize_cuda` / `point_cuda`, with the same arguments."""

    name = "cpu-device-frames"

    def __init__(self, model: Path) -> None:
        self.inner = OrtCpuBackend(model)
        self.card = self.inner.card
        self.calls: list[tuple[str, bool]] = []

    def infer(self, feeds: Feeds) -> np.ndarray:
        raise AssertionError("the generator must take the device-frames path")

    def infer_frames(
        self,
        feeds: Feeds,
        order: str = "rgb",
        out: NDArray[np.uint8] | None = None,
        colour: ColourProgram | None = None,
    ) -> NDArray[np.uint8]:
        self.calls.append((order, colour is not None))
        images = self.inner.infer(feeds)
        low, high = self.card.output_range
        if colour is None:
            frames = _postproc.denormalize(images, low, high, order, out)
        else:
            program, tables = colour
            frames = _postproc.point(images, program, tables, order, low, high, out)
        return np.asarray(frames)

    def describe(self) -> dict[str, object]:
        return {"backend": self.name}

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize(
    ("chain", "colour_on_device"),
    [
        (None, False),
        ("exposure=0.4,saturation=1.3", True),  # all colour: the whole chain on the device
        ("contrast=1.2,lut=teal-orange,blur=1,resize=12x10", True),  # colour, then the rest
        ("blur=1,exposure=0.2", False),  # a stencil first: nothing fuses on the device
    ],
)
def test_device_frames_branch_equals_the_host_path(
    tiny_conditional: TinyGenerator, chain: str | None, colour_on_device: bool
) -> None:
    post = parse_post(chain) if chain else None
    device = CpuDeviceFrames(tiny_conditional.path)
    host: Backend = OrtCpuBackend(tiny_conditional.path)
    with ImageGenerator(device, tiny_conditional.path) as on_device:
        frames = on_device.generate(seeds=range(5), batch_size=2, post=post)
    with ImageGenerator(host, tiny_conditional.path) as on_host:
        expected = on_host.generate(seeds=range(5), batch_size=2, post=post)
    np.testing.assert_array_equal(frames, expected)
    assert device.calls and all(fused == colour_on_device for _, fused in device.calls)


def test_a_backend_states_its_capabilities_in_its_type() -> None:
    from imggen_rt.backends.openvino import OpenVinoBackend
    from imggen_rt.backends.trt import TrtBackend

    assert issubclass(TrtBackend, DeviceFramesBackend)
    for host_only in (OrtCpuBackend, OrtGpuBackend, OpenVinoBackend):
        assert issubclass(host_only, Backend) and not issubclass(host_only, DeviceFramesBackend)
