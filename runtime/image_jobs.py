"""Image files in and out: the work of `imggen-rt generate` and `imggen-rt postprocess`.

Each image is written atomically under its final name (a reader never sees half a file), so
an interrupted run leaves whole images only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ImggenError, first_line
from .generator import colour_frames
from .grid import composite, contact_sheet
from .image_files import output_folder, write_image

if TYPE_CHECKING:
    from .generator import ClassArg, ImageGenerator, Scalars
    from .post import PostChain

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
MAX_INPUT_BYTES = 1 << 30  # an image file larger than this is refused before decoding

Advance = Callable[[int], None]


def generate_images(
    gen: ImageGenerator,
    seeds: Sequence[int],
    out: Path,
    *,
    classes: ClassArg = None,
    truncation: float = 1.0,
    batch_size: int = 16,
    post: PostChain | None = None,
    grid: bool = False,
    grid_background: str = "light",
    advance: Advance = lambda _: None,
    scalars: Scalars = None,
) -> None:
    """One PNG per seed (`seed000005.png`) in `out`, and `grid.png` (a contact sheet) with
    `grid`, RGBA frames shown on `grid_background` (grid.BACKGROUNDS). Frames stream batch by
    batch: memory stays flat in the number of seeds."""
    # OpenCV writes BGR, so the fused post-process emits BGR directly (gray stays gray unless
    # the chain colours it).
    order = "bgr" if colour_frames(gen.card.channels, post) else "gray"
    output_folder(out)
    sheet_frames = []
    for batch in gen.iter_batches(
        seeds=seeds,
        classes=classes,
        truncation=truncation,
        batch_size=batch_size,
        order=order,
        post=post,
        scalars=scalars,
    ):
        for seed, frame in zip(batch.seeds, batch.frames, strict=True):
            write_image(out / f"seed{seed:06d}.png", frame)
        if grid:
            sheet_frames.append(batch.frames.copy())
        advance(len(batch.seeds))
    if grid and sheet_frames:
        frames = composite(np.concatenate(sheet_frames), grid_background)
        write_image(out / "grid.png", contact_sheet(frames))


def postprocess_images(
    files: Sequence[Path],
    out: Path,
    chain: PostChain,
    fmt: str | None = None,
    advance: Advance = lambda _: None,
) -> None:
    """The chain on each file, written under the same name (suffix `fmt` when given) in `out`.
    An input's alpha is carried over, resized with the image, unless the chain makes its own."""
    out_dir = output_folder(out).resolve()
    for path in files:
        suffix = f".{fmt}" if fmt else path.suffix
        target = out_dir / (path.stem + suffix)
        if target == path.resolve():
            raise ImggenError(f"{target} would overwrite its input; pick another -o")
        frames = read_frames(path)
        colour = colour_frames(min(frames.shape[3], 3), chain)
        # the chain carries an input's alpha itself (resized with the image)
        result = chain.apply(frames, order="bgr" if colour else "gray")[0]
        write_image(target, result)
        advance(1)


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


def read_frames(path: Path) -> np.ndarray:
    """(1, H, W, C) uint8: gray, RGB, or RGBA when the file has alpha."""
    import cv2

    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImggenError(f"cannot read {path}: {e.strerror}") from None
    if size > MAX_INPUT_BYTES:
        raise ImggenError(f"{path} is {size / 2**20:.0f} MiB; at most {MAX_INPUT_BYTES >> 20} MiB")
    try:
        # OpenCV refuses headers past CV_IO_MAX_IMAGE_PIXELS (2^30) with its own exception
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise ImggenError(f"cannot read {path} as an image: {first_line(e)}") from None
    if image is None:
        raise ImggenError(f"cannot read {path} as an image")
    if image.dtype != np.uint8:
        raise ImggenError(f"{path} is {image.dtype}; postprocess reads 8-bit images")
    if image.ndim == 2:
        image = image[..., None]
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image[None]
