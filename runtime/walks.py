"""Sequences of latents in which frame i depends on i alone.

Every walk answers "what goes into frame i" without looking at neighbouring frames or at how the
render is batched, so a frame rendered inside a slice, after a resume or on another machine is the
frame an uninterrupted render makes. Gaussian latents are interpolated with slerp: the linear
midpoint of two latents falls off the typical shell (its norm shrinks by ~1/sqrt(2)) and looks
washed out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import ImggenError
from .latents import latent_for_seed

EASINGS = ("linear", "smooth")


@dataclass(frozen=True)
class FramePlan:
    """What frames `indices` need: one latent each, and for a conditional model the two classes
    to blend with their weight (a class morph cross-fades two renders of the same latent)."""

    indices: np.ndarray  # int64 (N,)
    z: np.ndarray  # float32 (N, Z), already truncated
    class_a: np.ndarray | None  # int64 (N,)
    class_b: np.ndarray | None  # int64 (N,)
    blend: np.ndarray | None  # float32 (N,) weight of class_b, 0 where no morph
    knobs: dict[str, np.ndarray] = field(default_factory=dict)  # float32 (N,) by knob name


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation, falling back to lerp when a and b are (nearly) parallel."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    cos = float(np.dot(a64, b64) / (na * nb)) if na > 0 and nb > 0 else 1.0
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-6:
        out = (1.0 - t) * a64 + t * b64
    else:
        s = math.sin(omega)
        out = (math.sin((1.0 - t) * omega) / s) * a64 + (math.sin(t * omega) / s) * b64
    return out.astype(np.float32)


def keyframe_walk_length(keyframes: int, frames_per_seed: int, loop_back: bool) -> int:
    """Frames in a keyframe walk. An open walk ends on its last keyframe; a looped one stops a
    frame short of the first so that playing it on repeat does not show the first keyframe
    twice."""
    transitions = keyframes if loop_back else keyframes - 1
    return max(1, transitions * frames_per_seed + (0 if loop_back else 1))


def ease(u: float, easing: str) -> float:
    """'smooth' is the cubic smoothstep: zero velocity at each keyframe, so the walk lingers on
    the seeds that were chosen and does not bounce off them."""
    return u * u * (3.0 - 2.0 * u) if easing == "smooth" else u


def _checked_knobs(
    knobs: Mapping[str, tuple[float, float]] | None,
) -> dict[str, tuple[float, float]]:
    out = {}
    for name, (first, last) in (knobs or {}).items():
        if not (math.isfinite(first) and math.isfinite(last)):
            raise ImggenError(f"knob {name}: values must be finite, got {first}..{last}")
        out[str(name)] = (float(first), float(last))
    return out


def _check_truncation(truncation: float) -> None:
    if not 0.0 < truncation <= 1.0:
        raise ImggenError(f"truncation must be in (0, 1], got {truncation}")


class Walk:
    """A finite sequence of frames; subclasses define the latent and classes of frame i."""

    length: int
    latent_dim: int
    truncation: float
    # The seed a model's noise maps are drawn from: one for the whole walk, so they do not
    # flicker from frame to frame.
    noise_seed: int
    # Knobs (a model's scalar inputs) animated over the walk: name -> (first, last) value,
    # linear in the frame index.
    knobs: dict[str, tuple[float, float]]

    def describe(self) -> dict[str, object]:
        raise NotImplementedError

    def frame(self, i: int) -> tuple[np.ndarray, int | None, int | None, float]:
        """(latent before truncation, class a, class b, weight of b) for frame i."""
        raise NotImplementedError

    def plan(self, indices: Sequence[int]) -> FramePlan:
        idx = np.asarray(list(indices), dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.length):
            raise ImggenError(f"frame index out of range 0..{self.length - 1}")
        z = np.empty((len(idx), self.latent_dim), dtype=np.float32)
        ca = np.zeros(len(idx), dtype=np.int64)
        cb = np.zeros(len(idx), dtype=np.int64)
        w = np.zeros(len(idx), dtype=np.float32)
        conditional = False
        for row, i in enumerate(idx):
            z[row], a, b, weight = self.frame(int(i))
            if a is not None and b is not None:
                conditional = True
                ca[row], cb[row], w[row] = a, b, weight
        if self.truncation != 1.0:
            z *= np.float32(self.truncation)
        knobs = {name: self._knob(first, last, idx) for name, (first, last) in self.knobs.items()}
        if not conditional:
            return FramePlan(idx, z, None, None, None, knobs)
        return FramePlan(idx, z, ca, cb, w, knobs)

    def _knob(self, first: float, last: float, idx: np.ndarray) -> np.ndarray:
        t = idx / max(1, self.length - 1)
        return (first + (last - first) * t).astype(np.float32)


class KeyframeWalk(Walk):
    """Seeds as keyframes, `frames_per_seed` frames per transition, optional easing; `loop_back`
    returns to the first keyframe so the clip can be played on repeat."""

    def __init__(
        self,
        seeds: Sequence[int],
        frames_per_seed: int,
        latent_dim: int,
        classes: Sequence[int] | None = None,
        easing: str = "smooth",
        loop_back: bool = False,
        truncation: float = 1.0,
        knobs: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        if len(seeds) < 1:
            raise ImggenError("a keyframe walk needs at least one seed")
        if frames_per_seed < 1:
            raise ImggenError(f"--frames-per-seed must be >= 1, got {frames_per_seed}")
        if easing not in EASINGS:
            raise ImggenError(f"easing must be one of {', '.join(EASINGS)}, got {easing!r}")
        if classes is not None and len(classes) != len(seeds):
            raise ImggenError(f"{len(classes)} classes given for {len(seeds)} keyframe seeds")
        _check_truncation(truncation)
        self.seeds = [int(s) for s in seeds]
        self.noise_seed = self.seeds[0]
        self.knobs = _checked_knobs(knobs)
        self.classes = [int(c) for c in classes] if classes is not None else None
        self.frames_per_seed = frames_per_seed
        self.latent_dim = latent_dim
        self.easing = easing
        self.loop_back = loop_back
        self.truncation = truncation
        self._keys = [latent_for_seed(s, latent_dim) for s in self.seeds]
        self.length = keyframe_walk_length(len(seeds), frames_per_seed, loop_back)

    def describe(self) -> dict[str, object]:
        return {
            "walk": "keyframes",
            "seeds": self.seeds,
            "classes": self.classes,
            "frames_per_seed": self.frames_per_seed,
            "easing": self.easing,
            "loop_back": self.loop_back,
            "truncation": self.truncation,
            **({"knobs": self.knobs} if self.knobs else {}),
        }

    def frame(self, i: int) -> tuple[np.ndarray, int | None, int | None, float]:
        k, step = divmod(i, self.frames_per_seed)
        n = len(self.seeds)
        if (k >= n - 1 and not self.loop_back) or n == 1:
            k, step = min(k, n - 1), 0
        nxt = (k + 1) % n
        u = ease(step / self.frames_per_seed, self.easing)
        z = self._keys[k] if step == 0 else slerp(self._keys[k], self._keys[nxt], u)
        if self.classes is None:
            return z, None, None, 0.0
        a, b = self.classes[k], self.classes[nxt]
        return z, a, (b if step else a), (u if step and a != b else 0.0)


class NoiseLoop(Walk):
    """A seamless loop z(t) = a cos(2 pi t) + b sin(2 pi t), t = i / length, with a and b
    independent standard normals from one seed: cos^2 + sin^2 = 1, so every frame's latent is
    itself standard normal (no washed-out stretch) and frame `length` is frame 0 (no seam)."""

    def __init__(
        self,
        seed: int,
        length: int,
        latent_dim: int,
        class_id: int | None = None,
        truncation: float = 1.0,
        knobs: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        if length < 1:
            raise ImggenError(f"a loop needs at least one frame, got {length}")
        _check_truncation(truncation)
        self.seed = int(seed)
        self.noise_seed = self.seed
        self.knobs = _checked_knobs(knobs)
        self.length = length
        self.latent_dim = latent_dim
        self.class_id = class_id
        self.truncation = truncation
        self._a = latent_for_seed(self.seed, latent_dim)
        # The second axis comes from a stream derived from the seed, not from seed + 1, so a
        # loop on seed 7 does not share its axis with the still image of seed 8.
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, 0x100B])))
        self._b = rng.standard_normal(latent_dim, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {
            "walk": "loop",
            "seed": self.seed,
            "frames": self.length,
            "class": self.class_id,
            "truncation": self.truncation,
            **({"knobs": self.knobs} if self.knobs else {}),
        }

    def frame(self, i: int) -> tuple[np.ndarray, int | None, int | None, float]:
        angle = 2.0 * math.pi * i / self.length
        z = (math.cos(angle) * self._a.astype(np.float64)) + (
            math.sin(angle) * self._b.astype(np.float64)
        )
        return z.astype(np.float32), self.class_id, self.class_id, 0.0
