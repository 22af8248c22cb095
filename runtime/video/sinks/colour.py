"""Colour matrices and ranges: explicit RGB -> YUV conversion and the tags that say so.

Handing RGB frames to an encoder lets FFmpeg pick the BT.601 matrix even on a stream tagged
BT.709, so every conversion here names its matrix and range, and the same values are tagged on the
codec context and on every frame (ProRes takes its tags from the frames).

`--colorspace` picks the YUV matrix only. The pixels are sRGB/BT.709 display values and no gamut
conversion is done, so every stream is tagged with BT.709 primaries and transfer whatever the
matrix: tagging BT.2020 or SMPTE 170M primaries on BT.709 pixels would make players that honour
the tags show wrong colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import ImggenError

# FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values.
PRIMARIES_BT709 = 1
TRANSFER_BT709 = 1
_MATRIX = {
    "bt709": 1,
    "bt601": 6,  # SMPTE 170M (NTSC-era BT.601)
    "bt2020": 9,  # BT.2020 non-constant luminance
}
COLORSPACES = tuple(_MATRIX)
RANGES = ("limited", "full")


@dataclass(frozen=True)
class Colour:
    space: str = "bt709"
    range: str = "limited"

    def __post_init__(self) -> None:
        if self.space not in _MATRIX:
            raise ImggenError(
                f"colorspace must be one of {', '.join(COLORSPACES)}, got {self.space!r}"
            )
        if self.range not in RANGES:
            raise ImggenError(f"range must be one of {', '.join(RANGES)}, got {self.range!r}")

    @property
    def tags(self) -> tuple[int, int, int, int]:
        """(primaries, transfer, matrix, range) as FFmpeg's enum values: the primaries and
        transfer are always BT.709's (what the pixels are); only the matrix follows `space`."""
        matrix = _MATRIX[self.space]
        return PRIMARIES_BT709, TRANSFER_BT709, matrix, (1 if self.range == "limited" else 2)

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
