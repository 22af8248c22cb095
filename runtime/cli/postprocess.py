"""`imggen-rt postprocess`: the post-process chain on existing images, as a pipeline step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImggenError
from .post_args import add_post_arguments, chain_from_args

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


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
    p.add_argument(
        "--format",
        choices=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES),
        help="output format (default: each input's own)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def collect_inputs(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ImggenError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ImggenError(f"input {path} does not exist")
    return files


def read_rgb(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(1, H, W, C) RGB or gray uint8 and the alpha plane (H, W) when the file has one."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImggenError(f"cannot read {path} as an image")
    if image.dtype != np.uint8:
        raise ImggenError(f"{path} is {image.dtype}; postprocess reads 8-bit images")
    alpha = None
    if image.ndim == 2:
        image = image[..., None]
    elif image.shape[2] == 4:
        alpha = image[..., 3].copy()
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image[None], alpha


def run(args: argparse.Namespace) -> int:
    import cv2
    from rich.progress import Progress

    from ..image_files import write_image

    chain = chain_from_args(args)
    if chain is None:
        raise ImggenError("give a chain with --post or --post-config")
    files = collect_inputs(args.inputs)
    args.out.mkdir(parents=True, exist_ok=True)
    out_dir = args.out.resolve()
    with Progress(disable=args.no_progress, transient=True) as bar:
        task = bar.add_task("postprocess", total=len(files))
        for path in files:
            suffix = f".{args.format}" if args.format else path.suffix
            target = out_dir / (path.stem + suffix)
            if target == path.resolve():
                raise ImggenError(f"{target} would overwrite its input; pick another -o")
            frames, alpha = read_rgb(path)
            colour = frames.shape[3] == 3 or chain.makes_colour
            result = chain.apply(frames, order="bgr" if colour else "gray")[0]
            if alpha is not None and not chain.has_alpha:
                height, width = result.shape[:2]
                alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA)
                result = np.dstack(
                    [
                        np.broadcast_to(result, (height, width, 3))
                        if result.shape[2] == 1
                        else result,
                        alpha,
                    ]
                )
            write_image(target, result)
            bar.advance(task)
    print(f"wrote {len(files)} images to {args.out}")
    return 0
