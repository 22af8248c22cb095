"""The render loop stopped at awkward moments, in process: a hard stop between an encoder call
and the frame count, a Ctrl-C during the last batch, a resume of a render that stopped with every
frame durable; plus realtime drops, slices of one video file and bad progress records."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imggen_rt.errors import ImggenError
from imggen_rt.video import progress
from imggen_rt.video.render import render
from imggen_rt.video.sinks.codecs import CODECS
from imggen_rt.video.sinks.colour import Colour
from imggen_rt.video.sinks.raw_pipe import RawPipeSink
from imggen_rt.video.sinks.video_file import VideoFileSink

av = pytest.importorskip("av")

OWN_PROCESS = "IMGGEN_TEST_OWN_PROCESS"


SIZE = (16, 12)
TOTAL = 14
SEGMENT = 4


def frame(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def source(start: int, stop: int, batch: int = 3) -> Iterator[np.ndarray]:
    for lo in range(start, stop, batch):
        yield np.stack([frame(i) for i in range(lo, min(stop, lo + batch))])


def ffv1(path: Path, cls: type[VideoFileSink] = VideoFileSink) -> VideoFileSink:
    return cls(path, CODECS["ffv1"], Fraction(24), Colour(), segment_frames=SEGMENT)


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def expected() -> np.ndarray:
    return np.stack([frame(i) for i in range(TOTAL)])


class InterruptedAfterEncode(VideoFileSink):
    """Raises KeyboardInterrupt (a second Ctrl-C) right after the encoder returned frame `CUT`'s
    packet and before the sink counted the frame: the worst moment for the segment's count."""

    CUT = 6

    def _mux(self, container: Any, packet: Any) -> None:
        super()._mux(container, packet)
        if self._container is not None and self._next == self.CUT:
            raise KeyboardInterrupt


@pytest.mark.parametrize("pipelined", [True, False])
def test_hard_stop_mid_write_resumes_to_the_uninterrupted_render(
    tmp_path: Path, pipelined: bool
) -> None:
    out, record = tmp_path / "cut.mkv", tmp_path / "cut.mkv.progress.json"
    kw: dict[str, Any] = {"record_path": record, "fingerprint": "f", "pipelined": pipelined}
    with pytest.raises(KeyboardInterrupt):
        render(source, ffv1(out, InterruptedAfterEncode), SIZE, 0, TOTAL, **kw)
    # the open segment (frames 4..6, one of them uncounted) was discarded, not closed
    assert progress.load(record) is not None
    assert progress.load(record).next == SEGMENT  # type: ignore[union-attr]
    np.testing.assert_array_equal(decoded(out), expected()[:SEGMENT])
    assert [p.name for p in (tmp_path / "cut.mkv.parts").iterdir()] == ["000000000.mkv"]
    result = render(source, ffv1(out), SIZE, 0, TOTAL, resume=True, **kw)
    assert result.complete and result.resumed_from == SEGMENT
    np.testing.assert_array_equal(decoded(out), expected())
    assert not record.exists() and not (tmp_path / "cut.mkv.parts").exists()


def test_ctrl_c_during_the_last_batch_finishes_the_render(tmp_path: Path) -> None:
    # A signal is delivered to the whole process, and what other tests left in this one can
    # meet it (after an in-process torch training run, a SIGINT here crashed the interpreter
    # with SIGSEGV inside kill()): the test owns a fresh process.
    if not os.environ.get(OWN_PROCESS):
        env = {**os.environ, OWN_PROCESS: "1"}
        test = f"{__file__}::test_ctrl_c_during_the_last_batch_finishes_the_render"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        return
    out, record = tmp_path / "out.mkv", tmp_path / "out.mkv.progress.json"

    def interrupted(start: int, stop: int) -> Iterator[np.ndarray]:
        for batch in source(start, stop):
            if len(batch) < 3:  # the last batch (14 = 4 * 3 + 2): a Ctrl-C arrives now
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
            yield batch

    result = render(
        interrupted,
        ffv1(out),
        SIZE,
        0,
        TOTAL,
        record_path=record,
        fingerprint="f",
        pipelined=False,
    )
    assert result.complete and result.frames_written == TOTAL
    np.testing.assert_array_equal(decoded(out), expected())
    assert not record.exists() and not (tmp_path / "out.mkv.parts").exists()


def test_resume_of_a_render_with_every_frame_durable_finishes_it(tmp_path: Path) -> None:
    """What an earlier version left after a Ctrl-C in the last batch: all segments closed,
    `next == stop`, complete False. Resume must join them and clean up."""
    out, record = tmp_path / "out.mkv", tmp_path / "out.mkv.progress.json"
    sink = ffv1(out)
    sink.start(*SIZE, 0)
    sink.write(expected())
    sink.finish(False)
    progress.save(record, progress.ProgressRecord("f", 0, TOTAL, TOTAL, False, sink.state()))
    out.unlink()
    result = render(
        source, ffv1(out), SIZE, 0, TOTAL, record_path=record, fingerprint="f", resume=True
    )
    assert result.complete and result.frames_written == 0
    np.testing.assert_array_equal(decoded(out), expected())
    assert not record.exists() and not (tmp_path / "out.mkv.parts").exists()


def test_dropped_realtime_frames_are_not_counted_as_written() -> None:
    def slow(start: int, stop: int) -> Iterator[np.ndarray]:
        for batch in source(start, stop, batch=2):
            time.sleep(0.03)  # 30 frames late at 1000 fps: the frames behind the first drop
            yield batch

    buffer = io.BytesIO()
    result = render(
        slow,
        RawPipeSink(buffer),
        SIZE,
        0,
        TOTAL,
        realtime=Fraction(1000),
        drop_late=True,
        pipelined=False,
    )
    assert result.frames_dropped > 0
    assert result.frames_written + result.frames_dropped == TOTAL
    assert len(buffer.getvalue()) == result.frames_written * SIZE[0] * SIZE[1] * 3
    assert result.realtime is not None and result.realtime["dropped"] == result.frames_dropped


def test_two_slices_of_one_video_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    first = ffv1(out)
    first.use_slice(0, 7)
    first.start(*SIZE, 0)
    assert (tmp_path / "out.mkv.0-7.parts").is_dir()
    second = ffv1(out)
    second.use_slice(7, 14)
    with pytest.raises(ImggenError, match="its own -o") as e:
        second.start(*SIZE, 7)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out.mkv.7-14.parts").exists()  # refused: nothing left behind
    whole = ffv1(out)  # nor may the whole render overwrite the file while a slice is unfinished
    with pytest.raises(ImggenError, match=r"out\.mkv\.0-7\.parts"):
        whole.start(*SIZE, 0)


@pytest.mark.parametrize("text", ["[1, 2]", '"next"', "42", "null"])
def test_a_record_that_is_not_an_object_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "out.mov.progress.json"
    path.write_text(text)
    with pytest.raises(ImggenError, match="not an imggen-rt progress record") as e:
        progress.load(path)
    assert "\n" not in str(e.value)
