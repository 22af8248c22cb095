"""Colour matrices and ranges: explicit RGB -> YUV conversion and the tags that say so.

Handing RGB frames to an encoder lets FFmpeg pick the BT.601 matrix even on a stream tagged
BT.709, so every conversion here names its matrix and range, and the same values are tagged on the
codec context and on every frame (ProRes takes its tags from the frames). Frames are taken to be in
the target primaries already: the generator has no notion of scene colour to convert from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import ImggenError

# FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values.
_TAGS = {
    "bt709": (1, 1, 1),
    "bt601": (6, 6, 6),  # SMPTE 170M (NTSC-era BT.601)
    "bt2020": (9, 14, 9),  # BT.2020 non-constant luminance, 10-bit transfer
}
COLORSPACES = tuple(_TAGS)
RANGES = ("limited", "full")


@dataclass(frozen=True)
class Colour:
    space: str = "bt709"
    range: str = "limited"

    def __post_init__(self) -> None:
        if self.space not in _TAGS:
            raise ImggenError(
                f"colorspace must be one of {', '.join(COLORSPACES)}, got {self.space!r}"
            )
        if self.range not in RANGES:
            raise ImggenError(f"range must be one of {', '.join(RANGES)}, got {self.range!r}")

    @property
    def tags(self) -> tuple[int, int, int, int]:
        """(primaries, transfer, matrix, range) as FFmpeg's enum values."""
        p, t, m = _TAGS[self.space]
        return p, t, m, (1 if self.range == "limited" else 2)

    def reformat_args(self) -> dict[str, Any]:
        """`VideoFrame.reformat` arguments for this matrix and range (PyAV's enums)."""
        from av.video.reformatter import ColorRange, Colorspace

        matrix = {
            "bt709": Colorspace.ITU709,
            "bt601": Colorspace.SMPTE170M,
            "bt2020": Colorspace.BT2020,
        }[self.space]
        rng = ColorRange.MPEG if self.range == "limited" else ColorRange.JPEG
        return {
            "src_colorspace": Colorspace.ITU709,
            "dst_colorspace": matrix,
            "src_color_range": ColorRange.JPEG,
            "dst_color_range": rng,
        }

    def tag(self, target: Any) -> None:
        """Set the four tags on a codec context or a frame."""
        p, t, m, r = self.tags
        target.color_primaries = p
        target.color_trc = t
        target.colorspace = m
        target.color_range = r


def to_yuv(av_frame: Any, pix_fmt: str, colour: Colour) -> Any:
    """An RGB `av.VideoFrame` -> `pix_fmt` with the named matrix and range, tagged."""
    out = av_frame.reformat(format=pix_fmt, **colour.reformat_args())
    colour.tag(out)
    return out
