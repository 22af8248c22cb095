"""`imggen-rt serve --ray`: the same app on Ray Serve, on a real 2-CPU local Ray cluster.

One cluster for the whole module (Ray takes ~10 s to start and ~5 s to stop): autoscaling
between 1 and 2 replicas of half a CPU each, a bearer token, and a 300 ms batch window so
concurrent requests visibly share `@serve.batch` calls.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from live_server import server
from tiny_models import TinyGenerator, make_tiny_generator

import imggen_rt
from imggen_rt.errors import ImggenError
from imggen_rt.post import parse_post

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
serve = pytest.importorskip("ray.serve")

pytestmark = pytest.mark.slow  # a real Ray cluster


TOKEN = {"authorization": "Bearer r4y"}
# Ray 2.60 would otherwise write an auth token into the home folder of whoever runs the tests.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


class RayServer(NamedTuple):
    url: str
    proc: subprocess.Popen[str]
    model: TinyGenerator
    log: Path


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    folder = tmp_path_factory.mktemp("ray")
    model = make_tiny_generator(
        folder / "tiny_cond.onnx", channels=1, class_names=("cat", "dog", "Ankle boot"), seed=1
    )
    (folder / "token").write_text("r4y\n")
    options = (
        *("--ray", "--ray-cpus", "2", "--replicas", "auto", "--min-replicas", "1"),
        *("--max-replicas", "2", "--target-ongoing", "64", "--replica-cpus", "0.5"),
        *("--max-batch", "8", "--max-wait-ms", "300", "--token-file", str(folder / "token")),
    )
    log_path = folder / "server.log"
    with (
        log_path.open("w") as log,
        server(model.path, *options, env=RAY_ENV, start_timeout=180, log=log) as (url, proc),
    ):
        yield RayServer(url, proc, model, log_path)
        # The shutdown is checked here, after every test of the module, whatever their order.
        stopped_by_sigterm(RayServer(url, proc, model, log_path))


def stopped_by_sigterm(ray_server: RayServer) -> None:
    """SIGTERM takes the server and its local Ray cluster down cleanly."""
    ray_server.proc.send_signal(signal.SIGTERM)
    assert ray_server.proc.wait(timeout=60) == 0
    assert "serving on Ray at" in ray_server.log.read_text()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{ray_server.url}/healthz", timeout=2)


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", headers=TOKEN).text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_concurrent_clients_get_the_cli_pngs_from_merged_batches(
    ray_server: RayServer, tmp_path: Path
) -> None:
    url = ray_server.url
    generate = [sys.executable, "-m", "imggen_rt.cli.main", "generate", "--no-progress"]
    seeds = ["--seeds", "0-15", "--class", "dog", "-o", str(tmp_path)]
    cli = subprocess.run(
        [*generate, "-m", str(ray_server.model.path), *seeds],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr

    def one(seed: int) -> bytes:
        r = httpx.post(
            f"{url}/v1/generate", json={"seeds": [seed], "class": "dog"}, headers=TOKEN, timeout=60
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png" and r.headers["x-seed"] == str(seed)
        return r.content

    with ThreadPoolExecutor(16) as pool:
        pngs = list(pool.map(one, range(16)))
    for seed, png in enumerate(pngs):
        assert png == (tmp_path / f"seed{seed:06d}.png").read_bytes(), seed
    # one replica (the target of 64 requests in flight is never reached): its metrics saw
    # all 16 images arrive in fewer @serve.batch calls than requests
    batches = metric(url, 'imggen_batch_images_count{model="tiny_cond"}')
    images = metric(url, 'imggen_batch_images_sum{model="tiny_cond"}')
    assert images == 16 and batches < 16, (images, batches)
    assert metric(url, 'imggen_requests_total{model="tiny_cond",status="200"}') == 16


def test_same_routes_validation_and_token_as_one_box(ray_server: RayServer) -> None:
    url = ray_server.url
    with imggen_rt.load(ray_server.model.path) as gen:
        expected = gen.generate(seeds=[5, 6, 7], truncation=0.7)
        looked = gen.generate(seeds=[5, 6, 7], post=parse_post("exposure=1,contrast=1.5"))
    body = {"n": 3, "seed": 5, "truncation": 0.7, "format": "raw"}
    assert httpx.post(f"{url}/v1/generate", json=body).status_code == 401
    raw = httpx.post(f"{url}/v1/generate", json=body, headers=TOKEN, timeout=60)
    assert raw.status_code == 200, raw.text
    assert raw.headers["x-image-shape"] == "3,6,5,1"
    np.testing.assert_array_equal(
        np.frombuffer(raw.content, np.uint8).reshape(3, 6, 5, 1), expected
    )
    body = {"n": 3, "seed": 5, "format": "raw", "post": "exposure=1,contrast=1.5"}
    raw = httpx.post(f"{url}/v1/generate", json=body, headers=TOKEN, timeout=60)
    np.testing.assert_array_equal(np.frombuffer(raw.content, np.uint8).reshape(3, 6, 5, 1), looked)
    walk = httpx.post(f"{url}/v1/walk", json={"seeds": [5, 7], "frames_per_seed": 3}, headers=TOKEN)
    assert walk.status_code == 200 and len(walk.json()["frames"]) == 4
    bad = httpx.post(f"{url}/v1/generate", json={"n": 65}, headers=TOKEN)
    assert bad.status_code == 422 and bad.json()["detail"]
    unknown = httpx.post(f"{url}/v1/generate", json={"seeds": [1], "class": "bird"}, headers=TOKEN)
    assert unknown.status_code == 422 and "bird" in unknown.text
    models = httpx.get(f"{url}/v1/models", headers=TOKEN).json()
    assert models[0]["name"] == "tiny_cond" and models[0]["card"]["class_names"][1] == "dog"
    assert 'id="generate"' in httpx.get(url).text
    assert httpx.get(f"{url}/openapi.json").status_code == 401  # a token guards the schema
    assert "/v1/generate" in httpx.get(f"{url}/openapi.json", headers=TOKEN).json()["paths"]


def test_scaling_flags_make_a_config_ray_accepts() -> None:
    from ray.serve.config import AutoscalingConfig

    from imggen_rt.serve.config import Scaling, ServeConfig
    from imggen_rt.serve.ray_app import ImggenReplica

    config = ServeConfig(max_batch=32, max_queue=16)
    auto = Scaling(replicas=None, min_replicas=1, max_replicas=3, target_ongoing_requests=4)
    options = auto.deployment_options(config)
    limits = AutoscalingConfig(**options["autoscaling_config"])
    assert (limits.min_replicas, limits.max_replicas, limits.target_ongoing_requests) == (1, 3, 4)
    deployment = serve.deployment(**options)(serve.ingress()(ImggenReplica))
    assert deployment.ray_actor_options == {"num_cpus": 0.5}
    assert deployment.max_ongoing_requests == 64  # room for two full batches to wait
    assert deployment.max_queued_requests == 16
    fixed = serve.deployment(**Scaling(replicas=3).deployment_options(config))(ImggenReplica)
    assert fixed.num_replicas == 3


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--replicas", "two"], "--replicas takes a count or 'auto'"),
        (["--min-replicas", "2"], "need --replicas auto"),
        (["--replicas", "auto", "--min-replicas", "3", "--max-replicas", "2"], "min replicas"),
        (["--replica-cpus", "0"], "replica CPUs must be in (0, 1024]"),
        (["-m", "missing.onnx"], "missing.onnx does not exist"),
    ],
)
def test_bad_ray_flags_are_one_line_errors(flags: list[str], message: str) -> None:
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "serve", "--ray", *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=RAY_ENV)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_documented_config_file_builds_an_app() -> None:
    yaml = pytest.importorskip("yaml")
    from imggen_rt.serve.ray_app import app_builder

    doc = (Path(__file__).parents[2] / "docs" / "ray_serve.md").read_text()
    config = yaml.safe_load(doc.split("```yaml\n", 1)[1].split("```", 1)[0])
    (app,) = config["applications"]
    assert app["import_path"] == "imggen_rt.serve.ray_app:app_builder"
    assert isinstance(app_builder(app["args"]), serve.Application)
    with pytest.raises(ImggenError, match="unknown argument"):
        app_builder({**app["args"], "max_batchsize": 4})
    with pytest.raises(ImggenError, match="max_batch must be a number"):
        app_builder({**app["args"], "max_batch": "many"})
