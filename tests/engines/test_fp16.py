"""FP16 ONNX through the shared conversion and the parity gate, on the CPU."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tiny_models import TinyGenerator

from imggen_rt.backends.profiles import parse_batches
from imggen_rt.bundled import resolve_model
from imggen_rt.card import ModelCard
from imggen_rt.engines.pipeline import BuildOutcome, BuildSpec, build
from imggen_rt.errors import ImggenError
from imggen_rt.onnx_graph import graph_io, load_model, read_card, write_card

DEFAULT_MODEL = resolve_model()


def fp16_build(model: Path, cache: Path, seeds: int = 8, batches: str = "1,8") -> BuildOutcome:
    spec = BuildSpec(
        model,
        target="onnx-fp16",
        profile=parse_batches(batches),
        parity_seeds=seeds,
        cache_dir=cache,
    )
    return build(spec)


def assert_fp16_with_fp32_io(path: Path, card: ModelCard) -> None:
    model = load_model(path)
    assert read_card(model, path.name) == card  # the card travels with the model
    inputs, outputs = graph_io(model)
    assert {t.name: t.dtype for t in inputs}["z"] == "float32"
    assert outputs[0].dtype == "float32"
    weights = [t for t in model.graph.initializer if len(t.dims) >= 2]
    assert weights and all(t.data_type == TensorProto.FLOAT16 for t in weights)


def test_tiny_model_fp16_passes_the_gate(tiny_conditional: TinyGenerator, tmp_path: Path) -> None:
    outcome = fp16_build(tiny_conditional.path, tmp_path)
    assert outcome.action == "built"
    manifest = outcome.manifest
    assert manifest.parity.passed and manifest.parity.seeds == 8
    assert manifest.parity.psnr_db > 60
    assert_fp16_with_fp32_io(outcome.artifact, tiny_conditional.card)
    leftovers = [p for p in outcome.artifact.parent.iterdir() if p.name.startswith(".tmp")]
    assert not leftovers


def make_precision_starved(path: Path) -> None:
    """A generator whose weights are below FP16's range and whose gain is above it: FP32 gives
    real images; the FP16 conversion clamps both, the failure mode the gate is there for."""
    latent, c, h, w = 8, 1, 4, 4
    weights = np.random.default_rng(0).normal(0, 1e-9, (latent, c * h * w)).astype(np.float32)
    inits = [
        numpy_helper.from_array(weights, "W"),
        numpy_helper.from_array(np.array(1e9, np.float32), "gain"),
        numpy_helper.from_array(np.array([-1, c, h, w], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("MatMul", ["z", "W"], ["m"]),
        helper.make_node("Mul", ["m", "gain"], ["a"]),
        helper.make_node("Tanh", ["a"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["image"]),
    ]
    graph = helper.make_graph(
        nodes,
        "starved",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", c, h, w])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    write_card(model, ModelCard(latent_dim=latent, height=h, width=w, channels=c))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_a_broken_fp16_conversion_is_refused_with_numbers(tmp_path: Path) -> None:
    model = tmp_path / "starved.onnx"
    make_precision_starved(model)
    with pytest.raises(ImggenError) as info:
        fp16_build(model, tmp_path / "cache")
    message = str(info.value)
    assert message.startswith("the FP16 ONNX failed the parity gate")
    assert "PSNR" in message and "dB < 40 dB" in message and "nothing was written" in message
    assert not list((tmp_path / "cache").rglob("*.onnx")), "a refused artifact was kept"
    assert not (tmp_path / "cache" / "starved.onnx-fp16").exists()


def test_cli_trt_without_tensorrt_is_one_line(tiny_rgb: TinyGenerator) -> None:
    from imggen_rt.backends.platform import import_tensorrt

    with pytest.raises(ImggenError):  # the premise: this machine has no TensorRT
        import_tensorrt()
    cli = [sys.executable, "-m", "imggen_rt.cli.main"]
    done = subprocess.run(
        [*cli, "build", str(tiny_rgb.path), "--target", "trt"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("imggen-rt: error: TensorRT is not installed: pip install tensorrt")
    assert "JetPack" in lines[0]


def test_default_model_fp16_passes_the_gate(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imggen_rt.cli.main",
            "build",
            str(DEFAULT_MODEL),
            "--target",
            "onnx-fp16",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "parity vs FP32: PSNR" in done.stdout and "passed" in done.stdout
    artifact = tmp_path / "fashion_cgan32.onnx-fp16" / "model.fp16.onnx"
    assert_fp16_with_fp32_io(artifact, read_card(load_model(DEFAULT_MODEL)))


@pytest.fixture(scope="module")
def generator_256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256x256 RGB DCGAN generator exported by the project's own exporter. He-initialised
    so its activations keep their scale through the layers: the DCGAN init of an untrained
    model gives near-constant images that any precision would reproduce."""
    import torch
    from torch import nn

    from imggen_rt.export.models import GanConfig, Generator
    from imggen_rt.export.onnx_export import export_generator

    torch.manual_seed(0)
    generator = Generator(GanConfig(resolution=256, channels=3))
    with torch.no_grad():
        for m in generator.modules():
            if isinstance(m, nn.ConvTranspose2d):
                k, s = m.kernel_size[0], m.stride[0]
                m.weight.normal_(0.0, math.sqrt(2.0 * s * s / (m.in_channels * k * k)))
    card = ModelCard(latent_dim=128, height=256, width=256, channels=3, producer="test")
    path = tmp_path_factory.mktemp("g256") / "g256.onnx"
    export_generator(generator, card, path)
    return path


@pytest.mark.train
def test_256_generator_fp16_passes_the_gate(generator_256: Path, tmp_path: Path) -> None:
    outcome = fp16_build(generator_256, tmp_path, seeds=8, batches="1,4")
    parity = outcome.manifest.parity
    assert parity.passed and parity.seeds == 8 and parity.blank_images == 0
    assert 45 < parity.psnr_db < 200  # FP16 changed the images, within the gate
    card = read_card(load_model(generator_256))
    assert_fp16_with_fp32_io(outcome.artifact, card)
    size16 = outcome.artifact.stat().st_size
    assert size16 < 0.6 * generator_256.stat().st_size  # weights stored in half
