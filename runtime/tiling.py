"""Running an image-to-image model on frames larger than it (or its engine) takes: tiles.

The frame is padded by reflection to the model's spatial multiple, cut into full-size tiles
(tiles at the right and bottom edges shifted inward rather than padded, so a static-shape engine
always gets its one shape), the tiles run a batch at a time, and each tile's output is kept
where it is at least `overlap` pixels from the tile's inner edges: with the overlap covering the
model's receptive field, every output pixel is computed from the same inputs as in a
whole-frame run, so a convolutional model's tiled output equals its whole-frame output bit for
bit. `feather` blends the overlaps linearly instead (smoother where a model is not purely
local, within a stated bound otherwise). Memory is one tile batch plus the output frame,
whatever the frame size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import ImggenError

# (N, C, t, t) float32 -> (N, C', t * scale, t * scale) float32
TileModel = Callable[[np.ndarray], np.ndarray]
BLENDS = ("crop", "feather")


@dataclass(frozen=True)
class TileSpec:
    tile: int  # input side of a (square) tile, in pixels
    overlap: int  # context each tile carries past what it keeps, on each inner side
    scale: int = 1  # output pixels per input pixel
    multiple: int = 1  # the model's input sides must be multiples of this
    blend: str = "crop"
    batch: int = 4  # tiles per model call
    # A static-shape graph or engine takes `tile` only: a smaller frame is padded up to it.
    # Otherwise a side shorter than a tile runs as one tile of its own (rounded) length.
    static: bool = False

    def __post_init__(self) -> None:
        if self.scale < 1 or self.multiple < 1 or self.batch < 1:
            raise ImggenError("scale, multiple and batch must be >= 1")
        if self.overlap < 0:
            raise ImggenError(f"--overlap must be >= 0, got {self.overlap}")
        if self.tile % self.multiple:
            raise ImggenError(f"--tile {self.tile} is not a multiple of {self.multiple}")
        if self.tile <= 2 * self.overlap:
            raise ImggenError(
                f"--tile {self.tile} must be larger than twice the overlap ({self.overlap}): "
                "a tile would keep nothing"
            )
        if self.blend not in BLENDS:
            raise ImggenError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")


def padded_size(size: int, spec: TileSpec) -> int:
    """A side padded up to the model's multiple (and, for a static graph, to one tile)."""
    rounded = -(-size // spec.multiple) * spec.multiple
    return max(rounded, spec.tile) if spec.static else rounded


def tile_side(length: int, spec: TileSpec) -> int:
    """The tile's extent along a padded side. A static graph takes `tile`. Otherwise the side
    is covered by as few tiles as `tile` allows, each shrunk to the smallest size (on the
    multiple) that still covers it: a 540-row frame in 256-row tiles with a 16-row overlap
    runs three 202-row tiles (606 rows of work) rather than three of 256 with the last pushed
    back over the middle one (768)."""
    if spec.static or length <= spec.tile:
        return min(spec.tile, length)
    inner = length - 2 * spec.overlap
    count = -(-inner // (spec.tile - 2 * spec.overlap))
    side = -(-inner // count) + 2 * spec.overlap
    return min(spec.tile, -(-side // spec.multiple) * spec.multiple)


def pad_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """(C, H, W) reflect-padded at the bottom and right to (C, height, width) (numpy reflects
    again past the far edge; a side of one pixel repeats it)."""
    _, h, w = frame.shape
    if (h, w) == (height, width):
        return frame
    return np.pad(frame, ((0, 0), (0, height - h), (0, width - w)), mode="reflect")


def tile_origins(length: int, side: int, spec: TileSpec) -> list[int]:
    """Tile starts along one padded side for tiles `side` long: stepping by side - 2 * overlap
    (rounded down to the multiple), the last shifted inward so it ends on the edge."""
    if length <= side:
        return [0]
    step = max(spec.multiple, (side - 2 * spec.overlap) // spec.multiple * spec.multiple)
    origins = list(range(0, length - side, step))
    origins.append(length - side)
    return origins


def kept_ranges(origins: list[int], length: int, side: int) -> list[tuple[int, int]]:
    """The part of the side each tile keeps: split at the middle of each two tiles' overlap,
    so every kept pixel is at least `overlap` from its tile's inner edges."""
    cuts = [0]
    for a, b in itertools.pairwise(origins):
        cuts.append((b + a + side) // 2)
    cuts.append(length)
    return list(itertools.pairwise(cuts))


def run_tiled(
    frame: np.ndarray,
    model: TileModel,
    spec: TileSpec,
    to_input: Callable[[np.ndarray], np.ndarray] | None = None,
    to_output: Callable[[np.ndarray], np.ndarray] | None = None,
    out_dtype: type[np.generic] | np.dtype = np.float32,
    channels_last: bool = False,
) -> np.ndarray:
    """(C, H, W) -> (C', H * scale, W * scale) through `model` in tiles ((H * scale, W *
    scale, C') with `channels_last`, as image files are laid out).

    `to_input` turns a batch of tiles of the frame's dtype into the model's float32 values and
    `to_output` the model's values into `out_dtype`, one tile at a time: an 8-bit frame never
    exists as float32 whole, so memory grows with the frame only by its own bytes (feather
    blending keeps a float32 sum of the whole output, and converts at the end)."""
    if frame.ndim != 3 or 0 in frame.shape:
        raise ImggenError(f"a frame to tile must be (C, H, W) with pixels, got {frame.shape}")
    _, h, w = frame.shape
    ph, pw = padded_size(h, spec), padded_size(w, spec)
    padded = pad_frame(frame, ph, pw)
    s, th, tw = spec.scale, tile_side(ph, spec), tile_side(pw, spec)
    ys, xs = tile_origins(ph, th, spec), tile_origins(pw, tw, spec)
    tiles = [(y, x) for y in ys for x in xs]
    out: np.ndarray | None = None
    weight = None
    if spec.blend == "feather":
        weight = np.zeros((ph * s, pw * s), np.float32)
    keep_y = dict(zip(ys, kept_ranges(ys, ph, th), strict=True))
    keep_x = dict(zip(xs, kept_ranges(xs, pw, tw), strict=True))
    for start in range(0, len(tiles), spec.batch):
        group = tiles[start : start + spec.batch]
        batch = np.stack([padded[:, y : y + th, x : x + tw] for y, x in group])
        batch = to_input(batch) if to_input else batch
        result = np.asarray(model(np.ascontiguousarray(batch, np.float32)), np.float32)
        if result.shape[0] != len(group) or result.shape[2:] != (th * s, tw * s):
            raise ImggenError(
                f"the model made {result.shape[1:]} from {batch.shape[1:]} tiles; with scale "
                f"{s} it should make (C, {th * s}, {tw * s})"
            )
        if out is None:
            if weight is not None:
                out = np.zeros((result.shape[1], ph * s, pw * s), np.float32)
            elif channels_last:
                out = np.zeros((ph * s, pw * s, result.shape[1]), out_dtype)
            else:
                out = np.zeros((result.shape[1], ph * s, pw * s), out_dtype)
        for (y, x), tile_out in zip(group, result, strict=True):
            if weight is None:
                (y0, y1), (x0, x1) = keep_y[y], keep_x[x]
                kept = tile_out[:, (y0 - y) * s : (y1 - y) * s, (x0 - x) * s : (x1 - x) * s]
                kept = to_output(kept) if to_output else kept
                if channels_last:
                    out[y0 * s : y1 * s, x0 * s : x1 * s] = kept.transpose(1, 2, 0)
                else:
                    out[:, y0 * s : y1 * s, x0 * s : x1 * s] = kept
            else:
                ramp = _feather((th, tw), spec.overlap, y, x, ph, pw)
                mask = _upscaled(ramp, s)
                out[:, y * s : (y + th) * s, x * s : (x + tw) * s] += tile_out * mask
                weight[y * s : (y + th) * s, x * s : (x + tw) * s] += mask
    assert out is not None
    if weight is not None:
        out /= weight
        if to_output:
            out = to_output(out)
        if channels_last:
            out = out.transpose(1, 2, 0)
    if channels_last:
        return out[: h * s, : w * s]
    return out[:, : h * s, : w * s]


def _feather(tile: tuple[int, int], overlap: int, y: int, x: int, ph: int, pw: int) -> np.ndarray:
    """A tile's blending weight: rising linearly over `2 * overlap` pixels from each inner edge
    (frame edges keep full weight), never zero so every pixel is covered."""

    def axis(t: int, origin: int, length: int) -> np.ndarray:
        ramp = np.ones(t, np.float32)
        width = 2 * overlap
        if not width:
            return ramp
        rise = (np.arange(width, dtype=np.float32) + 0.5) / width
        if origin > 0:
            ramp[:width] = np.minimum(ramp[:width], rise)
        if origin + t < length:
            ramp[t - width :] = np.minimum(ramp[t - width :], rise[::-1])
        return ramp

    weights: np.ndarray = axis(tile[0], y, ph)[:, None] * axis(tile[1], x, pw)[None, :]
    return weights


def _upscaled(weights: np.ndarray, s: int) -> np.ndarray:
    return np.repeat(np.repeat(weights, s, axis=0), s, axis=1) if s > 1 else weights
