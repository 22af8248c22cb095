"""Walks: a frame is a function of its index, whatever the batching or slicing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator

import imggen_rt
from imggen_rt.errors import ImggenError
from imggen_rt.latents import latent_for_seed
from imggen_rt.resize import parse_size, resize_frames
from imggen_rt.video.frames import FrameMaker
from imggen_rt.video.options import parse_fps, parse_frames
from imggen_rt.video.render import batches_from
from imggen_rt.walks import KeyframeWalk, NoiseLoop, slerp


def test_keyframes_are_hit_exactly_and_the_walk_ends_on_the_last_seed() -> None:
    walk = KeyframeWalk([3, 9, 27], 5, latent_dim=16)
    assert walk.length == 11
    for i, seed in ((0, 3), (5, 9), (10, 27)):
        np.testing.assert_array_equal(walk.plan([i]).z[0], latent_for_seed(seed, 16))


def test_loop_back_returns_to_the_first_keyframe_without_repeating_it() -> None:
    walk = KeyframeWalk([3, 9], 4, latent_dim=16, loop_back=True, easing="linear")
    assert walk.length == 8
    z = walk.plan(range(8)).z
    # The last frame is one step before the first keyframe again: the step to frame 0 is as
    # small as the steps in between.
    steps = np.linalg.norm(np.diff(np.vstack([z, z[:1]]), axis=0), axis=1)
    assert steps.max() < 2.5 * np.median(steps)


def test_slerp_keeps_the_norm_lerp_loses() -> None:
    a, b = latent_for_seed(1, 512), latent_for_seed(2, 512)
    mid = slerp(a, b, 0.5)
    lerp = 0.5 * (a + b)
    assert abs(np.linalg.norm(mid) - np.sqrt(512)) < 1.5
    assert np.linalg.norm(lerp) < 0.8 * np.sqrt(512)


def test_noise_loop_has_no_seam_and_stays_on_the_shell() -> None:
    loop = NoiseLoop(7, 48, latent_dim=512)
    z = loop.plan(range(48)).z
    norms = np.linalg.norm(z, axis=1)
    assert np.all(np.abs(norms - np.sqrt(512)) < 2.5)
    first_step = np.linalg.norm(z[1] - z[0])
    seam = np.linalg.norm(z[0] - z[-1])
    assert abs(seam - first_step) < 0.05 * first_step


def test_truncation_scales_latents() -> None:
    full = KeyframeWalk([1, 2], 4, 8).plan([2]).z
    half = KeyframeWalk([1, 2], 4, 8, truncation=0.5).plan([2]).z
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-6)


def test_frames_are_the_same_for_any_batch_size_and_slice(tiny_rgb: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgb.path, backend="ort") as gen:
        maker = FrameMaker(gen, KeyframeWalk([5, 6, 7], 6, gen.card.latent_dim), (16, 12))
        whole = np.concatenate(list(batches_from(maker.make, 13)(0, maker.length)))
        ones = np.concatenate(list(batches_from(maker.make, 1)(0, maker.length)))
        sliced = np.concatenate(
            [*batches_from(maker.make, 4)(0, 5), *batches_from(maker.make, 3)(5, maker.length)]
        )
    assert whole.shape == (13, 12, 16, 3)
    np.testing.assert_array_equal(whole, ones)
    np.testing.assert_array_equal(whole, sliced)
    assert len({f.tobytes() for f in whole}) > 10  # the walk moves


def test_class_morph_cross_fades_the_two_classes(tiny_conditional: TinyGenerator) -> None:
    with imggen_rt.load(tiny_conditional.path, backend="ort") as gen:
        walk = KeyframeWalk([4, 4], 4, gen.card.latent_dim, classes=[0, 2], easing="linear")
        maker = FrameMaker(gen, walk)
        frames = maker.make(range(5)).astype(np.float64)
        z = walk.plan([2]).z
        a = gen.frames_for_latents(z, np.array([0]), "rgb")[0]
        b = gen.frames_for_latents(z, np.array([2]), "rgb")[0]
    assert frames.shape[-1] == 3  # a one-channel model still gives RGB frames
    np.testing.assert_allclose(frames[2][..., 0], 0.5 * a[..., 0] + 0.5 * b[..., 0], atol=0.51)
    assert not np.array_equal(frames[0], frames[4])


def test_resize_goes_both_ways() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 10, 3), dtype=np.uint8)
    assert resize_frames(frames, (40, 32)).shape == (2, 32, 40, 3)
    assert resize_frames(frames, (5, 4)).shape == (2, 4, 5, 3)
    assert resize_frames(frames, None) is frames


def test_fit_pads_crops_or_stretches_to_another_aspect_ratio() -> None:
    square = np.full((1, 8, 8, 1), 200, dtype=np.uint8)
    padded = resize_frames(square, (32, 16), "pad")[0, :, :, 0]
    assert padded.shape == (16, 32)
    assert np.all(padded[:, :8] == 0) and np.all(padded[:, 24:] == 0)  # pillar bars
    assert np.all(padded[:, 8:24] == 200)
    cropped = resize_frames(square, (32, 16), "crop")[0, :, :, 0]
    assert np.all(cropped == 200)  # filled, the overflow cut off
    ramp = np.tile(np.arange(0, 256, 32, dtype=np.uint8)[:, None], (1, 8))[None, ..., None]
    middle = resize_frames(ramp, (32, 16), "crop")[0, :, 16, 0]
    assert middle[0] > 40 and middle[-1] < 215  # rows from the middle of the ramp
    assert np.all(resize_frames(square, (32, 16), "stretch") == 200)
    with pytest.raises(ImggenError):
        resize_frames(square, (32, 16), "zoom")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24", (24, 1)), ("24000/1001", (24000, 1001)), ("29.97", (30000, 1001)), ("25", (25, 1))],
)
def test_parse_fps(text: str, expected: tuple[int, int]) -> None:
    fps = parse_fps(text)
    assert (fps.numerator, fps.denominator) == expected


@pytest.mark.parametrize("text", ["0", "-24", "abc", "24/0", "23.9761234"])
def test_bad_fps_is_one_line_error(text: str) -> None:
    with pytest.raises(ImggenError):
        parse_fps(text)


def test_parse_frames() -> None:
    assert parse_frames("10:20", 100) == (10, 20)
    assert parse_frames(":20", 100) == (0, 20)
    assert parse_frames("90:", 100) == (90, 100)
    for bad in ("20:10", "0:101", "5", "a:b", "5:5"):
        with pytest.raises(ImggenError):
            parse_frames(bad, 100)


def test_bad_size_and_walk_arguments() -> None:
    for bad in ("1920", "0x10", "axb"):
        with pytest.raises(ImggenError):
            parse_size(bad)
    with pytest.raises(ImggenError):
        KeyframeWalk([1, 2], 0, 8)
    with pytest.raises(ImggenError):
        KeyframeWalk([1, 2], 4, 8, classes=[1])
    with pytest.raises(ImggenError):
        NoiseLoop(1, 10, 8, truncation=1.5)
    with pytest.raises(ImggenError):
        KeyframeWalk([1, 2], 4, 8).plan([9])


def test_video_import_pulls_neither_av_nor_ray(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, imggen_rt.video.render, imggen_rt.walks, imggen_rt.cli.main; "
        "print(sorted(m for m in ('av', 'ray', 'torch') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
