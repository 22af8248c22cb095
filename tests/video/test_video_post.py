"""The post-process chain inside a video render: looks and delivery size, alpha where the
output can hold it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator

import imggen_rt
from imggen_rt.post import parse_post
from imggen_rt.video.frames import FrameMaker
from imggen_rt.walks import NoiseLoop

av = pytest.importorskip("av")


def cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "video", *map(str, args), "--no-progress"]
    return subprocess.run(cmd, capture_output=True)


def test_post_chain_frames_are_the_generators_post_processed_frames(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    spec = "exposure=0.5,saturation=1.4,resize=20x24"
    done = cli("-m", tiny_rgb.path, "--loop", "0.5", "--fps", "12", "--post", spec,
               "--backend", "ort", "-o", tmp_path / "p.%04d.png")  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    with imggen_rt.load(tiny_rgb.path, backend="ort") as gen:
        walk = NoiseLoop(0, 6, gen.card.latent_dim)
        plan = walk.plan([3])
        expected = gen.frames_for_latents(plan.z, None, "rgb", post=parse_post(spec))[0]
        plain = FrameMaker(gen, walk).make([3])[0]
    with av.open(str(tmp_path / "p.1004.png")) as c:
        got = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert got.shape == (24, 20, 3)
    np.testing.assert_array_equal(got, expected)
    assert plain.shape != got.shape


def test_alpha_goes_to_prores4444_and_is_refused_by_h264(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    common = ["-m", tiny_rgb.path, "--loop", "0.25", "--size", "16x12", "--post", "mask=otsu,alpha"]
    ok = cli(*common, "-o", tmp_path / "a.mov", "--codec", "prores4444")
    assert ok.returncode == 0, ok.stderr.decode()
    with av.open(str(tmp_path / "a.mov")) as c:
        frame = next(c.decode(video=0))
        assert frame.format.name.startswith("yuva444p")
        alpha = frame.to_ndarray(format="rgba")[..., 3]
    assert alpha.min() < 30 and alpha.max() > 225  # both masked and kept pixels
    refused = cli(*common, "-o", tmp_path / "a.mp4")
    assert refused.returncode == 2
    assert b"makes alpha" in refused.stderr
