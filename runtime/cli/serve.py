"""`imggen-rt serve`: the HTTP server (FastAPI + uvicorn, the `serve` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ImggenError
from ..serve.config import Scaling, ServeConfig
from .arg_types import port, positive_int
from .engine_build import add_engine_build_argument, engine_build_progress


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "serve",
        help="serve models over HTTP with dynamic batching",
        description="POST /v1/generate (JSON: seeds or n, class, truncation, post, format, "
        "size) returns images, POST /v1/walk a latent walk's frames; requests from many "
        "clients are merged into batches of up to "
        "--max-batch images, waiting at most --max-wait-ms. GET /v1/models, /healthz, "
        "/readyz, /metrics (Prometheus), /docs (OpenAPI). Binds 127.0.0.1 unless told.",
    )
    p.add_argument(
        "-m",
        "--model",
        type=Path,
        action="append",
        help="generator ONNX or bundled name; repeat for several (default: the bundled "
        "generators, emoji64 first: the page opens on it)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=port, default=8000, help="TCP port (1..65535)")
    d = ServeConfig()
    p.add_argument("--max-batch", type=int, help=f"images per inference batch ({d.max_batch})")
    p.add_argument(
        "--max-wait-ms", type=float, help=f"longest wait to fill a batch ({d.max_wait_ms:g})"
    )
    p.add_argument("--max-queue", type=int, help=f"images waiting before 429 ({d.max_queue})")
    p.add_argument("--timeout", type=float, help=f"per-request timeout, seconds ({d.timeout_s:g})")
    p.add_argument("--backend", default="auto", help="inference backend (see generate --help)")
    add_engine_build_argument(p)
    p.add_argument(
        "--token-file",
        type=Path,
        help="require 'Authorization: Bearer <token>' everywhere but /healthz, /readyz and the "
        "static page (/docs and /redoc are then off; /openapi.json and /metrics take the token)",
    )
    p.add_argument(
        "--max-connections",
        type=positive_int,
        default=512,
        help="open connections before new requests are answered 503 (default 512)",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: formatting a log line on the event loop "
        "costs about a tenth of a small request's time; /metrics counts requests anyway)",
    )
    ray = p.add_argument_group(
        "scale-out on Ray Serve (the ray extra)",
        "--ray serves the same app from Ray Serve replicas, each batching with @serve.batch "
        "(--max-batch, --max-wait-ms). Without --address a local Ray cluster is started; "
        "with --address auto (after `ray start`) the app joins an existing cluster.",
    )
    ray.add_argument("--ray", action="store_true", help="serve on Ray Serve")
    s = Scaling()
    ray.add_argument(
        "--replicas", help=f"replica count, or 'auto' to autoscale (default {s.replicas})"
    )
    ray.add_argument("--min-replicas", type=int, help=f"autoscaling floor ({s.min_replicas})")
    ray.add_argument("--max-replicas", type=int, help=f"autoscaling ceiling ({s.max_replicas})")
    ray.add_argument(
        "--target-ongoing",
        type=float,
        help=f"autoscaling target: requests in flight per replica ({s.target_ongoing_requests:g})",
    )
    ray.add_argument(
        "--replica-cpus",
        type=float,
        help="CPUs reserved per replica, fractional; also its inference threads (min 1) "
        f"({s.replica_cpus:g})",
    )
    ray.add_argument("--ray-cpus", type=int, help="CPUs of the local cluster (default: all)")
    ray.add_argument("--address", help="join this Ray cluster ('auto' after `ray start`)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app, model_name
    except ImportError as e:
        raise ImggenError(
            f"serve needs the serve extra ({e.name}): pip install 'imggen-rt[serve]'"
        ) from None
    from ..generator import ImageGenerator, load
    from ..serve.app import read_token

    token = None if args.token_file is None else read_token(args.token_file)
    config = ServeConfig.from_options(
        args.max_batch, args.max_wait_ms, args.max_queue, args.timeout, token
    )
    if args.ray:
        return _run_on_ray(args, config)
    generators: dict[str, ImageGenerator] = {}
    with engine_build_progress(args) as build:
        for path in _models(args):
            gen = load(path, backend=args.backend, build=build)
            generators[model_name(path, set(generators))] = gen
    app = create_app(generators, config)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=args.access_log,
        timeout_graceful_shutdown=30,
        # Past this many open connections new requests get 503 at once, so a flood of idle
        # or trickling clients cannot take every file descriptor; idle keep-alive
        # connections close after 5 s.
        limit_concurrency=args.max_connections,
        timeout_keep_alive=5,
    )
    return 0


def _models(args: argparse.Namespace) -> list[Path]:
    from ..bundled import resolve_model, served_by_default

    return [resolve_model(m) for m in args.model] if args.model else served_by_default()


def _run_on_ray(args: argparse.Namespace, config: ServeConfig) -> int:
    from ..serve import ray_app

    ray_app.import_serve()  # the install hint before any model is touched
    scaling = Scaling.from_options(
        args.replicas, args.min_replicas, args.max_replicas, args.target_ongoing, args.replica_cpus
    )
    models = _models(args)
    for path in models:
        if not path.is_file():
            raise ImggenError(f"model file {path} does not exist")
    application = ray_app.deployment(models, args.backend, config, scaling)
    ray_app.run(application, args.host, args.port, args.address, args.ray_cpus)
    return 0
