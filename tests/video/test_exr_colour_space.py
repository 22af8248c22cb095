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
