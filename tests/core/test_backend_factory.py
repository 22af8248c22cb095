"""Backend choice and the GPU libraries' absence, against the real libraries of this machine.

This machine has no GPU and no TensorRT, but cuda-python installs and runs here (its calls
return cudaErrorInsufficientDriver), and onnxruntime is the CPU build: those paths are tested
for real. Where a test needs TensorRT to *import*, it puts a stand-in `tensorrt` package on
the path, because the real library cannot be installed here; each such test says so.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from tiny_models import TinyGenerator

from imggen_rt import _postproc
from imggen_rt.backend_factory import BackendChoice, choose, create_backend
from imggen_rt.backends.platform import CUDA_PYTHON_INSTALL, cuda_device_count
from imggen_rt.backends.trt import DeviceArray
from imggen_rt.errors import ImggenError

HAS_CUDA_PYTHON = True
try:
    from cuda.bindings import runtime as cudart
except ImportError:
    HAS_CUDA_PYTHON = False

needs_cuda_python = pytest.mark.skipif(not HAS_CUDA_PYTHON, reason="cuda-python not installed")
CPU_ORT = "CUDAExecutionProvider" not in onnxruntime.get_available_providers()
needs_cpu_ort = pytest.mark.skipif(not CPU_ORT, reason="onnxruntime here has a CUDA provider")
NO_DEVICE = cuda_device_count()[0] == 0
needs_no_device = pytest.mark.skipif(not NO_DEVICE, reason="a CUDA device is present")

AUTO = textwrap.dedent(
    """
    import importlib.abc, json, sys
    blocked = {n for n in sys.argv[2].split(",") if n}

    class Blocker(importlib.abc.MetaPathFinder):
        # Makes `import <name>` fail exactly as it does when the package is not installed.
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    from imggen_rt.backend_factory import explain_auto
    choice = explain_auto(sys.argv[1])
    print(json.dumps({"name": choice.name, "skipped": dict(choice.skipped)}))
    """
)


def fake_tensorrt(root: Path) -> Path:
    """A stand-in `tensorrt` that imports (the real one cannot be installed here)."""
    package = root / "fake" / "tensorrt"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "10.3.0"\n\nclass Builder:\n    pass\n')
    return package.parent


def run_auto(
    model: Path, tmp_path: Path, block: str = "", path: Path | None = None
) -> dict[str, Any]:
    env = {**os.environ, "IMGGEN_RT_CACHE": str(tmp_path / "cache")}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", AUTO, str(model), block],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@needs_cpu_ort
def test_auto_here_picks_the_cpu_and_says_why(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    choice = run_auto(tiny_rgb.path, tmp_path, block="tensorrt,openvino")
    assert choice["name"] == "ort"
    assert choice["skipped"]["openvino"].startswith("OpenVINO is not installed: pip install")
    assert choice["skipped"]["trt"].startswith("TensorRT is not installed: pip install tensorrt")
    assert choice["skipped"]["ort-cuda"] == (
        "onnxruntime has no CUDAExecutionProvider: pip install onnxruntime-gpu "
        "(in place of onnxruntime)"
    )


@needs_cuda_python
@needs_no_device
def test_auto_skips_tensorrt_without_a_device(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    """Stand-in TensorRT (cannot be installed here), real cuda-python reporting no driver."""
    choice = run_auto(tiny_rgb.path, tmp_path, block="openvino", path=fake_tensorrt(tmp_path))
    assert choice["name"] == "ort"
    assert choice["skipped"]["trt"].startswith("no usable CUDA device: cudaError")


def test_auto_skips_tensorrt_without_cuda_python(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    """Stand-in TensorRT (cannot be installed here); cuda-python made unimportable."""
    choice = run_auto(tiny_rgb.path, tmp_path, block="cuda", path=fake_tensorrt(tmp_path))
    assert choice["skipped"]["trt"] == CUDA_PYTHON_INSTALL


def test_type_stubs_alone_are_not_tensorrt(tmp_path: Path) -> None:
    """`pip install tensorrt-stubs` leaves a `tensorrt/` folder of .pyi files, which Python
    imports as an empty namespace package."""
    stubs = tmp_path / "stubs" / "tensorrt"
    stubs.mkdir(parents=True)
    (stubs / "__init__.pyi").write_text("class Builder: ...\n")
    code = (
        "from imggen_rt.backends.platform import import_tensorrt\n"
        "from imggen_rt.errors import ImggenError\n"
        "try:\n    import_tensorrt()\nexcept ImggenError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(stubs.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.startswith("TensorRT is not installed") and "type stubs" in done.stdout


def test_choose_follows_the_preference_order() -> None:
    def ok() -> str | None:
        return None

    def no(why: str) -> Callable[[], str | None]:
        return lambda: why

    assert choose({"trt": ok, "ort-cuda": ok}).name == "trt"
    second = choose({"trt": no("no engine"), "ort-cuda": ok})
    assert second == BackendChoice("ort-cuda", "usable here", (("trt", "no engine"),))
    last = choose({"trt": no("a"), "ort-cuda": no("b")})
    assert last.name == "ort" and dict(last.skipped) == {"trt": "a", "ort-cuda": "b"}
    assert "skipped trt: a; ort-cuda: b" in str(last)


@needs_cpu_ort
def test_create_backend_auto_logs_its_choice(
    tiny_rgb: TinyGenerator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imggen_rt.backend_factory.probe_openvino", lambda: "not installed (test)")
    with caplog.at_level(logging.INFO, logger="imggen_rt.backend_factory"):
        backend = create_backend("auto", tiny_rgb.path)
    try:
        assert backend.name == "ort"
        assert "backend auto -> ort" in caplog.text and "skipped trt:" in caplog.text
    finally:
        backend.close()


@needs_cpu_ort
def test_gpu_backends_missing_are_one_line_cli_errors(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    cli = [sys.executable, "-m", "imggen_rt.cli.main", "generate", "-m", str(tiny_rgb.path)]
    expected = {
        "ort-cuda": "onnxruntime",
        "ort-trt": "onnxruntime",
        "trt": "TensorRT is not installed",
    }
    for backend, start in expected.items():
        done = subprocess.run(
            [*cli, "--backend", backend, "-o", str(tmp_path), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (backend, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"imggen-rt: error: {start}"), lines
    assert not list(tmp_path.glob("*.png"))


@needs_cuda_python
@needs_no_device
def test_no_usable_device_against_real_cuda_python() -> None:
    from imggen_rt.backends.platform import cuda_call, require_cuda_device

    count, why = cuda_device_count()
    assert count == 0 and why.startswith("cudaError") and "(" in why
    with pytest.raises(ImggenError, match=r"^no usable CUDA device: cudaError"):
        require_cuda_device()
    with pytest.raises(ImggenError, match=r"^CUDA error: cudaError\w+ \(\d+\): "):
        cuda_call(cudart.cudaMalloc(16))
    # A call that needs no driver still works, and its value is unwrapped.
    assert int(cuda_call(cudart.cudaRuntimeGetVersion())) >= 12060


@needs_cuda_python
@needs_no_device
def test_trt_backend_refuses_without_a_device(tmp_path: Path) -> None:
    """Stand-in TensorRT (cannot be installed here): the backend checks the device with the
    real cuda-python before it touches TensorRT."""
    code = (
        "from imggen_rt.backends.trt import TrtBackend\n"
        "from imggen_rt.card import ModelCard\n"
        "from imggen_rt.errors import ImggenError\n"
        "try:\n"
        "    TrtBackend(b'plan', ModelCard(latent_dim=4, height=2, width=2, channels=1))\n"
        "except ImggenError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(fake_tensorrt(tmp_path))}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.startswith("no usable CUDA device: cudaError"), done.stderr


@pytest.mark.skipif(not _postproc.built_with_cuda(), reason="extension built without CUDA")
@needs_no_device
def test_device_arrays_pass_the_kernels_checks() -> None:
    """The CUDA post-process reads DeviceArray's __cuda_array_interface__: a well-formed pair
    gets as far as looking for a device; a wrong shape or dtype is rejected before that."""
    images = DeviceArray(0x1000, (2, 3, 4, 5), np.dtype(np.float32))
    frames = DeviceArray(0x9000, (2, 4, 5, 3), np.dtype(np.uint8))
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        _postproc.denormalize_cuda(images, -1.0, 1.0, "rgb", frames, 0)
    half = DeviceArray(0x1000, (2, 3, 4, 5), np.dtype(np.float16))
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        _postproc.denormalize_cuda(half, -1.0, 1.0, "rgb", frames, 0)
    gray = DeviceArray(0x9000, (2, 4, 5, 1), np.dtype(np.uint8))
    with pytest.raises(ValueError, match="shape"):
        _postproc.denormalize_cuda(images, -1.0, 1.0, "rgb", gray, 0)
    floats_out = DeviceArray(0x9000, (2, 4, 5, 3), np.dtype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        _postproc.denormalize_cuda(images, -1.0, 1.0, "rgb", floats_out, 0)


def test_gpu_modules_import_no_gpu_library() -> None:
    code = (
        "import sys\n"
        "import imggen_rt.backends, imggen_rt.backends.trt, imggen_rt.backends.ort_gpu\n"
        "import imggen_rt.engines.pipeline, imggen_rt.engines.trt_builder, imggen_rt.cli.build\n"
        "import imggen_rt.cli.main\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorrt', 'cuda', 'torch')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
