"""The `imggen-rt video` command end to end: real encoders, Debian's ffmpeg reading our stdout,
real interrupts (SIGINT, SIGKILL) and resumes that must equal an uninterrupted render."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator

av = pytest.importorskip("av")

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="needs Debian's ffmpeg (.ci/run installs it)"
)

WALK = ["--seeds", "3,1,4,1,5", "--frames-per-seed", "10"]  # 41 frames


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "imggen_rt.cli.main", "video", *map(str, args)]


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(cli(*args, "--no-progress"), capture_output=True)
    if check:
        assert done.returncode == 0, done.stderr.decode()
    return done


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def sequence(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def record(path: Path) -> dict[str, int]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"next": 0}


def start_and_stop(args: list[str | Path], record_path: Path, after: int, sig: int) -> int:
    """Start a paced render, wait until `after` frames are durable, then send `sig`."""
    proc = subprocess.Popen(cli(*args, "--no-progress"), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while record(record_path)["next"] < after:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "render made no progress"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc.returncode


def test_interrupted_sequence_resumes_to_the_same_files(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    full, cut = tmp_path / "full", tmp_path / "cut"
    run("-m", tiny_rgb.path, *WALK, "-o", full / "f.%04d.png")
    args = ["-m", tiny_rgb.path, *WALK, "-o", cut / "f.%04d.png", "--batch-size", "2"]
    rc = start_and_stop([*args, "--realtime", "40"], cut / ".f.progress.json", 6, signal.SIGINT)
    assert rc == 130
    done = record(cut / ".f.progress.json")["next"]
    assert 6 <= done < 41
    assert len(sequence(cut)) == done  # whole frames only, nothing half written
    assert not list(cut.glob(".tmp-*"))
    out = run(*args, "--resume").stdout.decode()
    assert f"resumed at frame {done}" in out
    assert sequence(cut) == sequence(full)
    assert len(sequence(full)) == 41
    assert not (cut / ".f.progress.json").exists()


def test_ctrl_c_leaves_a_playable_video_and_resume_completes_it(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    full, cut = tmp_path / "full.mkv", tmp_path / "cut.mkv"
    common = ["-m", tiny_rgb.path, *WALK, "--size", "16x12", "--segment-frames", "8"]
    run(*common, "-o", full)
    progress = tmp_path / "cut.mkv.progress.json"
    rc = start_and_stop([*common, "-o", cut, "--realtime", "40"], progress, 8, signal.SIGINT)
    assert rc == 130
    done = record(progress)["next"]
    assert len(decoded(cut)) == done  # the stopped render is a playable file of its frames
    run(*common, "-o", cut, "--resume")
    np.testing.assert_array_equal(decoded(cut), decoded(full))
    assert not (tmp_path / "cut.mkv.parts").exists()


def test_crash_loses_only_the_open_segment(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    full, cut = tmp_path / "full.mkv", tmp_path / "cut.mkv"
    common = ["-m", tiny_rgb.path, *WALK, "--size", "16x12", "--segment-frames", "8"]
    run(*common, "-o", full)
    progress = tmp_path / "cut.mkv.progress.json"
    rc = start_and_stop([*common, "-o", cut, "--realtime", "40"], progress, 16, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    done = record(progress)["next"]
    out = run(*common, "-o", cut, "--resume").stdout.decode()
    assert f"resumed at frame {done}" in out  # from the durable frontier, not from scratch
    np.testing.assert_array_equal(decoded(cut), decoded(full))


def test_slices_rendered_at_once_add_up_to_the_whole_render(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    run("-m", tiny_rgb.path, *WALK, "-o", tmp_path / "full" / "f.%04d.png")
    out = tmp_path / "parts" / "f.%04d.png"
    slices = [
        subprocess.Popen(
            cli("-m", tiny_rgb.path, *WALK, "--frames", part, "-o", out, "--no-progress"),
            stdout=subprocess.DEVNULL,
        )
        for part in ("0:17", "17:30", "30:")
    ]  # like three machines sharing one folder
    assert [p.wait(timeout=120) for p in slices] == [0, 0, 0]
    assert sequence(tmp_path / "parts") == sequence(tmp_path / "full")
    assert not list((tmp_path / "parts").glob(".*"))  # each slice removed its own record


def test_slices_of_one_video_file_need_their_own_output(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    (tmp_path / "out.mkv.0-20.parts").mkdir()  # slice 0:20 of out.mkv is unfinished
    args = ["-m", tiny_rgb.path, *WALK, "--size", "16x12", "--frames", "20:", "-o"]
    done = run(*args, tmp_path / "out.mkv", check=False)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1 and "its own -o" in err, err
    assert not (tmp_path / "out.mkv").exists()
    run(*args, tmp_path / "b.mkv")  # its own -o: fine
    assert len(decoded(tmp_path / "b.mkv")) == 21


def test_a_reader_that_stops_early_gets_one_line_and_no_traceback(
    tiny_rgb: TinyGenerator,
) -> None:
    # 41 frames of 64x64 RGB (500 KB) do not fit in the pipe once `head` has gone
    render = shlex.join(cli("-m", tiny_rgb.path, *WALK, "--size", "64x64", "-o", "-"))
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {render} --no-progress | head -c 1000 >/dev/null"],
        capture_output=True,
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith("imggen-rt: error: the reader closed the pipe") and err.count("\n") == 1
    assert "Traceback" not in err and "Exception ignored" not in err


@needs_ffmpeg
def test_ffmpeg_reads_our_raw_stdout(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    ours = run("-m", tiny_rgb.path, *WALK, "--size", "20x12", "-o", "-")
    assert len(ours.stdout) == 41 * 12 * 20 * 3  # frames and nothing else
    assert b"rendered 41 frames" in ours.stderr
    out = tmp_path / "via_ffmpeg.mkv"
    producer = subprocess.Popen(
        cli("-m", tiny_rgb.path, *WALK, "--size", "20x12", "-o", "-", "--fps", "24000/1001"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    ffmpeg = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "20x12"]
    ffmpeg += ["-r", "24000/1001", "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", str(out)]
    consumer = subprocess.run(ffmpeg, stdin=producer.stdout, capture_output=True)
    assert producer.wait(timeout=60) == 0
    assert consumer.returncode == 0, consumer.stderr.decode()
    frames = np.frombuffer(ours.stdout, np.uint8).reshape(41, 12, 20, 3)
    np.testing.assert_array_equal(decoded(out), frames)


@needs_ffmpeg
def test_ffmpeg_reads_our_y4m_stdout(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    raw = run("-m", tiny_rgb.path, *WALK, "--size", "20x12", "-o", "-").stdout
    y4m = run("-m", tiny_rgb.path, *WALK, "--size", "20x12", "-o", "-", "--pipe-format", "y4m")
    assert y4m.stdout.startswith(b"YUV4MPEG2 W20 H12 F24:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n")
    ffmpeg = [FFMPEG, "-v", "error", "-f", "yuv4mpegpipe", "-i", "-", "-vf"]
    ffmpeg += ["scale=in_color_matrix=bt709:in_range=tv,format=rgb24", "-f", "rawvideo", "-"]
    back = subprocess.run(ffmpeg, input=y4m.stdout, capture_output=True)
    assert back.returncode == 0, back.stderr.decode()
    ours = np.frombuffer(raw, np.uint8).astype(np.int64)
    theirs = np.frombuffer(back.stdout, np.uint8).astype(np.int64)
    assert theirs.shape == ours.shape  # 41 frames of 20x12 RGB came back
    assert np.abs(theirs - ours).mean() < 1.5  # the BT.709 limited-range round trip


def peak_rss_mb(frames_per_seed: int) -> float:
    """Peak RSS of a render of 2 * frames_per_seed + 1 frames at 256x256 into a pipe."""
    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    args = ["--seeds", "1,2,3", "--frames-per-seed", str(frames_per_seed), "--size", "256x256"]
    render = cli(*args, "-o", "-", "--no-progress", "--backend", "ort")
    done = subprocess.run([sys.executable, "-c", code, *render], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def test_memory_stays_flat_however_long_the_render() -> None:
    short, long = peak_rss_mb(30), peak_rss_mb(600)  # 61 vs 1201 frames of 192 KiB
    assert long - short < 60, (short, long)  # keeping the frames would add 220 MiB


def test_realtime_reports_pacing(tiny_rgb: TinyGenerator) -> None:
    done = run("-m", tiny_rgb.path, *WALK, "-o", "-", "--realtime", "50", "--json")
    summary = json.loads(done.stderr.decode().strip().splitlines()[-1])
    rt = summary["realtime"]
    assert rt["frames_out"] + rt["dropped"] == 41
    assert summary["frames_written"] == rt["frames_out"]  # dropped frames were not written
    assert summary["frames_dropped"] == rt["dropped"]
    assert len(done.stdout) == rt["frames_out"] * 6 * 5 * 3  # the tiny model is 5x6
    assert 15 < rt["interval_ms_p50"] < 25  # 50 fps = 20 ms
    assert rt["interval_ms_p99"] >= rt["interval_ms_p50"]
    assert summary["seconds"] > 0.7  # 41 frames at 50 fps cannot take less than 0.8 s


def test_resume_with_other_settings_is_refused(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    out = tmp_path / "f.%04d.png"
    progress = tmp_path / ".f.progress.json"
    args = ["-m", tiny_rgb.path, *WALK, "-o", out, "--realtime", "40"]
    assert start_and_stop(args, progress, 4, signal.SIGINT) == 130
    other = run("-m", tiny_rgb.path, "--seeds", "9,9", "-o", out, "--resume", check=False)
    assert other.returncode == 2
    assert other.stderr.decode().count("\n") == 1
    assert "different settings" in other.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "/proc/x.mov", "--size", "16x12"], "cannot write"),  # unwritable even for root
        (["-o", "/proc/shot.%04d.png"], "cannot write"),
        (["-o", "x.mp4", "--codec", "vp9"], "unknown codec"),
        (["-o", "x.mp4"], "divisible by 2"),  # the tiny model is 5x6
        (["-o", "x.%04d"], "bad frame pattern"),
        (["-o", "x.mov", "--fps", "0"], "frame rate"),
        (["-o", "x.mov", "--frames", "40:10"], "--frames"),
        (["-o", "-", "--resume"], "--resume needs a file output"),
        (["-o", "x.mov", "--classes", "1,2"], "not class-conditional"),
        (["-o", "x.mov", "--size", "100"], "WIDTHxHEIGHT"),
        (["-o", "x.mov", "--batch-size", "0"], "--batch-size"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    tiny_rgb: TinyGenerator, tmp_path: Path, args: list[str], message: str
) -> None:
    done = subprocess.run(
        cli("-m", tiny_rgb.path, *WALK, *args, "--no-progress"), capture_output=True, cwd=tmp_path
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith("imggen-rt: error:") and err.count("\n") == 1 and message in err
    assert done.stdout == b""
