"""The file lock and atomic writes, exercised by real, separate processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tiny_models import TinyGenerator

from imggen_rt.atomic import TEMP_PREFIX, atomic_write_bytes

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from imggen_rt.atomic import file_lock
    lock, log, release = (Path(p) for p in sys.argv[1:4])
    with file_lock(lock):
        with log.open("a") as f:
            f.write("holder in\\n")
        print("held", flush=True)
        # Wait for the test to say go (bounded, so a broken test cannot hang CI).
        for _ in range(6000):
            if release.exists():
                break
            time.sleep(0.01)
        with log.open("a") as f:
            f.write("holder out\\n")
    """
)

WAITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from imggen_rt.atomic import file_lock
    lock, log = Path(sys.argv[1]), Path(sys.argv[2])
    with file_lock(lock, on_wait=lambda: print("waiting", flush=True)):
        with log.open("a") as f:
            f.write("waiter in\\n")
    print("done", flush=True)
    """
)


def test_lock_serialises_two_processes(tmp_path: Path) -> None:
    lock, log, release = tmp_path / "x.lock", tmp_path / "log", tmp_path / "release"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), str(log), str(release)],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with subprocess.Popen(
            [sys.executable, "-c", WAITER, str(lock), str(log)], stdout=subprocess.PIPE, text=True
        ) as waiter:
            assert waiter.stdout is not None
            # The waiter found the lock taken and is now blocked in flock.
            assert waiter.stdout.readline().strip() == "waiting"
            assert log.read_text() == "holder in\n"
            release.touch()
            assert waiter.stdout.readline().strip() == "done"
            assert waiter.wait(timeout=60) == 0
        assert holder.wait(timeout=60) == 0
    assert log.read_text() == "holder in\nholder out\nwaiter in\n"


def test_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    code = (
        "import os, sys; from pathlib import Path; from imggen_rt.atomic import file_lock\n"
        "with file_lock(Path(sys.argv[1])):\n    os._exit(3)\n"
    )
    assert subprocess.run([sys.executable, "-c", code, str(lock)], timeout=60).returncode == 3
    waiter = subprocess.run(
        [sys.executable, "-c", WAITER, str(lock), str(tmp_path / "log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert waiter.stdout.split() == ["done"]  # taken at once: no "waiting"


def test_a_writer_that_dies_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    atomic_write_bytes(target, b"old, complete")
    # The writer process dies after writing the new bytes but before the rename commits them.
    code = (
        "import os, sys; from pathlib import Path\n"
        "import imggen_rt.atomic as lock\n"
        "os.replace = lambda *a: os._exit(9)\n"
        "lock.atomic_write_bytes(Path(sys.argv[1]), b'new' * 100000)\n"
    )
    assert subprocess.run([sys.executable, "-c", code, str(target)], timeout=60).returncode == 9
    assert target.read_bytes() == b"old, complete"
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].startswith(TEMP_PREFIX + "manifest.json.")


def test_atomic_write_replaces_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, memoryview(b"two"))
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["a.bin"]
    assert target.stat().st_mode & 0o777 == 0o644  # shared cache files, not mkstemp's 0600


def test_concurrent_builds_of_one_entry_build_once(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    """Two `imggen-rt build` processes started together: one builds, the other waits for the
    lock and then finds the fresh artifact."""
    cmd = [
        sys.executable,
        "-m",
        "imggen_rt.cli.main",
        "build",
        str(tiny_rgb.path),
        "--target",
        "onnx-fp16",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--parity-seeds",
        "4",
    ]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    firsts = sorted(out.split(":")[0] for out in outs)
    assert firsts == ["built (nothing cached yet)", "reused"], outs
