"""Blur, sharpen, resize and masked blending against OpenCV and numpy.

Tolerance: one 8-bit level against the float64 definition (the same taps) and against OpenCV
on the fixed cases here; two levels against OpenCV on arbitrary shapes and sigmas, because its
8-bit Gaussian sums fixed-point weights while the extension sums float32 ones.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imggen_rt import ImggenError
from imggen_rt.post import Blur, PostChain, Resize, Sharpen
from imggen_rt.post.filters import gaussian_kernel_size, gaussian_taps, resize_taps
from imggen_rt.postprocess import _postproc

RNG = np.random.default_rng(3)


def noise(n: int = 2, h: int = 37, w: int = 53, c: int = 3) -> Any:
    return RNG.integers(0, 256, (n, h, w, c), dtype=np.uint8)


def smooth(n: int = 2, h: int = 37, w: int = 53) -> Any:
    return np.stack([cv2.GaussianBlur(f, (0, 0), 3) for f in noise(n, h, w)])


def within_one(got: Any, expected: Any, levels: int = 1) -> None:
    assert got.shape == expected.shape
    assert np.abs(got.astype(np.int16) - expected.astype(np.int16)).max() <= levels


def opencv_blur(frames: Any, sigma: float) -> Any:
    k = gaussian_kernel_size(sigma)
    return np.stack([cv2.GaussianBlur(f, (k, k), sigma).reshape(f.shape) for f in frames])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3, 5.0])
@pytest.mark.parametrize("make", [noise, smooth], ids=["noise", "smooth"])
def test_blur_matches_opencv(sigma: float, make: Any) -> None:
    frames = make()
    within_one(PostChain([Blur(sigma)]).apply(frames), opencv_blur(frames, sigma))


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    c=st.sampled_from([1, 3]),
    sigma=st.floats(0.3, 6),
)
def test_blur_any_shape(h: int, w: int, c: int, sigma: float) -> None:
    frames = np.random.default_rng(h * w).integers(0, 256, (1, h, w, c), dtype=np.uint8)
    got = PostChain([Blur(sigma)]).apply(frames, "gray" if c == 1 else "rgb")
    # The definition in float64: the same taps (tiny images reflect many times over).
    ix, wx = gaussian_taps(w, sigma)
    iy, wy = gaussian_taps(h, sigma)
    rows = np.einsum("xk,nhxkc->nhxc", wx, frames[:, :, ix].astype(np.float64))
    exact = np.einsum("yk,nykxc->nyxc", wy, rows[:, iy])
    within_one(got, np.floor(exact + 0.5).astype(np.uint8))
    if min(h, w) >= gaussian_kernel_size(sigma):  # OpenCV agrees once the kernel fits
        within_one(got, opencv_blur(frames, sigma), levels=2)


@pytest.mark.parametrize(
    "size, kind, flag",
    [
        ((106, 74), "bilinear", cv2.INTER_LINEAR),
        ((106, 74), "lanczos", cv2.INTER_LANCZOS4),
        ((80, 50), "bilinear", cv2.INTER_LINEAR),
        ((26, 18), "area", cv2.INTER_AREA),
        ((13, 9), "area", cv2.INTER_AREA),
    ],
)
@pytest.mark.parametrize("make", [noise, smooth], ids=["noise", "smooth"])
def test_resize_matches_opencv(size: tuple[int, int], kind: str, flag: int, make: Any) -> None:
    frames = make()
    got = PostChain([Resize(*size, kind)]).apply(frames)  # type: ignore[arg-type]
    expected = np.stack([cv2.resize(f, size, interpolation=flag) for f in frames])
    within_one(got, expected)


def test_resize_auto_picks_area_down_lanczos_up() -> None:
    frames = smooth()
    down = PostChain([Resize(26, 18)]).apply(frames)
    within_one(
        down, np.stack([cv2.resize(f, (26, 18), interpolation=cv2.INTER_AREA) for f in frames])
    )
    up = PostChain([Resize(106, 74)]).apply(frames)
    expected = np.stack(
        [cv2.resize(f, (106, 74), interpolation=cv2.INTER_LANCZOS4) for f in frames]
    )
    within_one(up, expected)


def test_lanczos_shrink_filters_what_the_small_grid_cannot_hold() -> None:
    # A one-pixel checkerboard has no frequency a half-size grid can show: it must go gray,
    # where OpenCV's LANCZOS4 (kernel not stretched) aliases.
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frames = np.repeat(board[None, :, :, None], 3, axis=3)
    out = PostChain([Resize(32, 32, "lanczos")]).apply(frames)[:, 4:-4, 4:-4]  # away from borders
    assert np.abs(out.astype(int) - 128).max() <= 2


def test_same_size_resize_is_exact() -> None:
    frames = noise()
    np.testing.assert_array_equal(PostChain([Resize(53, 37, "bilinear")]).apply(frames), frames)


def test_sharpen_matches_numpy_unsharp_mask() -> None:
    frames = smooth()
    amount, radius, threshold = 0.8, 1.5, 3.0
    blurred = opencv_blur(frames, radius).astype(np.float32)
    src = frames.astype(np.float32)
    detail = src - blurred
    expected = np.where(np.abs(detail) >= threshold, src + amount * detail, src)
    expected = np.clip(np.floor(expected + 0.5), 0, 255).astype(np.uint8)
    # One level from the blur can move the detail by one level times amount, and across the
    # threshold: compare where the blur agrees exactly.
    ours_blur = PostChain([Blur(radius)]).apply(frames).astype(np.float32)
    same = ours_blur == blurred
    got = PostChain([Sharpen(amount, radius, threshold)]).apply(frames)
    assert same.mean() > 0.9
    np.testing.assert_array_equal(got[same], expected[same])


def test_sharpen_increases_edge_contrast_and_zero_amount_is_identity() -> None:
    edge = np.zeros((1, 16, 16, 3), np.uint8)
    edge[:, :, 8:] = 200
    sharp = PostChain([Sharpen(1.0)]).apply(edge)
    assert sharp[0, 8, 7, 0] == 0 and sharp[0, 8, 8, 0] == 255  # overshoot both sides, clamped
    np.testing.assert_array_equal(PostChain([Sharpen(0.0)]).apply(edge), edge)


def test_blend_by_mask() -> None:
    a, b = noise(1, 8, 8), noise(1, 8, 8)
    mask = np.zeros((1, 8, 8), np.uint8)
    mask[:, :4] = 255
    mask[:, 4:6] = 128
    out = _postproc.blend(a, b, mask)
    np.testing.assert_array_equal(out[:, :4], a[:, :4])
    np.testing.assert_array_equal(out[:, 6:], b[:, 6:])
    mid = (b[:, 4:6] + (128 / 255) * (a[:, 4:6].astype(np.float32) - b[:, 4:6])).astype(np.float32)
    within_one(out[:, 4:6], np.floor(mid + 0.5).astype(np.uint8))


def test_tap_tables_are_normalised_and_in_range() -> None:
    for length, out_len, kind in [(37, 106, "lanczos"), (37, 80, "bilinear"), (64, 13, "area")]:
        index, weight = resize_taps(length, out_len, kind)
        assert index.min() >= 0 and index.max() < length
        np.testing.assert_allclose(weight.sum(axis=1), 1.0, atol=1e-5)
    index, weight = gaussian_taps(3, 4.0)  # radius far beyond the image: reflect repeatedly
    assert index.min() >= 0 and index.max() < 3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f, t: _postproc.separable_filter(f, t[0] + 100, t[1], t[0], t[1]), "outside 0.."),
        (lambda f, t: _postproc.separable_filter(f.astype(np.float32), *t, *t), "must be uint8"),
        (lambda f, t: _postproc.separable_filter(f, t[0], t[1][:5].copy(), *t), "must have shape"),
        (lambda f, t: _postproc.unsharp(f, f[:, :2], 1.0, 0.0), "must have the shape of src"),
        (lambda f, t: _postproc.blend(f, f, f[:, :5, :, 0].copy()), "mask must have shape"),
        (lambda f, t: _postproc.blend(f, f, f[..., 0].T), "mask must be C-contiguous"),
    ],
)
def test_bad_stencil_arguments_are_value_errors(call: Any, message: str) -> None:
    frames = noise(1, 9, 9)
    taps = gaussian_taps(9, 1.0)
    with pytest.raises(ValueError, match=message):
        call(frames, taps)


def test_bad_stencil_parameters() -> None:
    with pytest.raises(ImggenError, match="blur sigma"):
        Blur(0)
    with pytest.raises(ImggenError, match="sharpen amount"):
        Sharpen(-1)
    with pytest.raises(ImggenError, match="resize size"):
        Resize(0, 10)
    with pytest.raises(ImggenError, match="cannot be limited to a region"):
        Resize(10, 10, region="fg")
