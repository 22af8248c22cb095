"""The post-processing ops: what each one means, its parameters, and how it is encoded.

Pointwise (colour) ops become rows of a program the extension runs in one fused pass
(imggen/point.h); stencil ops (blur, sharpen, resize) become tap tables for the separable
filter; mask ops make a region that any other op can be limited to (`@fg`, `@bg`).

All colour ops work on values in [0, 1] as stored (display-encoded, like a grading tool's
controls), in the order the chain lists them; values may leave [0, 1] between ops and are
clamped once, when quantised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError
from .cube import CubeLut, read_cube

# Program row layout (imggen/point.h): kind, LUT index, 12 parameters.
PROGRAM_COLUMNS = 14
KIND = {"gain": 0, "add": 1, "contrast": 2, "saturation": 3, "gamma": 4, "matrix": 5, "lut3d": 6}

Region = Literal["all", "fg", "bg"]


def _row(kind: str, *params: float, lut: int = 0) -> NDArray[np.float32]:
    row = np.zeros(PROGRAM_COLUMNS, np.float32)
    row[0] = KIND[kind]
    row[1] = lut
    row[2 : 2 + len(params)] = params
    return row


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ImggenError(f"{name} must be a finite number; got {value}")
    return float(value)


@dataclass(frozen=True)
class PointOp:
    """A colour op: one program row (and, for a LUT, one table)."""

    region: Region = field(default="all", kw_only=True)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        raise NotImplementedError

    def table(self) -> NDArray[np.float32] | None:
        return None

    @property
    def makes_colour(self) -> bool:
        """True when a gray image can come out coloured (so gray models emit RGB)."""
        return False


@dataclass(frozen=True)
class Exposure(PointOp):
    """Photographic stops: +1 doubles every value."""

    stops: float

    def __post_init__(self) -> None:
        _finite("exposure", self.stops)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        g = 2.0**self.stops
        return _row("gain", g, g, g)


@dataclass(frozen=True)
class Brightness(PointOp):
    """An offset added to every channel (0.1 = a tenth of full scale)."""

    offset: float

    def __post_init__(self) -> None:
        _finite("brightness", self.offset)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("add", self.offset, self.offset, self.offset)


@dataclass(frozen=True)
class Contrast(PointOp):
    """Scale distances from a pivot (mid-gray by default): 1 is identity, 0 flat gray."""

    amount: float
    pivot: float = 0.5

    def __post_init__(self) -> None:
        _finite("contrast", self.amount)
        _finite("contrast pivot", self.pivot)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("contrast", self.amount, self.pivot)


@dataclass(frozen=True)
class Saturation(PointOp):
    """Scale distances from the pixel's BT.709 luma: 1 is identity, 0 gray, >1 more vivid."""

    amount: float

    def __post_init__(self) -> None:
        _finite("saturation", self.amount)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("saturation", self.amount)


@dataclass(frozen=True)
class Gamma(PointOp):
    """v ** (1 / gamma): gamma > 1 lifts mid-tones, < 1 deepens them; black and white stay."""

    gamma: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ImggenError(f"gamma must be a positive number; got {self.gamma}")

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("gamma", 1.0 / self.gamma)


@dataclass(frozen=True)
class Gains(PointOp):
    """White balance as per-channel gains (r, g, b)."""

    r: float
    g: float
    b: float

    def __post_init__(self) -> None:
        for name, v in zip("rgb", (self.r, self.g, self.b), strict=True):
            if not (math.isfinite(v) and v >= 0):
                raise ImggenError(f"white-balance gain {name} must be >= 0; got {v}")

    @property
    def makes_colour(self) -> bool:
        return not (self.r == self.g == self.b)

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("gain", self.r, self.g, self.b)


def white_balance_gains(kelvin: float, tint: float = 0.0) -> Gains:
    """Gains that neutralise light of colour temperature `kelvin` (6500 K: none), camera style:
    a lower setting cools the image (blue up), a higher one warms it. `tint` in [-100, 100]
    moves green (negative) or magenta (positive); 100 halves green.

    The light's colour is the Planckian locus point (Kim et al.'s cubic fit, 1667-25000 K) in
    linear sRGB; green's gain is kept at 1 so exposure does not move.
    """
    if not (math.isfinite(kelvin) and 1667 <= kelvin <= 25000):
        raise ImggenError(f"temperature must be in 1667..25000 K; got {kelvin}")
    if not (math.isfinite(tint) and -100 <= tint <= 100):
        raise ImggenError(f"tint must be in -100..100; got {tint}")
    light = _planckian_rgb(kelvin)
    reference = _planckian_rgb(6500.0)
    gains = reference / light
    gains = gains / gains[1]
    green = 2.0 ** (-tint / 100.0)
    return Gains(float(gains[0]), float(green), float(gains[2]))


def _planckian_rgb(kelvin: float) -> NDArray[np.float64]:
    t = kelvin
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    xyz_to_srgb = np.array(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ]
    )
    rgb: NDArray[np.float64] = np.maximum(xyz_to_srgb @ xyz, 1e-6)
    return rgb


@dataclass(frozen=True)
class ColorMatrix(PointOp):
    """A 3x3 matrix on (r, g, b), row-major: channel mixing, colour-space conversion."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) != 9 or not all(math.isfinite(v) for v in self.values):
            raise ImggenError(f"matrix needs 9 finite numbers; got {len(self.values)}")

    @property
    def makes_colour(self) -> bool:
        m = np.asarray(self.values).reshape(3, 3)
        return not np.allclose(m, m[0])

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("matrix", *self.values)


@dataclass(frozen=True)
class Lut(PointOp):
    """A 3D LUT from a .cube file, trilinear or tetrahedral (the grading tools' default)."""

    cube: CubeLut
    interpolation: Literal["tetrahedral", "trilinear"] = "tetrahedral"

    @classmethod
    def from_file(
        cls, path: str | Path, interpolation: str = "tetrahedral", region: Region = "all"
    ) -> Lut:
        if interpolation not in ("tetrahedral", "trilinear"):
            raise ImggenError(
                f"LUT interpolation must be tetrahedral or trilinear; got {interpolation!r}"
            )
        return cls(read_cube(path), interpolation, region=region)  # type: ignore[arg-type]

    @property
    def makes_colour(self) -> bool:
        return True

    def row(self, lut_index: int) -> NDArray[np.float32]:
        lo, hi = self.cube.domain_min, self.cube.domain_max
        n = self.cube.size
        scale = [(n - 1) / (h - lo_) for lo_, h in zip(lo, hi, strict=True)]
        tetra = 1.0 if self.interpolation == "tetrahedral" else 0.0
        return _row("lut3d", *lo, *scale, tetra, lut=lut_index)

    def table(self) -> NDArray[np.float32]:
        """The table as the extension takes it: (N, N, N, 4), each entry padded to 16 bytes."""
        return self.cube.padded_table


# ---- stencils --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blur:
    """Gaussian blur of standard deviation `sigma` pixels (separable, reflected borders)."""

    sigma: float
    region: Region = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and 0 < self.sigma <= 64):
            raise ImggenError(f"blur sigma must be in (0, 64] pixels; got {self.sigma}")


@dataclass(frozen=True)
class Sharpen:
    """Unsharp mask: add `amount` times (image - Gaussian blur of `radius` sigma) where that
    detail is at least `threshold` 8-bit levels (0: everywhere)."""

    amount: float
    radius: float = 1.0
    threshold: float = 0.0
    region: Region = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amount) and 0 <= self.amount <= 20):
            raise ImggenError(f"sharpen amount must be in [0, 20]; got {self.amount}")
        if not (math.isfinite(self.radius) and 0 < self.radius <= 64):
            raise ImggenError(f"sharpen radius must be in (0, 64] pixels; got {self.radius}")
        if not (math.isfinite(self.threshold) and 0 <= self.threshold <= 255):
            raise ImggenError(f"sharpen threshold must be in [0, 255]; got {self.threshold}")


ResizeFilter = Literal["auto", "bilinear", "area", "lanczos"]


@dataclass(frozen=True)
class Resize:
    """Resample to width x height for delivery. `auto` picks area when shrinking (no aliasing)
    and Lanczos when enlarging (sharp edges)."""

    width: int
    height: int
    filter: ResizeFilter = "auto"
    region: Region = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if not (1 <= self.width <= 16384 and 1 <= self.height <= 16384):
            raise ImggenError(f"resize size must be 1..16384 each; got {self.width}x{self.height}")
        if self.filter not in ("auto", "bilinear", "area", "lanczos"):
            raise ImggenError(
                f"resize filter must be auto, bilinear, area or lanczos; got {self.filter!r}"
            )
        if self.region != "all":
            raise ImggenError("resize changes the frame size, so it cannot be limited to a region")


# ---- regions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mask:
    """Make the region later ops may be limited to (`@fg` inside, `@bg` outside).

    otsu: foreground = pixels brighter than Otsu's threshold of the luma, then only connected
    components of at least `min_area` of the frame (a fraction) are kept (specks dropped).
    otsu-dark: the same for dark subjects on a bright ground. kmeans: colours clustered into
    `k` groups; the foreground is the brightest group.
    """

    method: Literal["otsu", "otsu-dark", "kmeans"] = "otsu"
    k: int = 3
    min_area: float = 0.01
    region: Region = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if self.method not in ("otsu", "otsu-dark", "kmeans"):
            raise ImggenError(f"mask method must be otsu, otsu-dark or kmeans; got {self.method!r}")
        if not 2 <= self.k <= 16:
            raise ImggenError(f"kmeans k must be in 2..16; got {self.k}")
        if not 0 <= self.min_area < 1:
            raise ImggenError(f"mask min_area must be a fraction in [0, 1); got {self.min_area}")


@dataclass(frozen=True)
class Alpha:
    """Append the current mask as an alpha channel (RGBA out), for compositing."""

    region: Region = field(default="all", kw_only=True)


StencilOp = Blur | Sharpen | Resize
Op = PointOp | Blur | Sharpen | Resize | Mask | Alpha
