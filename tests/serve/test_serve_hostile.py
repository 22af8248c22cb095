"""The server under hostile or careless clients: 4xx with a reason, never a 500, and no request
that can hold the inference thread or a connection for long."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from starlette.types import Message, Scope

import imggen_rt
from imggen_rt.serve.app import BodyLimit, create_app
from imggen_rt.serve.config import ServeConfig

TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app({"fashion": imggen_rt.load()}, ServeConfig())
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def guarded() -> Iterator[TestClient]:
    app = create_app({"fashion": imggen_rt.load()}, ServeConfig(token=TOKEN))
    with TestClient(app) as c:
        yield c


def test_a_token_guards_everything_but_health_and_the_page(guarded: TestClient) -> None:
    for path in ("/metrics", "/openapi.json", "/v1/models"):
        assert guarded.get(path).status_code == 401, path
        assert guarded.get(path, headers=AUTH).status_code == 200, path
    for path in ("/docs", "/redoc"):  # they cannot send a header: off with a token
        assert guarded.get(path, headers=AUTH).status_code == 404, path
    assert guarded.post("/v1/generate", json={"seeds": [1]}).status_code == 401
    for path in ("/healthz", "/readyz", "/"):
        assert guarded.get(path).status_code == 200, path
    assert "fashion" not in guarded.get("/").text  # the page names no model


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_json_numbers_are_422(client: TestClient, number: bytes) -> None:
    for field in (b"truncation", b"seed"):
        body = b'{"' + field + b'": ' + number + b"}"
        answer = client.post(
            "/v1/generate", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert "detail" in answer.json()


@pytest.mark.parametrize(
    ("request_json", "message"),
    [
        ({"n": 64, "post": "resize=2048x2048,sharpen=1:64"}, "request too"),
        ({"n": 64, "size": 2048, "format": "raw"}, "request too large"),
        ({"seeds": [1], "post": "resize=2048x2048,sharpen=1:64,blur=64"}, "request too heavy"),
    ],
)
def test_work_past_the_budget_is_refused_before_it_starts(
    client: TestClient, request_json: dict[str, object], message: str
) -> None:
    answer = client.post("/v1/generate", json=request_json)
    assert answer.status_code == 422 and message in answer.text, answer.text


def test_an_alpha_chain_on_the_grey_model_answers_rgba(client: TestClient) -> None:
    for fmt in ("png", "webp"):
        answer = client.post(
            "/v1/generate", json={"seeds": [3], "post": "mask=otsu,alpha", "format": fmt}
        )
        assert answer.status_code == 200, answer.text
        image = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (32, 32, 4)
    walk = client.post(
        "/v1/walk", json={"seeds": [1, 2], "frames_per_seed": 2, "post": "mask=otsu,alpha"}
    )
    assert walk.status_code == 200, walk.text


def test_a_body_that_never_arrives_is_408(tmp_path: Path) -> None:
    sent: list[Message] = []
    reached_app = False

    async def app(scope: Scope, receive: object, send: object) -> None:
        nonlocal reached_app
        reached_app = True

    async def trickle() -> Message:
        await asyncio.sleep(3600)  # a slowloris client: headers sent, body never
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"100")]}
    middleware = BodyLimit(app, limit=64 * 1024, timeout_s=0.2)
    asyncio.run(asyncio.wait_for(middleware(scope, trickle, send), 5))
    assert sent[0]["status"] == 408 and not reached_app
    assert b"not received within 0.2 s" in sent[1]["body"]
