"""`imggen-rt build`: a gated FP16 ONNX (here, on the CPU) or a TensorRT engine (on a GPU)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from .arg_types import positive_int

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str) -> int:
    """'512M', '2G', '1.5GiB', '1073741824' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 512M or 2G")
    size = int(float(match.group(1)) * _UNITS[match.group(2)])
    if size < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return size


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "build",
        help="build a TensorRT/OpenVINO engine or an FP16 ONNX, gated by parity with FP32",
        description="Build a lower-precision artifact of a generator ONNX into the cache: "
        "a TensorRT engine (--target trt, needs TensorRT and a GPU), an OpenVINO engine for "
        "this CPU (--target openvino --precision fp32|bf16|int8; `auto` then runs the fastest "
        "one that passed) or an FP16 ONNX with FP32 inputs/outputs (--target onnx-fp16, on "
        "the CPU). It is compared with the FP32 model "
        "on fixed seeds and refused if it misses the thresholds. A matching cached artifact "
        "is reused, a stale one rebuilt, one built for another GPU/TensorRT refused. "
        "Image-to-image models (upscalers) take --tile: a static-shape OpenVINO engine for "
        "tiles of that size, gated on test images; `enhance` and the chain's model= op then "
        "run it for frames of at least one tile.",
    )
    p.add_argument(
        "model",
        type=Path,
        help="FP32 generator ONNX, or an image-to-image one with --tile; or a bundled name",
    )
    p.add_argument("--target", choices=("trt", "onnx-fp16", "openvino"), default="trt")
    p.add_argument(
        "--precision",
        choices=("fp16", "fp32", "bf16", "int8"),
        help="fp16 (trt, onnx-fp16; the default there), bf16 (openvino's default), fp32, int8",
    )
    p.add_argument(
        "--batch",
        default=None,
        help="batch sizes the engine must take; its profile is min..max, tuned for the largest "
        "(default 1,8,16); with --tile, the tiles per call (default 4)",
    )
    p.add_argument(
        "--tile",
        type=positive_int,
        help="an image-to-image model: build the engine for square tiles of this many input "
        "pixels (rounded up to the model's multiple); --target openvino",
    )
    p.add_argument("--dla-core", type=int, help="build for this DLA core (GPU fallback on)")
    p.add_argument(
        "--opt-level", type=int, choices=range(6), default=3, help="TensorRT builder level"
    )
    p.add_argument("--workspace", type=parse_bytes, help="TensorRT workspace limit, e.g. 2G")
    p.add_argument(
        "--weakly-typed",
        action="store_true",
        help="TensorRT 10.x only: FP32 network + the FP16 builder flag (removed in 11)",
    )
    p.add_argument("--cache-dir", type=Path, help="default: $IMGGEN_RT_CACHE or ~/.cache")
    p.add_argument("--rebuild", action="store_true", help="build even if a cached one exists")
    p.add_argument("--min-psnr", type=float, help="parity gate: least PSNR in dB (40)")
    p.add_argument(
        "--max-error",
        type=float,
        help="parity gate: largest abs error as a fraction of the output range (0.1)",
    )
    p.add_argument("--parity-seeds", type=int, default=16, help="seeds the gate compares")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..backends.profiles import parse_batches
    from ..engines.pipeline import BuildSpec, build
    from ..engines.trt_builder import TrtOptions

    if args.tile is not None:
        return _build_image_engine(args)
    if args.target == "trt":
        from ..backends.platform import import_tensorrt

        import_tensorrt()  # first: without TensorRT nothing else matters
    precision = args.precision or ("bf16" if args.target == "openvino" else "fp16")
    from ..bundled import resolve_model

    spec = BuildSpec(
        model=resolve_model(str(args.model)),
        target=args.target,
        precision=precision,
        profile=parse_batches(args.batch or "1,8,16"),
        trt=TrtOptions(
            opt_level=args.opt_level,
            workspace_bytes=args.workspace,
            dla_core=args.dla_core,
            typing="weak" if args.weakly_typed else "strong",
        ),
        thresholds=_thresholds(args.min_psnr, args.max_error),
        parity_seeds=args.parity_seeds,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
    )
    return _report(args, lambda progress: build(spec, progress))


def _build_image_engine(args: argparse.Namespace) -> int:
    from ..bundled import resolve_model
    from ..engines.image_engine import IMAGE_PRECISIONS, ImageEngineSpec, build_image_engine
    from ..errors import ImggenError
    from ..image_model import ImageModel

    if args.target != "openvino":
        raise ImggenError(
            "--tile builds OpenVINO engines of image-to-image models: add "
            "--target openvino (TensorRT engines for them are not built yet)"
        )
    precision = args.precision or "bf16"
    if precision not in IMAGE_PRECISIONS:
        raise ImggenError(f"image-model engines are fp32 or bf16, not {precision}")
    try:
        batch = int(args.batch or 4)
    except ValueError:
        raise ImggenError(
            f"with --tile, --batch is one number of tiles, got {args.batch!r}"
        ) from None
    path = resolve_model(str(args.model))
    spec = ImageEngineSpec(
        path,
        precision,
        args.tile,
        batch,
        thresholds=_thresholds(args.min_psnr, args.max_error),
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
    )
    model = ImageModel(path)
    return _report(args, lambda progress: build_image_engine(spec, model, progress))


def _report(args: argparse.Namespace, run_build: Any) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("building", spinner="dots") as status:
        outcome = run_build(lambda text: status.update(text))
    if args.json:
        print(json.dumps(json.loads(outcome.manifest.to_json()), indent=2))
        return 0
    parity = outcome.manifest.parity
    what = "reused" if outcome.action == "reused" else f"built ({outcome.reason})"
    print(f"{what}: {outcome.artifact}")
    print(f"parity vs FP32: {parity.summary()}: passed")
    timing = outcome.manifest.timing
    if timing:
        engine_ms, fp32_ms = timing["engine_ms"], timing["fp32_ms"]
        unit, reference = (
            ("tile", "FP32 ONNX Runtime") if "tile" in timing else ("image", "FP32 OpenVINO")
        )
        print(
            f"speed at batch {int(timing['batch'])}: {engine_ms:.3f} ms/{unit} vs "
            f"{fp32_ms:.3f} for {reference} ({fp32_ms / engine_ms:.2f}x)"
        )
    return 0


def _thresholds(min_psnr: float | None, max_error: float | None) -> Any:
    from dataclasses import replace

    from ..engines.parity import ParityThresholds

    thresholds = ParityThresholds()
    if min_psnr is not None:
        thresholds = replace(thresholds, min_psnr_db=min_psnr)
    if max_error is not None:
        thresholds = replace(thresholds, max_abs_error_fraction=max_error)
    return thresholds
