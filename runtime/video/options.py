"""Parsing the small value types of the video command: frame rates, frame ranges, class lists."""

from __future__ import annotations

from fractions import Fraction

from ..errors import ImggenError

# Decimal spellings people type for the NTSC rates.
_NTSC = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
}


def parse_fps(text: str) -> Fraction:
    """'24', '24000/1001', '29.97' -> an exact Fraction."""
    text = text.strip()
    if text in _NTSC:
        return _NTSC[text]
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ImggenError(
            f"frame rate must be a number or a fraction like 24000/1001, got {text!r}"
        ) from None
    if not 0 < fps <= 1000:
        raise ImggenError(f"frame rate must be in (0, 1000], got {text}")
    if fps.denominator > 1001:
        raise ImggenError(f"frame rate {text} needs a denominator <= 1001: write it as a fraction")
    return fps


def parse_frames(text: str, length: int) -> tuple[int, int]:
    """'A:B' -> frames [A, B) of a walk of `length` frames; A or B may be left out."""
    if text.count(":") != 1:
        raise ImggenError(f"--frames takes A:B (frames A to B-1), got {text!r}")
    a_text, b_text = text.split(":")
    try:
        a = int(a_text) if a_text.strip() else 0
        b = int(b_text) if b_text.strip() else length
    except ValueError:
        raise ImggenError(f"--frames takes whole numbers A:B, got {text!r}") from None
    if not 0 <= a < b <= length:
        raise ImggenError(f"--frames {text} is not a non-empty range inside 0:{length}")
    return a, b
