"""`imggen-rt enhance`: image files through an image-to-image model, tiled.

8- and 16-bit grey, RGB and RGBA files are read; the colour goes through the model in tiles
and comes back at the model's scale in the file's own bit depth; alpha (the model sees colour
only) is resized to match with a cubic filter. Names are kept; nothing is overwritten in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from .errors import ImggenError, first_line
from .image_files import output_folder, write_image
from .image_model import ImageModel
from .tiling import TileSpec

MAX_INPUT_BYTES = 1 << 30


def read_image(path: Path) -> np.ndarray:
    """(H, W, C) uint8 or uint16, RGB(A) or grey (C = 1), as stored."""
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise ImggenError(f"{path} is over {MAX_INPUT_BYTES >> 20} MiB")
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except OSError as e:
        raise ImggenError(f"cannot read {path}: {e.strerror}") from None
    except cv2.error as e:
        raise ImggenError(f"cannot read {path} as an image: {first_line(e)}") from None
    if image is None:
        raise ImggenError(f"cannot read {path} as an image")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImggenError(f"{path} is {image.dtype}; enhance reads 8- and 16-bit images")
    if image.ndim == 2:
        return image[..., None]
    code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)


def enhance_image(image: np.ndarray, model: ImageModel, tiling: TileSpec) -> np.ndarray:
    """(H, W, C) uint8/uint16 -> (H * s, W * s, C) of the same dtype."""
    spec = model.spec
    top = float(np.iinfo(image.dtype).max)
    colour, alpha = image[..., :3] if image.shape[2] >= 3 else image, None
    if image.shape[2] == 4:
        alpha = image[..., 3]
    if colour.shape[2] != spec.channels:
        if spec.channels == 3 and colour.shape[2] == 1:
            colour = np.repeat(colour, 3, axis=2)
        else:
            raise ImggenError(
                f"the model takes {spec.channels}-channel images; this one has {colour.shape[2]}"
            )
    # Tiles are converted to the model's range on the way in and quantised on the way out:
    # the frame never exists as float32 whole (memory grows only by the file's own bytes).
    in_low, in_high = spec.input_range
    out_low, out_high = spec.output_range
    gain_in, gain_out = np.float32((in_high - in_low) / top), np.float32(top / (out_high - out_low))

    def to_input(tiles: np.ndarray) -> np.ndarray:
        scaled: np.ndarray = tiles.astype(np.float32) * gain_in + np.float32(in_low)
        return scaled

    def to_output(values: np.ndarray) -> np.ndarray:
        values = np.nan_to_num(values, nan=out_low)  # a model's NaN is black, never undefined
        levels: np.ndarray = np.clip((values - out_low) * gain_out + 0.5, 0, top)
        return levels.astype(image.dtype)

    out = model.run(
        colour.transpose(2, 0, 1), tiling, to_input, to_output, image.dtype, channels_last=True
    )
    if alpha is not None:
        size = (out.shape[1], out.shape[0])
        grown = cv2.resize(alpha, size, interpolation=cv2.INTER_CUBIC)
        out = np.concatenate([out, grown[..., None]], axis=2)
    return np.ascontiguousarray(out)


def enhance_files(
    files: Sequence[Path],
    out: Path,
    model: ImageModel,
    tiling: TileSpec,
    fmt: str | None = None,
    advance: Callable[[int], None] = lambda _: None,
) -> None:
    out_dir = output_folder(out).resolve()
    for path in files:
        target = out_dir / (path.stem + (f".{fmt}" if fmt else path.suffix))
        if target == path.resolve():
            raise ImggenError(f"{target} would overwrite its input; pick another -o")
        result = enhance_image(read_image(path), model, tiling)
        if result.shape[2] >= 3:
            code = cv2.COLOR_RGBA2BGRA if result.shape[2] == 4 else cv2.COLOR_RGB2BGR
            result = cv2.cvtColor(result, code)
        write_image(target, result)
        advance(1)
