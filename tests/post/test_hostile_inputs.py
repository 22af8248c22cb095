"""Hostile input to the extension and the chain: every case a fuzz campaign found is here, with
the one-line error or the behaviour it has now.

A call that used to kill the process (SIGSEGV, SIGFPE, SIGABRT), hang or exhaust memory runs in
a subprocess (`isolated`), so a regression fails this test instead of taking pytest down; the
subprocess prints its result as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import cv2
import numpy as np
import pytest

from imggen_rt.errors import ImggenError
from imggen_rt.post import (
    ColorMatrix,
    Contrast,
    CubeLut,
    Exposure,
    Gains,
    Gamma,
    Lut,
    PostChain,
    Saturation,
    masks_for,
    otsu_mask,
    parse_post,
)
from imggen_rt.post import reference as ref
from imggen_rt.postprocess import _postproc

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

PRELUDE = """
import json, sys
import numpy as np
from numpy.lib.stride_tricks import as_strided
from imggen_rt import _postproc as P

def err(call):
    try:
        call()
    except (ValueError, MemoryError) as e:
        return type(e).__name__ + ": " + str(e)
    return "no error"

def done(value):
    print(json.dumps(value))
"""


def isolated(code: str, timeout: float = 120) -> Any:
    """Run code in a fresh interpreter; fail on any death or hang; return its JSON result."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the call hung (no result in {timeout:g} s)")
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_line(message: str, *expected: str) -> None:
    assert "\n" not in message and len(message) < 300, message
    for text in expected:
        assert text in message, message


# --- separable filter -----------------------------------------------------------------------------


def test_blur_of_a_zero_width_frame_is_empty_not_a_heap_overflow() -> None:
    # A tap table of 0 rows was read at row 0 (heap-buffer-overflow under ASan).
    shape = isolated(
        """
        from imggen_rt.post import parse_post
        out = parse_post("blur=1").apply(np.zeros((1, 4, 0, 3), np.uint8))
        direct = P.separable_filter(np.zeros((1, 4, 0, 3), np.uint8),
            np.zeros((0, 7), np.int32), np.zeros((0, 7), np.float32),
            np.zeros((4, 1), np.int32), np.ones((4, 1), np.float32))
        done([list(out.shape), list(direct.shape)])
        """
    )
    assert shape == [[1, 4, 0, 3], [1, 4, 0, 3]]


def test_scratch_or_out_over_the_tap_tables_is_refused() -> None:
    # tmp over index_y rewrote the indices after their check: SIGSEGV.
    messages = isolated(
        """
        src = np.full((1, 4, 4, 3), 7, np.uint8)
        ix = np.arange(4, dtype=np.int32)[:, None].copy(); wx = np.ones((4, 1), np.float32)
        buf = np.zeros(48, np.float32)
        iy = buf[:4].view(np.int32).reshape(4, 1); iy[:, 0] = np.arange(4)
        both = np.zeros(16, np.int32)  # index_x and out in one buffer
        ix2 = both[:4].reshape(4, 1); ix2[:, 0] = np.arange(4)
        out = both.view(np.uint8)[:48].reshape(1, 4, 4, 3)
        done([
            err(lambda: P.separable_filter(src, ix, wx, iy, wx, buf.reshape(1, 4, 4, 3))),
            err(lambda: P.separable_filter(src, ix2, wx, ix, wx, None, out)),
            err(lambda: P.separable_filter(src, ix, wx, ix, wx, None, src)),
        ])
        """
    )
    one_line(messages[0], "tmp must not share memory with index_y")
    one_line(messages[1], "out must not share memory with index_x")
    one_line(messages[2], "out must not share memory with src")


def test_rows_wider_than_2_to_the_29_use_64_bit_indices() -> None:
    # index * channels overflowed int32 past 2^29 pixels of 4 channels: wrong pixels (or a
    # crash). np.zeros maps the 2 GiB lazily; only the pixels read are ever touched.
    got = isolated(
        """
        x = 2**29 + 5
        src = np.zeros((1, 1, x + 3, 4), np.uint8)
        src[0, 0, x] = (10, 20, 30, 40)
        src[0, 0, x + 1] = (50, 60, 70, 80)
        one = np.ones((1, 1), np.float32)
        iy = np.zeros((1, 1), np.int32)
        interior = P.separable_filter(src, np.array([[x]], np.int32), one, iy, one)
        general = P.separable_filter(src, np.array([[x], [x + 1]], np.int32),
                                     np.array([[1.0], [0.5]], np.float32), iy, one)
        done([interior.tolist(), general.tolist()])
        """
    )
    assert got[0] == [[[[10, 20, 30, 40]]]]
    assert got[1] == [[[[10, 20, 30, 40], [25, 30, 35, 40]]]]


# --- blend, otsu, point: channel counts, casts ----------------------------------------------------


def test_blend_channel_counts_are_checked_not_divided_by() -> None:
    # C = 0 or C > 32768 made the span 0: SIGFPE.
    messages = isolated(
        """
        z = lambda *s: np.zeros(s, np.uint8)
        done([
            err(lambda: P.blend(z(1, 2, 2, 0), z(1, 2, 2, 0), z(1, 2, 2))),
            err(lambda: P.blend(z(1, 1, 1, 40000), z(1, 1, 1, 40000), z(1, 1, 1))),
        ])
        """
    )
    for message in messages:
        one_line(message, "ValueError", "inside must be (N, H, W, C) uint8 with C in 1..4")


def test_otsu_checks_channels_and_empty_masks_skip_opencv() -> None:
    for c in (0, 2, 5):
        with pytest.raises(ValueError) as info:
            _postproc.otsu_masks(np.zeros((1, 2, 2, c), np.uint8))
        one_line(str(info.value), "C in (1, 3, 4)")
    # mask=otsu on 0-width frames reached cv2.connectedComponentsWithStats (an OpenCV assert).
    frames = np.zeros((1, 4, 0, 3), np.uint8)
    assert parse_post("mask=otsu,alpha").apply(frames).shape == (1, 4, 0, 4)
    assert parse_post("mask=kmeans,saturation=0@fg").apply(frames).shape == (1, 4, 0, 3)
    assert otsu_mask(np.zeros((4, 0, 3), np.uint8)).shape == (4, 0)
    assert masks_for(np.zeros((0, 4, 4, 3), np.uint8), "kmeans").shape == (0, 4, 4)


def test_program_columns_are_range_checked_before_any_cast() -> None:
    x = np.zeros((1, 2, 2, 3), np.uint8)
    program = np.zeros((1, 14), np.float32)
    program[0, 0] = 1e30  # the op kind, cast to int before its check
    with pytest.raises(ValueError) as info:
        _postproc.point(x, program, [])
    one_line(str(info.value), "unknown op kind 1.00000002e+30")
    program[0, 0] = 6
    program[0, 1] = 1e20  # the LUT index, cast to size_t before its check
    with pytest.raises(ValueError) as info:
        _postproc.point(x, program, [])
    one_line(str(info.value), "names LUT 1.00000002e+20 of 0")
    program[0, 1] = 0
    program[0, 5] = np.inf  # a parameter
    with pytest.raises(ValueError) as info:
        _postproc.point(x, program, [np.zeros((2, 2, 2, 4), np.float32)])
    one_line(str(info.value), "not finite")
    big = np.zeros((257, 257, 257, 4), np.float32)  # lazily mapped; only its shape is read
    program[0, 5] = 1.0
    program[0, 2:8] = (0, 0, 0, 1, 1, 1)
    with pytest.raises(ValueError) as info:
        _postproc.point(x, program, [big])
    one_line(str(info.value), "N in 2..256")


def test_unaligned_arrays_are_refused_or_copied() -> None:
    buf = np.zeros(1 * 3 * 4 * 4 * 4 + 1, np.uint8)
    unaligned = buf[1:].view(np.float32).reshape(1, 3, 4, 4)
    assert not unaligned.flags.aligned
    with pytest.raises(ValueError) as info:
        _postproc.denormalize(unaligned, -1.0, 1.0)
    one_line(str(info.value), "src is not aligned", "numpy.require")
    # The chain makes an aligned copy, so the same data gives the same frames.
    unaligned[...] = np.linspace(-1, 1, unaligned.size, dtype=np.float32).reshape(1, 3, 4, 4)
    chain = parse_post("exposure=0.5,blur=1")
    np.testing.assert_array_equal(
        chain.run(unaligned, -1.0, 1.0), chain.run(unaligned.copy(), -1.0, 1.0)
    )


def test_errors_print_readable_numbers() -> None:
    frames = np.zeros((1, 2, 2, 3), np.uint8)
    with pytest.raises(ValueError) as info:
        _postproc.unsharp(frames, frames, 1e300, 0.0)
    one_line(str(info.value), "amount must be a finite float32 value; got 1e+300")
    with pytest.raises(ValueError) as info:
        _postproc.denormalize(np.zeros((1, 1, 1, 1), np.float32), -1e300, 1.0)
    one_line(str(info.value), "low=-1e+300")
    with pytest.raises(ValueError) as info:
        _postproc.unsharp(frames, frames, "much", 0.0)
    one_line(str(info.value), "amount must be a number; got 'much'")
    with pytest.raises(ValueError) as info:
        _postproc.otsu_masks(np.zeros((1, 2, 2, 1), np.uint8), "yes")
    one_line(str(info.value), "dark must be True or False")


# --- zero-size input with huge extents, memory --------------------------------------------------


def test_zero_size_arrays_with_huge_extents_return_at_once() -> None:
    # Loops ran over the non-zero extents (2^60 rows): minutes.
    shapes = isolated(
        """
        def empty(*shape, dtype=np.uint8):
            return as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))
        huge = 2**29
        tables = (np.zeros((0, 1), np.int32), np.zeros((0, 1), np.float32),
                  np.zeros((2, 1), np.int32), np.ones((2, 1), np.float32))
        out = [
            P.point(empty(huge, huge, 0, 3), np.zeros((0, 14), np.float32), []).shape,
            P.denormalize(empty(huge, 3, huge, 0, dtype=np.float32), -1.0, 1.0).shape,
            P.otsu_masks(empty(huge, 0, huge, 3)).shape,
            P.unsharp(empty(huge, huge, 0, 3), empty(huge, huge, 0, 3), 1.0, 0.0).shape,
            P.blend(empty(huge, huge, 0, 3), empty(huge, huge, 0, 3), empty(huge, huge, 0)).shape,
            P.separable_filter(empty(1, huge, 0, 3), *tables).shape,
        ]
        done([list(s) for s in out])
        """,
        timeout=60,
    )
    huge = 2**29
    assert shapes == [
        [huge, huge, 0, 3],
        [huge, huge, 0, 3],
        [huge, 0, huge],
        [huge, huge, 0, 3],
        [huge, huge, 0, 3],
        [1, 2, 0, 3],
    ]


@pytest.mark.skipif(UNDER_ASAN, reason="ASan's shadow memory and quarantine skew RSS")
def test_a_long_row_through_point_needs_no_row_sized_buffers() -> None:
    # Each thread held 3 float rows: a 128 MiB row peaked at 3.4 GB. Now tiles of 1024 pixels.
    growth = isolated(
        """
        import resource
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        src = np.full((1, 1, 2**25, 1), 9, np.uint8)   # 32 MiB gray row
        out = np.empty((1, 1, 2**25, 3), np.uint8)     # 96 MiB, allocated before the mark
        out[...] = 0
        before = peak()
        P.point(src, np.zeros((0, 14), np.float32), [], "rgb", out=out)
        grown = peak() - before
        assert out[0, 0, ::4096].min() == 9 and out[0, 0, -1].min() == 9
        done(grown)
        """
    )
    assert growth < 32 * 2**20, f"point grew the peak RSS by {growth / 2**20:.0f} MiB"


@pytest.mark.skipif(UNDER_ASAN, reason="ASan reserves terabytes of address space")
def test_an_allocation_that_fails_is_a_memory_error_not_a_terminate() -> None:
    # std::bad_alloc inside an OpenMP region called std::terminate. Allocation now happens before
    # the region, in the calling thread, where nanobind turns it into MemoryError.
    message = isolated(
        """
        import resource
        taps = 2**24  # one contiguous row of 2^24 taps: the interior span is 256 MiB a thread
        src = np.zeros((1, 1, taps, 4), np.uint8)
        ix = np.arange(taps, dtype=np.int32)[None]
        wx = np.full((1, taps), 1.0 / taps, np.float32)
        one, iy = np.ones((1, 1), np.float32), np.zeros((1, 1), np.int32)
        vm = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2**27, resource.RLIM_INFINITY))
        done(err(lambda: P.separable_filter(src, ix, wx, iy, one)))
        """
    )
    one_line(message, "MemoryError")


# --- the chain: parameters where parsed, empty frames, limits -----------------------------------


@pytest.mark.parametrize(
    "spec, message",
    [
        ("saturation=1e300", "saturation must be a finite number (in float32); got 1e+300"),
        ("contrast=1:1e39", "contrast pivot must be a finite number (in float32)"),
        ("exposure=1e300", "exposure must be a finite number (in float32)"),
        ("exposure=200", "exposure must be in -126..127 stops"),
        ("gamma=1e-40", "gamma must be between 2.94e-39 and 3.4e+38"),
        ("wb=1:1e39:1", "white-balance gain g must be a finite number"),
        ("resize=infx10", "resize width must be a whole number; got 'inf'"),
        ("resize=nanx10", "resize width must be a whole number"),
        ("mask=kmeans:inf", "kmeans k must be a whole number"),
        ("sharpen=1:nan", "sharpen radius must be in (0, 64]"),
        ("lut=a\nb", "is not a file name"),
        ("expo\nsure=1", "unknown post-process op 'expo\\nsure'"),
        (",".join(["exposure=0.1"] * 17), "at most 16 fuse into one pass"),
    ],
)
def test_chain_parameters_are_checked_where_parsed(spec: str, message: str) -> None:
    with pytest.raises(ImggenError) as info:
        parse_post(spec)
    one_line(str(info.value), message)


def test_parameters_are_checked_in_float32() -> None:
    with pytest.raises(ImggenError, match="saturation must be a finite number"):
        Saturation(1e300)  # finite in float64, inf in float32
    with pytest.raises(ImggenError, match="matrix value must be a finite number"):
        ColorMatrix((1e39, 0, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(ImggenError, match="LUT domain must have DOMAIN_MIN < DOMAIN_MAX"):
        Lut(CubeLut(np.zeros((2, 2, 2, 3), np.float32), (0, 0, 0), (1e-45, 1, 1)))
    with pytest.raises(ImggenError, match="values must be finite"):
        Lut(CubeLut(np.full((2, 2, 2, 3), np.nan, np.float32)))
    with pytest.raises(ImggenError, match="exposure must be a number"):
        Exposure("bright")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec, shape, order, expected",
    [
        ("blur=1", (0, 5, 5, 3), "rgb", (0, 5, 5, 3)),
        ("resize=8x6", (0, 5, 5, 3), "rgb", (0, 6, 8, 3)),
        ("exposure=1,sharpen=1,mask=otsu,alpha", (2, 0, 5, 3), "rgb", (2, 0, 5, 4)),
        ("lut=teal-orange,blur=2", (1, 5, 0, 1), "gray", (1, 5, 0, 1)),
        ("", (3, 0, 0, 4), "bgr", (3, 0, 0, 4)),
        ("mask=otsu-dark,saturation=2@bg", (0, 0, 0, 3), "gray", (0, 0, 0, 1)),
    ],
)
def test_empty_frames_give_empty_output_of_the_right_shape(
    spec: str, shape: tuple[int, ...], order: str, expected: tuple[int, ...]
) -> None:
    out = parse_post(spec).apply(np.zeros(shape, np.uint8), order)
    assert out.shape == expected and out.dtype == np.uint8
    channels = 4 if shape[3] == 4 else 3  # RGBA frames, or an RGBA model's output
    images = np.zeros((shape[0], channels, shape[1], shape[2]), np.float32)
    assert parse_post(spec).run(images, -1.0, 1.0, order).shape == expected


def test_resize_of_frames_without_pixels_is_one_error() -> None:
    with pytest.raises(ImggenError) as info:
        parse_post("resize=8x8").apply(np.zeros((2, 0, 5, 3), np.uint8))
    one_line(str(info.value), "frames of 5x0 pixels have nothing to resample")


# --- the claims: Otsu is OpenCV's, the reference is the extension's ------------------------------


def test_otsu_luma_is_opencvs_15_bit_fixed_point() -> None:
    # The luma was the 14-bit formula (4899, 9617, 1868): one level off cvtColor on 0.26% of
    # colours. Each frame here holds a colour and a gray pixel of OpenCV's luma of it: with the
    # same luma they are one level (equal masks), one level apart they would split.
    rng = np.random.default_rng(0)
    c = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], -1).astype(np.int64)
    old = (rgb @ np.array([4899, 9617, 1868]) + 8192) >> 14
    new = (rgb @ np.array([9798, 19235, 3735]) + 16384) >> 15
    pick = np.concatenate([np.flatnonzero(old != new), rng.integers(0, 1 << 24, 20_000)])
    colours = rgb[pick].astype(np.uint8)
    gray = cv2.cvtColor(colours[None], cv2.COLOR_RGB2GRAY)[0]
    assert np.array_equal(gray, new[pick])  # OpenCV's formula, checked where they differ
    frames = np.stack([colours, np.repeat(gray[:, None], 3, axis=1)], axis=1)[:, None]
    masks = _postproc.otsu_masks(np.ascontiguousarray(frames))
    assert np.array_equal(masks[:, 0, 0], masks[:, 0, 1])


def test_otsu_ties_go_to_the_first_maximum_as_in_opencvs_own_code() -> None:
    gray = np.repeat(np.array([121, 141, 161], np.uint8), 10)[None]
    mask = _postproc.otsu_masks(gray[None, ..., None])[0]
    assert (mask == 255).sum() == 20  # threshold 121
    use_ipp = cv2.ipp.useIPP()
    try:
        cv2.ipp.setUseIPP(False)  # OpenCV's C++ Otsu (IPP builds break this exact tie at 141)
        threshold, cv_mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    finally:
        cv2.ipp.setUseIPP(use_ipp)
    assert threshold == 121
    np.testing.assert_array_equal(mask, cv_mask)


EXTREME_OPS = [
    Exposure(127),
    Exposure(-126),
    Contrast(1e30, 0.5),
    Contrast(-3e38, 1e-30),
    Saturation(3e38),
    Saturation(-1e-38),
    Gains(3e38, 0.0, 1e-45),
    ColorMatrix((3e38, -3e38, 1, 0, 1e-40, 0, -1, 1e20, 1)),
    Gamma(3e-38),
    Gamma(3e38),
    Gamma(0.01),
]


@pytest.mark.parametrize("op", EXTREME_OPS, ids=repr)
@pytest.mark.parametrize("order", ["rgb", "gray"])
def test_point_equals_the_reference_at_extreme_parameters(op: Any, order: str) -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    images = rng.uniform(-1.5, 1.5, (2, 3, 5, 7)).astype(np.float32)
    images.reshape(-1)[:4] = (np.nan, np.inf, -np.inf, 3e38)
    for ops in ([op], [Saturation(2.0), op, Contrast(1.5)]):
        step = PostChain(ops)._steps[0]
        for src in (frames, images):
            got = _postproc.point(src, step.program, step.luts, order)  # type: ignore[union-attr]
            with np.errstate(all="ignore"):
                want = ref.quantize(ref.apply_ops(ref.to_unit_rgb(src), ops), order)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("interpolation", ["tetrahedral", "trilinear"])
@pytest.mark.parametrize(
    "domain", [((0, 0, 0), (1, 1, 1)), ((-1e-30, 0, 0), (1e-30, 1, 1)), ((-3e38,) * 3, (3e38,) * 3)]
)
def test_lut_reference_handles_nan_and_extreme_domains_like_the_extension(
    interpolation: str, domain: Any
) -> None:
    rng = np.random.default_rng(2)
    lut = Lut(CubeLut(rng.random((5, 5, 5, 3), dtype=np.float32), *domain), interpolation)  # type: ignore[arg-type]
    v = rng.uniform(-0.5, 1.5, (4, 6, 3)).astype(np.float32)
    v[0, :4] = [[np.nan, 0.5, 0.5], [np.inf, -np.inf, np.nan], [3e38, -3e38, 0], [1e-30, 0, 1]]
    with np.errstate(all="ignore"):
        want = ref.quantize(ref.apply_lut(v, lut))  # raised on NaN before
    images = np.ascontiguousarray(np.moveaxis(v, -1, 0)[None])  # (1, 3, 4, 6) in [0, 1]
    got = _postproc.point(images, lut.row(0)[None], [lut.table()], "rgb", 0.0, 1.0)
    np.testing.assert_array_equal(got[0], want)
