"""The colour ops (the fused point pass) against the numpy reference, and their parameters."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imggen_rt import ImggenError
from imggen_rt.post import (
    Brightness,
    ColorMatrix,
    Contrast,
    CubeLut,
    Exposure,
    Gains,
    Gamma,
    Lut,
    PostChain,
    Saturation,
    identity_table,
    white_balance_gains,
)
from imggen_rt.post import reference as ref
from imggen_rt.postprocess import denormalize

RNG = np.random.default_rng(7)
RANDOM_TABLE = RNG.random((17, 17, 17, 3), dtype=np.float32)


def random_lut(interpolation: str, size: int = 17) -> Lut:
    table = RANDOM_TABLE if size == 17 else RNG.random((size,) * 3 + (3,), dtype=np.float32)
    return Lut(CubeLut(table), interpolation)  # type: ignore[arg-type]


ONE_OP = {
    "exposure": Exposure(0.7),
    "exposure-down": Exposure(-1.3),
    "brightness": Brightness(-0.08),
    "contrast": Contrast(1.4),
    "contrast-pivot": Contrast(0.6, pivot=0.3),
    "saturation": Saturation(1.8),
    "desaturate": Saturation(0.0),
    "gamma": Gamma(2.2),
    "gamma-down": Gamma(0.45),
    "gains": Gains(1.2, 0.9, 0.7),
    "temperature": white_balance_gains(3200, 20),
    "matrix": ColorMatrix((0.8, 0.15, 0.05, 0.1, 0.85, 0.05, 0.0, 0.2, 0.8)),
    "lut-tetra": random_lut("tetrahedral"),
    "lut-tri": random_lut("trilinear"),
}


def images(n: int = 3, c: int = 3, h: int = 24, w: int = 31) -> Any:
    # Values a little outside the range too: the clamps are part of the op.
    return (RNG.random((n, c, h, w), dtype=np.float32) * 2.3 - 1.15).astype(np.float32)


def check(got: Any, expected: Any) -> None:
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    assert got.shape == expected.shape
    assert diff.max() <= 1, f"max diff {diff.max()} at {np.argwhere(diff > 1)[:3].tolist()}"


@pytest.mark.parametrize("name", list(ONE_OP))
@pytest.mark.parametrize("order", ["rgb", "bgr", "gray"])
def test_each_op_matches_reference(name: str, order: str) -> None:
    x = images()
    op = ONE_OP[name]
    got = PostChain([op]).run(x, -1.0, 1.0, order)
    check(got, ref.quantize(ref.apply_op(ref.to_unit_rgb(x), op), order))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_fused_program_matches_reference(dtype: Any) -> None:
    x = images().astype(dtype)
    ops = [*list(ONE_OP.values())[:12], random_lut("tetrahedral", 33)]
    got = PostChain(ops).run(x, -1.0, 1.0)
    check(got, ref.quantize(ref.apply_ops(ref.to_unit_rgb(x), ops)))


def test_gray_source_and_8bit_source() -> None:
    gray = images(c=1)
    ops = [Gains(1.1, 1.0, 0.8), Saturation(1.5)]
    check(PostChain(ops).run(gray, -1, 1), ref.quantize(ref.apply_ops(ref.to_unit_rgb(gray), ops)))
    frames = RNG.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    check(PostChain(ops).apply(frames), ref.quantize(ref.apply_ops(ref.to_unit_rgb(frames), ops)))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.sampled_from([1, 3]),
    h=st.integers(1, 17),
    w=st.integers(1, 40),
    stops=st.floats(-3, 3),
    sat=st.floats(0, 3),
    con=st.floats(0, 3),
    gamma=st.floats(0.2, 4),
    low=st.floats(-2, 0.5),
    span=st.floats(0.1, 4),
    order=st.sampled_from(["rgb", "bgr", "gray"]),
)
def test_random_shapes_and_parameters(
    n: int, c: int, h: int, w: int, stops: float, sat: float, con: float, gamma: float,
    low: float, span: float, order: str,
) -> None:  # fmt: skip
    x = np.random.default_rng(n * h + w).random((n, c, h, w), dtype=np.float32) * span + low
    ops = [Exposure(stops), Saturation(sat), Contrast(con), Gamma(gamma), random_lut("trilinear")]
    got = PostChain(ops).run(x, low, low + span, order)
    check(got, ref.quantize(ref.apply_ops(ref.to_unit_rgb(x, low, low + span), ops), order))


IDENTITY = [
    Exposure(0.0),
    Brightness(0.0),
    Contrast(1.0),
    Saturation(1.0),
    Gamma(1.0),
    Gains(1, 1, 1),
    white_balance_gains(6500),
    ColorMatrix((1, 0, 0, 0, 1, 0, 0, 0, 1)),
]


@pytest.mark.parametrize("op", IDENTITY, ids=lambda op: type(op).__name__)
def test_identity_settings_leave_8bit_images_unchanged(op: Any) -> None:
    frames = np.arange(256 * 3, dtype=np.int64).reshape(1, 16, 16, 3).astype(np.uint8)
    np.testing.assert_array_equal(PostChain([op]).apply(frames), frames)


@pytest.mark.parametrize("size", [17, 33, 65])
@pytest.mark.parametrize("interpolation", ["tetrahedral", "trilinear"])
def test_identity_cube_is_the_identity(size: int, interpolation: str) -> None:
    frames = RNG.integers(0, 256, (2, 20, 20, 3), dtype=np.uint8)
    lut = Lut(CubeLut(identity_table(size)), interpolation)  # type: ignore[arg-type]
    np.testing.assert_array_equal(PostChain([lut]).apply(frames), frames)


def test_identity_chain_on_generator_output_is_denormalize_within_one_level() -> None:
    x = images()
    got = PostChain(IDENTITY).run(x, -1.0, 1.0)
    check(got, denormalize(x, -1.0, 1.0))


def test_lut_domain_maps_inputs_into_the_lattice() -> None:
    # A LUT over [0, 2] that halves: an input of 1.0 sits mid-lattice and reads 0.5 * 2 = 1.0
    # of the table's identity values scaled by the domain.
    table = identity_table(9) * 2.0
    cube = CubeLut(table, (0.0, 0.0, 0.0), (2.0, 2.0, 2.0))
    v = np.full((1, 4, 4, 3), 0.5, np.float32)
    lut = Lut(cube, "trilinear")
    np.testing.assert_allclose(ref.apply_lut(v, lut), v, atol=1e-6)
    frames = np.full((1, 4, 4, 3), 128, np.uint8)
    np.testing.assert_array_equal(PostChain([lut]).apply(frames), frames)


def test_tetrahedral_keeps_neutrals_neutral() -> None:
    # A LUT that is neutral on its diagonal but not elsewhere: gray in, gray out.
    table = identity_table(5)
    table[1, 3, 2] = (0.9, 0.1, 0.2)
    lut = Lut(CubeLut(table), "tetrahedral")
    grays = np.repeat(np.arange(256, dtype=np.uint8)[None, None, :, None], 3, axis=3)
    out = PostChain([lut]).apply(grays)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_white_balance_direction() -> None:
    warm_light = white_balance_gains(3200)  # neutralising warm light: blue up, red down
    assert warm_light.b > 1 > warm_light.r and warm_light.g == 1
    cool_light = white_balance_gains(10000)
    assert cool_light.r > 1 > cool_light.b
    assert white_balance_gains(6500, tint=100).g == pytest.approx(0.5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Exposure(float("nan")), "exposure must be a finite number"),
        (lambda: Gamma(0), "gamma must be a positive number"),
        (lambda: Gains(1, -1, 1), "gain g must be >= 0"),
        (lambda: ColorMatrix((1, 2)), "matrix needs 9 finite numbers"),
        (lambda: white_balance_gains(500), "temperature must be in 1667..25000"),
        (lambda: white_balance_gains(6500, 300), "tint must be in -100..100"),
    ],
)
def test_bad_parameters_are_one_line_errors(make: Any, message: str) -> None:
    with pytest.raises(ImggenError, match=message):
        make()


def test_program_limits_and_bad_rows_are_value_errors() -> None:
    from imggen_rt.postprocess import _postproc

    x = images(1)
    with pytest.raises(ValueError, match="at most 16 fuse"):
        PostChain([Exposure(0.1)] * 17).run(x, -1, 1)
    bad = np.zeros((1, 14), np.float32)
    bad[0, 0] = 9
    with pytest.raises(ValueError, match="unknown op kind"):
        _postproc.point(x, bad, [])
    lut_row = np.zeros((1, 14), np.float32)
    lut_row[0, 0] = 6
    with pytest.raises(ValueError, match="names LUT 0"):
        _postproc.point(x, lut_row, [])
    with pytest.raises(ValueError, match=r"program must be \(ops, 14\)"):
        _postproc.point(x, np.zeros((1, 3), np.float32), [])
