"""`imggen-rt enhance`: image files through an image-to-image model (an upscaler), tiled."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..image_model import ENGINES
from ..tiling import BLENDS
from .arg_types import add_format_argument, positive_int
from .engine_build import add_engine_build_argument
from .knob_args import add_knob_arguments, parse_knobs


def value_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a range is LOW:HIGH, e.g. 0:1; got {text!r}") from None
    return low, high


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "enhance",
        help="run image files through an image-to-image model (upscaler), tiled",
        description="Run image files or folders of them through an image-to-image ONNX (an "
        "upscaler, a restorer) in tiles, writing results under the same names into -o DIR at "
        "the model's scale. The scale, the spatial multiple and a static tile size are probed "
        "from the graph; 8- and 16-bit grey, RGB and RGBA files keep their bit depth, and "
        "alpha is resized to match. The overlap defaults to the model's receptive field (from "
        "its card, else measured at load), so tiles join without seams: for convolutional "
        "models equal to a whole-frame run. Models that mix the whole frame (InstanceNorm, "
        "global pooling) run whole frames. `imggen-rt import` stores what the graph cannot say "
        "(value ranges, receptive field) in a card.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="image files or folders")
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help="image-to-image ONNX, or a bundled one by name (default: upscaler, x2)",
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--tile", type=positive_int, default=256, help="tile side in input pixels")
    p.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="context pixels per tile side (default: the model's receptive field)",
    )
    p.add_argument("--blend", choices=BLENDS, default="crop", help="how overlaps join")
    p.add_argument("--batch-size", type=positive_int, default=4, help="tiles per model call")
    p.add_argument(
        "--input-range", type=value_range, default=None, metavar="LOW:HIGH",
        help="the values the model takes (default: its card's, else 0:1)",
    )  # fmt: skip
    p.add_argument(
        "--output-range", type=value_range, default=None, metavar="LOW:HIGH",
        help="the values the model makes (default: its card's, else 0:1)",
    )  # fmt: skip
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="onnxruntime; openvino: a static-shape engine per tile size for this CPU (bf16 "
        "where the CPU has it), built, gated against FP32 and cached on first use; auto "
        "(default): the bf16 engine where the CPU has bf16 and it passes its gate and is "
        "faster, else ONNX Runtime",
    )
    add_engine_build_argument(p)
    add_knob_arguments(p)
    p.add_argument("--threads", type=positive_int, default=None, help="inference threads")
    add_format_argument(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ..bundled import DEFAULT_IMAGE_MODEL, resolve_model
    from ..enhance import enhance_files
    from ..image_jobs import collect_inputs
    from ..image_model import ImageModel, first_use_builds

    files = collect_inputs(args.inputs)
    path = resolve_model(args.model or DEFAULT_IMAGE_MODEL)
    build = first_use_builds(args.engine, args.engine_build)
    model = ImageModel(
        path,
        args.input_range,
        args.output_range,
        args.threads,
        args.engine,
        build=build,
        scalars=parse_knobs(args.scalar),
    )
    tiling = model.tile_spec(args.tile, args.overlap, args.blend, args.batch_size)
    with Progress(disable=args.no_progress, transient=True) as bar:
        task = bar.add_task("enhance", total=len(files))
        enhance_files(files, args.out, model, tiling, args.format, lambda n: bar.advance(task, n))
    s = model.spec
    ran = ", ".join(model.describe()["engines"])
    print(f"wrote {len(files)} images x{s.scale} to {args.out} (tiles {tiling.tile} px, {ran})")
    return 0
