"""`imggen-rt generate`: seeds -> one PNG per seed (named by seed), and a contact sheet."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..backend_factory import BACKEND_NAMES
from ..errors import ImggenError
from ..grid import BACKGROUNDS
from .arg_types import positive_int
from .engine_build import add_engine_build_argument, engine_build_progress
from .knob_args import add_knob_arguments, parse_knobs
from .post_args import add_post_arguments, chain_from_args, frames_space


def parse_seeds(text: str) -> list[int]:
    """'1,5,9' or ranges '10-19' or both: '1,5,10-12'."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                first, last = (int(v) for v in part.split("-", 1))
                if last < first:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad seed list item {part!r}") from None
    return seeds


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "generate",
        help="generate images from seeds",
        description="Generate one PNG per seed, named by seed, into -o DIR. The same seed, "
        "class and truncation always give the same image, whatever the batch size.",
    )
    p.add_argument(
        "-m", "--model", type=Path, help="generator ONNX (default: the bundled Fashion-MNIST one)"
    )
    p.add_argument("-n", type=positive_int, default=None, help="number of images (default 16)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--seed", type=int, default=0, help="first seed of -n consecutive seeds")
    group.add_argument("--seeds", type=parse_seeds, help="explicit seeds: 1,5,9 or 10-19")
    p.add_argument(
        "--class",
        dest="class_",
        metavar="CLASS",
        help="class id or name for every image (default: seed modulo the number of classes)",
    )
    p.add_argument(
        "--truncation", type=float, default=1.0, help="latent scale in (0, 1]; lower = safer"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--backend", default="auto", choices=BACKEND_NAMES)
    p.add_argument("--threads", type=int, default=None, help="inference threads")
    add_engine_build_argument(p)
    add_post_arguments(p)
    add_knob_arguments(p)
    p.add_argument("-o", "--out", type=Path, default=Path("out"), help="output folder")
    p.add_argument("--grid", action="store_true", help="also write grid.png (a contact sheet)")
    p.add_argument(
        "--grid-background",
        choices=BACKGROUNDS,
        default="light",
        help="what RGBA frames are shown on in grid.png (default light; the PNGs per seed "
        "keep their alpha)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ..generator import load
    from ..image_jobs import generate_images

    if args.seeds is not None and args.n is not None and args.n != len(args.seeds):
        raise ImggenError(f"-n {args.n} disagrees with the {len(args.seeds)} seeds given")
    n = None if args.seeds is not None else (16 if args.n is None else args.n)
    post = chain_from_args(args, frames_space(args))
    with engine_build_progress(args) as build:
        gen = load(args.model, backend=args.backend, threads=args.threads, build=build)
    with gen:
        seeds = gen.resolve_seeds(n, args.seeds, args.seed)
        with Progress(disable=args.no_progress, transient=True) as bar:
            task = bar.add_task("generate", total=len(seeds))
            generate_images(
                gen,
                seeds,
                args.out,
                classes=args.class_,
                truncation=args.truncation,
                scalars=parse_knobs(args.scalar),
                batch_size=args.batch_size,
                post=post,
                grid=args.grid,
                grid_background=args.grid_background,
                advance=lambda k: bar.advance(task, k),
            )
    print(f"wrote {len(seeds)} images to {args.out}" + (" and grid.png" if args.grid else ""))
    return 0
