"""The HTTP server, for real: `imggen-rt serve` in a subprocess on loopback, real HTTP clients."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from live_server import server
from tiny_models import TinyGenerator

import imggen_rt
from imggen_rt.post import parse_post

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return image if image.ndim == 3 else image[..., None]


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_concurrent_clients_get_the_cli_images_in_merged_batches(
    tiny_conditional: TinyGenerator,
) -> None:
    with imggen_rt.load(tiny_conditional.path) as gen:
        expected = gen.generate(seeds=list(range(16)), classes="dog")
    with server(tiny_conditional.path, "--max-wait-ms", "100", "--max-batch", "16") as (url, _):

        def one(seed: int) -> np.ndarray:
            r = httpx.post(f"{url}/v1/generate", json={"seeds": [seed], "class": "dog"})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "image/png"
            assert r.headers["x-class-id"] == "1"
            return decode(r.content)

        with ThreadPoolExecutor(16) as pool:
            frames = list(pool.map(one, range(16)))
        np.testing.assert_array_equal(np.stack(frames), expected)
        batches = metric(url, 'imggen_batch_images_count{model="tiny_cond"}')
        images = metric(url, 'imggen_batch_images_sum{model="tiny_cond"}')
        assert images == 16 and batches < 16  # some requests shared an inference call
        assert metric(url, 'imggen_requests_total{model="tiny_cond",status="200"}') == 16


def test_many_images_raw_and_json(tiny_rgb: TinyGenerator) -> None:
    with imggen_rt.load(tiny_rgb.path) as gen:
        expected = gen.generate(seeds=[5, 6, 7], truncation=0.7)
    with server(tiny_rgb.path) as (url, _):
        body = {"n": 3, "seed": 5, "truncation": 0.7}
        listed = httpx.post(f"{url}/v1/generate", json=body).json()
        assert [i["seed"] for i in listed["images"]] == [5, 6, 7]
        pngs = [decode(base64.b64decode(i["data"]))[..., ::-1] for i in listed["images"]]
        np.testing.assert_array_equal(np.stack(pngs), expected)
        raw = httpx.post(f"{url}/v1/generate", json={**body, "format": "raw"})
        assert raw.headers["x-image-shape"] == "3,6,5,3"
        np.testing.assert_array_equal(
            np.frombuffer(raw.content, np.uint8).reshape(3, 6, 5, 3), expected
        )
        big = httpx.post(f"{url}/v1/generate", json={"seeds": [1], "size": 64, "format": "jpeg"})
        assert big.headers["content-type"] == "image/jpeg"
        assert decode(big.content).shape == (64, 64, 3)
        models = httpx.get(f"{url}/v1/models").json()
        assert models[0]["name"] == "tiny_rgb" and models[0]["card"]["latent_dim"] == 8
        assert "/v1/generate" in httpx.get(f"{url}/openapi.json").json()["paths"]


BAD_REQUESTS = [
    ({"n": 0}, 422),
    ({"n": 65}, 422),
    ({"seeds": [1], "n": 2}, 422),
    ({"seeds": [-1]}, 422),
    ({"seeds": [1], "truncation": 0}, 422),
    ({"seeds": [1], "class": "bird"}, 422),
    ({"seeds": [1], "format": "gif"}, 422),
    ({"seeds": [1], "model": "../../etc/passwd"}, 404),
    ({"seeds": [1], "path": "/tmp/x.onnx"}, 422),
]


def test_bad_requests_are_4xx_with_a_message(tiny_conditional: TinyGenerator) -> None:
    with server(tiny_conditional.path) as (url, _):
        for body, status in BAD_REQUESTS:
            r = httpx.post(f"{url}/v1/generate", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["detail"]
        not_json = httpx.post(
            f"{url}/v1/generate", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 422
        huge = httpx.post(f"{url}/v1/generate", content=b"x" * 70_000)
        assert huge.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            for _ in range(20):
                yield b" " * 4096

        chunked = httpx.post(
            f"{url}/v1/generate", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413, chunked.text
        assert "body larger than" in chunked.json()["detail"]
        # the unknown class is refused inside the handler (pydantic's 422s never reach it)
        assert metric(url, 'imggen_requests_total{model="tiny_cond",status="422"}') == 1


def test_overload_gets_429_with_retry_after(tiny_rgb: TinyGenerator) -> None:
    # The first request opens a batch that waits 1.5 s for company; at most 4 images may wait.
    options = ("--max-queue", "4", "--max-wait-ms", "1500", "--max-batch", "64")
    with server(tiny_rgb.path, *options) as (url, _), ThreadPoolExecutor(10) as pool:
        replies = list(
            pool.map(lambda s: httpx.post(f"{url}/v1/generate", json={"seeds": [s]}), range(10))
        )
    codes = sorted(r.status_code for r in replies)
    assert codes.count(200) >= 4 and codes.count(429) >= 1, codes
    assert all(r.headers["retry-after"] == "1" for r in replies if r.status_code == 429)


def test_token_is_enforced(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    with server(tiny_rgb.path, "--token-file", str(token)) as (url, _):
        body = {"seeds": [1]}
        assert httpx.post(f"{url}/v1/generate", json=body).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert httpx.post(f"{url}/v1/generate", json=body, headers=wrong).status_code == 401
        right = {"authorization": "Bearer s3cret"}
        assert httpx.post(f"{url}/v1/generate", json=body, headers=right).status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_shutdown_drains_the_queue(tiny_rgb: TinyGenerator) -> None:
    with server(tiny_rgb.path, "--max-wait-ms", "2000", "--max-batch", "64") as (url, proc):
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{url}/v1/generate", json={"seeds": [3]}, timeout=30)
            time.sleep(0.5)  # the request now waits in a batch that closes after 2 s
            proc.send_signal(signal.SIGTERM)
            reply = pending.result()
        assert reply.status_code == 200
        # uvicorn exits through the signal it caught once the app has shut down cleanly
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (proc.stdout.read() if proc.stdout else "")


def test_post_chains_are_applied_per_request_inside_merged_batches(tiny_rgb: TinyGenerator) -> None:
    chains = ["", "exposure=0.5,saturation=0", "contrast=1.5", "exposure=0.5,saturation=0"]
    with imggen_rt.load(tiny_rgb.path) as gen:
        expected = [
            gen.generate(seeds=[s], post=parse_post(c) if c else None)[0]
            for s, c in enumerate(chains)
        ]
    with server(tiny_rgb.path, "--max-wait-ms", "300", "--max-batch", "16") as (url, _):

        def one(seed: int) -> np.ndarray:
            body = {"seeds": [seed], "format": "raw", "post": chains[seed] or None}
            r = httpx.post(f"{url}/v1/generate", json=body)
            assert r.status_code == 200, r.text
            return np.frombuffer(r.content, np.uint8).reshape(6, 5, 3)

        with ThreadPoolExecutor(4) as pool:
            frames = list(pool.map(one, range(4)))
        assert metric(url, 'imggen_batch_images_count{model="tiny_rgb"}') < 4  # merged
        alpha = httpx.post(f"{url}/v1/generate", json={"seeds": [1], "post": "mask=otsu,alpha"})
        assert alpha.status_code == 200 and decode(alpha.content).shape == (6, 5, 4)
    for got, want, chain in zip(frames, expected, chains, strict=True):
        np.testing.assert_array_equal(got, want, err_msg=chain)
    assert not np.array_equal(frames[0], frames[1])  # the chains did change the images


BAD_POSTS = [
    ("foo=1", "unknown post-process op 'foo'"),
    ("exposure=bright", "exposure must be a number"),
    ("lut=/etc/passwd", "lut over HTTP takes a shipped look"),
    ("lut=../../secret", "lut over HTTP takes a shipped look"),
    ("resize=4096x4096", "at most 2048 a side"),
    ("exposure=0.1," * 17, "at most 16 ops"),
    ("x" * 600, "at most 512 characters"),
]


def test_bad_post_chains_are_422_with_the_reason(tiny_rgb: TinyGenerator) -> None:
    with server(tiny_rgb.path) as (url, _):
        for spec, reason in BAD_POSTS:
            r = httpx.post(f"{url}/v1/generate", json={"seeds": [1], "post": spec})
            assert r.status_code == 422 and reason in r.text, (spec, r.text)
        jpeg = {"seeds": [1], "post": "mask=otsu,alpha", "format": "jpeg"}
        assert "jpeg has no alpha" in httpx.post(f"{url}/v1/generate", json=jpeg).text
        walk = httpx.post(f"{url}/v1/walk", json={"seeds": [1, 2], "post": "lut=/etc/passwd"})
        assert walk.status_code == 422


def test_walk_frames_are_the_video_walks_frames(tiny_conditional: TinyGenerator) -> None:
    from imggen_rt.walks import KeyframeWalk

    with imggen_rt.load(tiny_conditional.path) as gen:
        plan = KeyframeWalk([3, 9, 4], 3, 8, classes=[2, 2, 2], truncation=0.8).plan(range(7))
        expected = gen.frames_for_latents(plan.z, np.full(7, 2, np.int64))
        keyframes = gen.generate(seeds=[3, 9, 4], classes="Ankle boot", truncation=0.8)
    with server(tiny_conditional.path) as (url, _):
        body = {"seeds": [3, 9, 4], "frames_per_seed": 3, "truncation": 0.8, "class": 2}
        r = httpx.post(f"{url}/v1/walk", json=body)
        assert r.status_code == 200, r.text
        frames = np.stack([decode(base64.b64decode(f["data"])) for f in r.json()["frames"]])
        too_long = httpx.post(f"{url}/v1/walk", json={"seeds": [1, 2], "frames_per_seed": 64})
        assert too_long.status_code == 422 and "at most 64" in too_long.text
    np.testing.assert_array_equal(frames, expected)
    np.testing.assert_array_equal(frames[[0, 3, 6]], keyframes)  # the walk passes its seeds
    assert [f["index"] for f in r.json()["frames"]] == list(range(7))


def test_without_ray_the_error_names_the_extra() -> None:
    # sys.modules[name] = None makes `import ray` fail the way it does when it is not installed
    code = (
        "import sys; sys.modules['ray'] = None; from imggen_rt.cli.main import main; "
        "sys.exit(main(['serve', '--ray']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "imggen-rt: error: --ray needs Ray Serve: pip install 'imggen-rt[ray]'"
    )


def test_colour_catalogue_and_ocio_chains_over_http(tiny_rgb: TinyGenerator) -> None:
    pytest.importorskip("PyOpenColorIO")
    import os

    studio = "ocio://studio-config-latest"
    view = "ocio-display=sRGB - Display:ACES 2.0 - SDR 100 nits (Rec.709):ACEScct"
    chain = f"ocio=sRGB - Texture:ACEScct,{view}"
    with imggen_rt.load(tiny_rgb.path) as gen:
        expected = gen.generate(seeds=[4], post=parse_post(chain, studio))
    with server(tiny_rgb.path, env={**os.environ, "OCIO": studio}) as (url, _):
        catalogue = httpx.get(f"{url}/v1/colour").json()
        assert catalogue["available"] and catalogue["config"] == studio
        assert "ACEScg" in catalogue["colour_spaces"]
        assert "ACES 2.0 - SDR 100 nits (Rec.709)" in catalogue["displays"]["sRGB - Display"]
        raw = httpx.post(f"{url}/v1/generate", json={"seeds": [4], "post": chain, "format": "raw"})
        got = np.frombuffer(raw.content, np.uint8).reshape(expected.shape)
        np.testing.assert_array_equal(got, expected)
        bad = httpx.post(f"{url}/v1/generate", json={"seeds": [4], "post": "ocio=sRGB:ACEScg"})
        assert bad.status_code == 422 and "close:" in bad.json()["detail"]
