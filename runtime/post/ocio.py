"""OpenColorIO in the chain: colour-space conversions, looks and display/view transforms from a
studio's config, baked into the fused colour pass.

    ocio=SRC:DST               colour space to colour space, by name from the config
    ocio-look=LOOK[:SRC]       a look (applied in SRC, default the model's output space)
    ocio-display=DISPLAY:VIEW  a display/view transform from the model's output space

The config is the one passed as `--ocio-config PATH|ocio://...`, else `$OCIO`, else OCIO's
built-in default (`ocio://default`, the ACES CG config). Names are checked against the config;
a wrong one is one line with the close matches.

Why a bake: OCIO has CPU processors and GPU shader text but no CUDA path, and its CPU
processor runs per pixel in its own pass. The chain's input is display-referred (a generator's
sRGB-encoded image in [0, 1]), so a transform is sampled once on a 65^3 lattice over [0, 1]^3
and runs as a 3D LUT inside the existing fused program -- on the CPU loop and the CUDA kernel
alike, at what a .cube costs. The bake's error against OCIO's own processor is measured by
tests and `benchmarks/bench_post.py`. `:exact` (a last value on any of the three) runs OCIO's
CPU processor on the frames instead, as its own pass over 8-bit frames.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ImggenError, first_line
from .cube import CubeLut, identity_table
from .ops import Gamma, Lut, PointOp, Region

INSTALL = "pip install 'imggen-rt[ocio]' (or: pip install opencolorio)"
DEFAULT_CONFIG = "ocio://default"
# Lattice points per axis of a bake: 65 is what grading tools export for finishing work, and
# the tetrahedral error at 65 stays within one 8-bit level for the ACES transforms.
BAKE_SIZE = 65
# A scene-linear source spends most of a uniform lattice on highlights: the bake samples
# u -> T(u ** SHAPER_GAMMA) instead, behind a `gamma` op (v ** (1 / SHAPER_GAMMA)) in the same
# fused program. Measured on ACEScg -> the ACES 2.0 SDR view: 8 levels off without the
# shaper, within one with it.
SHAPER_GAMMA = 2.4

Kind = Literal["colorspace", "look", "display"]


def import_ocio() -> Any:
    try:
        import PyOpenColorIO
    except ImportError:
        raise ImggenError(f"OpenColorIO is not installed: {INSTALL}") from None
    return PyOpenColorIO


def config_source(explicit: str | None = None) -> str:
    """Which config a chain uses: the one given, else $OCIO, else the built-in default."""
    return explicit or os.environ.get("OCIO") or DEFAULT_CONFIG


_CONFIGS: dict[str, Any] = {}


def load_config(source: str) -> Any:
    """The config at `source` (a file path or an ocio:// name), loaded once per process."""
    config = _CONFIGS.get(source)
    if config is None:
        ocio = import_ocio()
        if not source.startswith("ocio://"):
            _check_config_file(Path(source))
        try:
            config = ocio.Config.CreateFromFile(source)
        except Exception as e:  # OCIO's own Exception type: one line, with the source
            raise ImggenError(f"OCIO config {source!r}: {first_line(e)}") from None
        _CONFIGS[source] = config
    return config


MAX_CONFIG_BYTES = 64 << 20


def _check_config_file(path: Path) -> None:
    """A config OCIO may read: a regular file of sane size (`/dev/zero` would never end)."""
    try:
        if not path.is_file():
            raise ImggenError(f"OCIO config {str(path)!r} is not a file")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ImggenError(f"OCIO config {str(path)!r} is over {MAX_CONFIG_BYTES >> 20} MiB")
    except OSError as e:
        raise ImggenError(f"OCIO config {str(path)!r}: {e.strerror}") from None


def _check_name(what: str, name: str, known: Iterable[str], source: str) -> str:
    known = list(known)
    if name in known:
        return name
    folded = {k.casefold(): k for k in known}
    if name.casefold() in folded:  # OCIO's own lookups are case-insensitive; say it its way
        return folded[name.casefold()]
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.4)
    close += [k for k in known if name.casefold() in k.casefold() and k not in close][:4]
    hint = f"; close: {', '.join(repr(c) for c in close[:4])}" if close else ""
    raise ImggenError(
        f"OCIO config {source!r} has no {what} {name!r}{hint} ({len(known)} {what}s in it)"
    )


def colour_space(config: Any, name: str, source: str) -> str:
    """A colour space (or role/alias, as OCIO resolves them) by name, checked."""
    found = config.getColorSpace(name)
    if found is not None:
        return str(found.getName())
    return _check_name("colour space", name, config.getColorSpaceNames(), source)


def checked_colour_space(name: str, config: str | None = None) -> str:
    """A colour space for a model card (`--colour-space`), by its name in the config when
    OpenColorIO is installed (a wrong name is one line with the close ones); as given when it
    is not (checked when an ocio op first uses it)."""
    if not name:
        return ""
    try:
        import_ocio()
    except ImggenError:
        return name
    source = config_source(config)
    return colour_space(load_config(source), name, source)


def config_catalogue(config: str | None = None) -> dict[str, Any]:
    """What a colour picker offers from a config: its colour spaces and each display's views
    (the page's selectors); {"available": False, "reason": ...} without OpenColorIO."""
    try:
        import_ocio()
    except ImggenError as e:
        return {"available": False, "reason": str(e)}
    source = config_source(config)
    cfg = load_config(source)
    return {
        "available": True,
        "config": source,
        "name": str(cfg.getName()),
        "colour_spaces": [str(n) for n in cfg.getColorSpaceNames()],
        "displays": {str(d): [str(v) for v in cfg.getViews(d)] for d in cfg.getDisplays()},
    }


@dataclass(frozen=True)
class OcioTransform:
    """One OCIO transform of the chain, by name: what `ocio*=` says, resolved in a config."""

    kind: Kind
    names: tuple[str, ...]
    config: str = field(default=DEFAULT_CONFIG)

    def processor(self) -> Any:
        ocio = import_ocio()
        cfg = load_config(self.config)
        try:
            if self.kind == "colorspace":
                src, dst = (colour_space(cfg, n, self.config) for n in self.names)
                return cfg.getProcessor(src, dst)
            if self.kind == "look":
                look, src = self.names
                look = _check_name("look", look, cfg.getLookNames(), self.config)
                space = colour_space(cfg, src, self.config)
                transform = ocio.LookTransform(src=space, dst=space, looks=look)
                return cfg.getProcessor(transform)
            display, view, src = self.names
            display = _check_name("display", display, cfg.getDisplays(), self.config)
            view = _check_name(f"view of {display!r}", view, cfg.getViews(display), self.config)
            space = colour_space(cfg, src, self.config)
            transform = ocio.DisplayViewTransform(src=space, display=display, view=view)
            return cfg.getProcessor(transform)
        except ImggenError:
            raise
        except Exception as e:
            raise ImggenError(f"OCIO cannot build {self}: {first_line(e)}") from None

    def cpu(self) -> Any:
        """OCIO's CPU processor, built once per transform (EXR writes ask every frame)."""
        return _cpu_processor(self)

    def target(self) -> str:
        """The destination colour space's own name in the config (aliases resolved)."""
        if self.kind != "colorspace":
            raise ImggenError(f"{self} has a display or look, not a colour space, as its target")
        return colour_space(load_config(self.config), self.names[1], self.config)

    @property
    def display(self) -> str | None:
        """The display a display/view transform encodes for, else None."""
        return self.names[0] if self.kind == "display" else None

    @property
    def source(self) -> str:
        return self.names[0] if self.kind == "colorspace" else self.names[-1]

    def source_is_linear(self) -> bool:
        ocio = import_ocio()
        cfg = load_config(self.config)
        return bool(cfg.isColorSpaceLinear(self.source, ocio.REFERENCE_SPACE_SCENE))

    def __str__(self) -> str:
        op = {"colorspace": "ocio", "look": "ocio-look", "display": "ocio-display"}[self.kind]
        return f"{op}={':'.join(self.names)}"


@functools.lru_cache(maxsize=64)
def _cpu_processor(transform: OcioTransform) -> Any:
    return transform.processor().getDefaultCPUProcessor()


def bake(
    transform: OcioTransform, size: int = BAKE_SIZE, shaper: float = 1.0
) -> NDArray[np.float32]:
    """The transform sampled on a size^3 lattice over [0, 1]^3, (N, N, N, 3) in .cube order;
    with a shaper the lattice point u holds T(u ** shaper)."""
    lattice = identity_table(size)
    flat = np.ascontiguousarray(lattice.reshape(-1, 3) ** np.float32(shaper))
    transform.cpu().applyRGB(flat)  # in place, float32 RGB
    table = flat.reshape(lattice.shape)
    if not np.isfinite(table).all():
        raise ImggenError(f"{transform}: OCIO gives non-finite values on [0, 1]; use :exact")
    return table


@dataclass(frozen=True)
class BakedOcio(Lut):
    """A LUT baked from an OCIO transform: fuses like any LUT, and remembers what it is (a
    display/view decides how a video file is tagged)."""

    transform: OcioTransform | None = field(default=None, kw_only=True)


def baked_ops(transform: OcioTransform, region: Region = "all") -> list[PointOp]:
    """The transform as ops of the fused colour program: a LUT, behind a shaper when the
    source is scene-linear."""
    shaper = SHAPER_GAMMA if transform.source_is_linear() else 1.0
    source = f"{transform} ({transform.config})"
    cube = CubeLut(bake(transform, shaper=shaper), title=str(transform), source=source)
    lut = BakedOcio(cube, "tetrahedral", region=region, transform=transform)
    return [Gamma(shaper, region=region), lut] if shaper != 1.0 else [lut]


@dataclass(frozen=True)
class OcioExact:
    """OCIO's own CPU processor on the 8-bit frames (the `:exact` form): values / 255 in,
    rounded half up to 8 bits out, as its own pass."""

    transform: OcioTransform
    region: Region = field(default="all", kw_only=True)

    @property
    def makes_colour(self) -> bool:
        return True

    def apply(self, frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """(N, H, W, 3) RGB uint8 -> the same, transformed."""
        values = frames.astype(np.float32) * np.float32(1 / 255)
        self.transform.cpu().applyRGB(values)
        values *= 255
        values += 0.5
        np.clip(values, 0, 255, out=values)
        out: NDArray[np.uint8] = np.nan_to_num(values, nan=0.0).astype(np.uint8)
        return out
