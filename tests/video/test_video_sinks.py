"""Each sink round-trips through real FFmpeg code (PyAV): lossless bit-exact, lossy within a
PSNR bound, colour converted with the matrix asked for and tagged as written."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imggen_rt.errors import ImggenError
from imggen_rt.video.sinks.codecs import CODECS
from imggen_rt.video.sinks.colour import Colour
from imggen_rt.video.sinks.factory import SinkOptions, open_sink
from imggen_rt.video.sinks.image_sequence import ImageSequenceSink
from imggen_rt.video.sinks.pattern import parse_pattern
from imggen_rt.video.sinks.video_file import VideoFileSink

av = pytest.importorskip("av")
from av.video.reformatter import ColorRange, Colorspace  # noqa: E402

NTSC = Fraction(24000, 1001)


def smooth_frames(n: int = 12, h: int = 64, w: int = 96) -> np.ndarray:
    """Gradients that move: content a lossy codec can keep well (noise would not be fair)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i, ..., 0] = 128 + 100 * np.sin((x + 3 * i) / 15)
        frames[i, ..., 1] = 128 + 100 * np.cos((y - 2 * i) / 11)
        frames[i, ..., 2] = (x + y + 5 * i) % 256 * 0.5 + 60
    return frames


def write_video(path: Path, codec: str, frames: np.ndarray, **kw: Any) -> None:
    sink = VideoFileSink(path, CODECS[codec], kw.pop("fps", NTSC), kw.pop("colour", Colour()), **kw)
    sink.start(frames.shape[2], frames.shape[1], 0)
    sink.write(frames[: len(frames) // 2])
    sink.write(frames[len(frames) // 2 :])
    sink.finish(True)


BT709 = Colour()


def decode(path: Path, colour: Colour = BT709) -> tuple[np.ndarray, dict[str, Any]]:
    space = {"bt709": Colorspace.ITU709, "bt601": Colorspace.SMPTE170M}[colour.space]
    rng = ColorRange.MPEG if colour.range == "limited" else ColorRange.JPEG
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [
            f.to_ndarray(format="rgb24", src_colorspace=space, src_color_range=rng)
            for f in c.decode(stream)
        ]
        ctx = stream.codec_context
        info = {
            "rate": Fraction(stream.average_rate),
            "tags": (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range),
            "pix_fmt": ctx.pix_fmt,
        }
        return np.stack(frames), info


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize(("codec", "suffix"), [("ffv1", ".mkv"), ("h264-lossless", ".mkv")])
def test_lossless_codecs_are_bit_exact(tmp_path: Path, codec: str, suffix: str) -> None:
    frames = np.random.default_rng(3).integers(0, 256, (9, 32, 48, 3), dtype=np.uint8)
    path = tmp_path / f"out{suffix}"
    write_video(path, codec, frames, segment_frames=4)  # three segments joined
    decoded, stream = decode(path)
    np.testing.assert_array_equal(decoded, frames)
    # Matroska counts milliseconds, so its measured rate is NTSC to within its clock.
    assert abs(float(stream["rate"]) - float(NTSC)) < 0.01
    assert not (tmp_path / f"out{suffix}.parts").exists()


@pytest.mark.parametrize(
    ("codec", "suffix", "bound"),
    [
        ("h264", ".mp4", 35),
        ("hevc", ".mp4", 35),
        ("prores", ".mov", 40),
        ("prores4444", ".mov", 40),
    ],
)
def test_lossy_codecs_round_trip_within_psnr(
    tmp_path: Path, codec: str, suffix: str, bound: float
) -> None:
    frames = smooth_frames()
    path = tmp_path / f"out{suffix}"
    write_video(path, codec, frames, segment_frames=5)
    decoded, stream = decode(path)
    assert len(decoded) == len(frames)
    assert psnr(decoded, frames) > bound
    assert stream["tags"] == (1, 1, 1, 1)
    # same layout; the ProRes decoder may hand 4444 back at 12 bits
    assert stream["pix_fmt"][:8] == CODECS[codec].pix_fmt[:8]
    assert stream["rate"] == NTSC
    pts = [f.pts for f in av.open(str(path)).decode(video=0)]
    assert pts == sorted(pts) and len(set(pts)) == len(frames)
    if codec == "hevc":
        with av.open(str(path)) as c:
            assert c.streams.video[0].codec_tag == "hvc1"  # what Apple players require


def raw_yuv(path: Path) -> tuple[np.ndarray, Any]:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        planes = [np.frombuffer(memoryview(p), np.uint8) for p in frame.planes]
        return np.array([p[0] for p in planes]), frame


@pytest.mark.parametrize(
    ("colour", "expected", "tags"),
    [
        # primaries and transfer stay BT.709 (what the pixels are); only the matrix changes
        (Colour("bt709", "limited"), (63, 102, 240), (1, 1, 1, 1)),
        (Colour("bt601", "limited"), (81, 90, 240), (1, 1, 6, 1)),
        (Colour("bt709", "full"), (54, 98, 255), (1, 1, 1, 2)),
        (Colour("bt2020", "limited"), (74, 97, 240), (1, 1, 9, 1)),
    ],
)
def test_solid_red_encodes_with_the_matrix_asked_for(
    tmp_path: Path,
    colour: Colour,
    expected: tuple[int, int, int],
    tags: tuple[int, int, int, int],
) -> None:
    red = np.zeros((4, 64, 64, 3), np.uint8)
    red[..., 0] = 255
    path = tmp_path / "red.mp4"
    write_video(path, "h264", red, colour=colour, quality=0)
    yuv, frame = raw_yuv(path)
    assert np.all(np.abs(yuv.astype(int) - expected) <= 1), yuv
    assert (frame.colorspace, frame.color_range) == tags[2:]
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range) == tags


def test_prores_carries_the_tags_from_the_frames(tmp_path: Path) -> None:
    path = tmp_path / "tags.mov"
    write_video(path, "prores", smooth_frames(2), colour=Colour("bt601", "limited"))
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range) == (1, 1, 6, 1)


def write_sequence(folder: Path, pattern: str, frames: np.ndarray, **kw: Any) -> ImageSequenceSink:
    sink = ImageSequenceSink(parse_pattern(str(folder / pattern)), kw.pop("start", 1001), **kw)
    sink.start(frames.shape[2], frames.shape[1], 0)
    sink.write(frames)
    sink.finish(True)
    return sink


def read_image(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        fmt = frame.format.name
        if fmt in ("gbrpf32le", "gbrp10le"):
            return np.asarray(frame.to_ndarray())
        return np.asarray(frame.to_ndarray(format="rgb48le" if "48" in fmt else "rgb24"))


@pytest.mark.parametrize(
    ("pattern", "depth", "scale"),
    [
        ("shot.%06d.png", 8, 1),
        ("shot.####.png", 16, 257),
        ("shot.%04d.tif", 8, 1),
        ("shot.%04d.tiff", 16, 257),
    ],
)
def test_png_and_tiff_sequences_are_exact(
    tmp_path: Path, pattern: str, depth: int, scale: int
) -> None:
    frames = np.random.default_rng(5).integers(0, 256, (3, 10, 14, 3), dtype=np.uint8)
    sink = write_sequence(tmp_path, pattern, frames, bit_depth=depth)
    for i, frame in enumerate(frames):
        path = sink.pattern.path(1001 + i)
        assert path.name.startswith("shot.") and str(1001 + i) in path.name
        np.testing.assert_array_equal(read_image(path), frame.astype(np.uint32) * scale)


def test_pattern_padding_and_start_number(tmp_path: Path) -> None:
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    write_sequence(tmp_path, "a.%06d.png", frames, start=0)
    write_sequence(tmp_path, "b.####.png", frames, start=1001)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.000000.png", "a.000001.png", "b.1001.png", "b.1002.png"]


def test_dpx_is_ten_bit_and_exr_is_linear_float(tmp_path: Path) -> None:
    frames = np.random.default_rng(6).integers(0, 256, (2, 6, 8, 3), dtype=np.uint8)
    write_sequence(tmp_path, "d.%04d.dpx", frames)
    write_sequence(tmp_path, "e.%04d.exr", frames)
    dpx = read_image(tmp_path / "d.1001.dpx")
    np.testing.assert_array_equal(dpx, (frames[0].astype(np.int64) * 1023 + 127) // 255)
    exr = read_image(tmp_path / "e.1002.exr")
    v = frames[1] / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(exr, linear, atol=1e-6)


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    write_sequence(tmp_path, "s.%04d.png", np.zeros((3, 4, 4, 3), np.uint8))
    assert sorted(os.listdir(tmp_path)) == ["s.1001.png", "s.1002.png", "s.1003.png"]


@pytest.mark.parametrize(
    ("out", "options", "message"),
    [
        ("clip.mp4", SinkOptions(codec="vp8"), "unknown codec"),
        ("clip.mp4", SinkOptions(codec="prores"), "does not go in .mp4"),
        ("clip.avi", SinkOptions(), "unknown video container"),
        ("clip.mov", SinkOptions(quality=20), "--quality applies"),
        ("shot.%06d.%04d.png", SinkOptions(), "bad frame pattern"),
        ("shot.%6d.png", SinkOptions(), "bad frame pattern"),
        ("shot.%06d", SinkOptions(), "bad frame pattern"),
        ("shot.%06d.jpg", SinkOptions(), "unknown image format"),
        ("shot.%06d.exr", SinkOptions(bit_depth=16), "--bit-depth 16 applies"),
        ("-", SinkOptions(codec="h264"), "--codec applies"),
    ],
)
def test_bad_outputs_are_one_line_errors(
    tmp_path: Path, out: str, options: SinkOptions, message: str
) -> None:
    with pytest.raises(ImggenError, match=message) as e:
        open_sink(str(tmp_path / out) if out != "-" else out, options)
    assert "\n" not in str(e.value)


def test_odd_size_for_420_and_unwritable_folder_are_refused(tmp_path: Path) -> None:
    sink = open_sink(str(tmp_path / "odd.mp4"), SinkOptions()).sink
    with pytest.raises(ImggenError, match="divisible by 2"):
        sink.start(33, 32, 0)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ImggenError, match="not writable"):
            open_sink(str(locked / "x.mov"), SinkOptions())
    finally:
        locked.chmod(0o700)


def test_missing_output_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImggenError, match="does not exist"):
        open_sink(str(tmp_path / "nope" / "x.mov"), SinkOptions())


@pytest.mark.parametrize("out", ["x.mov", "shot.%04d.png"])
def test_output_under_a_file_is_refused(tmp_path: Path, out: str) -> None:
    (tmp_path / "plain").write_text("not a folder")
    with pytest.raises(ImggenError, match="is not a folder"):
        open_sink(str(tmp_path / "plain" / out), SinkOptions())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_while_encoding_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "full.mkv"
    sink = VideoFileSink(path, CODECS["ffv1"], NTSC, Colour(), segment_frames=4)
    sink.start(64, 48, 0)
    # the first segment's temporary file is /dev/full: every write fails with ENOSPC
    (tmp_path / "full.mkv.parts" / ".tmp-000000000.mkv").symlink_to("/dev/full")
    frames = np.random.default_rng(8).integers(0, 256, (8, 48, 64, 3), dtype=np.uint8)
    with pytest.raises(ImggenError, match="No space left") as e:
        sink.write(frames[:4])
        sink.write(frames[4:])
        sink.finish(True)
    assert "\n" not in str(e.value)
