"""Chains end to end: text forms, fusion, masks and regions, the generator, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import imggen_rt
from imggen_rt import ImggenError
from imggen_rt.contract import Feeds
from imggen_rt.latents import latents_for_seeds
from imggen_rt.post import (
    Blur,
    Exposure,
    Mask,
    PostChain,
    Saturation,
    kmeans_mask,
    load_post_config,
    otsu_mask,
    parse_post,
    write_cube,
)
from imggen_rt.post import reference as ref
from imggen_rt.post.cube import identity_table


def disc_image(h: int = 48, w: int = 64) -> np.ndarray:
    """A bright disc (radius 12 at (20, 24)) and a 2-pixel speck on a dark ground."""
    yy, xx = np.mgrid[:h, :w]
    frame = np.full((h, w, 3), 30, np.uint8)
    frame[(yy - 20) ** 2 + (xx - 24) ** 2 <= 144] = (220, 180, 60)
    frame[40:41, 60:62] = 255
    return frame


def test_otsu_mask_finds_the_subject_and_drops_specks() -> None:
    frame = disc_image()
    mask = otsu_mask(frame)
    yy, xx = np.mgrid[:48, :64]
    disc = (yy - 20) ** 2 + (xx - 24) ** 2 <= 144
    np.testing.assert_array_equal(mask > 0, disc)
    assert otsu_mask(frame, min_area=0)[40, 60] == 255  # the speck, when not filtered
    dark = otsu_mask(255 - frame, dark=True)
    np.testing.assert_array_equal(dark > 0, disc)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dark", [False, True])
def test_extension_otsu_equals_opencv(channels: int, dark: bool) -> None:
    from imggen_rt.postprocess import _postproc

    rng = np.random.default_rng(channels)
    noise = rng.integers(0, 256, (3, 23, 31, channels), dtype=np.uint8)
    two_level = rng.integers(0, 2, noise.shape) * 190 + rng.integers(0, 40, noise.shape)
    flat = np.full(noise.shape, 77, np.uint8)  # one level: OpenCV's threshold is 0
    frames = np.concatenate([noise, two_level.astype(np.uint8), flat])
    flag = (cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY) | cv2.THRESH_OTSU
    for frame, mask in zip(frames, _postproc.otsu_masks(frames, dark), strict=True):
        rgb = np.ascontiguousarray(frame[..., :3])
        gray = rgb[..., 0] if channels == 1 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        np.testing.assert_array_equal(mask, cv2.threshold(gray, 0, 255, flag)[1])


def test_kmeans_mask_picks_the_brightest_colour_group() -> None:
    frame = np.zeros((30, 30, 3), np.uint8)
    frame[:, :10] = (200, 40, 40)
    frame[:, 10:20] = (40, 200, 40)
    frame[:, 20:] = (250, 250, 250)
    mask = kmeans_mask(frame, k=3)
    assert (mask[:, 20:] == 255).all() and (mask[:, :20] == 0).all()


def test_ops_limited_to_a_region() -> None:
    frames = disc_image()[None]
    chain = parse_post("mask=otsu,saturation=0@fg,blur=2@bg,alpha")
    out = chain.apply(frames)
    assert out.shape == (1, 48, 64, 4)
    mask = otsu_mask(frames[0])
    inside = out[0][mask == 255][:, :3]
    assert (inside.max(axis=1) - inside.min(axis=1) <= 1).all()  # desaturated inside
    np.testing.assert_array_equal(out[0, ..., 3], mask)  # the mask is the alpha channel
    # blur@bg blurs the frame as the chain has it then: already desaturated inside.
    desaturated = parse_post("mask=otsu,saturation=0@fg").apply(frames)
    blurred = PostChain([Blur(2)]).apply(desaturated)[0]
    outside = mask == 0
    np.testing.assert_array_equal(out[0][outside][:, :3], blurred[outside])
    bg_alpha = parse_post("mask=otsu,alpha=bg").apply(frames)
    np.testing.assert_array_equal(bg_alpha[0, ..., 3], 255 - mask)


def test_colour_ops_fuse_into_one_program() -> None:
    chain = parse_post("exposure=0.3,temperature=5000,saturation=1.1,lut=teal-orange,sharpen=0.5")
    steps = chain._steps
    assert len(steps) == 2 and len(steps[0].program) == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "spec",
    [
        "exposure=0.3,lut=teal-orange,sharpen=0.5,resize=40x24",
        "exposure=0.3,saturation=1.4",
        "blur=1,exposure=0.3",
        "mask=otsu,saturation=2@fg",
    ],
)
@pytest.mark.parametrize("order", ["rgb", "bgr", "gray"])
def test_split_leading_colour_is_what_a_gpu_backend_runs(spec: str, order: str) -> None:
    # The TensorRT backend runs the leading program in its device pass and the rest on the
    # 8-bit frames; done on the CPU with the same functions, that must equal the whole chain.
    from imggen_rt.postprocess import _postproc, denormalize

    x = np.random.default_rng(5).uniform(-1.1, 1.1, (2, 3, 20, 30)).astype(np.float32)
    chain = parse_post(spec)
    colour, rest = chain.split_leading_colour()
    work = order if not rest else ("gray" if order == "gray" else "rgb")
    if colour is None:
        frames = denormalize(x, -1.0, 1.0, work)
    else:
        frames = _postproc.point(x, colour[0], colour[1], work)
    split = rest.apply(frames, order) if rest else frames
    np.testing.assert_array_equal(split, chain.run(x, -1.0, 1.0, order))


def test_parse_forms() -> None:
    chain = parse_post("exposure=0.3, wb=1.1:1:0.9 ,contrast=1.2:0.4,resize=64x32:lanczos,")
    assert [type(op).__name__ for op in chain.ops] == ["Exposure", "Gains", "Contrast", "Resize"]
    assert chain.output_size(16, 16) == (32, 64)
    assert not parse_post("")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("exposure", "needs name=value"),
        ("exposure=lots", "exposure must be a number; got 'lots'"),
        ("sharpen=1:2:3:4", "sharpen: wrong values"),
        ("resize=64", "resize needs WIDTHxHEIGHT"),
        ("resize=64x32:cubic", "resize filter must be"),
        ("saturation=2@middle", "region must be fg or bg"),
        ("blur=2@fg", "needs a mask op before it"),
        ("mask=otsu,alpha,exposure=1", "alpha must be the last op"),
        ("mask=blobs", "mask method must be"),
        ("lut=missing.cube", "LUT file missing.cube does not exist"),
        ("whiten=1", "unknown post-process op 'whiten'"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(ImggenError, match=message) as info:
        parse_post(spec)
    assert "\n" not in str(info.value)


def test_yaml_config_with_relative_lut(tmp_path: Path) -> None:
    write_cube(tmp_path / "id.cube", identity_table(5))
    config = tmp_path / "chain.yaml"
    config.write_text(
        "post:\n"
        "  - exposure: 0.5\n"
        "  - white_balance: {temperature: 5600, tint: 10}\n"
        "  - lut: {path: id.cube, interpolation: trilinear}\n"
        "  - mask: otsu\n"
        "  - sharpen: {amount: 0.5, radius: 1.2, threshold: 2, region: fg}\n"
        "  - resize: 64x48\n"
    )
    chain = load_post_config(config)
    assert len(chain.ops) == 6 and chain.ops[4].region == "fg"
    (tmp_path / "bad.yaml").write_text("post:\n  - exposure: [1, 2, 3]\n")
    with pytest.raises(ImggenError, match=r"bad\.yaml: op 1: exposure: wrong values"):
        load_post_config(tmp_path / "bad.yaml")
    (tmp_path / "broken.yaml").write_text("post: [exposure: 1\n")
    with pytest.raises(ImggenError, match=r"broken\.yaml line 2: not valid YAML"):
        load_post_config(tmp_path / "broken.yaml")


def test_generator_applies_the_chain_per_image() -> None:
    gen = imggen_rt.load()
    chain = parse_post("exposure=0.4,saturation=1.2,resize=48x48")
    together = gen.generate(seeds=[3, 4, 5], post=chain, batch_size=3)
    alone = gen.generate(seeds=[4], post=chain)
    np.testing.assert_array_equal(together[1:2], alone)
    assert together.shape == (3, 48, 48, 1)  # gray model, no colour op: stays gray
    # The chain on the model's raw output, as the numpy reference states it.
    z = latents_for_seeds([4], gen.card.latent_dim, 1.0)
    raw = gen.backend.infer(Feeds(z, np.array([4 % gen.card.num_classes])))
    low, high = gen.card.output_range
    unit = ref.to_unit_rgb(raw, low, high)
    expected = ref.quantize(ref.apply_ops(unit, [Exposure(0.4)]), "gray")
    got = gen.generate(seeds=[4], post=parse_post("exposure=0.4"))
    assert np.abs(got.astype(int) - expected).max() <= 1
    coloured = gen.generate(seeds=[4], post=parse_post("lut=teal-orange"))
    assert coloured.shape == (1, 32, 32, 3)  # a look colours a gray model


def test_batches_stream_with_the_chain() -> None:
    gen = imggen_rt.load()
    chain = PostChain([Mask(), Saturation(2.0, region="fg")])
    frames = np.concatenate([b.frames for b in gen.iter_batches(n=5, batch_size=2, post=chain)])
    np.testing.assert_array_equal(frames, gen.generate(n=5, post=chain))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imggen_rt.cli.main", *args], capture_output=True, text=True
    )


def test_cli_generate_and_postprocess(tmp_path: Path) -> None:
    done = run_cli(
        "generate", "-n", "3", "--post", "lut=teal-orange,resize=64x64,sharpen=0.5",
        "-o", str(tmp_path / "gen"), "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = cv2.imread(str(tmp_path / "gen" / "seed000001.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3)

    rgba = np.dstack([disc_image(), np.full((48, 64), 200, np.uint8)])
    cv2.imwrite(str(tmp_path / "in.png"), rgba)
    done = run_cli(
        "postprocess", str(tmp_path / "in.png"), str(tmp_path / "gen"), "-o", str(tmp_path / "pp"),
        "--post", "exposure=1,resize=32x24", "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = cv2.imread(str(tmp_path / "pp" / "in.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (24, 32, 4) and (out[..., 3] == 200).all()  # alpha carried over
    rgb = disc_image()[None, ..., ::-1]  # written as BGRA, so read back channel-reversed
    expected = parse_post("exposure=1,resize=32x24").apply(rgb, "bgr")[0]
    np.testing.assert_array_equal(out[..., :3], expected)
    assert len(list((tmp_path / "pp").glob("seed*.png"))) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["postprocess", "nope.png", "-o", "x", "--post", "exposure=1"],
            "input nope.png does not exist",
        ),
        (["postprocess", "IN", "-o", "x"], "give a chain with --post or --post-config"),
        (["postprocess", "IN", "-o", "x", "--post", "bogus=1"], "unknown post-process op"),
        (["postprocess", "IN", "-o", "SAME", "--post", "exposure=1"], "would overwrite its input"),
        (["generate", "-n", "1", "--post", "lut=nothing.cube", "-o", "x"], "LUT file nothing.cube"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    cv2.imwrite(str(tmp_path / "in.png"), disc_image())
    args = [
        str(tmp_path / "in.png") if a == "IN" else str(tmp_path) if a == "SAME" else
        str(tmp_path / a) if a == "x" else a
        for a in args
    ]  # fmt: skip
    done = run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
