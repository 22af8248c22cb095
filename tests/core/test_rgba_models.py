"""RGBA generators all the way: frames, files, chains, video and the server keep the model's
alpha, bit for bit where no op touches it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_models import TinyGenerator, make_tiny_generator

import imggen_rt
from imggen_rt.cli.main import main
from imggen_rt.errors import ImggenError
from imggen_rt.post import parse_post
from imggen_rt.postprocess import denormalize_reference


@pytest.fixture
def tiny_rgba(tmp_path: Path) -> TinyGenerator:
    return make_tiny_generator(
        tmp_path / "tiny_rgba.onnx", channels=4, height=12, width=10, class_names=("a", "b")
    )


def expected_alpha(gen: imggen_rt.ImageGenerator, seeds: list[int]) -> np.ndarray:
    images = gen.backend.infer(gen.feeds_for_seeds(seeds, None))
    return denormalize_reference(np.asarray(images)[:, 3:], -1.0, 1.0, "gray")[..., 0]


def test_frames_are_rgba_and_alpha_survives_colour_ops(tiny_rgba: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgba.path, backend="ort") as gen:
        frames = gen.generate(seeds=[1, 2, 3])
        assert frames.shape == (3, 12, 10, 4)
        alpha = expected_alpha(gen, [1, 2, 3])
        np.testing.assert_array_equal(frames[..., 3], alpha)
        graded = gen.generate(seeds=[1, 2, 3], post=parse_post("exposure=0.5,saturation=1.4"))
        np.testing.assert_array_equal(graded[..., 3], alpha)  # colour ops leave alpha alone
        assert not np.array_equal(graded[..., :3], frames[..., :3])
        bigger = gen.generate(seeds=[1], post=parse_post("resize=20x24"))
        assert bigger.shape == (1, 24, 20, 4)
        with pytest.raises(ImggenError, match="not gray"):
            gen.generate(seeds=[1], order="gray")


def test_generate_and_postprocess_write_rgba_pngs(tiny_rgba: TinyGenerator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "-m", str(tiny_rgba.path), "--seeds", "4,5", "--backend", "ort"]
    assert (
        main([*args, "-o", str(out), "--grid", "--grid-background", "dark", "--no-progress"]) == 0
    )
    png = cv2.imread(str(out / "seed000004.png"), cv2.IMREAD_UNCHANGED)
    assert png.shape == (12, 10, 4)
    with imggen_rt.load(tiny_rgba.path, backend="ort") as gen:
        np.testing.assert_array_equal(png[..., 3], expected_alpha(gen, [4])[0])
        rgba = gen.generate(seeds=[4])[0]
    np.testing.assert_array_equal(png[..., :3], rgba[..., 2::-1])  # BGRA on disk
    grid = cv2.imread(str(out / "grid.png"), cv2.IMREAD_UNCHANGED)
    assert grid.shape[2] == 3  # composited on the background

    again = tmp_path / "again"
    assert main(["postprocess", str(out / "seed000004.png"), "-o", str(again), "--post",
                 "contrast=1.3"]) == 0  # fmt: skip
    graded = cv2.imread(str(again / "seed000004.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(graded[..., 3], png[..., 3])


def test_video_keeps_alpha_where_the_format_can(tiny_rgba: TinyGenerator, tmp_path: Path) -> None:
    pytest.importorskip("av")
    walk = ["video", "-m", str(tiny_rgba.path), "--seeds", "1,2", "--frames-per-seed", "2"]
    walk += ["--no-progress", "--backend", "ort"]
    assert main([*walk, "-o", str(tmp_path / "f.####.png")]) == 0
    frame = cv2.imread(str(tmp_path / "f.1001.png"), cv2.IMREAD_UNCHANGED)
    assert frame.shape == (12, 10, 4)
    with imggen_rt.load(tiny_rgba.path, backend="ort") as gen:
        np.testing.assert_array_equal(frame[..., 3], gen.generate(seeds=[1])[0, ..., 3])
    assert main([*walk, "-o", str(tmp_path / "walk.mov"), "--codec", "prores4444"]) == 0
    assert main([*walk, "-o", str(tmp_path / "walk.mp4")]) == 2  # H.264 has no alpha


def test_server_sends_alpha_and_refuses_jpeg(tiny_rgba: TinyGenerator) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from live_server import server

    with server(tiny_rgba.path) as (url, _):
        png = httpx.post(f"{url}/v1/generate", json={"seeds": [4]})
        image = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (12, 10, 4)
        jpeg = httpx.post(f"{url}/v1/generate", json={"seeds": [4], "format": "jpeg"})
        assert jpeg.status_code == 422 and "RGBA" in jpeg.json()["detail"]
    with imggen_rt.load(tiny_rgba.path, backend="ort") as gen:
        np.testing.assert_array_equal(image[..., 3], gen.generate(seeds=[4])[0, ..., 3])
