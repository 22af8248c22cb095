"""OpenColorIO in the chain, checked against PyOpenColorIO itself on the same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imggen_rt.errors import ImggenError
from imggen_rt.post import parse_post
from imggen_rt.post.ocio import OcioExact, OcioTransform, config_source

ocio = pytest.importorskip("PyOpenColorIO")

STUDIO = "ocio://studio-config-latest"
RNG = np.random.default_rng(17)


def images(n: int = 2, h: int = 24, w: int = 40) -> np.ndarray:
    """Generator output in [-1, 1] including both ends and mid-greys."""
    x = RNG.uniform(-1.0, 1.0, (n, 3, h, w)).astype(np.float32)
    x[0, :, 0, :3] = [[-1, 0, 1]] * 3
    return x


def ocio_reference(x: np.ndarray, processor: object) -> np.ndarray:
    """OCIO's CPU processor on the same [0, 1] values, rounded half up to 8 bits."""
    rgb = np.ascontiguousarray(((x + 1) / 2).transpose(0, 2, 3, 1), np.float32)
    processor.getDefaultCPUProcessor().applyRGB(rgb)  # type: ignore[attr-defined]
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def levels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b).max())


@pytest.mark.parametrize(
    "src, dst",
    [
        ("sRGB - Texture", "ACEScg"),
        ("sRGB - Texture", "Linear Rec.709 (sRGB)"),
        ("sRGB - Texture", "ACEScct"),
        ("sRGB - Texture", "Display P3 - Display"),
        ("Rec.1886 Rec.709 - Display", "sRGB - Texture"),
    ],
)
def test_colour_spaces_match_ocio_within_one_level(src: str, dst: str) -> None:
    cfg = ocio.Config.CreateFromFile(STUDIO)
    x = images()
    want = ocio_reference(x, cfg.getProcessor(src, dst))
    chain = parse_post(f"ocio={src}:{dst}", ocio_config=STUDIO)
    assert levels(chain.run(x, -1.0, 1.0), want) <= 1
    # exact runs OCIO's processor on the 8-bit frames: what OCIO makes of those very frames
    exact = parse_post(f"ocio={src}:{dst}:exact", ocio_config=STUDIO)
    frames = parse_post("").run(x, -1.0, 1.0)
    as_images = frames.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1
    want_exact = ocio_reference(as_images, cfg.getProcessor(src, dst))
    assert levels(exact.run(x, -1.0, 1.0), want_exact) <= 1


def test_display_view_and_look_match_ocio() -> None:
    cfg = ocio.Config.CreateFromFile(STUDIO)
    x = images()
    display, view = "sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)"
    transform = ocio.DisplayViewTransform(src="ACEScg", display=display, view=view)
    want = ocio_reference(x, cfg.getProcessor(transform))
    got = parse_post(f"ocio-display={display}:{view}:ACEScg", ocio_config=STUDIO).run(x, -1, 1)
    assert levels(got, want) <= 1
    look = cfg.getLookNames()[0]
    transform = ocio.LookTransform(src="ACEScct", dst="ACEScct", looks=look)
    want = ocio_reference(x, cfg.getProcessor(transform))
    got = parse_post(f"ocio-look={look}:ACEScct", ocio_config=STUDIO).run(x, -1, 1)
    assert levels(got, want) <= 1


def test_fuses_with_the_other_colour_ops_into_one_pass() -> None:
    chain = parse_post("exposure=0.2,ocio=sRGB - Texture:ACEScct,saturation=1.1", STUDIO)
    assert len(chain._steps) == 1  # one program: denormalise, three ops, quantise


def test_a_cube_through_ocio_equals_the_own_cube_op(tmp_path: Path) -> None:
    from imggen_rt.post.cube import read_cube

    look = read_cube("teal-orange")
    path = tmp_path / "look.cube"
    rows = look.table.reshape(-1, 3)
    path.write_text(
        f"LUT_3D_SIZE {look.size}\n" + "".join(f"{r:.7f} {g:.7f} {b:.7f}\n" for r, g, b in rows)
    )
    raw = ocio.Config.CreateRaw()
    processor = raw.getProcessor(
        ocio.FileTransform(src=str(path), interpolation=ocio.INTERP_TETRAHEDRAL)
    )
    x = images()
    assert levels(parse_post(f"lut={path}").run(x, -1, 1), ocio_reference(x, processor)) <= 1


def test_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCIO", STUDIO)
    assert config_source() == STUDIO
    assert config_source("ocio://cg-config-latest") == "ocio://cg-config-latest"
    chain = parse_post("ocio=sRGB - Texture:ACEScg")
    assert STUDIO in chain.ops[-1].cube.source  # type: ignore[union-attr]
    monkeypatch.delenv("OCIO")
    assert config_source() == "ocio://default"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("ocio=sRGB:ACEScg", "no colour space 'sRGB'; close: .*'sRGB Encoded Rec.709 \\(sRGB\\)'"),
        ("ocio=sRGB - Texture:ACES cg", "no colour space 'ACES cg'; close: 'ACEScg'"),
        ("ocio-display=sRGB - Display:ACES 3.0", "no view of 'sRGB - Display' 'ACES 3.0'"),
        ("ocio-display=Cinema:Raw", "no display 'Cinema'"),
        ("ocio-look=Grain", "no look 'Grain'"),
        ("ocio=ACEScg", "ocio takes ocio=SRC:DST"),
        ("ocio=a:b:c:d", "ocio takes ocio=SRC:DST"),
        ("ocio-display=", "ocio-display takes"),
    ],
)
def test_unknown_names_are_one_line_with_suggestions(spec: str, message: str) -> None:
    with pytest.raises(ImggenError, match=message) as info:
        parse_post(spec, ocio_config=STUDIO)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("config", ["nope.ocio", "/dev/zero", "."])
def test_a_config_that_is_no_file_is_one_line(tmp_path: Path, config: str) -> None:
    source = config if config.startswith("/") else str(tmp_path / config)
    with pytest.raises(ImggenError, match=r"OCIO config .* is not a file") as info:
        parse_post("ocio=a:b", ocio_config=source)
    assert "\n" not in str(info.value)


def test_a_broken_config_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.ocio").write_text("ocio_profile_version: 2\ncolorspaces: [\n")
    with pytest.raises(ImggenError, match="OCIO config") as info:
        parse_post("ocio=a:b", ocio_config=str(tmp_path / "bad.ocio"))
    assert "\n" not in str(info.value)


def test_exact_needs_rgb_and_keeps_alpha_and_regions() -> None:
    chain = parse_post("ocio=sRGB - Texture:ACEScct:exact", STUDIO)
    assert isinstance(chain.ops[0], OcioExact) and chain.makes_colour
    frames = RNG.integers(0, 256, (2, 8, 8, 4), dtype=np.uint8)
    out = chain.apply(frames)
    assert out.shape == (2, 8, 8, 4)
    np.testing.assert_array_equal(out[..., 3], frames[..., 3])  # alpha rides along untouched
    with pytest.raises(ImggenError, match="needs RGB frames"):
        chain.apply(frames[..., :1], order="gray")
    transform = OcioTransform("colorspace", ("sRGB - Texture", "ACEScct"), STUDIO)
    assert str(transform) == "ocio=sRGB - Texture:ACEScct"


# --- the model card's colour space ---------------------------------------------------------------


def with_colour_space(path: Path, space: str) -> None:
    import dataclasses

    import onnx

    from imggen_rt.onnx_graph import load_model, read_card, write_card

    model = load_model(path)
    write_card(model, dataclasses.replace(read_card(model), colour_space=space))
    onnx.save(model, str(path))


def test_card_colour_space_is_the_ocio_source(
    tiny_rgb: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imggen_rt.cli.main import main
    from imggen_rt.generator import model_colour_space

    path = tiny_rgb.path  # type: ignore[attr-defined]
    assert model_colour_space(path) == "sRGB - Texture"  # a card that names none
    with_colour_space(path, "ACEScct")
    assert model_colour_space(path) == "ACEScct"
    monkeypatch.setenv("OCIO", STUDIO)
    view = "sRGB - Display:ACES 2.0 - SDR 100 nits (Rec.709)"
    base = ["generate", "-m", str(path), "--seeds", "3", "--no-progress", "--backend", "ort"]
    assert main([*base, "-o", str(tmp_path / "a"), "--post", f"ocio-display={view}"]) == 0
    assert main([*base, "-o", str(tmp_path / "b"), "--post", f"ocio-display={view}:ACEScct"]) == 0
    assert main([*base, "-o", str(tmp_path / "c"), "--post", f"ocio-display={view}:ACEScg"]) == 0
    a, b, c = ((tmp_path / d / "seed000003.png").read_bytes() for d in "abc")
    assert a == b and a != c


def test_import_records_a_checked_colour_space(
    tiny_rgb: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from imggen_rt.cli.main import main
    from imggen_rt.generator import model_colour_space

    monkeypatch.setenv("OCIO", STUDIO)
    src = str(tiny_rgb.path)  # type: ignore[attr-defined]
    out = tmp_path / "imported.onnx"
    # an alias is recorded by the config's own name for it
    assert main(["import", src, "-o", str(out), "--colour-space", "srgb - texture"]) == 0
    assert model_colour_space(out) == "sRGB Encoded Rec.709 (sRGB)"
    assert main(["import", src, "-o", str(tmp_path / "x.onnx"), "--colour-space", "sRGBB"]) == 2
    err = capsys.readouterr().err
    assert "no colour space 'sRGBB'" in err and err.count("\n") == 1
