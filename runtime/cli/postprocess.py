"""`imggen-rt postprocess`: the post-process chain on existing images, as a pipeline step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ImggenError
from .arg_types import add_format_argument
from .post_args import add_post_arguments, chain_from_args


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "postprocess",
        help="apply a post-process chain to existing images",
        description="Apply a post-process chain (colour, LUT, filters, resize, masks) to image "
        "files or folders of them, writing results under the same names into -o DIR. 8-bit "
        "gray, RGB and RGBA images are read; an input's alpha channel is carried over (resized "
        "with the image) unless the chain makes its own.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="image files or folders")
    add_post_arguments(p)
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    add_format_argument(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from ..image_jobs import collect_inputs, postprocess_images

    chain = chain_from_args(args)
    if chain is None:
        raise ImggenError("give a chain with --post or --post-config")
    files = collect_inputs(args.inputs)
    with Progress(disable=args.no_progress, transient=True) as bar:
        task = bar.add_task("postprocess", total=len(files))
        postprocess_images(files, args.out, chain, args.format, lambda n: bar.advance(task, n))
    print(f"wrote {len(files)} images to {args.out}")
    return 0
