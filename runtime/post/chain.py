"""A post-process chain: ops in order, compiled into as few passes over memory as possible.

Consecutive colour ops (same region) fuse into one program, and when the chain starts with
one it also absorbs denormalisation and quantisation: generator output -> colour -> uint8 in
a single pass. Stencils (blur, sharpen, resize) run as their own passes on scratch buffers the
chain keeps per thread and reuses from call to call. A mask op computes a region; ops marked
`@fg` / `@bg` run on the whole frame and are then blended in by the mask.

Every parameter is checked where the op is made (finite, and in the float32 range the extension
computes in); a chain is checked when it is built (at most 16 colour ops, 4 of them LUTs, fuse
into one pass). Empty input (no frames, or frames of 0 rows or columns) gives empty output of
the right shape without calling any op, except that a resize has nothing to resample in a frame
of 0 pixels (one ImggenError).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError
from ..postprocess import _postproc, denormalize
from .filters import gaussian_taps, resize_kind, resize_taps
from .model_op import ModelOp
from .ocio import BakedOcio, OcioExact, OcioTransform
from .ops import PROGRAM_COLUMNS, Alpha, Blur, Lut, Mask, Op, PointOp, Region, Resize, Sharpen
from .segment import masks_for

Frames = NDArray[np.uint8]
# What a chain holds: the ops of ops.py, and the steps that are not colour-program rows.
ChainOp = Op | OcioExact | ModelOp

# What one fused pass holds (cpp_ext/include/imggen/limits.h: kMaxPointOps, kMaxLuts).
MAX_FUSED_OPS = 16
MAX_FUSED_LUTS = 4


class _PointStep:
    """Colour ops fused into one program (and its LUT tables), built once."""

    def __init__(self, ops: tuple[PointOp, ...], region: Region) -> None:
        self.ops = ops
        self.region = region
        self.luts: list[NDArray[np.float32]] = []
        rows = []
        for op in ops:
            rows.append(op.row(len(self.luts)))
            table = op.table()
            if table is not None:
                self.luts.append(table)
        program = np.stack(rows) if rows else np.zeros((0, PROGRAM_COLUMNS), np.float32)
        self.program = np.ascontiguousarray(program, np.float32)


@dataclass(frozen=True)
class _StencilStep:
    op: Blur | Sharpen | Resize

    @property
    def region(self) -> Region:
        return self.op.region


_Step = _PointStep | _StencilStep | OcioExact | ModelOp | Mask | Alpha


class PostChain:
    """Post-processing ops applied after denormalisation, in order.

    `run` takes generator output (N, C, H, W) float in [low, high]; `apply` takes existing 8-bit
    (N, H, W, C) RGB or gray frames. Both return (N, H', W', C') uint8 frames in the asked
    channel order, plus alpha when the chain ends with `alpha`. Safe to share across threads.
    """

    def __init__(self, ops: Sequence[ChainOp], spec: str = "") -> None:
        self.ops: tuple[ChainOp, ...] = tuple(ops)
        self.spec = spec
        self._steps = _compile(self.ops)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostChain({self.spec!r})" if self.spec else f"PostChain({list(self.ops)!r})"

    def __bool__(self) -> bool:
        return bool(self.ops)

    @property
    def makes_colour(self) -> bool:
        """True when a gray source can come out coloured (white balance, matrix, LUT)."""
        return any(
            isinstance(op, PointOp | OcioExact | ModelOp) and op.makes_colour for op in self.ops
        )

    @property
    def last_ocio(self) -> OcioTransform | None:
        """The chain's last OpenColorIO transform, which says what the frames are encoded
        for (a display, or a colour space), else None."""
        for op in reversed(self.ops):
            transform = op.transform if isinstance(op, BakedOcio | OcioExact) else None
            if transform is not None:
                return transform
        return None

    @property
    def display(self) -> str | None:
        """The OCIO display the frames are encoded for, when the chain's last OCIO op is a
        display/view transform (video files are tagged for it), else None."""
        last = self.last_ocio
        return None if last is None else last.display

    @property
    def has_alpha(self) -> bool:
        return any(isinstance(op, Alpha) for op in self.ops)

    def split_leading_colour(
        self,
    ) -> tuple[tuple[NDArray[np.float32], list[NDArray[np.float32]]] | None, PostChain]:
        """The leading colour program (rows, LUT tables) and the chain after it: a GPU backend
        runs the program in its device denormalise pass and the rest on the 8-bit frames."""
        first = self._steps[0] if self._steps else None
        if not isinstance(first, _PointStep) or first.region != "all":
            return None, self
        rest = self.ops[len(first.ops) :]
        return (first.program, first.luts), PostChain(rest, self.spec)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        for op in self.ops:
            if isinstance(op, Resize):
                height, width = op.height, op.width
            elif isinstance(op, ModelOp):
                height, width = height * op.scale, width * op.scale
        return height, width

    def run(self, images: NDArray[Any], low: float, high: float, order: str = "rgb") -> Frames:
        """Generator output -> post-processed uint8 frames. An RGBA model's alpha rides along
        (resized with the frames, untouched by colour ops) unless the chain makes its own."""
        work = _work_order(order)
        if not isinstance(images, np.ndarray):  # nested lists read as float32, as denormalize does
            images = np.asarray(images)
            images = images.astype(np.float32) if images.dtype == np.float64 else images
        if images.ndim == 4 and images.shape[1] == 4:
            if work == "gray":
                raise ImggenError("an RGBA model makes colour frames: order rgb or bgr, not gray")
            alpha = denormalize(_contiguous(images[:, 3:]), low, high, "gray")
            return self._carry_alpha(self.run(images[:, :3], low, high, order), alpha)
        images = _contiguous(images)
        steps = self._steps
        first = steps[0] if steps else None
        if isinstance(first, _PointStep) and first.region == "all":
            only = len(steps) == 1
            frames: Frames = _postproc.point(
                images, first.program, first.luts, order if only else work, low, high
            )
            if only:
                return frames
            steps = steps[1:]
        else:
            frames = denormalize(images, low, high, work)
        return self._run_steps(steps, frames, work, order)

    def apply(self, frames: NDArray[np.uint8], order: str = "rgb") -> Frames:
        """Existing (N, H, W, C) uint8 frames (C: 1 gray, 3 RGB, 4 RGBA) -> post-processed."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] not in (1, 3, 4):
            raise ImggenError(
                f"frames must be uint8 (N, H, W, C) with C in 1, 3, 4; got {frames.dtype} "
                f"{frames.shape}"
            )
        work = _work_order(order)
        if frames.shape[3] == 4:
            alpha = np.ascontiguousarray(frames[..., 3:])
            return self._carry_alpha(self.apply(frames[..., :3], order), alpha)
        if (frames.shape[3] == 1) != (work == "gray") or not self._steps:
            # Convert to the working layout with an empty program (exact for 8-bit input).
            frames = _postproc.point(_contiguous(frames), _EMPTY_PROGRAM, [], work)
        return self._run_steps(self._steps, _contiguous(frames), work, order)

    def _carry_alpha(self, result: Frames, alpha: Frames) -> Frames:
        """The source's alpha (N, H, W, 1) appended to the chain's result: resized by the
        chain's resize ops with the same filter, left alone by every other op; the chain's own
        `alpha` op wins. Grey + alpha is no file format's layout: it becomes RGBA."""
        if self.has_alpha:
            return result
        for op in self.ops:
            if isinstance(op, ModelOp):  # the model enlarges colour; alpha follows by Lanczos
                _, h, w, _ = alpha.shape
                op = Resize(w * op.scale, h * op.scale, "lanczos")
            if isinstance(op, Resize):
                alpha = self._resized(alpha, op, -1)
        if result.shape[3] == 1:
            result = np.repeat(result, 3, axis=3)
        return np.concatenate([result, alpha], axis=3)

    def _resized(self, frames: Frames, op: Resize, index: int) -> Frames:
        n, h, w, c = frames.shape
        ix, wx = resize_taps(w, op.width, resize_kind(op.filter, w, op.width))
        iy, wy = resize_taps(h, op.height, resize_kind(op.filter, h, op.height))
        tmp = self._scratch(index, "tmp", (n, h, op.width, c), np.float32)
        resized: Frames = _postproc.separable_filter(frames, ix, wx, iy, wy, tmp)
        return resized

    def _run_steps(self, steps: Sequence[_Step], frames: Frames, work: str, order: str) -> Frames:
        if frames.size == 0:
            return _empty_result(steps, frames.shape)
        mask: Frames | None = None
        layout = work  # the channel order `frames` is in now
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            if isinstance(step, Mask):
                mask = masks_for(frames, step.method, step.k, step.min_area)
                continue
            if isinstance(step, Alpha):
                frames = _with_alpha(frames, _region_mask(mask, step.region))
                continue
            # A last, unmasked colour step writes the asked order itself (no extra copy).
            step_order = order if (last and step.region == "all") else work
            done = self._run_one(step, i, frames, step_order)
            if isinstance(step, _PointStep):
                layout = step_order
            if step.region != "all":
                inside, outside = (done, frames) if step.region == "fg" else (frames, done)
                done = _postproc.blend(inside, outside, _region_mask(mask, "fg"))
            frames = done
        return _reorder(frames, layout, order)

    def _run_one(
        self,
        step: _PointStep | _StencilStep | OcioExact | ModelOp,
        index: int,
        frames: Frames,
        order: str,
    ) -> Frames:
        if isinstance(step, _PointStep):
            out: Frames = _postproc.point(frames, step.program, step.luts, order)
            return out
        if isinstance(step, ModelOp):
            enlarged: Frames = step.apply(frames)
            return enlarged
        if isinstance(step, OcioExact):
            if frames.shape[3] != 3:
                raise ImggenError(f"{step.transform}:exact needs RGB frames, not gray ones")
            return step.apply(frames)
        op = step.op
        n, h, w, c = frames.shape
        if isinstance(op, Resize):
            return self._resized(frames, op, index)
        sigma = op.sigma if isinstance(op, Blur) else op.radius
        ix, wx = gaussian_taps(w, sigma)
        iy, wy = gaussian_taps(h, sigma)
        tmp = self._scratch(index, "tmp", (n, h, w, c), np.float32)
        if isinstance(op, Blur):
            blurred: Frames = _postproc.separable_filter(frames, ix, wx, iy, wy, tmp)
            return blurred
        soft = self._scratch(index, "blur", frames.shape, np.uint8)
        _postproc.separable_filter(frames, ix, wx, iy, wy, tmp, soft)
        sharp: Frames = _postproc.unsharp(frames, soft, op.amount, op.threshold)
        return sharp

    def _scratch(
        self, index: int, name: str, shape: tuple[int, ...], dtype: type[np.generic]
    ) -> NDArray[Any]:
        """A per-thread buffer reused while the shape stays the same (video: every frame)."""
        pool: dict[tuple[int, str], NDArray[Any]] = self._local.__dict__.setdefault("pool", {})
        buf = pool.get((index, name))
        if buf is None or buf.shape != shape:
            buf = pool[(index, name)] = np.empty(shape, dtype)
        return buf


_EMPTY_PROGRAM = np.zeros((0, PROGRAM_COLUMNS), np.float32)


def _compile(ops: Sequence[ChainOp]) -> list[_Step]:
    steps: list[_Step] = []
    has_mask = False
    for i, op in enumerate(ops):
        if not isinstance(op, ChainOp):
            raise ImggenError(f"not a post-process op: {op!r:.80}")
        if op.region not in ("all", "fg", "bg"):
            raise ImggenError(
                f"{type(op).__name__}: region must be all, fg or bg; got {op.region!r}"
            )
        if isinstance(op, Alpha) and i != len(ops) - 1:
            raise ImggenError("alpha must be the last op of a chain")
        if op.region != "all" and not has_mask and not isinstance(op, Alpha | Mask):
            raise ImggenError(f"an op limited to @{op.region} needs a mask op before it")
        if isinstance(op, Alpha) and not has_mask:
            raise ImggenError("alpha needs a mask op before it (for example mask=otsu)")
        if isinstance(op, Mask):
            has_mask = True
            steps.append(op)
        elif isinstance(op, PointOp):
            prev = steps[-1] if steps else None
            if isinstance(prev, _PointStep) and prev.region == op.region:
                fused = (*prev.ops, op)
                luts = sum(isinstance(o, Lut) for o in fused)
                if len(fused) > MAX_FUSED_OPS or luts > MAX_FUSED_LUTS:
                    raise ImggenError(
                        f"{len(fused)} colour ops ({luts} LUTs) in a row: at most "
                        f"{MAX_FUSED_OPS} fuse into one pass, {MAX_FUSED_LUTS} of them LUTs "
                        "(combine some, e.g. exposures into one)"
                    )
                steps[-1] = _PointStep(fused, op.region)
            else:
                steps.append(_PointStep((op,), op.region))
        elif isinstance(op, Blur | Sharpen | Resize):
            steps.append(_StencilStep(op))
        else:
            steps.append(op)
    return steps


def _work_order(order: str) -> str:
    if order not in ("rgb", "bgr", "gray"):
        raise ImggenError(f"order must be rgb, bgr or gray; got {order!r}")
    return "gray" if order == "gray" else "rgb"


def _contiguous(a: NDArray[Any]) -> NDArray[Any]:
    """C-contiguous and aligned, as the extension takes arrays (a copy only when needed)."""
    if a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.require(a, requirements=("C", "A"))


def _empty_result(steps: Sequence[_Step], shape: tuple[int, ...]) -> Frames:
    """What the steps make of empty (N, H, W, C) frames, in the working layout: no op runs."""
    n, h, w, c = shape
    for step in steps:
        if isinstance(step, _StencilStep) and isinstance(step.op, Resize):
            if n > 0 and (h == 0 or w == 0):
                raise ImggenError(
                    f"resize to {step.op.width}x{step.op.height}: frames of {w}x{h} pixels "
                    "have nothing to resample"
                )
            h, w = step.op.height, step.op.width
        elif isinstance(step, ModelOp):
            h, w = h * step.scale, w * step.scale
        elif isinstance(step, Alpha):
            c += 1
    return np.zeros((n, h, w, c), np.uint8)


def _region_mask(mask: Frames | None, region: Region) -> Frames:
    assert mask is not None  # _compile guarantees a mask op came first
    return mask if region != "bg" else np.subtract(255, mask, dtype=np.uint8)


def _with_alpha(frames: Frames, mask: Frames) -> Frames:
    return np.concatenate([frames, mask[..., None]], axis=3)


def _reorder(frames: Frames, layout: str, order: str) -> Frames:
    """The working layout is RGB (or gray); BGR is asked for by OpenCV-style consumers."""
    if layout == order or order != "bgr" or frames.shape[3] < 3:
        return frames
    channels = [2, 1, 0, 3][: frames.shape[3]]
    return np.ascontiguousarray(frames[..., channels])
