"""`imggen-rt serve`: the HTTP server (FastAPI + uvicorn, the `serve` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ImggenError


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "serve",
        help="serve models over HTTP with dynamic batching",
        description="POST /v1/generate (JSON: seeds or n, class, truncation, format, size) "
        "returns images; requests from many clients are merged into batches of up to "
        "--max-batch images, waiting at most --max-wait-ms. GET /v1/models, /healthz, "
        "/readyz, /metrics (Prometheus), /docs (OpenAPI). Binds 127.0.0.1 unless told.",
    )
    p.add_argument(
        "-m",
        "--model",
        type=Path,
        action="append",
        help="generator ONNX; repeat for several (default: the bundled model)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=int, default=16, help="images per inference batch")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="longest wait to fill a batch")
    p.add_argument("--max-queue", type=int, default=256, help="images waiting before 429")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    p.add_argument("--backend", default="auto", help="inference backend (see generate --help)")
    p.add_argument("--token-file", type=Path, help="require 'Authorization: Bearer <token>'")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import ServeConfig, create_app, model_name
    except ImportError as e:
        raise ImggenError(
            f"serve needs the serve extra ({e.name}): pip install 'imggen-rt[serve]'"
        ) from None
    from ..generator import ImageGenerator, default_model_path, load

    if args.max_batch < 1 or args.max_queue < 1 or args.max_wait_ms < 0:
        raise ImggenError("--max-batch and --max-queue must be >= 1, --max-wait-ms >= 0")
    token = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as e:
            raise ImggenError(f"cannot read token file {args.token_file}: {e.strerror}") from None
        if not token:
            raise ImggenError(f"token file {args.token_file} is empty")
    generators: dict[str, ImageGenerator] = {}
    for path in args.model or [default_model_path()]:
        generators[model_name(path, set(generators))] = load(path, backend=args.backend)
    config = ServeConfig(args.max_batch, args.max_wait_ms, args.max_queue, args.timeout, token)
    app = create_app(generators, config)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=30)
    return 0
