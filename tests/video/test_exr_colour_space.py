"""EXR sequences written in a named OCIO colour space: values, header, alpha, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imggen_rt.cli.main import main
from imggen_rt.errors import ImggenError
from imggen_rt.video.sinks.factory import SinkOptions, open_sink

ocio = pytest.importorskip("PyOpenColorIO")
OpenEXR = pytest.importorskip("OpenEXR")
pytest.importorskip("av")

STUDIO = "ocio://studio-config-latest"


def read_exr(path: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    f = OpenEXR.File(str(path))
    return f.header(), {name: np.asarray(c.pixels) for name, c in f.channels().items()}


def test_acescg_exr_reads_back_as_ocio_converts_the_frames(tmp_path: Path) -> None:
    frames = np.random.default_rng(3).integers(0, 256, (2, 6, 10, 4), dtype=np.uint8)
    options = SinkOptions(colour_space="ACEScg", ocio_config=STUDIO)
    opened = open_sink(str(tmp_path / "shot.####.exr"), options)
    sink = opened.sink
    sink.start(10, 6, 0)
    sink.write(frames)
    sink.finish(True)
    assert sink.describe()["colour_space"] == "ocio=sRGB - Texture:ACEScg"

    cpu = ocio.Config.CreateFromFile(STUDIO).getProcessor("sRGB - Texture", "ACEScg")
    for i, name in enumerate(("shot.1001.exr", "shot.1002.exr")):
        header, channels = read_exr(tmp_path / name)
        assert header["oiio:ColorSpace"] == "ACEScg"
        want = np.ascontiguousarray(frames[i, ..., :3] / np.float32(255), np.float32)
        cpu.getDefaultCPUProcessor().applyRGB(want)
        rgba = channels["RGBA"]
        np.testing.assert_allclose(rgba[..., :3], want, rtol=2e-3, atol=1e-4)  # half floats
        np.testing.assert_allclose(rgba[..., 3], frames[i, ..., 3] / 255, atol=1e-3)
    assert not list(tmp_path.glob("*.tmp*"))


def test_video_cli_writes_acescg_and_refuses_what_cannot_hold_it(
    tiny_rgb: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(tiny_rgb.path)  # type: ignore[attr-defined]
    walk = ["video", "-m", model, "--seeds", "1,2", "--frames-per-seed", "3", "--no-progress"]
    out = tmp_path / "shot.####.exr"
    assert main([*walk, "-o", str(out), "--colour-space", "ACEScg", "--ocio-config", STUDIO]) == 0
    header, channels = read_exr(tmp_path / "shot.1001.exr")
    assert header["oiio:ColorSpace"] == "ACEScg" and channels["RGB"].dtype == np.float16

    for target, message in (
        (str(tmp_path / "walk.mp4"), "--colour-space applies to EXR sequences"),
        (str(tmp_path / "f.####.png"), "--colour-space applies to EXR sequences"),
    ):
        assert main([*walk, "-o", target, "--colour-space", "ACEScg"]) == 2
        assert message in capsys.readouterr().err
    assert main([*walk, "-o", str(out), "--colour-space", "ACEScgg"]) == 2
    err = capsys.readouterr().err
    assert "no colour space 'ACEScgg'; close: 'ACEScg'" in err and err.count("\n") == 1


def test_unknown_space_is_refused_before_rendering(tmp_path: Path) -> None:
    with pytest.raises(ImggenError, match="no colour space 'Linear P3'"):
        open_sink(str(tmp_path / "s.####.exr"), SinkOptions(colour_space="Linear P3"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "display, view, primaries, transfer",
    [
        ("Display P3 - Display", "ACES 2.0 - SDR 100 nits (P3 D65)", 12, 13),
        ("sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)", 1, 13),
        (None, None, 1, 1),
    ],
)
def test_video_is_tagged_for_the_display_transform(
    tiny_rgb: object,
    tmp_path: Path,
    display: str | None,
    view: str | None,
    primaries: int,
    transfer: int,
) -> None:
    import av

    out = tmp_path / "walk.mp4"
    args = ["video", "-m", str(tiny_rgb.path), "--seeds", "1,2", "--frames-per-seed", "3"]  # type: ignore[attr-defined]
    args += ["--no-progress", "--size", "64x64", "-o", str(out), "--ocio-config", STUDIO]
    if display is not None:
        args += ["--post", f"ocio=sRGB - Texture:ACEScg,ocio-display={display}:{view}:ACEScg"]
    assert main(args) == 0
    with av.open(str(out)) as container:
        ctx = container.streams.video[0].codec_context
        assert (int(ctx.color_primaries), int(ctx.color_trc)) == (primaries, transfer)


def test_a_chain_converting_to_a_space_into_exr_points_to_colour_space(
    tiny_rgb: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(tiny_rgb.path)  # type: ignore[attr-defined]
    args = ["video", "-m", model, "--seeds", "1,2", "--frames-per-seed", "2", "--no-progress"]
    args += ["--post", "ocio=sRGB - Texture:ACEScg", "-o", str(tmp_path / "s.####.exr")]
    assert main(args) == 2
    assert "--colour-space 'ACEScg' instead" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.exr"))


def test_exr_converts_from_the_space_the_chain_left_the_frames_in(
    tiny_rgb: object, tmp_path: Path
) -> None:
    model = str(tiny_rgb.path)  # type: ignore[attr-defined]
    base = ["video", "-m", model, "--seeds", "1,2", "--frames-per-seed", "2", "--no-progress"]
    base += ["--ocio-config", STUDIO, "--colour-space", "ACEScg"]
    png = ["video", "-m", model, "--seeds", "1,2", "--frames-per-seed", "2", "--no-progress"]
    chain = ["--post", "ocio=sRGB - Texture:ACEScct", "--ocio-config", STUDIO]
    assert main([*png, *chain, "-o", str(tmp_path / "p.####.png")]) == 0
    assert main([*base, *chain, "-o", str(tmp_path / "e.####.exr")]) == 0
    import av

    with av.open(str(tmp_path / "p.1001.png")) as c:
        acescct = next(c.decode(video=0)).to_ndarray(format="rgb24")
    want = np.ascontiguousarray(acescct / np.float32(255), np.float32)
    cfg = ocio.Config.CreateFromFile(STUDIO)
    cfg.getProcessor("ACEScct", "ACEScg").getDefaultCPUProcessor().applyRGB(want)
    _, channels = read_exr(tmp_path / "e.1001.exr")
    np.testing.assert_allclose(channels["RGB"], want, rtol=2e-3, atol=1e-4)
