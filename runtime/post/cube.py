"""3D LUTs in the Adobe / Resolve `.cube` text format: read, write, and the identity.

The format: optional `TITLE "..."`, `LUT_3D_SIZE N`, optional `DOMAIN_MIN r g b` and
`DOMAIN_MAX r g b` (default 0 0 0 and 1 1 1), `#` comments, then N^3 lines of three numbers
with red changing fastest, then green, then blue. A malformed file is one ImggenError naming
the file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError
from ..text_files import clip, read_text_file

MAX_SIZE = 256
# A 256-point cube is 16.8 M lines of three numbers: ~500 MB of text at most.
MAX_CUBE_BYTES = 512 * 2**20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Looks shipped with the package, loadable by name: lut=teal-orange (tools/make_looks.py).
LOOKS_DIR = Path(__file__).parent / "looks"


@dataclass(frozen=True, eq=False)
class CubeLut:
    """table is (N, N, N, 3) float32 indexed [b, g, r] (the file's order, red fastest)."""

    table: NDArray[np.float32]
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    title: str = ""
    source: str = field(default="")

    @property
    def size(self) -> int:
        return int(self.table.shape[0])

    @cached_property
    def padded_table(self) -> NDArray[np.float32]:
        """(N, N, N, 4): each entry (r, g, b, 0), one aligned load per lattice corner."""
        padded = np.zeros((*self.table.shape[:3], 4), np.float32)
        padded[..., :3] = self.table
        return padded


def identity_table(size: int) -> NDArray[np.float32]:
    """The LUT that maps every lattice point to itself."""
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.ascontiguousarray(np.stack([r, g, b], axis=-1), dtype=np.float32)


def read_cube(path: str | Path) -> CubeLut:
    """Read a .cube file; a bare name (no suffix, no folder) may name a shipped look."""
    path = Path(path)
    shipped = LOOKS_DIR / f"{path.name}.cube"
    if not path.exists() and path.suffix == "" and path.parent == Path(".") and shipped.is_file():
        path = shipped
    text = read_text_file(path, MAX_CUBE_BYTES, "LUT file", encoding="utf-8-sig")
    return parse_cube(text, str(path))


def parse_cube(text: str, name: str = "<cube>") -> CubeLut:
    size = 0
    title = ""
    domain = {"DOMAIN_MIN": (0.0, 0.0, 0.0), "DOMAIN_MAX": (1.0, 1.0, 1.0)}
    values: list[tuple[float, float, float]] = []
    last_line = 0

    def error(line: int, what: str) -> ImggenError:
        return ImggenError(f"{name} line {line}: {what}")

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        last_line = number
        keyword, _, rest = line.partition(" ")
        if keyword[0].isalpha() and not _is_number(keyword):
            if values:
                raise error(number, f"keyword {keyword} after the table started")
            if keyword == "TITLE":
                title = rest.strip().strip('"')
            elif keyword == "LUT_3D_SIZE":
                try:
                    size = int(rest)
                except ValueError:
                    raise error(number, f"LUT_3D_SIZE needs an integer; got {clip(rest)}") from None
                if not 2 <= size <= MAX_SIZE:
                    raise error(number, f"LUT_3D_SIZE must be 2..{MAX_SIZE}; got {size}")
            elif keyword in domain:
                domain[keyword] = _three_numbers(rest, f"{name} line {number}")
            elif keyword == "LUT_1D_SIZE":
                raise error(number, "1D LUTs are not supported; this reads 3D LUTs (LUT_3D_SIZE)")
            elif keyword.startswith("LUT_") or keyword.startswith("DOMAIN_"):
                raise error(number, f"unknown keyword {keyword}")
            # Other keywords (vendor extensions) are ignored, as grading tools do.
            continue
        if size == 0:
            raise error(number, "table data before LUT_3D_SIZE")
        values.append(_three_numbers(line, f"{name} line {number}"))

    if size == 0:
        raise ImggenError(f"{name}: no LUT_3D_SIZE line; is this a .cube 3D LUT?")
    expected = size**3
    if len(values) != expected:
        raise error(
            last_line,
            f"LUT_3D_SIZE {size} needs {expected} table lines; the file has {len(values)}",
        )
    lo, hi = domain["DOMAIN_MIN"], domain["DOMAIN_MAX"]
    if not all(np.float32(a) < np.float32(b) for a, b in zip(lo, hi, strict=True)):
        raise ImggenError(f"{name}: DOMAIN_MIN {lo} must be below DOMAIN_MAX {hi} per channel")
    table = np.asarray(values, dtype=np.float32).reshape(size, size, size, 3)
    return CubeLut(np.ascontiguousarray(table), lo, hi, title, name)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _three_numbers(text: str, where: str) -> tuple[float, float, float]:
    parts = text.split()
    try:
        if len(parts) != 3:
            raise ValueError
        r, g, b = (float(p) for p in parts)
    except ValueError:
        raise ImggenError(f"{where}: expected three numbers; got {clip(text.strip())}") from None
    # Checked in float32, the type the table and the extension hold (1e300 is finite in
    # float64 only).
    if not all(math.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in (r, g, b)):
        raise ImggenError(f"{where}: values must be finite (in float32); got {clip(text.strip())}")
    return r, g, b


def write_cube(path: str | Path, table: NDArray[np.floating], title: str = "") -> None:
    """Write an (N, N, N, 3) [b, g, r]-indexed table as a .cube file (domain 0..1)."""
    n = table.shape[0]
    if table.shape != (n, n, n, 3):
        raise ImggenError(f"a LUT table must be (N, N, N, 3); got {table.shape}")
    lines = [f'TITLE "{title}"'] if title else []
    lines.append(f"LUT_3D_SIZE {n}")
    lines += [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in table.reshape(-1, 3)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
