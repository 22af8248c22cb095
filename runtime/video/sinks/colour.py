"""Colour matrices and ranges: explicit RGB -> YUV conversion and the tags that say so.

Handing RGB frames to an encoder lets FFmpeg pick the BT.601 matrix even on a stream tagged
BT.709, so every conversion here names its matrix and range, and the same values are tagged on the
codec context and on every frame (ProRes takes its tags from the frames).

`--colorspace` picks the YUV matrix only. The primaries and transfer tags say what the pixels
are: sRGB/BT.709 display values (BT.709 tags whatever the matrix: tagging BT.2020 or SMPTE 170M
primaries on BT.709 pixels would make players that honour the tags show wrong colours), unless
the chain ends its colour work with an OCIO display/view transform, whose display then decides
them (`ocio-display=Display P3 - Display:...` is tagged P3-D65 + sRGB transfer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...errors import ImggenError

# FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values.
PRIMARIES_BT709 = 1
TRANSFER_BT709 = 1
UNSPECIFIED = 2
# What an OCIO display (the ACES configs' names) encodes for, as (primaries, transfer): BT.709
# 1, BT.2020 9, P3-D65 (SMPTE EG 432) 12; transfers BT.709 1, gamma 2.2 4, sRGB (IEC 61966-2-1)
# 13, PQ (SMPTE ST 2084) 16, HLG (ARIB STD-B67) 18. A display not listed here is tagged
# unspecified rather than guessed.
DISPLAY_TAGS = {
    "sRGB - Display": (1, 13),
    "Rec.1886 Rec.709 - Display": (1, 1),
    "Gamma 2.2 Rec.709 - Display": (1, 4),
    "Display P3 - Display": (12, 13),
    "Display P3 HDR - Display": (12, 16),
    "Rec.2100-PQ - Display": (9, 16),
    "Rec.2100-HLG - Display": (9, 18),
    "ST2084-P3-D65 - Display": (12, 16),
    "Gamma 2.6 P3-D65 - Display": (12, UNSPECIFIED),
}
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
    # The pixels' primaries and transfer: sRGB/BT.709 display values unless a chain's OCIO
    # display/view transform encoded them for another display (`for_display`).
    primaries: int = PRIMARIES_BT709
    transfer: int = TRANSFER_BT709
    display: str = ""

    def for_display(self, display: str | None) -> Colour:
        """This colour, tagged for frames an OCIO display/view transform made for `display`."""
        if display is None:
            return self
        primaries, transfer = DISPLAY_TAGS.get(display, (UNSPECIFIED, UNSPECIFIED))
        return replace(self, primaries=primaries, transfer=transfer, display=display)

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
        transfer are what the pixels are (BT.709 unless a display transform said otherwise);
        the matrix follows `space`."""
        matrix = _MATRIX[self.space]
        rng = 1 if self.range == "limited" else 2
        return self.primaries, self.transfer, matrix, rng

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
