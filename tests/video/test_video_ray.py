"""A render sharded over a real local Ray cluster equals the single-process render."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator

pytest.importorskip("ray")
av = pytest.importorskip("av")

pytestmark = pytest.mark.slow  # a real Ray cluster


WALK = ["--seeds", "2,7,1,8", "--frames-per-seed", "12", "--size", "16x12"]


def render(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    # Ray 2.60 turns token auth on by default; this local test cluster needs none.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "video", *map(str, args), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_ray_render_over_two_workers_equals_the_local_render(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    local, sharded = tmp_path / "local.mkv", tmp_path / "ray.mkv"
    render("-m", tiny_rgb.path, *WALK, "-o", local, "--backend", "ort")
    out = render(
        "-m",
        tiny_rgb.path,
        *WALK,
        "-o",
        sharded,
        "--backend",
        "ort",
        "--ray",
        "--ray-workers",
        "2",
        "--ray-cpus",
        "0.5",
        "--batch-size",
        "5",
    )
    assert b"rendered 37 frames" in out.stdout
    frames = decoded(sharded)
    assert len(frames) == 37
    np.testing.assert_array_equal(frames, decoded(local))
    assert len({f.tobytes() for f in frames}) > 30  # a walk, not one frame repeated


@pytest.mark.parametrize("kind", ["task", "actor_init"])
def test_a_failing_worker_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """A worker's exception (a LUT missing on that machine) arrives as the worker's message, not
    as Ray's remote traceback. No cluster: the pool is a stand-in that raises what Ray raises."""
    import ray
    import ray.util
    from ray.exceptions import ActorDiedError, RayTaskError

    from imggen_rt.errors import ImggenError
    from imggen_rt.video.ray_split import RaySplit

    remote_tb = (
        "ray::_Worker.__init__() (pid=7, ip=10.0.0.2)\n"
        '  File "post.py", line 40, in load_lut\n'
        "imggen_rt.errors.ImggenError: cannot read LUT /luts/show.cube: No such file"
    )
    task_error = RayTaskError("_Worker.make", remote_tb, ImggenError("cannot read LUT x.cube"))
    raised = task_error.as_instanceof_cause() if kind == "task" else ActorDiedError(task_error)

    class FailingPool:
        def __init__(self, actors: list[object]) -> None:
            pass

        def map(self, fn: object, chunks: list[list[int]]) -> Iterator[np.ndarray]:
            raise raised
            yield  # a generator, like ActorPool.map

    monkeypatch.setattr(ray.util, "ActorPool", FailingPool)
    split = RaySplit.__new__(RaySplit)
    split.ray, split.chunk, split.actors = ray, 4, []
    with pytest.raises(ImggenError, match="a Ray worker failed: cannot read LUT") as e:
        list(split(0, 8))
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
