"""The chain's text forms: the CLI string and a YAML (or JSON) file.

String: comma-separated `name=value` items, several values joined by `:`, and an optional
`@fg` / `@bg` to limit an op to the region of the last mask:

    exposure=0.3,temperature=5600:10,lut=look.cube,mask=otsu,saturation=1.4@fg,sharpen=0.5

YAML: a list under `post:` (or a bare list) of one-key mappings, each value a number, a list
of values, or a mapping of named parameters (relative LUT paths are relative to the file):

    post:
      - exposure: 0.3
      - white_balance: {temperature: 5600, tint: 10}
      - lut: {path: look.cube, interpolation: trilinear}
      - sharpen: {amount: 0.5, radius: 1.2, threshold: 2, region: fg}
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundled import BUNDLED, resolve_model
from ..card import DEFAULT_COLOUR_SPACE
from ..errors import ImggenError
from ..text_files import read_text_file
from .chain import ChainOp, PostChain
from .model_op import ModelOp
from .ocio import OcioExact, OcioTransform, baked_ops, config_source
from .ops import (
    Alpha,
    Blur,
    Brightness,
    ColorMatrix,
    Contrast,
    Exposure,
    Gains,
    Gamma,
    Lut,
    Mask,
    Op,
    Resize,
    Saturation,
    Sharpen,
    white_balance_gains,
)


def _num(value: Any, what: str) -> float:
    """A parameter as a float (its range is the op's to check: ops.py, in float32)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ImggenError(f"{what} must be a number; got {_short(value)}") from None


def _int(value: Any, what: str) -> int:
    number = _num(value, what)
    if not math.isfinite(number) or number != int(number):
        raise ImggenError(f"{what} must be a whole number; got {_short(value)}")
    return int(number)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _size(text: Any) -> tuple[int, int]:
    parts = str(text).lower().split("x")
    if len(parts) != 2:
        raise ImggenError(f"resize needs WIDTHxHEIGHT, e.g. 1920x1080; got {text!r}")
    return _int(parts[0], "resize width"), _int(parts[1], "resize height")


# Each builder takes the op's values (strings from the CLI, numbers from YAML) and `region`.


def _exposure(stops: Any, *, region: Any = "all") -> Op:
    return Exposure(_num(stops, "exposure"), region=region)


def _brightness(offset: Any, *, region: Any = "all") -> Op:
    return Brightness(_num(offset, "brightness"), region=region)


def _contrast(amount: Any, pivot: Any = 0.5, *, region: Any = "all") -> Op:
    return Contrast(_num(amount, "contrast"), _num(pivot, "contrast pivot"), region=region)


def _saturation(amount: Any, *, region: Any = "all") -> Op:
    return Saturation(_num(amount, "saturation"), region=region)


def _gamma(gamma: Any, *, region: Any = "all") -> Op:
    return Gamma(_num(gamma, "gamma"), region=region)


def _gains(r: Any, g: Any, b: Any, *, region: Any = "all") -> Op:
    return Gains(_num(r, "gain r"), _num(g, "gain g"), _num(b, "gain b"), region=region)


def _white_balance(
    temperature: Any = 6500,
    tint: Any = 0,
    r: Any = None,
    g: Any = None,
    b: Any = None,
    *,
    region: Any = "all",
) -> Op:
    if r is not None or g is not None or b is not None:
        return _gains(
            1 if r is None else r, 1 if g is None else g, 1 if b is None else b, region=region
        )
    gains = white_balance_gains(_num(temperature, "temperature"), _num(tint, "tint"))
    return Gains(gains.r, gains.g, gains.b, region=region)


def _temperature(kelvin: Any, tint: Any = 0, *, region: Any = "all") -> Op:
    return _white_balance(kelvin, tint, region=region)


def _matrix(*values: Any, region: Any = "all") -> Op:
    return ColorMatrix(tuple(_num(v, "matrix value") for v in values), region=region)


def _blur(sigma: Any, *, region: Any = "all") -> Op:
    return Blur(_num(sigma, "blur sigma"), region=region)


def _sharpen(amount: Any, radius: Any = 1.0, threshold: Any = 0.0, *, region: Any = "all") -> Op:
    return Sharpen(
        _num(amount, "sharpen amount"),
        _num(radius, "sharpen radius"),
        _num(threshold, "sharpen threshold"),
        region=region,
    )


def _resize(size: Any, filter: Any = "auto", *, region: Any = "all") -> Op:
    width, height = _size(size)
    return Resize(width, height, filter, region=region)


def _mask(
    method: Any = "otsu",
    param: Any = None,
    *,
    k: Any = None,
    min_area: Any = None,
    region: Any = "all",
) -> Op:
    """mask=otsu[:MIN_AREA], mask=otsu-dark[:MIN_AREA] or mask=kmeans[:K]."""
    method = str(method)
    if method == "kmeans":
        groups = param if k is None else k
        return Mask("kmeans", _int(3 if groups is None else groups, "kmeans k"), region=region)
    area = param if min_area is None else min_area
    area = _num(0.01 if area is None else area, "mask min_area")
    return Mask(method, min_area=area, region=region)  # type: ignore[arg-type]


def _alpha(which: Any = "fg", *, region: Any = "all") -> Op:
    if which not in ("fg", "bg"):
        raise ImggenError(f"alpha must be fg or bg; got {which!r}")
    return Alpha(region=which)


BUILDERS: dict[str, Callable[..., Op]] = {
    "exposure": _exposure,
    "brightness": _brightness,
    "contrast": _contrast,
    "saturation": _saturation,
    "gamma": _gamma,
    "wb": _gains,
    "gains": _gains,
    "temperature": _temperature,
    "white_balance": _white_balance,
    "matrix": _matrix,
    "blur": _blur,
    "sharpen": _sharpen,
    "resize": _resize,
    "mask": _mask,
    "alpha": _alpha,
}
LUT_NAMES = ("lut",)
MODEL_NAMES = ("model",)
OCIO_KINDS = {"ocio": "colorspace", "ocio-look": "look", "ocio-display": "display"}


@dataclass(frozen=True)
class OcioContext:
    """What ocio ops are resolved against: the config (None: $OCIO, else OCIO's built-in
    default) and the space the frames are in where an op names none (the model card's)."""

    config: str | None = None
    source_space: str = DEFAULT_COLOUR_SPACE


def _model(args: list[Any], kwargs: dict[str, Any], base: Path | None, region: Any) -> ModelOp:
    """model=NAME|PATH[:TILE[:OVERLAP]] (YAML: {path, tile, overlap}): an image-to-image
    model, bundled (`model=upscaler`) or a file."""
    path = kwargs.pop("path", args[0] if args else None)
    if path is None or not str(path).strip() or not str(path).isprintable():
        raise ImggenError("model needs an image-to-image ONNX path: model=PATH[:TILE[:OVERLAP]]")
    tile = _int(kwargs.pop("tile", args[1] if len(args) > 1 else 256), "model tile")
    given = kwargs.pop("overlap", args[2] if len(args) > 2 else None)
    overlap = None if given is None else _int(given, "model overlap")
    if len(args) > 3:
        raise ImggenError("model takes model=PATH[:TILE[:OVERLAP]]")
    bundled = BUNDLED.get(str(path))
    if bundled is not None and bundled.kind == "image-to-image":
        return ModelOp(resolve_model(bundled.name), tile, overlap, region=region)
    where = Path(str(path)).expanduser()
    if base is not None and not where.is_absolute():
        where = base / where
    return ModelOp(where, tile, overlap, region=region)


def _ocio(name: str, args: list[Any], region: Any, ctx: OcioContext) -> list[ChainOp]:
    """ocio=SRC:DST, ocio-look=LOOK[:SRC], ocio-display=DISPLAY:VIEW[:SRC], each with an
    optional last `exact`."""
    values = [str(a).strip() for a in args]
    exact = bool(values) and values[-1].lower() == "exact"
    values = values[:-1] if exact else values
    kind = OCIO_KINDS[name]
    wanted = {"colorspace": (2, 2), "look": (1, 2), "display": (2, 3)}[kind]
    if not wanted[0] <= len(values) <= wanted[1] or not all(values):
        forms = {
            "colorspace": "ocio=SRC:DST",
            "look": "ocio-look=LOOK[:SRC]",
            "display": "ocio-display=DISPLAY:VIEW[:SRC]",
        }
        raise ImggenError(f"{name} takes {forms[kind]}[:exact]; got {_short(':'.join(values))}")
    if kind != "colorspace" and len(values) < wanted[1]:
        values.append(ctx.source_space)
    transform = OcioTransform(kind, tuple(values), config_source(ctx.config))  # type: ignore[arg-type]
    transform.processor()  # names checked now, with the config's own words
    return [OcioExact(transform, region=region)] if exact else [*baked_ops(transform, region)]


def _label(name: str) -> str:
    """An op name as typed, quoted when it holds a character that would break the message's
    one line (a newline in a chain string)."""
    return name if name.isprintable() else repr(name)


def _build(
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    base: Path | None,
    ocio: OcioContext,
) -> list[ChainOp]:
    """The op(s) one chain item makes (an ocio item may make a shaper and its LUT)."""
    region = kwargs.get("region", "all")
    if region not in ("all", "fg", "bg"):
        raise ImggenError(f"{_label(name)}: region must be fg or bg; got {region!r}")
    if name in OCIO_KINDS:
        return _ocio(name, args, region, ocio)
    if name in MODEL_NAMES:
        return [_model(args, kwargs, base, region)]
    if name in LUT_NAMES:
        path = kwargs.pop("path", args[0] if args else None)
        if path is None:
            raise ImggenError("lut needs a .cube file path")
        interp = kwargs.pop("interpolation", args[1] if len(args) > 1 else "tetrahedral")
        if not str(path).isprintable():
            raise ImggenError(f"lut: {str(path)!r} is not a file name")
        path = Path(str(path)).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return [Lut.from_file(path, str(interp), region=region)]
    builder = BUILDERS.get(name)
    if builder is None:
        known = ", ".join(sorted([*BUILDERS, *LUT_NAMES, *OCIO_KINDS, *MODEL_NAMES]))
        raise ImggenError(f"unknown post-process op {name!r}; known: {known}")
    try:
        inspect.signature(builder).bind(*args, **kwargs)
    except TypeError:
        raise ImggenError(
            f"{_label(name)}: wrong values {args or kwargs!r}; see imggen-rt postprocess --help"
        ) from None
    return [builder(*args, **kwargs)]


def may_use_ocio(spec: str | None, config_file: Path | None) -> bool:
    """Whether a chain given as a string or a file may hold ocio ops (then the model's colour
    space is read from its card; a chain file is not read twice to find out)."""
    return config_file is not None or "ocio" in (spec or "").lower()


def parse_post(
    spec: str, ocio_config: str | None = None, source_space: str = DEFAULT_COLOUR_SPACE
) -> PostChain:
    """The CLI string form -> a PostChain (empty string: an empty chain). `ocio_config`: the
    OpenColorIO config for ocio ops (else $OCIO, else OCIO's built-in default); `source_space`:
    the frames' colour space where an ocio op names none (the model card's)."""
    ocio = OcioContext(ocio_config, source_space)
    if not isinstance(spec, str):
        raise ImggenError(f"a post-process chain is a string; got {type(spec).__name__}")
    ops: list[ChainOp] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        kwargs: dict[str, Any] = {}
        if "@" in value:
            value, _, kwargs["region"] = value.rpartition("@")
        if not eq and name == "alpha":
            value = "fg"
        elif not eq:
            raise ImggenError(f"post-process item {item!r} needs name=value")
        ops += _build(name, value.split(":") if value else [], kwargs, None, ocio)
    return PostChain(ops, spec)


def load_post_config(
    path: str | Path, ocio_config: str | None = None, source_space: str = DEFAULT_COLOUR_SPACE
) -> PostChain:
    """A YAML or JSON chain file -> a PostChain (`ocio_config`, `source_space`: as for
    parse_post)."""
    ocio = OcioContext(ocio_config, source_space)
    path = Path(path)
    text = read_text_file(path, MAX_CONFIG_BYTES, "post-process config")
    data = _load_yaml_or_json(text, path)
    items = data.get("post") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ImggenError(f"{path}: expected a list of ops (under 'post:')")
    ops: list[ChainOp] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or len(item) != 1:
            raise ImggenError(f"{path}: op {number} must be a one-key mapping like 'exposure: 0.3'")
        ((name, value),) = item.items()
        if isinstance(value, dict):
            args, kwargs = [], dict(value)
        elif isinstance(value, list):
            args, kwargs = list(value), {}
        else:
            args, kwargs = ([] if value is None else [value]), {}
        try:
            ops += _build(str(name).lower(), args, kwargs, path.parent, ocio)
        except ImggenError as e:
            raise ImggenError(f"{path}: op {number}: {e}") from None
    return PostChain(ops, path.name)


MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_EVENTS = 20_000
MAX_YAML_DEPTH = 32


def _check_yaml_shape(events: Any, path: Path) -> None:
    """A chain file is a short, shallow list: refuse aliases (a billion-laughs file expands a
    few lines into gigabytes), deep nesting and huge documents before building any of it."""
    import yaml

    depth = 0
    for count, event in enumerate(events, start=1):
        if isinstance(event, yaml.AliasEvent):
            raise ImggenError(f"{path}: YAML aliases (*name) are not allowed in a chain file")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ImggenError(f"{path}: nested deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if count > MAX_YAML_EVENTS:
            raise ImggenError(f"{path}: more than {MAX_YAML_EVENTS} YAML nodes in a chain file")


def _load_yaml_or_json(text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ImggenError(f"{path}: not valid JSON: {e}") from None
        except RecursionError:
            raise ImggenError(f"{path}: nested too deeply for a chain file") from None
    import yaml

    try:
        _check_yaml_shape(yaml.parse(text), path)
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ImggenError(f"{path}{line}: not valid YAML") from None
