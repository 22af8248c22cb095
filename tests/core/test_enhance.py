"""`imggen-rt enhance`: image-to-image ONNX models probed and run in tiles on image files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import helper
from tiny_models import TinyGenerator, upscaler

from imggen_rt.cli.main import main
from imggen_rt.errors import ImggenError
from imggen_rt.image_model import ImageModel

RNG = np.random.default_rng(8)


@pytest.fixture
def tiny_rgba(tmp_path: Path) -> TinyGenerator:
    from tiny_models import make_tiny_generator

    return make_tiny_generator(tmp_path / "rgba.onnx", channels=4, height=12, width=10)


def write(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def test_enhance_upscales_files_in_tiles_like_a_whole_frame(tmp_path: Path) -> None:
    model_path = upscaler(tmp_path / "up.onnx")
    model = ImageModel(model_path)
    assert (model.spec.scale, model.spec.multiple, model.spec.static_side) == (2, 1, None)
    image = RNG.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    src = write(tmp_path / "in" / "a.png", image) if (tmp_path / "in").mkdir() is None else None
    out = tmp_path / "out"
    assert main(["enhance", str(src), "-m", str(model_path), "-o", str(out), "--tile", "16",
                 "--overlap", "1", "--no-progress"]) == 0  # fmt: skip
    tiled = cv2.imread(str(out / "a.png"))
    assert tiled.shape == (74, 58, 3)
    assert main(["enhance", str(src), "-m", str(model_path), "-o", str(tmp_path / "whole"),
                 "--tile", "64", "--overlap", "0", "--no-progress"]) == 0  # fmt: skip
    whole = cv2.imread(str(tmp_path / "whole" / "a.png"))
    assert np.abs(tiled.astype(int) - whole).max() <= 1  # ORT's conv, tile vs whole frame


def test_sixteen_bit_rgba_keeps_depth_and_alpha(tmp_path: Path) -> None:
    model_path = upscaler(tmp_path / "up.onnx")
    image = RNG.integers(0, 65536, (20, 24, 4), dtype=np.uint16)
    src = write(tmp_path / "deep.png", image)
    assert main(["enhance", str(src), "-m", str(model_path), "-o", str(tmp_path / "o"),
                 "--tile", "16", "--overlap", "1", "--no-progress"]) == 0  # fmt: skip
    out = cv2.imread(str(tmp_path / "o" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (40, 48, 4)
    grown = cv2.resize(image[..., 3], (48, 40), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(out[..., 3], grown)


def test_probes_the_multiple_and_a_static_tile(tmp_path: Path) -> None:
    needs4 = ImageModel(upscaler(tmp_path / "u4.onnx", pool=4))
    assert needs4.spec.multiple == 4
    assert needs4.tile_spec(30, 2).tile == 32  # rounded up to the multiple
    frame = RNG.uniform(0, 1, (3, 13, 9)).astype(np.float32)
    assert needs4.run(frame, needs4.tile_spec(16, 2)).shape == (3, 26, 18)
    static = ImageModel(upscaler(tmp_path / "s.onnx", static=24))
    assert static.spec.static_side == 24 and static.tile_spec(256, 4).tile == 24
    assert static.run(frame, static.tile_spec(256, 4)).shape == (3, 26, 18)


def test_receptive_field_is_measured_and_the_default_overlap(tmp_path: Path) -> None:
    model = ImageModel(upscaler(tmp_path / "up.onnx"))
    assert model.spec.receptive_field == 1 and model.spec.not_tileable == ""  # one 3x3 conv
    tiling = model.tile_spec(16)
    assert tiling.overlap == 1
    frame = RNG.uniform(0, 1, (3, 45, 37)).astype(np.float32)
    whole = model.run(frame, model.tile_spec(64, 0))
    np.testing.assert_array_equal(model.run(frame, tiling), whole)  # bit for bit
    pooled = ImageModel(upscaler(tmp_path / "p4.onnx", pool=4))
    assert pooled.spec.receptive_field == 4  # the 3x3 conv's 1 px, over 4 px pooling cells
    tiled = pooled.run(frame, pooled.tile_spec(32))
    np.testing.assert_array_equal(tiled, pooled.run(frame, pooled.tile_spec(64, 0)))


def test_a_model_that_mixes_the_frame_runs_whole_or_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import imggen_rt.image_model as image_model

    path = upscaler(tmp_path / "norm.onnx", instance_norm=True)
    model = ImageModel(path)
    assert "InstanceNorm" in model.spec.not_tileable
    frame = RNG.uniform(0, 1, (3, 40, 30)).astype(np.float32)
    ran = model.run(frame, model.tile_spec(16))  # one whole-frame call, not 16 px tiles
    np.testing.assert_array_equal(ran, model.infer(frame[None])[0])
    monkeypatch.setattr(image_model, "WHOLE_FRAME_PIXELS", 1000)
    with pytest.raises(ImggenError, match=r"not tileable: InstanceNorm.*this one is 30x40"):
        model.run(frame, model.tile_spec(16))
    src = write(tmp_path / "a.png", RNG.integers(0, 256, (40, 30, 3), dtype=np.uint8))
    assert main(["enhance", str(src), "-m", str(path), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not tileable" in err and len(err.strip().splitlines()) == 1


def test_import_writes_an_image_card_the_runtime_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = upscaler(tmp_path / "up.onnx")
    carded = tmp_path / "carded.onnx"
    assert main(["import", str(source), "-o", str(carded), "--input-range", "-1:1",
                 "--output-range", "0:255", "--description", "test x2"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "x2" in out and "receptive field: 1 px (measured)" in out and "tileable" in out
    spec = ImageModel(carded).spec
    assert spec.card is not None and spec.card.description == "test x2"
    assert main(["info", str(carded), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "image-to-image" and info["receptive_field"] == 1 and info["card"]
    assert (spec.input_range, spec.output_range) == ((-1.0, 1.0), (0.0, 255.0))
    assert ImageModel(carded, input_range=(0.0, 1.0)).spec.input_range == (0.0, 1.0)  # flag wins
    wide = tmp_path / "wide.onnx"
    assert main(["import", str(carded), "-o", str(wide), "--receptive-field", "40"]) == 0
    assert ImageModel(wide).tile_spec(128).overlap == 40
    assert ImageModel(wide).spec.output_range == (0.0, 255.0)  # the card's, kept
    whole = tmp_path / "whole.onnx"
    assert main(["import", str(source), "-o", str(whole), "--not-tileable", "colour stats"]) == 0
    assert ImageModel(whole).spec.not_tileable == "colour stats"
    capsys.readouterr()
    assert main(["import", str(source), "-o", str(whole), "--receptive-field", "4",
                 "--not-tileable", "x"]) == 2  # fmt: skip
    assert "declares the model tileable" in capsys.readouterr().err
    import onnx

    damaged = onnx.load(str(carded))
    for entry in damaged.metadata_props:
        if entry.key == "imggen_image.input_range":
            entry.value = "[1, 0"
    onnx.save(damaged, str(tmp_path / "damaged.onnx"))
    with pytest.raises(ImggenError, match="image-model card is damaged"):
        ImageModel(tmp_path / "damaged.onnx")


def test_scalar_knobs_take_a_value_from_the_flag_or_the_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = upscaler(tmp_path / "knob.onnx", strength=True)
    with pytest.raises(ImggenError, match="'strength' needs a value: --scalar strength=VALUE"):
        ImageModel(path)
    with pytest.raises(ImggenError, match="no scalar input 'psi'"):
        ImageModel(path, scalars={"strength": 1.0, "psi": 0.5})
    frame = RNG.uniform(0, 1, (3, 20, 20)).astype(np.float32)
    full = ImageModel(path, scalars={"strength": 1.0})
    half = ImageModel(path, scalars={"strength": 0.5})
    np.testing.assert_allclose(
        half.run(frame, half.tile_spec(8)), full.run(frame, full.tile_spec(8)) / 2, rtol=1e-6
    )
    carded = tmp_path / "carded.onnx"
    assert main(["import", str(path), "-o", str(carded), "--scalar", "strength=0.5"]) == 0
    assert "scalar strength: default 0.5" in capsys.readouterr().out
    assert ImageModel(carded).spec.scalars == {"strength": 0.5}
    src = write(tmp_path / "a.png", RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8))
    out = tmp_path / "o"
    assert main(["enhance", str(src), "-m", str(carded), "-o", str(out)]) == 0
    assert main(["enhance", str(src), "-m", str(carded), "-o", str(tmp_path / "o2"),
                 "--scalar", "strength=1"]) == 0  # fmt: skip
    dim, bright = cv2.imread(str(out / "a.png")), cv2.imread(str(tmp_path / "o2" / "a.png"))
    assert dim.shape == (20, 24, 3) and np.abs(dim * 2.0 - bright).max() <= 2
    assert main(["enhance", str(src), "-m", str(carded), "-o", str(out), "--engine",
                 "openvino"]) == 2  # fmt: skip
    assert "scalar inputs" in capsys.readouterr().err


def test_what_cannot_be_run_is_one_line(
    tmp_path: Path, tiny_rgb: TinyGenerator, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ImggenError, match="not an image-to-image model"):
        ImageModel(tiny_rgb.path)
    with pytest.raises(ImggenError, match="one whole scale factor"):
        ImageModel(upscaler(tmp_path / "fixed.onnx", fixed_out=True))
    src = write(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    model = str(upscaler(tmp_path / "up.onnx"))
    assert main(["enhance", str(src), "-m", model, "-o", str(tmp_path / "o"), "--tile", "8",
                 "--overlap", "4"]) == 2  # fmt: skip
    assert "larger than twice the overlap" in capsys.readouterr().err
    assert main(["enhance", str(src), "-m", model, "-o", str(tmp_path / "o"),
                 "--input-range", "1:0"]) == 2  # fmt: skip
    assert "low < high" in capsys.readouterr().err


def test_model_op_enlarges_inside_chains(tmp_path: Path, tiny_rgba: TinyGenerator) -> None:
    import imggen_rt
    from imggen_rt.post import load_post_config, parse_post
    from imggen_rt.serve.post_spec import chain_for_request

    model_path = upscaler(tmp_path / "up.onnx")
    chain = parse_post(f"exposure=0.2,model={model_path}:16:1,sharpen=0.3")
    assert chain.output_size(12, 10) == (24, 20) and chain.makes_colour
    with imggen_rt.load(tiny_rgba.path, backend="ort") as gen:
        frames = gen.generate(seeds=[3, 4], post=chain)
        plain = gen.generate(seeds=[3, 4])
    assert frames.shape == (2, 24, 20, 4)  # the RGBA model's alpha follows the model's scale
    alpha = parse_post("resize=20x24:lanczos").apply(plain[..., 3:].repeat(3, axis=3))[..., 0]
    np.testing.assert_array_equal(frames[..., 3], alpha)
    (tmp_path / "chain.yaml").write_text(
        "post:\n  - model: {path: up.onnx, tile: 16, overlap: 1}\n"
    )
    assert load_post_config(tmp_path / "chain.yaml").output_size(8, 8) == (16, 16)
    with pytest.raises(ImggenError, match="PATH\\[:TILE"):
        parse_post("model=")
    with pytest.raises(ImggenError, match="cannot be limited to a region"):
        parse_post(f"mask=otsu,model={model_path}@fg")
    with pytest.raises(ImggenError, match="takes a shipped model"):
        chain_for_request(f"model={model_path}")


def test_the_bundled_upscaler_by_name(tmp_path: Path, tiny_rgba: TinyGenerator) -> None:
    from imggen_rt.bundled import BUNDLED
    from imggen_rt.post import parse_post
    from imggen_rt.serve.post_spec import chain_for_request

    if not BUNDLED["upscaler"].installed:
        pytest.skip("this install has no bundled upscaler")
    src = write(tmp_path / "a.png", RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    assert main(["enhance", str(src), "-o", str(tmp_path / "big"), "--no-progress"]) == 0
    assert cv2.imread(str(tmp_path / "big" / "a.png")).shape == (40, 60, 3)
    assert parse_post("model=upscaler").output_size(12, 10) == (24, 20)
    chain = chain_for_request("model=upscaler:64:8")  # over HTTP, by its shipped name
    assert chain is not None and chain.output_size(8, 8) == (16, 16)


def test_hostile_image_models_are_one_line_or_harmless(tmp_path: Path) -> None:
    with pytest.raises(ImggenError, match="past 16384 px a side"):
        ImageModel(upscaler(tmp_path / "huge.onnx", static=20000))
    # a graph that makes NaN: Sqrt of a negative after the x2 upscale
    model = onnx.load(str(upscaler(tmp_path / "nan.onnx")))
    model.graph.node[-1].output[0] = "s"
    model.graph.node.extend(
        [helper.make_node("Neg", ["s"], ["n"]), helper.make_node("Sqrt", ["n"], ["out"])]
    )
    onnx.save(model, str(tmp_path / "nan.onnx"))
    src = write(tmp_path / "a.png", RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8))
    args = ["enhance", str(src), "-m", str(tmp_path / "nan.onnx"), "-o", str(tmp_path / "o")]
    assert main([*args, "--tile", "16", "--overlap", "1", "--no-progress"]) == 0
    assert not cv2.imread(str(tmp_path / "o" / "a.png")).any()  # NaN written as black
