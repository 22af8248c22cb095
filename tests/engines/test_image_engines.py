"""Static-shape OpenVINO engines for image-to-image models: built per tile size, gated against
FP32 ONNX Runtime, cached, and run by `enhance` and the chain's model= op."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import upscaler

pytest.importorskip("openvino")

from imggen_rt.backends.platform import cpu_supports
from imggen_rt.cli.main import main
from imggen_rt.engines.image_engine import (
    ImageEngineSpec,
    build_image_engine,
    gate_images,
)
from imggen_rt.errors import ImggenError
from imggen_rt.image_model import ImageModel


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    return upscaler(tmp_path / "up.onnx")


def test_build_per_tile_size_then_reuse(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    args = ["build", str(model_path), "--target", "openvino", "--precision", "fp32"]
    assert main([*args, "--tile", "32", "--cache-dir", str(cache)]) == 0
    first = capsys.readouterr().out
    assert first.startswith("built") and "passed" in first and "ms/tile" in first
    assert main([*args, "--tile", "48", "--cache-dir", str(cache)]) == 0
    assert capsys.readouterr().out.startswith("built")
    assert main([*args, "--tile", "32", "--cache-dir", str(cache), "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["builder"]["tile"] == 32 and manifest["profile"]["batches"] == [4]
    assert manifest["card"]["scale"] == "2" and manifest["parity"]["passed"]
    # one entry per tile size, side by side
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [
        "up.openvino-fp32-32px",
        "up.openvino-fp32-48px",
    ]


def test_engine_output_matches_onnx_runtime_tiled(tmp_path: Path, model_path: Path) -> None:
    frame = np.random.default_rng(3).random((3, 70, 101), dtype=np.float32)
    reference = ImageModel(model_path)
    on_engine = ImageModel(
        model_path, engine="openvino", build=lambda _: None, cache_dir=tmp_path / "c"
    )
    tiling = reference.tile_spec(32, 4, batch=3)
    expected = reference.run(frame, tiling)
    got = on_engine.run(frame, tiling)
    assert on_engine.describe()["engines"] == ["openvino 32 px x3"]
    assert got.shape == expected.shape == (3, 140, 202)
    # bf16 on CPUs that have it (gated at 40 dB), FP32 elsewhere
    assert np.abs(got - expected).max() < (0.05 if cpu_supports("bf16") is None else 1e-5)


def test_small_frames_and_onnxruntime_skip_the_engine(tmp_path: Path, model_path: Path) -> None:
    cache = tmp_path / "cache"
    model = ImageModel(model_path, engine="openvino", build=lambda _: None, cache_dir=cache)
    tiling = model.tile_spec(64, 4)
    small = np.zeros((3, 20, 200), np.float32)  # one side under a tile: ONNX Runtime
    assert model.run(small, tiling).shape == (3, 40, 400)
    assert model.describe()["engines"] == ["onnxruntime"]
    assert not cache.exists()
    plain = ImageModel(model_path)  # the default engine is ONNX Runtime
    plain.run(np.zeros((3, 80, 80), np.float32), tiling)
    assert plain.describe()["engines"] == ["onnxruntime"]


def test_auto_takes_only_engines_built_ahead_when_builds_are_off(
    tmp_path: Path, model_path: Path
) -> None:
    cache = tmp_path / "cache"
    model = ImageModel(model_path, engine="auto", build=None, cache_dir=cache)
    model.run(np.zeros((3, 80, 80), np.float32), model.tile_spec(64, 4))
    assert model.describe()["engines"] == ["onnxruntime"]
    assert not [p for p in cache.glob("*") if not p.name.startswith(".")]


def test_a_refused_engine_is_one_line_and_leaves_nothing(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    code = main(
        ["build", str(model_path), "--target", "openvino", "--precision", "fp32", "--tile",
         "32", "--cache-dir", str(cache), "--min-psnr", "400"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "failed the parity gate" in err and "nothing was written" in err
    assert len(err.strip().splitlines()) == 1
    assert not [p for p in cache.iterdir() if not p.name.startswith(".")]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target", "trt"], "--target openvino"),
        (["--target", "openvino", "--batch", "2,3"], "one number of tiles"),
        (["--target", "openvino", "--precision", "int8"], "fp32 or bf16"),
    ],
)
def test_bad_image_engine_requests_are_one_line(
    tmp_path: Path,
    model_path: Path,
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["build", str(model_path), "--tile", "32", "--cache-dir", str(tmp_path), *extra]
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_spec_limits_and_gate_images() -> None:
    with pytest.raises(ImggenError, match="tile must be"):
        ImageEngineSpec(Path("m.onnx"), tile=4)
    images = gate_images(3, 40, 5, (-1.0, 1.0))
    assert images.shape == (5, 3, 40, 40) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.2
    np.testing.assert_array_equal(images, gate_images(3, 40, 5, (-1.0, 1.0)))


def test_static_graphs_run_as_they_are(tmp_path: Path) -> None:
    path = upscaler(tmp_path / "static.onnx", static=24)
    model = ImageModel(path, engine="openvino", build=lambda _: None, cache_dir=tmp_path / "c")
    out = model.run(np.zeros((3, 50, 50), np.float32), model.tile_spec(24, 4))
    assert out.shape == (3, 100, 100) and model.describe()["engines"] == ["onnxruntime"]
    spec = ImageEngineSpec(path, "fp32", 24, cache_dir=tmp_path / "c")
    outcome = build_image_engine(spec, model)  # an explicit build of a static graph works
    assert outcome.manifest.request.builder["tile"] == 24
