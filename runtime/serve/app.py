"""The HTTP app: POST /v1/generate, GET /v1/models, GET /v1/colour (the OCIO config's colour
spaces and views), health, readiness and Prometheus metrics.

Models are loaded from paths given at start-up and addressed by name in requests: a request
never names a file. Every request waits in its model's dynamic batcher, so concurrent clients
share inference calls.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ImggenError
from ..generator import ImageGenerator
from ..post import PostChain
from ..post.ocio import config_catalogue
from ..resize import resize_frames
from .batcher import DynamicBatcher
from .budget import check_budget
from .config import ServeConfig
from .encode import CONTENT_TYPES, encode
from .metrics import ServerMetrics
from .post_spec import chain_for_request
from .schemas import (
    MAX_SIZE,
    GeneratedImage,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    WalkFrame,
    WalkRequest,
    WalkResponse,
)
from .source import FrameRequest, FrameSource, QueueFull, ShuttingDown
from .walk import walk_request

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_S = 10.0  # a request body (at most 64 KiB) must arrive within this
# Encoding up to this many output pixels runs on the event loop (a thread hop costs more);
# beyond it, in a worker thread so one large answer does not stall every other request.
ENCODE_INLINE_PIXELS = 256 * 256


SourceFactory = Callable[[str, ImageGenerator, ServerMetrics], FrameSource]


def create_app(
    generators: dict[str, ImageGenerator],
    config: ServeConfig,
    source_factory: SourceFactory | None = None,
) -> FastAPI:
    """An app serving already-loaded generators (name -> generator, first is the default).

    Frames come from one FrameSource per model: by default the in-process DynamicBatcher;
    the Ray Serve deployment passes its own, so both modes share every route.
    """
    if not generators:
        raise ImggenError("serve needs at least one model")
    metrics = ServerMetrics()
    batchers: dict[str, FrameSource] = {}

    def in_process(name: str, gen: ImageGenerator, metrics: ServerMetrics) -> FrameSource:
        return DynamicBatcher(
            name, gen, metrics, config.max_batch, config.max_wait_ms, config.max_queue
        )

    make_source = source_factory or in_process

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name, gen in generators.items():
            batchers[name] = make_source(name, gen, metrics)
            batchers[name].start()
        yield
        # Graceful shutdown: uvicorn has stopped accepting connections; finish queued work.
        await asyncio.gather(*(b.drain() for b in batchers.values()))
        for gen in generators.values():
            gen.close()

    # With a token, everything but the health probes and the (static, data-free) page needs
    # it: /metrics names models and counts requests, the OpenAPI schema lists them. The
    # interactive docs cannot send a header, so they are off; /openapi.json takes the token.
    open_docs = config.token is None
    app = FastAPI(
        title="imggen-rt",
        summary="Seeds in, images out: a generator ONNX served with dynamic batching.",
        lifespan=lifespan,
        docs_url="/docs" if open_docs else None,
        redoc_url="/redoc" if open_docs else None,
        openapi_url="/openapi.json" if open_docs else None,
    )

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]

    def authorize(request: Request) -> None:
        if config.token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {config.token}".encode()):
            raise HTTPException(401, "missing or wrong bearer token")

    page = (Path(__file__).parent / "static" / "index.html").read_text()

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = bool(batchers) and all(b.accepting for b in batchers.values())
        return JSONResponse({"ready": ready}, 200 if ready else 503)

    if not open_docs:

        @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(authorize)])
        async def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(authorize)])
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> list[ModelInfo]:
        return [
            ModelInfo(name=name, card=gen.card.to_dict(), backend=dict(gen.backend.describe()))
            for name, gen in generators.items()
        ]

    @app.get("/v1/colour", dependencies=[Depends(authorize)])
    async def colour() -> dict[str, Any]:
        """The OpenColorIO config request chains resolve ocio ops in ($OCIO, else the built-in
        default): its colour spaces and display views, for the page's selectors."""
        try:
            return config_catalogue()
        except ImggenError as e:  # a broken $OCIO: say so, the rest of the server works
            return {"available": False, "reason": str(e)}

    async def answer(
        model: str | None,
        request: Request,
        job_for: Callable[[ImageGenerator], FrameRequest],
        respond: Callable[[str, FrameRequest, np.ndarray], Response],
        size: int | None,
    ) -> Response:
        """The path every image request takes: model, job (its input errors are 422s), a
        place in the model's batches, encoding; counted and timed per model and status."""
        started = time.perf_counter()

        def out_pixels(frames: np.ndarray) -> int:
            return size * size if size else int(frames.shape[1] * frames.shape[2])

        name = model or next(iter(generators))
        if name not in generators:
            raise HTTPException(404, f"unknown model {name!r}; see GET /v1/models")
        status = 500
        try:
            try:
                job = job_for(generators[name])
            except ImggenError as e:
                raise HTTPException(422, str(e)) from None
            try:
                frames = await _wait_for_frames(batchers[name], request, job, config)
            except ImggenError as e:  # the model refused this batch: say why, never a 500
                raise HTTPException(422, str(e)) from None
            encode_start = time.perf_counter()
            if len(frames) * out_pixels(frames) > ENCODE_INLINE_PIXELS:
                # Many or large images: encoding them would stall every other request and the
                # batcher's timers, so it goes to a worker thread (cv2 releases the GIL).
                response = await asyncio.to_thread(respond, name, job, frames)
            else:  # one small image: cheaper inline than a thread hop
                response = respond(name, job, frames)
            metrics.stage_seconds.labels(name, "encode").observe(time.perf_counter() - encode_start)
            status = response.status_code
            return response
        except HTTPException as e:
            status = e.status_code
            raise
        finally:
            metrics.requests.labels(name, str(status)).inc()
            metrics.request_seconds.labels(name).observe(time.perf_counter() - started)

    @app.post("/v1/generate", dependencies=[Depends(authorize)], response_model=None)
    async def generate(body: GenerateRequest, request: Request) -> Response:
        seeds: list[int] = []

        def job_for(gen: ImageGenerator) -> FrameRequest:
            seeds[:] = gen.resolve_seeds(body.n, body.seeds, body.seed)
            post = _checked_post(gen, body.post, body.format, len(seeds), body.size)
            feeds = gen.feeds_for_seeds(seeds, body.class_, body.truncation, scalars=body.scalars)
            return FrameRequest(feeds, post)

        def respond(name: str, job: FrameRequest, frames: np.ndarray) -> Response:
            ids = job.feeds.class_ids
            classes = None if ids is None else [int(c) for c in ids]
            return _respond(name, frames, seeds, classes, body, wants_json)

        wants_json = "application/json" in request.headers.get("accept", "")
        return await answer(body.model, request, job_for, respond, body.size)

    @app.post("/v1/walk", dependencies=[Depends(authorize)], response_model=WalkResponse)
    async def walk(body: WalkRequest, request: Request) -> Response:
        """Frames of a latent walk between keyframe seeds (JSON, base64 frames in order)."""

        def job_for(gen: ImageGenerator) -> FrameRequest:
            post = _checked_post(gen, body.post, body.format, body.frame_count(), body.size)
            return walk_request(gen, body, post)

        def respond(name: str, _: FrameRequest, frames: np.ndarray) -> Response:
            content_type = CONTENT_TYPES[body.format]
            listed = [
                WalkFrame(
                    index=i,
                    content_type=content_type,
                    data=base64.b64encode(encode(f, body.format)).decode(),
                )
                for i, f in enumerate(_delivery_size(frames, body.size))
            ]
            return JSONResponse(WalkResponse(model=name, frames=listed).model_dump())

        return await answer(body.model, request, job_for, respond, body.size)

    return app


async def _wait_for_frames(
    batcher: FrameSource, request: Request, job: FrameRequest, config: ServeConfig
) -> np.ndarray:
    """The batcher's answer, or an HTTP error: 429 when full, 503 when draining, 504 when it
    takes longer than the timeout; a client that disconnects cancels its request."""
    task = asyncio.ensure_future(batcher.submit(job))
    deadline = time.perf_counter() + config.timeout_s
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.05)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise HTTPException(499, "client disconnected")
            if time.perf_counter() > deadline:
                raise HTTPException(504, f"not generated within {config.timeout_s:g} s")
    except QueueFull:
        raise HTTPException(
            429, "queue full, retry shortly", headers={"Retry-After": "1"}
        ) from None
    except ShuttingDown:
        raise HTTPException(503, "server is shutting down", headers={"Retry-After": "5"}) from None
    finally:
        task.cancel()  # no-op when done; otherwise the batcher skips the abandoned job


def _respond(
    name: str,
    frames: np.ndarray,
    seeds: list[int],
    classes: list[int] | None,
    body: GenerateRequest,
    wants_json: bool,
) -> Response:
    """One image: its bytes (unless JSON is asked for); several: JSON with base64 images;
    raw: all frames as one (N, H, W, C) uint8 buffer."""
    frames = _delivery_size(frames, body.size)
    if body.format == "raw":
        headers = {"X-Image-Shape": ",".join(str(d) for d in frames.shape)}
        return Response(
            np.ascontiguousarray(frames).tobytes(), 200, headers, "application/octet-stream"
        )
    content_type = CONTENT_TYPES[body.format]
    encoded = [encode(f, body.format) for f in frames]
    if len(encoded) == 1 and not wants_json:
        headers = {"X-Seed": str(seeds[0])}
        if classes is not None:
            headers["X-Class-Id"] = str(classes[0])
        return Response(encoded[0], 200, headers, content_type)
    images = [
        GeneratedImage(
            seed=seed,
            class_id=classes[i] if classes is not None else None,
            content_type=content_type,
            data=base64.b64encode(data).decode("ascii"),
        )
        for i, (seed, data) in enumerate(zip(seeds, encoded, strict=True))
    ]
    return JSONResponse(GenerateResponse(model=name, images=images).model_dump())


def _delivery_size(frames: np.ndarray, size: int | None) -> np.ndarray:
    """The request's square `size` (stretched: the page shows square tiles)."""
    return frames if size is None else resize_frames(frames, (size, size), "stretch")


class BodyLimit:
    """Refuses a body over the limit, or one that does not arrive within `timeout_s`, before
    the app reads it: a client trickling a body (slowloris) is answered 408 and let go instead
    of holding a connection, a task and a file descriptor forever.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs every
    request through an extra task and stream, a fixed cost on each small image request.
    """

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = BODY_TIMEOUT_S) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = JSONResponse({"detail": f"body larger than {self.limit} bytes"}, 413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await refusal(scope, receive, send)
            return
        # Read the body here (at most `limit` bytes, so buffering is cheap; a chunked body
        # has no Content-Length to check first), then replay it to the app.
        messages: list[Message] = []
        received = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                late = f"request body not received within {self.timeout_s:g} s"
                await JSONResponse({"detail": late}, 408)(scope, receive, send)
                return
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.limit:
                await refusal(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _checked_post(
    gen: ImageGenerator, spec: str | None, fmt: str, images: int, size: int | None
) -> PostChain | None:
    """The request's chain, refused (ImggenError, a 422) when it cannot be delivered: frames
    larger than the server makes, alpha in a format without it, or more work than one request
    may ask for (`budget`)."""
    post = chain_for_request(spec)
    check_budget(images, gen.card.height, gen.card.width, post, size)
    if gen.has_alpha(post) and fmt == "jpeg":
        what = "the model's frames are RGBA" if gen.card.channels == 4 else "post makes alpha"
        raise ImggenError(f"{what}: jpeg has no alpha channel; ask for png or webp")
    if post is None:
        return None
    height, width = post.output_size(gen.card.height, gen.card.width)
    if max(height, width) > MAX_SIZE:
        raise ImggenError(f"post: frames of {width}x{height}; at most {MAX_SIZE} a side")
    return post


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    """422 with pydantic's messages, never a 500: the echo of what was sent is dropped, since
    it may hold what JSON cannot carry back (NaN, Infinity, 1e400) or be large."""
    details = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in error.errors()
    ]
    return JSONResponse({"detail": details}, 422)


def read_token(path: Path) -> str:
    """The bearer token clients must send, from a file (never from the command line, where
    other users of the machine could read it)."""
    try:
        token = path.read_text().strip()
    except OSError as e:
        raise ImggenError(f"cannot read token file {path}: {e.strerror}") from None
    if not token:
        raise ImggenError(f"token file {path} is empty")
    return token


def model_name(path: Path, taken: set[str]) -> str:
    """A model's public name: its file stem, made unique."""
    name, k = path.stem, 2
    while name in taken:
        name, k = f"{path.stem}-{k}", k + 1
    return name
