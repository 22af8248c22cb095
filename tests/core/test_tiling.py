"""The tiler: tiled output equals whole-frame output bit for bit for a local model when the
overlap covers its receptive field; feathering within a bound; edges, sizes and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from imggen_rt.errors import ImggenError
from imggen_rt.tiling import (
    TileSpec,
    pad_frame,
    padded_size,
    run_tiled,
    tile_origins,
    tile_side,
)

RNG = np.random.default_rng(5)
KERNELS = [RNG.normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32) for _ in range(2)]
RADIUS = 2  # two 3x3 convolutions


def conv3x3(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N, C, H, W) 'same' convolution with zero padding, summed in a fixed order."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, k.shape[0], h, w), np.float32)
    for dy in range(3):
        for dx in range(3):
            out += np.einsum(
                "oc,nchw->nohw", k[:, :, dy, dx], padded[:, :, dy : dy + h, dx : dx + w]
            )
    return out


def upscaler(scale: int):  # type: ignore[no-untyped-def]
    """A local model: two convolutions, then nearest-neighbour upscaling."""

    def model(x: np.ndarray) -> np.ndarray:
        y = np.tanh(conv3x3(np.tanh(conv3x3(x, KERNELS[0])), KERNELS[1]))
        return np.repeat(np.repeat(y, scale, axis=2), scale, axis=3)

    return model


def whole(frame: np.ndarray, spec: TileSpec) -> np.ndarray:
    """The reference: the model once on the whole frame, padded as the tiler pads it."""
    _, h, w = frame.shape
    padded = pad_frame(frame, padded_size(h, spec), padded_size(w, spec))
    out = upscaler(spec.scale)(padded[None])[0]
    return out[:, : h * spec.scale, : w * spec.scale]


@pytest.mark.parametrize("h, w", [(64, 64), (67, 45), (33, 100), (1, 90), (90, 1), (7, 9)])
@pytest.mark.parametrize("scale", [1, 2])
def test_tiled_equals_whole_frame_bit_for_bit(h: int, w: int, scale: int) -> None:
    frame = RNG.uniform(-1, 1, (3, h, w)).astype(np.float32)
    spec = TileSpec(tile=16, overlap=RADIUS, scale=scale, multiple=2, batch=3)
    tiled = run_tiled(frame, upscaler(scale), spec)
    assert tiled.shape == (3, h * scale, w * scale)
    np.testing.assert_array_equal(tiled, whole(frame, spec))


@pytest.mark.parametrize("blend", ["crop", "feather"])
def test_eight_bit_frames_convert_per_tile_and_come_back_channels_last(blend: str) -> None:
    """enhance's route: uint8 in, uint8 out (H, W, C), converted tile by tile, equal to
    converting the whole frame before and after."""
    frame = RNG.integers(0, 256, (3, 37, 29), dtype=np.uint8)
    spec = TileSpec(tile=16, overlap=RADIUS, scale=2, multiple=2, batch=3, blend=blend)

    def to_input(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32) / 255

    def to_output(y: np.ndarray) -> np.ndarray:
        return np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8)

    got = run_tiled(frame, upscaler(2), spec, to_input, to_output, np.uint8, channels_last=True)
    expected = to_output(run_tiled(to_input(frame), upscaler(2), spec)).transpose(1, 2, 0)
    assert got.shape == (74, 58, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


def test_too_little_overlap_shows_seams() -> None:
    frame = RNG.uniform(-1, 1, (3, 64, 64)).astype(np.float32)
    spec = TileSpec(tile=16, overlap=0, multiple=2)
    assert not np.array_equal(run_tiled(frame, upscaler(1), spec), whole(frame, spec))


def test_feather_stays_within_its_bound() -> None:
    """Feathering blends in pixels a tile computed without all their context: near seams it
    departs from the whole-frame result, by less than cutting tiles with no overlap does."""
    frame = RNG.uniform(-1, 1, (3, 61, 77)).astype(np.float32)
    reference = whole(frame, TileSpec(tile=16, overlap=RADIUS, scale=2, multiple=2))
    feather = TileSpec(tile=16, overlap=RADIUS, scale=2, multiple=2, blend="feather")
    blended = run_tiled(frame, upscaler(2), feather)
    seams = run_tiled(frame, upscaler(2), TileSpec(tile=16, overlap=0, scale=2, multiple=2))
    assert np.isfinite(blended).all()
    error = np.abs(blended - reference)
    assert error.mean() < np.abs(seams - reference).mean() / 2
    assert error.max() <= 0.5  # stated bound for a model of outputs in [-1, 1]


def test_origins_are_full_tiles_on_the_multiple() -> None:
    spec = TileSpec(tile=16, overlap=3, multiple=4)
    origins = tile_origins(70, 16, spec)
    assert origins[0] == 0 and origins[-1] == 70 - 16
    assert all(o % 4 == 0 for o in origins[:-1])


def test_dynamic_tiles_shrink_to_cover_evenly() -> None:
    spec = TileSpec(tile=256, overlap=16)
    assert tile_side(540, spec) == 202 and tile_side(100, spec) == 100
    assert tile_side(540, TileSpec(tile=256, overlap=16, static=True)) == 256
    assert tile_side(540, TileSpec(tile=256, overlap=16, multiple=8)) == 208


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tile": 8, "overlap": 4}, "larger than twice the overlap"),
        ({"tile": 10, "overlap": 1, "multiple": 4}, "not a multiple of 4"),
        ({"tile": 8, "overlap": -1}, "--overlap must be >= 0"),
        ({"tile": 8, "overlap": 1, "blend": "soft"}, "blend must be one of"),
    ],
)
def test_bad_specs_are_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ImggenError, match=message):
        TileSpec(**kwargs)  # type: ignore[arg-type]


def test_a_model_with_another_scale_is_refused() -> None:
    frame = np.zeros((3, 20, 20), np.float32)
    with pytest.raises(ImggenError, match="with scale 2 it should make"):
        run_tiled(frame, upscaler(1), TileSpec(tile=8, overlap=1, scale=2))
