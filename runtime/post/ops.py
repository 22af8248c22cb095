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
from .cube import MAX_SIZE, CubeLut, read_cube

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


# The extension computes in float32: a parameter is checked in that type, so 1e300 (finite
# in float64, inf in float32) is refused here, not turned into inf in the program.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _finite(name: str, value: float) -> float:
    """value as a float that is finite in float32, or ImggenError."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ImggenError(f"{name} must be a number; got {value!r}") from None
    if not (math.isfinite(number) and abs(number) <= FLOAT32_MAX):
        raise ImggenError(f"{name} must be a finite number (in float32); got {number:g}")
    return number


def _as_float(op: object, attr: str, name: str) -> float:
    """op.attr as a Python float (stored back on the frozen op), or ImggenError when it is not
    a number; the range is each op's to check."""
    value = getattr(op, attr)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        raise ImggenError(f"{name} must be a number; got {text[:60]}") from None
    object.__setattr__(op, attr, number)
    return number


def _f32(value: float) -> float:
    """value rounded to float32 (what the program row holds)."""
    return float(np.float32(value))


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
        _finite("exposure", _as_float(self, "stops", "exposure"))
        # The gain 2^stops must be a finite, non-zero float32.
        if not -126 <= self.stops <= 127:
            raise ImggenError(f"exposure must be in -126..127 stops; got {self.stops:g}")

    def row(self, lut_index: int) -> NDArray[np.float32]:
        g = 2.0**self.stops
        return _row("gain", g, g, g)


@dataclass(frozen=True)
class Brightness(PointOp):
    """An offset added to every channel (0.1 = a tenth of full scale)."""

    offset: float

    def __post_init__(self) -> None:
        _finite("brightness", _as_float(self, "offset", "brightness"))

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("add", self.offset, self.offset, self.offset)


@dataclass(frozen=True)
class Contrast(PointOp):
    """Scale distances from a pivot (mid-gray by default): 1 is identity, 0 flat gray."""

    amount: float
    pivot: float = 0.5

    def __post_init__(self) -> None:
        _finite("contrast", _as_float(self, "amount", "contrast"))
        _finite("contrast pivot", _as_float(self, "pivot", "contrast pivot"))

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("contrast", self.amount, self.pivot)


@dataclass(frozen=True)
class Saturation(PointOp):
    """Scale distances from the pixel's BT.709 luma: 1 is identity, 0 gray, >1 more vivid."""

    amount: float

    def __post_init__(self) -> None:
        _finite("saturation", _as_float(self, "amount", "saturation"))

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("saturation", self.amount)


@dataclass(frozen=True)
class Gamma(PointOp):
    """v ** (1 / gamma): gamma > 1 lifts mid-tones, < 1 deepens them; black and white stay."""

    gamma: float

    def __post_init__(self) -> None:
        _as_float(self, "gamma", "gamma")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ImggenError(f"gamma must be a positive number; got {self.gamma}")
        # Its reciprocal, the exponent the program holds, must be finite and non-zero in
        # float32.
        if not 1 / FLOAT32_MAX <= self.gamma <= FLOAT32_MAX or _f32(1.0 / self.gamma) == 0:
            raise ImggenError(
                f"gamma must be between {1 / FLOAT32_MAX:.3g} and {FLOAT32_MAX:.3g} (its "
                f"reciprocal is a float32); got {self.gamma:g}"
            )

    def row(self, lut_index: int) -> NDArray[np.float32]:
        return _row("gamma", 1.0 / self.gamma)


@dataclass(frozen=True)
class Gains(PointOp):
    """White balance as per-channel gains (r, g, b)."""

    r: float
    g: float
    b: float

    def __post_init__(self) -> None:
        for name in "rgb":
            v = _as_float(self, name, f"white-balance gain {name}")
            if not (math.isfinite(v) and v >= 0):
                raise ImggenError(f"white-balance gain {name} must be >= 0; got {v}")
            _finite(f"white-balance gain {name}", v)

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
        try:
            values = tuple(float(v) for v in self.values)
        except (TypeError, ValueError, OverflowError):
            raise ImggenError(f"matrix needs 9 finite numbers; got {self.values!r:.60}") from None
        object.__setattr__(self, "values", values)
        if len(self.values) != 9 or not all(math.isfinite(v) for v in self.values):
            raise ImggenError(f"matrix needs 9 finite numbers; got {len(self.values)}")
        for v in self.values:
            _finite("matrix value", v)

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

    def __post_init__(self) -> None:
        if self.interpolation not in ("tetrahedral", "trilinear"):
            raise ImggenError(
                f"LUT interpolation must be tetrahedral or trilinear; got {self.interpolation!r}"
            )
        table = np.asarray(self.cube.table)
        n = table.shape[0] if table.ndim == 4 else 0
        if table.shape != (n, n, n, 3) or not 2 <= n <= MAX_SIZE:
            raise ImggenError(
                f"a LUT table must be (N, N, N, 3) with N in 2..{MAX_SIZE}; got {table.shape}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.isfinite(np.asarray(table, np.float32)).all())
        if not finite:
            name = self.cube.source or self.cube.title or "table"
            raise ImggenError(f"LUT {name}: values must be finite")
        # The lattice mapping in float32, as the program row holds it (row()).
        for lo, scale in zip(self.cube.domain_min, self.lattice_scale, strict=True):
            _finite("LUT DOMAIN_MIN", lo)
            if not (math.isfinite(scale) and scale > 0 and _f32(scale) > 0):
                raise ImggenError(
                    f"LUT domain must have DOMAIN_MIN < DOMAIN_MAX in float32, with "
                    f"(N - 1) / (max - min) finite; got {self.cube.domain_min} .. "
                    f"{self.cube.domain_max}"
                )

    @property
    def lattice_scale(self) -> tuple[float, float, float]:
        """(N - 1) / (max - min) per channel, in float32 (a float32 inf when the domain is too
        narrow)."""
        n = self.cube.size
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            lo = np.asarray(self.cube.domain_min, np.float64)
            hi = np.asarray(self.cube.domain_max, np.float64)
            scale = ((n - 1) / (hi - lo)).astype(np.float32)
        return (float(scale[0]), float(scale[1]), float(scale[2]))

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
        tetra = 1.0 if self.interpolation == "tetrahedral" else 0.0
        return _row("lut3d", *self.cube.domain_min, *self.lattice_scale, tetra, lut=lut_index)

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
        _as_float(self, "sigma", "blur sigma")
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
        _as_float(self, "amount", "sharpen amount")
        _as_float(self, "radius", "sharpen radius")
        _as_float(self, "threshold", "sharpen threshold")
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
        if not all(isinstance(v, int | np.integer) for v in (self.width, self.height)):
            raise ImggenError(
                f"resize size must be whole numbers; got {self.width!r}x{self.height!r}"
            )
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
        if not (isinstance(self.k, int | np.integer) and 2 <= self.k <= 16):
            raise ImggenError(f"kmeans k must be in 2..16; got {self.k}")
        _as_float(self, "min_area", "mask min_area")
        if not 0 <= self.min_area < 1:
            raise ImggenError(f"mask min_area must be a fraction in [0, 1); got {self.min_area}")


@dataclass(frozen=True)
class Alpha:
    """Append the current mask as an alpha channel (RGBA out), for compositing."""

    region: Region = field(default="all", kw_only=True)


StencilOp = Blur | Sharpen | Resize
Op = PointOp | Blur | Sharpen | Resize | Mask | Alpha
