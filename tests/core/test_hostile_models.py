"""Model files that lie, and outputs that cannot be written: one line, exit 2, nothing written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from tiny_models import TinyGenerator

import imggen_rt
from imggen_rt.cli.main import main
from imggen_rt.errors import ImggenError
from imggen_rt.onnx_graph import write_card


def rewrite(source: Path, target: Path, edit: object) -> Path:
    model = onnx.load(str(source))
    edit(model)  # type: ignore[operator]
    onnx.save(model, str(target))
    return target


def cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("backend", ["ort", "openvino"])
def test_a_card_naming_more_classes_than_the_graph_has_is_refused(
    backend: str, tiny_conditional: TinyGenerator, tmp_path: Path
) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    names = tuple(f"c{i}" for i in range(20))  # the graph's table has 3 rows
    card = dataclasses.replace(tiny_conditional.card, class_names=names)
    liar = rewrite(tiny_conditional.path, tmp_path / "liar.onnx", lambda m: write_card(m, card))
    # OpenVINO reads the graph (the table's size is checked); ONNX Runtime is probed with class
    # 19 at load (OpenVINO would read past the table without a word).
    expected = (
        "indexes a table of 3" if backend == "openvino" else "fails on one image with class 19"
    )
    with pytest.raises(ImggenError, match=expected):
        imggen_rt.load(liar, backend=backend)


def test_a_class_count_the_graph_cannot_check_is_caught_by_the_probe(
    tiny_conditional: TinyGenerator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = tuple(f"c{i}" for i in range(20))
    card = dataclasses.replace(tiny_conditional.card, class_names=names)

    def hide_the_table(model: onnx.ModelProto) -> None:
        # The table arrives through an Identity the static check does not follow.
        for node in model.graph.node:
            if node.op_type == "Gather":
                node.input[0] = "E_hidden"
        model.graph.node.insert(0, onnx.helper.make_node("Identity", ["E"], ["E_hidden"]))
        write_card(model, card)

    liar = rewrite(tiny_conditional.path, tmp_path / "liar.onnx", hide_the_table)
    err = cli_error(["generate", "-m", str(liar), "--backend", "ort", "-o", str(tmp_path)], capsys)
    assert "fails on one image with class 19" in err
    assert not list(tmp_path.glob("seed*.png"))


def test_a_lying_size_on_symbolic_dims_is_caught_by_the_probe(
    tiny_rgb: TinyGenerator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = dataclasses.replace(tiny_rgb.card, height=12, width=10)

    def symbolic(model: onnx.ModelProto) -> None:
        for i, dim in enumerate(model.graph.output[0].type.tensor_type.shape.dim):
            if i:
                dim.Clear()
                dim.dim_param = f"d{i}"
        write_card(model, card)

    liar = rewrite(tiny_rgb.path, tmp_path / "liar.onnx", symbolic)
    err = cli_error(["generate", "-m", str(liar), "--backend", "ort", "-o", str(tmp_path)], capsys)
    # ONNX Runtime infers the real sizes through the Reshape; else the probe would catch it
    assert "liar.onnx" in err and "(?, 3, 12, 10)" in err


def test_nan_weights_are_refused_at_load(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    def poison(model: onnx.ModelProto) -> None:
        for i, tensor in enumerate(model.graph.initializer):
            if tensor.name == "b":
                bias = numpy_helper.to_array(tensor).copy()
                bias[0] = np.nan
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(bias, "b"))

    broken = rewrite(tiny_rgb.path, tmp_path / "nan.onnx", poison)
    with pytest.raises(ImggenError, match="NaN/Inf values on seed 0"):
        imggen_rt.load(broken, backend="ort")


@pytest.mark.parametrize("value", ["[-1e39, 1e39]", "[0, Infinity]"])
def test_an_output_range_float32_cannot_hold_is_refused(
    value: str, tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    def edit(model: onnx.ModelProto) -> None:
        for prop in model.metadata_props:
            if prop.key == "imggen.output_range":
                prop.value = value

    liar = rewrite(tiny_rgb.path, tmp_path / "range.onnx", edit)
    with pytest.raises(ImggenError, match="output range"):
        imggen_rt.load(liar, backend="ort")


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("/dev/null/x", "cannot create the folder /dev/null/x"),
        ("/proc/version", "-o /proc/version is a file, not a folder"),
    ],
)
def test_unwritable_outputs_are_one_line(
    out: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in cli_error(["generate", "-n", "1", "-o", out], capsys)
    assert message in cli_error(["postprocess", __file__, "-o", out, "--post", "blur=1"], capsys)


def test_gray_frames_with_alpha_are_written_as_rgba(tmp_path: Path) -> None:
    import cv2

    assert main(["generate", "-n", "2", "--post", "mask=otsu,alpha", "-o", str(tmp_path)]) == 0
    assert cv2.imread(str(tmp_path / "seed000001.png"), cv2.IMREAD_UNCHANGED).shape == (32, 32, 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "-n", "0"], "argument -n: must be >= 1"),
        (["serve", "--port", "99999"], "must be a port in 1..65535"),
        (["serve", "--port", "0"], "must be a port in 1..65535"),
    ],
)
def test_impossible_numbers_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_video_help_shows_the_pattern_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["video", "--help"])
    shown = capsys.readouterr().out
    assert "shot.%06d.png" in shown and "%%" not in shown


def test_an_image_header_past_the_pixel_limit_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # 10 G pixels claimed
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
    (tmp_path / "huge.png").write_bytes(png + chunk(b"IEND", b""))
    out = tmp_path / "out"
    err = cli_error(
        ["postprocess", str(tmp_path / "huge.png"), "-o", str(out), "--post", "blur=1"], capsys
    )
    assert "cannot read" in err and "huge.png" in err
    assert not list(out.glob("*"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "laughs.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n",
            "aliases",
        ),
        ("deep.yaml", "post: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than 32"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("latin1.yaml", "post:\n  - exposure: 0.3 # caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("big.yaml", "# " + "x" * (2 << 20) + "\npost: []\n", "at most 1 MiB"),
    ],
)
def test_hostile_chain_files_are_one_line(
    name: str,
    content: str | bytes,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    err = cli_error(
        ["generate", "-n", "1", "-o", str(tmp_path / "o"), "--post-config", str(path)], capsys
    )
    assert message in err


@pytest.mark.parametrize(
    ("lut", "message"),
    [
        ("/dev/zero", "is not a regular file"),
        ("tiny.cube", "DOMAIN_MIN < DOMAIN_MAX in float32"),
        ("long.cube", "expected three numbers"),
    ],
)
def test_hostile_cube_files_are_one_line(
    lut: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tiny.cube").write_text(
        "LUT_3D_SIZE 2\nDOMAIN_MAX 1e-40 1e-40 1e-40\n" + "0 0 0\n" * 8
    )
    (tmp_path / "long.cube").write_text("LUT_3D_SIZE 2\n" + "1 " * 5_000_000 + "\n" + "0 0 0\n" * 7)
    path = lut if lut.startswith("/") else str(tmp_path / lut)
    err = cli_error(
        ["generate", "-n", "1", "-o", str(tmp_path / "o"), "--post", f"lut={path}"], capsys
    )
    assert message in err and len(err) < 400


def test_hostile_sizes_are_refused_before_memory_is_touched(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    from onnx import TensorProto, helper

    from imggen_rt.importer import infer_contract

    def huge_latent(model: onnx.ModelProto) -> None:
        model.graph.input[0].CopyFrom(
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 2_000_000_000])
        )
        del model.metadata_props[:]

    src = rewrite(tiny_rgb.path, tmp_path / "huge.onnx", huge_latent)
    with pytest.raises(ImggenError, match=r"2000000000 values per image; at most 67108864"):
        infer_contract(src)
    card = dataclasses.replace(tiny_rgb.card, height=100_000)
    with pytest.raises(ImggenError, match="at most 16384 a side"):
        card.check_values()
