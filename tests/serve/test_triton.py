"""`imggen-rt triton-repo`: a repository Triton's own config parser accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import TinyGenerator

from imggen_rt import ImggenError
from imggen_rt.card import ModelCard
from imggen_rt.serve.triton import validate_config

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
text_format = pytest.importorskip("google.protobuf.text_format")


def test_repository_for_a_conditional_model(
    tiny_conditional: TinyGenerator, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imggen_rt.cli.main",
            "triton-repo",
            str(tiny_conditional.path),
            "-o",
            str(tmp_path / "repo"),
            "--max-batch",
            "32",
            "--gpu",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "repo" / "tiny_cond"
    assert (folder / "1" / "model.onnx").read_bytes() == tiny_conditional.path.read_bytes()
    config = text_format.Parse(
        (folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 32
    assert [(i.name, list(i.dims)) for i in config.input] == [("z", [8]), ("class_id", [1])]
    assert list(config.input[1].reshape.shape) == []
    assert list(config.output[0].dims) == [1, 6, 5]
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    card = json.loads(config.parameters["imggen.card"].string_value)
    assert ModelCard.from_metadata(card) == tiny_conditional.card


def test_unconditional_model_has_only_z(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    from imggen_rt.serve.triton import write_repository

    folder = write_repository(tiny_rgb.path, tmp_path, name="rgb")
    config = text_format.Parse(
        (folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert [i.name for i in config.input] == ["z"]
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ImggenError, match="not a valid Triton ModelConfig"):
        validate_config('name: "x"\nmax_batch_sise: 4\n')
    with pytest.raises(ImggenError, match="not a valid Triton ModelConfig"):
        validate_config('name: "x"\ninput [ { name: "z" data_type: TYPE_FP33 } ]\n')
