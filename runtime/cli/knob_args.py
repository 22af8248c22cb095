"""`--scalar NAME=VALUE`: a model's knobs (its scalar inputs, e.g. StyleGAN's psi) by name."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ImggenError


def add_knob_arguments(parser: Any, animated: bool = False) -> None:
    more = "; NAME=FIRST:LAST animates it over the walk, linearly" if animated else ""
    parser.add_argument(
        "--scalar",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"set a model knob (`imggen-rt info` lists them), e.g. psi=0.7{more}; repeatable",
    )


def parse_knobs(flags: list[str]) -> dict[str, float]:
    """{name: value} from NAME=VALUE flags."""
    knobs: dict[str, float] = {}
    for name, first, last in _split(flags):
        if last is not None:
            raise ImggenError(f"--scalar {name}: a still image takes one value, not a range")
        knobs[name] = first
    return knobs


def parse_animated_knobs(flags: list[str]) -> dict[str, tuple[float, float]]:
    """{name: (first, last)} from NAME=VALUE (constant) or NAME=FIRST:LAST flags."""
    return {name: (first, first if last is None else last) for name, first, last in _split(flags)}


def _split(flags: list[str]) -> list[tuple[str, float, float | None]]:
    out = []
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep or not name:
            raise ImggenError(f"--scalar {flag}: write NAME=VALUE, e.g. psi=0.7")
        first_text, colon, last_text = value.partition(":")
        try:
            first = float(first_text)
            last = float(last_text) if colon else None
        except ValueError:
            raise ImggenError(f"--scalar {flag}: {value!r} is not a number") from None
        if not all(math.isfinite(v) for v in (first, last if last is not None else 0.0)):
            raise ImggenError(f"--scalar {flag}: values must be finite")
        out.append((name, first, last))
    return out
