"""Fuzz the post-process extension and chain: random shapes, dtypes, strides, alignment,
NaN/Inf, extreme parameters and chain strings, each call classified.

    python tools/fuzz_postproc.py --calls 100000 --seed 1 --out fuzz_out
    python tools/fuzz_postproc.py --replay 1:4242          # re-run one case, verbosely
    python tools/fuzz_postproc.py --merge a b c --out all  # one summary of several runs

Cases come from a seeded generator (numpy's RNG keyed by (seed, case id)), so any case can be
replayed from its two numbers. They run in worker subprocesses, in batches; a worker writes the
id of the case it is on to a small shared file before each call, so the parent can tell

  crash   the worker died (a signal: SIGSEGV, SIGFPE, SIGABRT, or a sanitizer's exit) on a case
  hang    one case ran past --timeout seconds (the worker is killed), and again when rerun
          alone in a fresh process (a case that finishes then was a stall of a busy machine:
          listed under "stalls", counted by its rerun's outcome)

and restarts a worker after the case. A case that returns is classified by the worker:

  ok      it returned, and the result equals the reference where one is defined: the numpy
          reference of each op (imggen_rt.post.reference, postprocess.denormalize_reference,
          the tap sums in float32), OpenCV's own Otsu (IPP off), the chain's output shape
  clean   ValueError (ImggenError too), MemoryError, or RuntimeError about CUDA's absence,
          with a one-line message
  wrong   it returned something else
  unclear any other exception, or a message of several lines

Every crash, hang, wrong and unclear case is written to OUT/cases/<kind>_<seed>_<id>.json with
its description and the --replay command. The summary is OUT/fuzz.json and OUT/fuzz.md.

Generator, not hypothesis or atheris: the cases are structured (consistent shapes with one
thing wrong, real chains) and cheap (tens of microseconds), so two cores run about a thousand
calls a second; hypothesis's per-example machinery is far slower, and atheris (pip-installable)
would need an instrumented build to guide anything.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import selectors
import struct
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("ok", "clean", "wrong", "unclear", "crash", "hang")
F32 = np.float32
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)  # a bf16 engine's output (numpy has none of its own)
FLOATS = [np.float32, np.float16, BFLOAT16]
PROGRESS = struct.Struct("<qd")  # case id, monotonic time it started

# ---- the cases ---------------------------------------------------------------------------------

SPECIAL_FLOATS = [
    float("nan"),
    float("inf"),
    float("-inf"),
    0.0,
    -0.0,
    1e30,
    -1e30,
    1e39,
    -1e39,
    1e300,
    -1e300,
    3.4028235e38,
    3.5e38,
    1e-45,
    1e-320,
    2.0**31,
    -(2.0**63),
]
WEIRD_SCALARS: list[Any] = [None, "1.0", [1.0], 10**400, True, object(), b"1", {}]


class Case:
    """One call: what it is (for the report), the call, and the check of its result."""

    def __init__(self, target: str, desc: dict[str, Any]) -> None:
        self.target = target
        self.desc = desc
        self.call: Callable[[], Any] = lambda: None
        self.check: Callable[[Any], str | None] = lambda result: None


def arr_desc(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        flags = []
        if not a.flags.c_contiguous:
            flags.append("non-contiguous")
        if not a.flags.aligned:
            flags.append("unaligned")
        if not a.flags.writeable:
            flags.append("read-only")
        return {
            "shape": list(a.shape),
            "dtype": str(a.dtype),
            "strides": list(a.strides),
            "flags": flags,
        }
    if isinstance(a, FakeDevice):
        return {"cuda_array_interface": repr(a.__cuda_array_interface__)[:300]}
    if isinstance(a, list | tuple) and len(a) <= 8:
        return [arr_desc(x) for x in a]
    text = repr(a)
    return text if len(text) <= 120 else text[:117] + "..."


class FakeDevice:
    """Device memory described through __cuda_array_interface__, owning none."""

    def __init__(self, cai: Any) -> None:
        self.__cuda_array_interface__ = cai


class Gen:
    """Random arguments, from one RNG per case."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, items: Any) -> Any:
        return items[int(self.rng.integers(len(items)))]

    # -- scalars --
    def number(self, lo: float, hi: float, weird: float = 0.02) -> Any:
        r = self.rng.random()
        if r < 0.72:
            v: Any = float(self.rng.uniform(lo, hi))
        elif r < 0.84:
            v = self.pick(SPECIAL_FLOATS)
        elif r < 0.94:
            v = float(10.0 ** self.rng.uniform(-40, 40)) * (1 if self.chance(0.5) else -1)
        else:
            v = float(self.rng.uniform(lo, hi))
            v = self.pick([np.float32, np.float64, np.float16])(v) if self.chance(0.8) else int(v)
        if self.chance(weird):
            v = self.pick(WEIRD_SCALARS)
        return v

    # -- shapes --
    def frame_dims(self) -> tuple[int, int, int]:
        """(N, H, W): mostly tiny, sometimes empty, empty with huge extents, or large."""
        r = self.rng.random()
        n, h, w = (int(x) for x in self.rng.integers(1, (3, 11, 11), endpoint=True))
        if r < 0.08:
            dims = [n, h, w]
            dims[int(self.rng.integers(3))] = 0
            n, h, w = dims
        elif r < 0.11:  # zero-size with huge extents (views of no memory)
            dims = [int(2 ** self.rng.integers(8, 29)) for _ in range(3)]
            dims[int(self.rng.integers(3))] = 0
            n, h, w = dims
        elif r < 0.13:  # real work for the parallel paths
            n, h, w = 1, int(self.rng.integers(64, 400)), int(self.rng.integers(64, 400))
        return n, h, w

    # -- arrays --
    def values(self, shape: tuple[int, ...], dtype: Any, lo: float = -1.2, hi: float = 1.2) -> Any:
        nonzero = [int(s) for s in shape if s]
        size = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if (size == 0 and max(shape, default=0) > 4096) or size > 10**7:
            # No memory behind it: zero-size with huge extents, or a zero-stride broadcast of
            # a huge shape (itself refused as non-contiguous), within what numpy can describe.
            if float(np.prod(nonzero, dtype=np.float64)) * np.dtype(dtype).itemsize >= 2.0**62:
                shape = (0,)
            return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))
        dt = np.dtype(dtype)
        if dt == np.uint8:
            if self.chance(0.3):  # few levels: Otsu ties, flat frames
                levels = self.rng.integers(0, 256, int(self.rng.integers(1, 4)))
                return levels[self.rng.integers(0, len(levels), shape)].astype(np.uint8)
            return self.rng.integers(0, 256, shape, dtype=np.uint8)
        if dt.kind == "f" or dt == BFLOAT16:
            x = self.rng.uniform(lo, hi, shape)
            if size and self.chance(0.3):
                flat = x.reshape(-1)
                k = int(self.rng.integers(1, min(size, 8) + 1))
                flat[self.rng.integers(0, size, k)] = [self.pick(SPECIAL_FLOATS) for _ in range(k)]
            with np.errstate(over="ignore", invalid="ignore"):
                return x.astype(dt)
        if dt.kind in "iu":
            return self.rng.integers(0, 100, shape).astype(dt)
        if dt.kind == "b":
            return self.rng.integers(0, 2, shape).astype(bool)
        if dt.kind == "c":
            return self.rng.random(shape).astype(dt)
        return np.full(shape, None, dtype=object)

    def layout(self, a: Any, p_bad: float) -> Any:
        """The array as is, or (with probability p_bad) in a layout the extension must refuse
        or handle: unaligned, transposed, strided, read-only, broadcast, Fortran order."""
        if not isinstance(a, np.ndarray) or a.dtype == object or a.ndim == 0 or a.size > 10**6:
            return a
        if not self.chance(p_bad):
            return a
        kind = self.pick(["unaligned", "transposed", "strided", "readonly", "broadcast", "fortran"])
        if kind == "unaligned" and a.itemsize > 1 and a.size:
            buf = np.empty(a.nbytes + a.itemsize, np.uint8)
            out = buf[1 : 1 + a.nbytes].view(a.dtype).reshape(a.shape)
            out[...] = a
            return out
        if kind == "transposed" and a.ndim >= 2:
            return np.swapaxes(a, -1, -2)
        if kind == "strided":
            big = np.repeat(a, 2, axis=-1)
            return big[..., ::2]
        if kind == "readonly":
            b = a.copy()
            b.flags.writeable = False
            return b
        if kind == "broadcast" and a.shape[0] > 0:
            return np.broadcast_to(a[:1], a.shape)
        if kind == "fortran":
            return np.asfortranarray(a)
        return a

    def bad_dtype(self) -> Any:
        return self.pick(
            [np.float64, np.int32, np.int8, np.bool_, np.uint16, np.complex64, np.float16, object]
        )


def ref_round_u8(v: Any) -> Any:
    """round_u8 of imggen/pixel.h: v + 0.5, clamped to 0..255 (NaN -> 0), truncated."""
    with np.errstate(invalid="ignore", over="ignore"):
        y = v * F32(1)
        y = y + F32(0.5)
    y = np.where(y > 0, y, F32(0))
    return np.minimum(y, F32(255)).astype(np.uint8)


def same(got: Any, want: Any) -> str | None:
    if not isinstance(got, np.ndarray):
        return f"returned {type(got).__name__}, expected an array"
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"returned {got.dtype}{got.shape}, expected {want.dtype}{want.shape}"
    diff = np.argwhere(got != want)
    if len(diff):
        at = tuple(int(i) for i in diff[0])
        return (
            f"{len(diff)} values differ from the reference, first at {at}: {got[at]} vs {want[at]}"
        )
    return None


def maybe_alias(g: Gen, out: Any, others: list[Any], p: float = 0.06) -> Any:
    """Sometimes replace out by a view into another argument's memory (must be refused)."""
    if not g.chance(p) or not isinstance(out, np.ndarray):
        return out
    donors = [a for a in others if isinstance(a, np.ndarray) and a.nbytes > 0 and a.dtype != object]
    if not donors or out.nbytes == 0:
        return out
    donor = g.pick(donors)
    base = donor.view(np.uint8).reshape(-1) if donor.flags.c_contiguous else None
    if base is None or base.size < out.nbytes:
        return out
    return base[: out.nbytes].view(out.dtype).reshape(out.shape)


# Each maker fills a Case from the RNG. `P` is imported lazily (worker only).
P: Any = None
REF: Any = None
POST: Any = None
CV2: Any = None


def make_denormalize(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    c = g.pick([1, 3, 4]) if g.chance(0.93) else int(g.rng.integers(0, 6))
    dtype = g.pick(FLOATS) if g.chance(0.92) else g.bad_dtype()
    shape: tuple[int, ...] = (n, c, h, w)
    if g.chance(0.03):
        shape = shape[: int(g.rng.integers(0, 4))] if g.chance(0.5) else (*shape, 1)
    low, high = (-1.0, 1.0) if g.chance(0.6) else (g.number(-2, 1), g.number(0, 300))
    src = g.layout(g.values(shape, dtype), 0.08)
    order = g.pick(["rgb", "bgr", "gray"]) if g.chance(0.95) else g.pick(["RGB", None, 3, ""])
    out = None
    if g.chance(0.25) and len(shape) == 4:
        cout = 1 if order == "gray" else (4 if c == 4 else 3)
        out = g.layout(np.zeros((shape[0], shape[2], shape[3], cout), np.uint8), 0.1)
        out = maybe_alias(g, out, [src], 0.15)
    case.desc.update(src=arr_desc(src), low=repr(low), high=repr(high), order=repr(order))
    case.desc["out"] = arr_desc(out)
    case.call = lambda: P.denormalize(src, low, high, order, out)

    def check(result: Any) -> str | None:
        if not isinstance(src, np.ndarray) or src.size > 200_000 or src.size == 0:
            return None
        want = POST.denormalize_reference(src, float(low), float(high), str(order))
        return same(result, want)

    case.check = check


def op_maker(name: str, *args: Any) -> Callable[[], Any]:
    """An op of imggen_rt.post.ops made when called (its constructor is part of the call)."""
    return lambda: getattr(REF_OPS, name)(*args)


def random_point_ops(g: Gen) -> list[Any]:
    ops: list[Any] = []
    for _ in range(int(g.rng.integers(0, 6))):
        kind = g.pick(["exposure", "gains", "add", "contrast", "sat", "gamma", "matrix", "lut"])
        if kind == "exposure":
            ops.append(op_maker("Exposure", g.number(-3, 3)))
        elif kind == "gains":
            ops.append(op_maker("Gains", *(g.number(0, 2) for _ in range(3))))
        elif kind == "add":
            ops.append(op_maker("Brightness", g.number(-0.5, 0.5)))
        elif kind == "contrast":
            ops.append(op_maker("Contrast", g.number(0, 3), g.number(0, 1)))
        elif kind == "sat":
            ops.append(op_maker("Saturation", g.number(0, 3)))
        elif kind == "gamma":
            ops.append(op_maker("Gamma", g.number(0.2, 4)))
        elif kind == "matrix":
            ops.append(op_maker("ColorMatrix", tuple(g.number(-1.5, 1.5) for _ in range(9))))
        else:
            size = g.pick([2, 3, 5, 9])
            table = g.rng.uniform(-0.2, 1.2, (size, size, size, 3)).astype(np.float32)
            if g.chance(0.05):
                table.reshape(-1)[int(g.rng.integers(table.size))] = g.pick(SPECIAL_FLOATS)
            lo = tuple(float(g.number(-0.5, 0.3, 0)) for _ in range(3))
            hi = tuple(float(x) + float(g.number(0.001, 2, 0)) for x in lo)
            interp = g.pick(["tetrahedral", "trilinear"])

            def make_lut(t: Any = table, lo: Any = lo, hi: Any = hi, i: Any = interp) -> Any:
                with np.errstate(all="ignore"):
                    cube = REF_CUBE.CubeLut(t, lo, hi)
                return REF_OPS.Lut(cube, i)

            ops.append(make_lut)
    return ops


def make_point(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    float_src = g.chance(0.45)
    if float_src:
        c = g.pick([1, 3]) if g.chance(0.95) else int(g.rng.integers(0, 6))
        shape: tuple[int, ...] = (n, c, h, w)
        dtype = g.pick(FLOATS) if g.chance(0.95) else g.bad_dtype()
    else:
        c = g.pick([1, 3, 4]) if g.chance(0.95) else int(g.rng.integers(0, 7))
        shape = (n, h, w, c)
        dtype = np.uint8 if g.chance(0.95) else g.bad_dtype()
    low, high = (-1.0, 1.0) if g.chance(0.6) else (g.number(-2, 0.5), g.number(0.5, 300))
    src = g.layout(g.values(shape, dtype), 0.06)
    order = g.pick(["rgb", "bgr", "gray"]) if g.chance(0.97) else g.pick(["RGB", None, 1])
    makers = random_point_ops(g)
    raw = g.chance(0.12)  # a hand-made program: garbage rows, wrong shapes or dtypes
    program_arr: Any = None
    luts_arg: Any = []
    if raw:
        rows = int(g.rng.integers(0, 20))
        cols = 14 if g.chance(0.85) else int(g.rng.integers(0, 20))
        program_arr = g.rng.uniform(-2, 8, (rows, cols)).astype(np.float32)
        if rows and cols > 1:
            program_arr[:, 0] = np.floor(program_arr[:, 0])
            if g.chance(0.3):
                program_arr.reshape(-1)[int(g.rng.integers(rows * cols))] = g.pick(SPECIAL_FLOATS)
            if g.chance(0.3):
                program_arr[:, 1] = g.pick([0.0, 1.0, 0.5, -1.0, 1e20, float("nan")])
        program_arr = g.layout(program_arr, 0.1)
        if g.chance(0.1):
            program_arr = program_arr.astype(g.bad_dtype())
        size = g.pick([2, 3, 1, 0, 17])
        luts_arg = [
            g.layout(g.rng.random((size, size, size, g.pick([4, 4, 3]))).astype(np.float32), 0.1)
            for _ in range(int(g.rng.integers(0, 3)))
        ]
        if g.chance(0.05):
            luts_arg = g.pick([None, "luts", 3, np.zeros(3, np.float32)])
    out: Any = None
    cout = 1 if order == "gray" else 3
    if g.chance(0.25) and len(shape) == 4:
        oshape = (shape[0], shape[2], shape[3], cout) if float_src else (*shape[:3], cout)
        out = g.layout(np.zeros(oshape, np.uint8), 0.1)
        luts_list = luts_arg if isinstance(luts_arg, list) else []
        out = maybe_alias(g, out, [src, program_arr, *luts_list], 0.2)
    case.desc.update(
        src=arr_desc(src),
        low=repr(low),
        high=repr(high),
        order=repr(order),
        ops=len(makers),
        raw_program=arr_desc(program_arr) if raw else None,
        luts=arr_desc(luts_arg) if raw else None,
        out=arr_desc(out),
    )
    built: dict[str, Any] = {}

    def call() -> Any:
        if raw:
            return P.point(src, program_arr, luts_arg, order, low, high, out)
        ops = [m() for m in makers]  # op constructors validate their parameters
        step = POST_CHAIN._PointStep(tuple(ops), "all")
        built["ops"] = ops
        return P.point(src, step.program, step.luts, order, low, high, out)

    case.call = call

    def check(result: Any) -> str | None:
        if raw or not isinstance(src, np.ndarray) or src.size == 0:
            return None
        ops = built["ops"]
        has_gamma = any(isinstance(o, REF_OPS.Gamma) for o in ops)
        if src.size > (3000 if has_gamma else 200_000):
            return None
        # The dtype decides the layout (a float "NHWC" array is read as NCHW, as documented).
        is_float = np.asarray(src).dtype != np.uint8
        lo, hi = (float(low), float(high)) if is_float else (-1.0, 1.0)
        with np.errstate(all="ignore"):
            v = REF.to_unit_rgb(np.asarray(src), lo, hi)
            want = REF.quantize(REF.apply_ops(v, ops), str(order))
        return same(result, want)

    case.check = check


def random_taps(g: Gen, in_len: int, axis: str) -> tuple[Any, Any]:
    r = g.rng.random() if in_len <= 4096 else 1.0  # the chain's builders: real axes only
    if r < 0.35 and in_len > 0:
        taps: Any = FILTERS.gaussian_taps(in_len, float(g.pick([0.5, 1.0, 2.0, 6.0])))
        return taps
    if r < 0.6 and in_len > 0:
        out_len = int(g.rng.integers(1, 24))
        kind = g.pick(["area", "bilinear", "lanczos"])
        taps = FILTERS.resize_taps(in_len, out_len, kind)
        return taps
    rows = int(g.rng.integers(0, 14))
    k = int(g.rng.integers(1, 10)) if g.chance(0.97) else 0
    hi = max(in_len, 1)
    index = g.rng.integers(0, hi, (rows, k)).astype(np.int32)
    if g.chance(0.08) and index.size:
        index.reshape(-1)[int(g.rng.integers(index.size))] = g.pick(
            [-1, in_len, in_len + 5, 2**31 - 1, -(2**31)]
        )
    weight = g.rng.uniform(-1, 2, (rows, k)).astype(np.float32)
    if g.chance(0.1) and weight.size:
        with np.errstate(over="ignore"):
            weight.reshape(-1)[int(g.rng.integers(weight.size))] = g.pick(SPECIAL_FLOATS)
    if g.chance(0.05):
        weight = weight[: max(rows - 1, 0)]
    if g.chance(0.04):
        index = index.astype(g.pick([np.int64, np.uint32, np.float32]))
    return g.layout(index, 0.05), g.layout(weight, 0.05)


def make_separable_filter(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    if n * h * w > 0 and h * w > 20_000:
        h, w = min(h, 150), min(w, 150)
    c = int(g.rng.integers(1, 5)) if g.chance(0.93) else g.pick([0, 5, 8])
    dtype = np.uint8 if g.chance(0.96) else g.bad_dtype()
    src = g.layout(g.values((n, h, w, c), dtype), 0.05)
    ix, wx = random_taps(g, w, "x")
    iy, wy = random_taps(g, h, "y")
    tmp: Any = None
    out: Any = None
    if g.chance(0.3) and ix.ndim == 2 and iy.ndim == 2 and n * h * ix.shape[0] * c < 10**6:
        tmp = g.layout(np.zeros((n, h, ix.shape[0], c), np.float32), 0.05)
        tmp = maybe_alias(g, tmp, [src, ix, wx, iy, wy], 0.25)
        if g.chance(0.5) and n * iy.shape[0] * ix.shape[0] * c < 10**6:
            out = g.layout(np.zeros((n, iy.shape[0], ix.shape[0], c), np.uint8), 0.05)
            out = maybe_alias(g, out, [src, ix, wx, iy, wy, tmp], 0.25)
    case.desc.update(
        src=arr_desc(src),
        index_x=arr_desc(ix),
        weight_x=arr_desc(wx),
        index_y=arr_desc(iy),
        weight_y=arr_desc(wy),
        tmp=arr_desc(tmp),
        out=arr_desc(out),
    )
    case.call = lambda: P.separable_filter(src, ix, wx, iy, wy, tmp, out)

    def check(result: Any) -> str | None:
        if not isinstance(result, np.ndarray) or result.size == 0 or src.size > 100_000:
            return None
        n, h, _w, c = src.shape
        s = np.asarray(src).astype(F32)
        with np.errstate(all="ignore"):
            t = np.zeros((n, h, ix.shape[0], c), F32)
            for k in range(ix.shape[1]):
                t = t + wx[:, k][None, None, :, None] * s[:, :, ix[:, k], :]
            o = np.zeros((n, iy.shape[0], ix.shape[0], c), F32)
            for k in range(iy.shape[1]):
                o = o + wy[:, k][None, :, None, None] * t[:, iy[:, k], :, :]
        return same(result, ref_round_u8(o))

    case.check = check


def make_unsharp(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    c = int(g.rng.integers(0, 6))
    shape = (n, h, w, c)
    dtype = np.uint8 if g.chance(0.96) else g.bad_dtype()
    src = g.layout(g.values(shape, dtype), 0.05)
    blurred = src if g.chance(0.1) else g.layout(g.values(shape, np.uint8), 0.05)
    if g.chance(0.04) and n * h * (w + 1) * c < 10**6:
        blurred = g.values((n, h, w + 1, c), np.uint8)
    amount, threshold = g.number(0, 3), g.number(0, 20)
    out = g.layout(np.zeros(shape, np.uint8), 0.05) if g.chance(0.3) else None
    out = maybe_alias(g, out, [src, blurred], 0.25)
    case.desc.update(
        src=arr_desc(src),
        blurred=arr_desc(blurred),
        amount=repr(amount),
        threshold=repr(threshold),
        out=arr_desc(out),
    )
    case.call = lambda: P.unsharp(src, blurred, amount, threshold, out)

    def check(result: Any) -> str | None:
        if not isinstance(result, np.ndarray) or result.size == 0:
            return None
        s = np.asarray(src).astype(F32)
        with np.errstate(all="ignore"):
            d = s - np.asarray(blurred).astype(F32)
            keep = np.abs(d) < F32(threshold)
            sharp = ref_round_u8(s + F32(amount) * d)
        return same(result, np.where(keep, np.asarray(src), sharp).astype(np.uint8))

    case.check = check


def make_blend(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    c = int(g.rng.integers(1, 5)) if g.chance(0.9) else g.pick([0, 5, 40000])
    shape = (n, h, w, c)
    if c > 8:
        shape = (1, 1, 1, c)
    dtype = np.uint8 if g.chance(0.96) else g.bad_dtype()
    inside = g.layout(g.values(shape, dtype), 0.05)
    outside = g.layout(g.values(shape, np.uint8), 0.05)
    mask = g.layout(g.values(shape[:3], np.uint8), 0.05)
    if g.chance(0.04) and shape[0] * (shape[1] + 1) * shape[2] < 10**6:
        mask = g.values((shape[0], shape[1] + 1, shape[2]), np.uint8)
    out = g.layout(np.zeros(shape, np.uint8), 0.05) if g.chance(0.3) else None
    out = maybe_alias(g, out, [inside, outside, mask], 0.25)
    case.desc.update(
        inside=arr_desc(inside), outside=arr_desc(outside), mask=arr_desc(mask), out=arr_desc(out)
    )
    case.call = lambda: P.blend(inside, outside, mask, out)

    def check(result: Any) -> str | None:
        if not isinstance(result, np.ndarray) or result.size == 0:
            return None
        a, b = np.asarray(inside).astype(F32), np.asarray(outside).astype(F32)
        m = np.asarray(mask).astype(F32) * (F32(1) / F32(255))
        with np.errstate(all="ignore"):
            v = b + m[..., None] * (a - b)
        return same(result, ref_round_u8(v))

    case.check = check


def make_otsu(g: Gen, case: Case) -> None:
    n, h, w = g.frame_dims()
    c = g.pick([1, 3, 4]) if g.chance(0.9) else g.pick([0, 2, 5, 7])
    dtype = np.uint8 if g.chance(0.96) else g.bad_dtype()
    frames = g.layout(g.values((n, h, w, c), dtype), 0.05)
    dark: Any = g.chance(0.5)
    if g.chance(0.03):
        dark = g.pick([None, 1, "yes", np.bool_(True), 2.0])
    out = g.layout(np.zeros((n, h, w), np.uint8), 0.05) if g.chance(0.3) else None
    out = maybe_alias(g, out, [frames], 0.25)
    case.desc.update(frames=arr_desc(frames), dark=repr(dark), out=arr_desc(out))
    case.call = lambda: P.otsu_masks(frames, dark, out)

    def check(result: Any) -> str | None:
        if not isinstance(result, np.ndarray) or result.size == 0 or frames.size > 400_000:
            return None
        n, h, w, c = frames.shape
        flag = (CV2.THRESH_BINARY_INV if dark else CV2.THRESH_BINARY) | CV2.THRESH_OTSU
        want = np.zeros((n, h, w), np.uint8)
        for i in range(n):
            f = np.ascontiguousarray(np.asarray(frames)[i])
            gray = f[..., 0] if c == 1 else CV2.cvtColor(f[..., :3].copy(), CV2.COLOR_RGB2GRAY)
            want[i] = CV2.threshold(np.ascontiguousarray(gray), 0, 255, flag)[1]
        return same(result, want)

    case.check = check


def fake_device(g: Gen, shape: tuple[int, ...], typestr: str) -> Any:
    if g.chance(0.85):
        ptr = g.pick([0x10000, 0x20000, 0x40000, 0x80000])
        cai: Any = {"shape": shape, "typestr": typestr, "data": (ptr, False), "version": 3}
        if g.chance(0.1):
            cai["data"] = (ptr + 1, False)
        if g.chance(0.08):
            cai["strides"] = tuple(int(x) for x in g.rng.integers(-8, 64, len(shape)))
        if g.chance(0.05):
            cai["shape"] = tuple(-s - 1 for s in shape)
        if g.chance(0.05):
            cai["data"] = (ptr, True)
        return FakeDevice(cai)
    return g.pick(
        [
            FakeDevice({"shape": shape}),
            FakeDevice({"shape": "x", "typestr": typestr, "data": (1, False)}),
            FakeDevice({"shape": shape, "typestr": g.pick(["<f3", ">f4", "zz", "<f999"])}),
            FakeDevice(None),
            np.zeros(shape, np.uint8) if all(s < 64 for s in shape) else None,
        ]
    )


def make_cuda(g: Gen, case: Case) -> None:
    n, h, w = (int(x) for x in g.rng.integers(0, 6, 3))
    fn = g.pick(["denormalize", "point", "separable_filter", "unsharp", "blend", "otsu_masks"])
    u8 = lambda s: fake_device(g, s, "|u1")  # noqa: E731
    f4 = lambda s: fake_device(g, s, "<f4")  # noqa: E731
    prog = np.zeros((int(g.rng.integers(0, 3)), 14), np.float32)
    if fn == "denormalize":
        args: tuple[Any, ...] = (f4((n, 3, h, w)), -1.0, 1.0, "rgb", u8((n, h, w, 3)))
        call = P.denormalize_cuda
    elif fn == "point":
        args = (f4((n, 3, h, w)), prog, [], "rgb", g.number(-1, 0), 1.0, u8((n, h, w, 3)))
        call = P.point_cuda
    elif fn == "separable_filter":
        taps = (fake_device(g, (w, 3), "<i4"), f4((w, 3)), fake_device(g, (h, 3), "<i4"))
        args = (u8((n, h, w, 3)), *taps, f4((h, 3)), f4((n, h, w, 3)), u8((n, h, w, 3)))
        call = P.separable_filter_cuda
    elif fn == "unsharp":
        args = (u8((n, h, w, 3)), u8((n, h, w, 3)), g.number(0, 2), 1.0, u8((n, h, w, 3)))
        call = P.unsharp_cuda
    elif fn == "blend":
        args = (u8((n, h, w, 3)), u8((n, h, w, 3)), u8((n, h, w)), u8((n, h, w, 3)))
        call = P.blend_cuda
    else:
        args = (u8((n, h, w, 3)), False, fake_device(g, (n, 256), "<u4"), u8((n, h, w)))
        call = P.otsu_masks_cuda
    case.desc.update(function=fn + "_cuda", args=[arr_desc(a) for a in args])
    case.call = lambda: call(*args)


OP_TOKENS = [
    "exposure",
    "brightness",
    "contrast",
    "saturation",
    "gamma",
    "wb",
    "temperature",
    "matrix",
    "lut",
    "blur",
    "sharpen",
    "resize",
    "mask",
    "alpha",
]


def chain_number(g: Gen, lo: float, hi: float) -> str:
    v = g.number(lo, hi, weird=0.0)
    if g.chance(0.03):
        return g.pick(["", "x", "1e", "--1", "0x10", "nan", "inf", "1_0", " 2 "])
    return repr(float(v)) if not isinstance(v, int) else str(v)


def random_chain(g: Gen, lut_path: str) -> str:
    items = []
    for _ in range(int(g.rng.integers(0, 7))):
        op = g.pick(OP_TOKENS)
        num = lambda lo, hi: chain_number(g, lo, hi)  # noqa: E731
        if op in ("exposure", "brightness", "saturation", "gamma"):
            value = num(-2, 3)
        elif op == "contrast":
            value = num(0, 3) + (":" + num(0, 1) if g.chance(0.3) else "")
        elif op == "wb":
            value = ":".join(num(0, 2) for _ in range(3))
        elif op == "temperature":
            value = num(1500, 26000) + (":" + num(-120, 120) if g.chance(0.5) else "")
        elif op == "matrix":
            value = ":".join(num(-1, 2) for _ in range(g.pick([9, 9, 8])))
        elif op == "lut":
            value = g.pick(["teal-orange", lut_path, lut_path + ":trilinear", "/no/such.cube"])
        elif op == "blur":
            value = num(0.2, 4)
        elif op == "sharpen":
            value = ":".join(num(0, 3) for _ in range(int(g.rng.integers(1, 4))))
        elif op == "resize":
            value = f"{int(g.rng.integers(-1, 40))}x{int(g.rng.integers(0, 40))}"
            if g.chance(0.3):
                value += ":" + g.pick(["area", "bilinear", "lanczos", "cubic"])
        elif op == "mask":
            value = g.pick(["otsu", "otsu-dark", "kmeans", "otsu:" + num(0, 0.5), "kmeans:3"])
        else:
            items.append(g.pick(["alpha", "alpha=bg", "alpha=fg", "alpha=xx"]))
            continue
        if g.chance(0.15):
            value += g.pick(["@fg", "@bg", "@xx"])
        items.append(f"{op}={value}")
    spec = ",".join(items)
    if spec and g.chance(0.05):  # a stray character
        i = int(g.rng.integers(len(spec)))
        spec = spec[:i] + g.pick([",", "=", ":", "@", "\x00", "é", " "]) + spec[i + 1 :]
    return spec


def make_chain(g: Gen, case: Case) -> None:
    spec = random_chain(g, WORKER_LUT)
    n, h, w = g.frame_dims()
    if n * h * w > 0 and h * w > 20_000:
        h, w = min(h, 120), min(w, 120)
    order = g.pick(["rgb", "bgr", "gray"]) if g.chance(0.97) else "RGB"
    use_run = g.chance(0.35)
    if use_run:
        c = g.pick([1, 3])
        images = g.layout(g.values((n, c, h, w), g.pick([np.float32, np.float16])), 0.1)
        low, high = (-1.0, 1.0) if g.chance(0.8) else (g.number(-2, 0), g.number(0.5, 2))
        case.desc.update(spec=spec, run=arr_desc(images), low=repr(low), high=repr(high))
    else:
        c = g.pick([1, 3, 4]) if g.chance(0.97) else 2
        images = g.layout(g.values((n, h, w, c), np.uint8), 0.1)
        case.desc.update(spec=spec, apply=arr_desc(images))
    case.desc["order"] = order
    state: dict[str, Any] = {}

    def call() -> Any:
        chain = POST_MOD.parse_post(spec)
        state["chain"] = chain
        if use_run:
            return chain.run(images, low, high, order)
        return chain.apply(images, order)

    case.call = call

    def check(result: Any) -> str | None:
        chain = state["chain"]
        n, h, w = (images.shape[i] for i in ((0, 2, 3) if use_run else (0, 1, 2)))
        oh, ow = chain.output_size(h, w)
        cout = (1 if order == "gray" else 3) + (1 if chain.has_alpha else 0)
        source_channels = images.shape[1] if use_run else images.shape[3]
        if source_channels == 4 and not chain.has_alpha:
            cout = 4  # the source's alpha rides along (grey + alpha becomes RGBA)
        want = (n, oh, ow, cout)
        if not isinstance(result, np.ndarray) or result.dtype != np.uint8:
            return f"returned {type(result).__name__}, expected uint8 frames"
        if result.shape != want:
            return f"returned shape {result.shape}, expected {want}"
        return None

    case.check = check


def make_parse(g: Gen, case: Case) -> None:
    if g.chance(0.5):
        spec: Any = random_chain(g, WORKER_LUT)
    else:
        alphabet = [*"abcdefghijklmnopqrstuvwxyz=,:@.-0123456789x ", "\x00", "é", "\n"]
        spec = "".join(g.pick(alphabet) for _ in range(int(g.rng.integers(0, 40))))
    if g.chance(0.02):
        spec = g.pick([None, 3, b"exposure=1", ["exposure=1"]])
    case.desc.update(spec=repr(spec))
    case.call = lambda: POST_MOD.parse_post(spec)


TARGETS: dict[str, tuple[int, Callable[[Gen, Case], None]]] = {
    "point": (22, make_point),
    "chain": (20, make_chain),
    "separable_filter": (14, make_separable_filter),
    "denormalize": (10, make_denormalize),
    "otsu_masks": (8, make_otsu),
    "blend": (7, make_blend),
    "unsharp": (7, make_unsharp),
    "cuda": (7, make_cuda),
    "parse_post": (5, make_parse),
}
_NAMES = list(TARGETS)
_WEIGHTS = np.array([TARGETS[t][0] for t in _NAMES], np.float64) / sum(
    TARGETS[t][0] for t in _NAMES
)


def make_case(seed: int, case_id: int) -> Case:
    rng = np.random.default_rng([seed, case_id])
    target = _NAMES[int(rng.choice(len(_NAMES), p=_WEIGHTS))]
    case = Case(target, {"target": target, "seed": seed, "id": case_id})
    TARGETS[target][1](Gen(rng), case)
    return case


# ---- classification (in the worker) ------------------------------------------------------------

CLEAN_RUNTIME = ("no usable CUDA device", "built without CUDA")


def classify(case: Case) -> tuple[str, str]:
    try:
        result = case.call()
    except MemoryError as e:
        return _one_line("clean", e)
    except ValueError as e:  # ImggenError is a ValueError
        return _one_line("clean", e)
    except RuntimeError as e:
        if any(s in str(e) for s in CLEAN_RUNTIME):
            return _one_line("clean", e)
        return "unclear", f"RuntimeError: {e}"
    except Exception as e:
        return "unclear", f"{type(e).__name__}: {e}"[:2000]
    try:
        problem = case.check(result)
    except Exception:
        return "wrong", "the reference check raised: " + traceback.format_exc(limit=3)[-1500:]
    return ("wrong", problem) if problem else ("ok", "")


def _one_line(kind: str, e: BaseException) -> tuple[str, str]:
    message = f"{type(e).__name__}: {e}"
    if "\n" in str(e) or not str(e).strip() or len(str(e)) > 500:
        return "unclear", message[:2000]
    return kind, message


def import_targets() -> None:
    global P, REF, POST, CV2, FILTERS, POST_CHAIN, POST_MOD, REF_OPS, REF_CUBE, WORKER_LUT
    import cv2

    import imggen_rt.post as post_mod
    from imggen_rt import postprocess
    from imggen_rt.post import chain as post_chain
    from imggen_rt.post import cube, filters, ops, reference

    cv2.ipp.setUseIPP(False)  # OpenCV's own Otsu: what the extension matches bit for bit
    cv2.setNumThreads(1)
    P, REF, POST, CV2 = postprocess._postproc, reference, postprocess, cv2
    FILTERS, POST_CHAIN, POST_MOD, REF_OPS, REF_CUBE = filters, post_chain, post_mod, ops, cube
    lut = Path(os.environ.get("FUZZ_TMP", "/tmp")) / f"fuzz_lut_{os.getpid()}.cube"
    cube.write_cube(lut, cube.identity_table(3) * 0.9)
    WORKER_LUT = str(lut)


FILTERS: Any = None
POST_CHAIN: Any = None
POST_MOD: Any = None
REF_OPS: Any = None
REF_CUBE: Any = None
WORKER_LUT = "/tmp/none.cube"


def worker_main(progress_path: str) -> None:
    """Reads 'seed start end' lines; runs the cases; writes one JSON line per batch."""
    import warnings

    warnings.simplefilter("ignore")
    import_targets()
    fd = os.open(progress_path, os.O_RDWR)
    mm = mmap.mmap(fd, PROGRESS.size)
    for line in sys.stdin:
        seed, start, end = (int(x) for x in line.split())
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        notes: list[dict[str, Any]] = []
        messages: Counter[str] = Counter()
        for case_id in range(start, end):
            PROGRESS.pack_into(mm, 0, case_id, time.monotonic())
            try:
                case = make_case(seed, case_id)
            except Exception:
                counts["fuzzer"]["generator_error"] += 1
                notes.append(
                    {"id": case_id, "outcome": "generator_error", "detail": traceback.format_exc()}
                )
                continue
            outcome, detail = classify(case)
            counts[case.target][outcome] += 1
            if outcome == "clean":
                messages[_message_key(detail)] += 1
            elif outcome != "ok":
                notes.append(
                    {
                        "id": case_id,
                        "target": case.target,
                        "outcome": outcome,
                        "detail": detail[:2000],
                        "case": case.desc,
                    }
                )
        PROGRESS.pack_into(mm, 0, -1, time.monotonic())
        report = {
            "batch": [start, end],
            "counts": {t: dict(c) for t, c in counts.items()},
            "notes": notes[:50],
            "messages": dict(messages.most_common(200)),
        }
        sys.stdout.write(json.dumps(report, default=repr) + "\n")
        sys.stdout.flush()


def _message_key(detail: str) -> str:
    """A clean error's message with its numbers blanked, to count kinds of messages."""
    out, digits = [], False
    for ch in detail[:160]:
        if ch.isdigit():
            if not digits:
                out.append("#")
            digits = True
        else:
            out.append(ch)
            digits = False
    return "".join(out)


# ---- the parent: workers, timeouts, crashes ----------------------------------------------------


class Worker:
    def __init__(self, index: int, workdir: Path) -> None:
        self.index = index
        self.progress_path = workdir / f"progress_{index}"
        self.progress_path.write_bytes(b"\0" * PROGRESS.size)
        self.stderr_path = workdir / f"stderr_{index}.log"
        self.batch: tuple[int, int, int] | None = None
        self.seen = (-2, 0.0)
        self.start()

    def start(self) -> None:
        with self.progress_path.open("r+b") as f:
            self._mm = mmap.mmap(f.fileno(), PROGRESS.size)
        PROGRESS.pack_into(self._mm, 0, -1, time.monotonic())
        self._stderr = self.stderr_path.open("wb")
        env = dict(os.environ)
        env.setdefault("PYTHONFAULTHANDLER", "1")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(self.progress_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=str(ROOT),
        )
        self.buffer = b""

    def progress(self) -> tuple[int, float]:
        case_id, t = PROGRESS.unpack_from(self._mm, 0)
        return int(case_id), float(t)

    def send(self, seed: int, start: int, end: int) -> None:
        self.batch = (seed, start, end)
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{seed} {start} {end}\n".encode())
        self.proc.stdin.flush()

    def stderr_tail(self) -> str:
        self._stderr.flush()
        data = self.stderr_path.read_bytes()[-4000:]
        return data.decode("utf-8", "replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._stderr.close()


def describe(seed: int, case_id: int) -> dict[str, Any]:
    try:
        import_targets_once()
        return make_case(seed, case_id).desc
    except Exception as e:  # the description is a courtesy; the replay command is the record
        return {"seed": seed, "id": case_id, "description_failed": repr(e)}


_IMPORTED = False


def import_targets_once() -> None:
    global _IMPORTED
    if not _IMPORTED:
        import_targets()
        _IMPORTED = True


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    os.environ.setdefault("FUZZ_TMP", str(work))
    begin, end = args.start, args.start + args.calls
    queue = [(args.seed, s, min(s + args.batch, end)) for s in range(begin, end, args.batch)]
    workers = [Worker(i, work) for i in range(args.workers)]
    sel = selectors.DefaultSelector()
    for w in workers:
        assert w.proc.stdout is not None
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    notes: list[dict[str, Any]] = []
    messages: Counter[str] = Counter()
    t0 = time.monotonic()
    done_calls = 0
    lost = 0
    stalls: list[dict[str, Any]] = []
    last_print = t0

    def record(kind: str, w: Worker, case_id: int, detail: str) -> None:
        seed = w.batch[0] if w.batch else args.seed
        desc = describe(seed, case_id)
        target = str(desc.get("target", "?"))
        counts[target][kind] += 1
        note = {
            "id": case_id,
            "seed": seed,
            "target": target,
            "outcome": kind,
            "detail": detail,
            "case": desc,
        }
        notes.append(note)
        save_case(out, note)

    def restart(w: Worker, bad: int) -> None:
        """A new worker; the batch's cases other than `bad` (recorded as a crash or hang) run
        again, since a worker reports its counts only when a batch is done."""
        nonlocal done_calls
        assert w.batch is not None
        seed, start, stop = w.batch
        sel.unregister(w.proc.stdout)
        w.kill()
        done_calls += 1
        if bad + 1 < stop:
            queue.insert(0, (seed, bad + 1, stop))
        if start < bad:
            queue.insert(0, (seed, start, bad))
        w.batch = None
        w.start()
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)

    while queue or any(w.batch for w in workers):
        for w in workers:
            if w.batch is None and queue:
                w.send(*queue.pop(0))
                w.seen = (-2, time.monotonic())
        for key, _ in sel.select(timeout=0.2):
            w = key.data
            chunk = os.read(key.fd, 1 << 20)
            if not chunk:  # the worker died: a crash on the case it was on
                case_id, _ = w.progress()
                rc = w.proc.wait()
                detail = f"worker exited with {_status(rc)}; stderr tail:\n{w.stderr_tail()}"
                if case_id < 0:  # outside any case: a broken environment, not a finding
                    lost += 1
                    if lost > 3:
                        raise SystemExit(f"fuzz: workers die outside any case: {detail}")
                    if w.batch is not None:
                        queue.insert(0, w.batch)
                    w.batch = (args.seed, 0, 0)  # nothing of it to run again
                    restart(w, -1)
                    continue
                record("crash", w, case_id, detail)
                restart(w, case_id)
                continue
            w.buffer += chunk
            while b"\n" in w.buffer:
                line, w.buffer = w.buffer.split(b"\n", 1)
                report = json.loads(line)
                for target, c in report["counts"].items():
                    counts[target].update(c)
                for note in report["notes"]:
                    note["seed"] = w.batch[0] if w.batch else args.seed
                    notes.append(note)
                    save_case(out, note)
                messages.update(report["messages"])
                start, stop = report["batch"]
                done_calls += stop - start
                w.batch = None
        now = time.monotonic()
        for w in workers:
            if w.batch is None:
                continue
            case_id, started = w.progress()
            if case_id >= 0 and now - started > args.timeout:
                seed = w.batch[0]
                restart(w, case_id)
                # A hang only if it hangs again, alone in a fresh process: a worker descheduled
                # for the whole timeout on a busy machine is a stall, counted by its rerun.
                outcome = rerun(seed, case_id, args.timeout)
                if outcome is None:
                    record("hang", w, case_id, f"no result after {args.timeout:g} s, twice")
                else:
                    stalls.append({"seed": seed, "id": case_id, "rerun": outcome})
                    counts[str(describe(seed, case_id).get("target", "?"))][outcome] += 1
        if not args.quiet and now - last_print > 10:
            rate = done_calls / max(now - t0, 1e-9)
            print(f"  {done_calls}/{args.calls} calls, {rate:.0f}/s", file=sys.stderr, flush=True)
            last_print = now
    for w in workers:
        w.kill()
    wall = time.monotonic() - t0
    summary = summarise(args, counts, notes, messages, wall)
    summary["stalls"] = stalls
    return summary


def rerun(seed: int, case_id: int, timeout: float) -> str | None:
    """The case's outcome in a fresh process (--replay), or None when it times out again."""
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--replay", f"{seed}:{case_id}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(ROOT),
        )
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.splitlines():
        if line.startswith("outcome: "):
            return line.split()[1]
    return "crash"


def _status(rc: int) -> str:
    if rc < 0:
        import signal

        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit status {rc}"


def save_case(out: Path, note: dict[str, Any]) -> None:
    name = f"{note['outcome']}_{note.get('seed', 0)}_{note['id']}.json"
    note = dict(note)
    note["replay"] = f"python tools/fuzz_postproc.py --replay {note.get('seed', 0)}:{note['id']}"
    (out / "cases" / name).write_text(json.dumps(note, indent=2, default=repr))


def summarise(
    args: argparse.Namespace,
    counts: dict[str, Counter[str]],
    notes: list[dict[str, Any]],
    messages: Counter[str],
    wall: float,
) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    for c in counts.values():
        totals.update(c)
    calls = sum(totals.values())
    return {
        "seed": args.seed,
        "start": args.start,
        "calls": calls,
        "wall_s": round(wall, 1),
        "rate_per_s": round(calls / wall, 1) if wall > 0 else None,
        "workers": args.workers,
        "timeout_s": args.timeout,
        "outcomes": {k: totals.get(k, 0) for k in OUTCOMES}
        | ({"generator_error": totals["generator_error"]} if totals["generator_error"] else {}),
        "by_target": {
            t: {k: c.get(k, 0) for k in OUTCOMES if c.get(k)} for t, c in sorted(counts.items())
        },
        "problems": [
            {k: n[k] for k in ("seed", "id", "target", "outcome", "detail") if k in n}
            for n in notes[:200]
        ],
        "clean_error_kinds": dict(messages.most_common(60)),
        "command": " ".join(["python tools/fuzz_postproc.py", *sys.argv[1:]]),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def merge(paths: list[str]) -> dict[str, Any]:
    parts = [json.loads((Path(p) / "fuzz.json").read_text()) for p in paths]
    totals: Counter[str] = Counter()
    by_target: dict[str, Counter[str]] = defaultdict(Counter)
    messages: Counter[str] = Counter()
    for part in parts:
        totals.update(part["outcomes"])
        for t, c in part["by_target"].items():
            by_target[t].update(c)
        messages.update(part["clean_error_kinds"])
    calls = sum(p["calls"] for p in parts)
    wall = sum(p["wall_s"] for p in parts)
    return {
        "seed": sorted({p["seed"] for p in parts}),
        "chunks": [
            {k: p[k] for k in ("seed", "start", "calls", "wall_s", "rate_per_s")} for p in parts
        ],
        "calls": calls,
        "wall_s": round(wall, 1),
        "rate_per_s": round(calls / wall, 1) if wall else None,
        "workers": parts[0]["workers"],
        "timeout_s": parts[0]["timeout_s"],
        "outcomes": {k: totals.get(k, 0) for k in OUTCOMES},
        "by_target": {t: dict(c) for t, c in sorted(by_target.items())},
        "problems": [pr for p in parts for pr in p["problems"]][:200],
        "stalls": [st for p in parts for st in p.get("stalls", [])],
        "clean_error_kinds": dict(messages.most_common(60)),
        "python": parts[0]["python"],
        "numpy": parts[0]["numpy"],
    }


def markdown(summary: dict[str, Any]) -> str:
    o = summary["outcomes"]
    lines = [
        "# Fuzzing the post-process extension and chain",
        "",
        f"`tools/fuzz_postproc.py`: {summary['calls']:,} calls in {summary['wall_s']:.0f} s "
        f"({summary['rate_per_s']:.0f} calls/s, {summary['workers']} worker processes, "
        f"{summary['timeout_s']:g} s per-call timeout), seed(s) {summary['seed']}.",
        "",
        "| outcome | calls |",
        "|---|---|",
    ]
    lines += [f"| {k} | {o.get(k, 0):,} |" for k in OUTCOMES]
    lines += ["", "| target | " + " | ".join(OUTCOMES) + " |", "|---" * (len(OUTCOMES) + 1) + "|"]
    for t, c in summary["by_target"].items():
        lines.append(f"| {t} | " + " | ".join(f"{c.get(k, 0):,}" for k in OUTCOMES) + " |")
    problems = summary["problems"]
    stalls = summary.get("stalls", [])
    lines += [
        "",
        f"Stalls (a worker past the timeout whose case then ran normally alone): {len(stalls)}",
        "",
        f"Problems (crash, hang, wrong, unclear): {len(problems)}",
    ]
    for p in problems[:30]:
        detail = str(p.get("detail", "")).splitlines()[0][:160] if p.get("detail") else ""
        lines.append(
            f"- {p['outcome']} {p.get('target')} `--replay {p['seed']}:{p['id']}`: {detail}"
        )
    lines += ["", "Most frequent clean errors (numbers blanked as #):", ""]
    for msg, n in list(summary["clean_error_kinds"].items())[:25]:
        lines.append(f"- {n:,}: `{msg}`")
    return "\n".join(lines) + "\n"


def replay(spec: str) -> int:
    seed, case_id = (int(x) for x in spec.split(":"))
    import_targets()
    case = make_case(seed, case_id)
    print(json.dumps(case.desc, indent=2, default=repr))
    sys.stdout.flush()
    outcome, detail = classify(case)
    print(f"outcome: {outcome}" + (f"\n{detail}" if detail else ""))
    return 0 if outcome in ("ok", "clean") else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first case id (chunks of a run)")
    parser.add_argument("--out", default="fuzz_out")
    parser.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 4)))
    parser.add_argument("--batch", type=int, default=2000, help="cases per worker round trip")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per call (hang)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--replay", metavar="SEED:ID")
    parser.add_argument("--merge", nargs="+", metavar="DIR")
    parser.add_argument("--worker", metavar="PROGRESS_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0
    if args.replay:
        return replay(args.replay)
    summary = merge(args.merge) if args.merge else run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps(summary, indent=2, default=repr) + "\n")
    (out / "fuzz.md").write_text(markdown(summary))
    o = summary["outcomes"]
    print(
        f"{summary['calls']} calls in {summary['wall_s']} s ({summary['rate_per_s']}/s): "
        + ", ".join(f"{k} {o.get(k, 0)}" for k in OUTCOMES)
    )
    bad = sum(o.get(k, 0) for k in ("crash", "hang", "wrong", "unclear"))
    return 1 if bad or o.get("generator_error") else 0


if __name__ == "__main__":
    sys.exit(main())
