"""Numbered file names: `shot.%06d.png` (FFmpeg style) or `shot.####.exr` (Nuke style)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import ImggenError

_PRINTF = re.compile(r"%(0?)(\d*)d")
_HASHES = re.compile(r"#+")


@dataclass(frozen=True)
class FramePattern:
    folder: Path
    prefix: str
    suffix: str
    width: int  # zero padding; 0 = none

    def name(self, number: int) -> str:
        digits = f"{number:0{self.width}d}" if self.width else str(number)
        return f"{self.prefix}{digits}{self.suffix}"

    def path(self, number: int) -> Path:
        return self.folder / self.name(number)

    @property
    def extension(self) -> str:
        return "." + self.suffix.rsplit(".", 1)[-1].lower() if "." in self.suffix else ""


def is_pattern(text: str) -> bool:
    name = Path(text).name
    return bool(_PRINTF.search(name) or "#" in name)


def parse_pattern(text: str) -> FramePattern:
    """Exactly one frame-number field, in the file name (not the folder), before an extension."""
    path = Path(text)
    name = path.name
    fields = [*_PRINTF.finditer(name), *_HASHES.finditer(name)]
    if len(fields) != 1 or name.count("%") != (1 if _PRINTF.search(name) else 0):
        raise ImggenError(
            f"bad frame pattern {text!r}: use one number field, e.g. shot.%06d.png or shot.####.exr"
        )
    if _PRINTF.search(str(path.parent)) or "#" in str(path.parent):
        raise ImggenError(f"bad frame pattern {text!r}: the number goes in the file name")
    m = fields[0]
    if m.re is _PRINTF:
        width = int(m.group(2) or 0)
        if m.group(2) and not m.group(1) and width > 1:
            raise ImggenError(f"bad frame pattern {text!r}: pad with zeros (%0{width}d)")
    else:
        width = len(m.group(0))
    prefix, suffix = name[: m.start()], name[m.end() :]
    if "." not in suffix or not suffix.rsplit(".", 1)[1]:
        raise ImggenError(f"bad frame pattern {text!r}: it needs a file extension (.png, .exr)")
    return FramePattern(path.parent, prefix, suffix, width)
