"""`imggen-rt bench [MODEL]`: imggen-rt's backends and their peers, side by side, in one run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..bench.config import DEFAULT_BACKENDS, IMGGEN_BACKENDS, PEERS


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "bench",
        help="time imggen-rt's backends and peers (torch, ONNX Runtime, OpenVINO) side by side",
        description="Time every backend x batch size: throughput, latency percentiles, "
        "per-stage means, CV, peak RSS, cold start, and the machine's own matmul and copy "
        "rates measured in the same run. Each contender runs in its own process; all are "
        "interleaved in short rounds. Missing peers are listed as skipped, with why.",
    )
    p.add_argument("model", type=Path, nargs="?", help="generator ONNX (default: bundled)")
    p.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help=f"comma-separated; imggen-rt: {', '.join(IMGGEN_BACKENDS)}; peers: "
        f"{', '.join(PEERS)} (default: all)",
    )
    p.add_argument("--batch", default="1,16", help="batch sizes, e.g. 1,4,16 (default 1,16)")
    p.add_argument("--warmup", default="1s", help="untimed warm-up per contender and batch")
    p.add_argument("--duration", default="5s", help="timed duration per contender and batch")
    p.add_argument("--threads", type=int, default=None, help="threads for imggen-rt backends")
    p.add_argument(
        "--torch-checkpoint",
        type=Path,
        default=None,
        help="training checkpoint the ONNX was exported from (torch eager runs on it)",
    )
    p.add_argument("--no-cold-start", action="store_true", help="skip the cold-start runs")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON")
    p.add_argument("--markdown", type=Path, metavar="OUT", help="write the report as markdown")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="write a matplotlib plot")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import BenchConfig, print_tables, run_suite, write_outputs
    from ..bench.config import parse_backends, parse_batches, parse_seconds
    from ..bundled import resolve_model
    from ..errors import ImggenError

    model = resolve_model(args.model)
    if not model.is_file():
        raise ImggenError(f"model file {model} does not exist")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImggenError("--plot needs matplotlib: pip install matplotlib") from None
    config = BenchConfig(
        model=model,
        backends=parse_backends(args.backends),
        batches=parse_batches(args.batch),
        warmup_s=parse_seconds(args.warmup),
        duration_s=parse_seconds(args.duration),
        torch_checkpoint=args.torch_checkpoint,
        threads=args.threads,
        cold_start=not args.no_cold_start,
    )
    report = run_suite([config], progress=not args.quiet)
    write_outputs(report, args.json, args.markdown, args.plot)
    if not args.quiet:
        print_tables(report)
    return 0
