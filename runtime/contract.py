"""The I/O contract of a generator graph: what each input is for, what the output is.

Real generators differ in their plumbing (a (B, Z) or (B, Z, 1, 1) latent; class ids or one-hot
vectors; StyleGAN's per-layer noise maps and truncation knob; outputs NCHW or NHWC, RGB or BGR,
in [-1, 1], [0, 1] or [0, 255]). The card states which is which (`InputSpec` per graph input,
`OutputSpec`), and this module turns the runtime's one canonical form into the graph's and back:

    Feeds (flat latents, class ids, noise maps, knobs)  --graph_inputs-->  the graph's inputs
    the graph's output  --canonical_output-->  float NCHW RGB in the card's range

so everything before (seeds, walks, batching) and after (the fused post-process, sinks) is the
same for every model. The card stores the specs as JSON (`imggen.inputs`, `imggen.output`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ImggenError

ROLES = ("latent", "class", "noise", "scalar", "image")
CLASS_ENCODINGS = ("ids", "onehot")
NOISE_MODES = ("normal", "zeros")
LAYOUTS = ("nchw", "nhwc")
CHANNEL_ORDERS = ("rgb", "bgr")
FLOAT_TYPES = ("float32", "float16")
INT_TYPES = ("int64", "int32")

Shape = tuple[int | None, ...]  # None: the batch axis (or another dynamic axis)
# Values per image an input may hold (256 MiB of float32): past it a graph is hostile or
# broken, and drawing its feeds would exhaust memory before anything ran.
MAX_INPUT_VALUES = 1 << 26


@dataclass(frozen=True)
class InputSpec:
    """One graph input and its role.

    latent: drawn per image from its seed (standard normal), shape (B, ...) static but batch;
    class: `encoding` "ids" (integers) or "onehot" (float vectors of the class count);
    noise: a map drawn per image from its seed (`mode` "normal") or zeros;
    scalar: a knob (`default`, optional `low`/`high`) fed per image, e.g. truncation psi;
    image: reserved for image-conditioned models (not run by this runtime yet).
    """

    name: str
    role: str
    shape: Shape
    dtype: str
    encoding: str = ""
    mode: str = ""
    default: float | None = None
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        where = f"input '{self.name}'"
        if self.role not in ROLES:
            raise ImggenError(f"{where}: role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.role == "class" and self.encoding not in CLASS_ENCODINGS:
            raise ImggenError(f"{where}: class encoding must be ids or onehot")
        if self.role == "noise" and self.mode not in NOISE_MODES:
            raise ImggenError(f"{where}: noise mode must be normal or zeros")
        if self.role == "scalar":
            if self.default is None or not np.isfinite(self.default):
                raise ImggenError(f"{where}: a scalar needs a finite default")
            if self.low is not None and self.high is not None and not self.low <= self.high:
                raise ImggenError(f"{where}: scalar range {self.low}..{self.high} is empty")
        if any(d is not None and d < 1 for d in self.shape):
            raise ImggenError(f"{where}: sizes must be >= 1, got {list(self.shape)}")
        values = int(np.prod([d or 1 for d in self.shape[1:]], dtype=np.int64))
        if values > MAX_INPUT_VALUES:
            raise ImggenError(
                f"{where}: {values} values per image; at most {MAX_INPUT_VALUES} are supported"
            )
        if self.role in ("latent", "noise") and any(d is None for d in self.shape[1:]):
            raise ImggenError(f"{where}: {self.role} dims after the batch must be fixed")
        want = INT_TYPES + FLOAT_TYPES if self.role == "class" else FLOAT_TYPES
        if self.dtype not in want:
            raise ImggenError(f"{where}: {self.role} dtype must be {'/'.join(want)}")

    @property
    def item_shape(self) -> tuple[int, ...]:
        """The shape of one image's value (the batch axis dropped)."""
        return tuple(int(d) if d is not None else 1 for d in self.shape[1:])

    @property
    def size(self) -> int:
        return int(np.prod(self.item_shape, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "shape": list(self.shape),
            "dtype": self.dtype,
        }
        if self.role == "latent":
            d["distribution"] = "normal"  # drawn per image from its seed (latents.py)
        for key in ("encoding", "mode"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        for key in ("default", "low", "high"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputSpec:
        known = {"name", "role", "shape", "dtype", "encoding", "mode", "default", "low", "high"}
        unknown = set(d) - known - {"distribution"}
        if unknown:
            raise ImggenError(f"unknown input spec keys {sorted(unknown)}")
        if d.get("distribution", "normal") != "normal":
            raise ImggenError(f"input '{d.get('name')}': only normal latents are supported")
        shape = tuple(None if v is None else int(v) for v in d["shape"])

        def num(key: str) -> float | None:
            return None if d.get(key) is None else float(d[key])

        return cls(
            name=str(d["name"]),
            role=str(d["role"]),
            shape=shape,
            dtype=str(d["dtype"]),
            encoding=str(d.get("encoding", "")),
            mode=str(d.get("mode", "")),
            default=num("default"),
            low=num("low"),
            high=num("high"),
        )


@dataclass(frozen=True)
class OutputSpec:
    """The graph's image output: its name (None: the graph's only output), axis layout and
    channel order. Size, channel count and value range are the card's own fields."""

    name: str | None = None
    layout: str = "nchw"
    channel_order: str = "rgb"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ImggenError(f"output layout must be nchw or nhwc, not {self.layout!r}")
        if self.channel_order not in CHANNEL_ORDERS:
            raise ImggenError(f"output channel order must be rgb or bgr, not {self.channel_order}")

    @property
    def canonical(self) -> bool:
        """NCHW RGB: what the fused post-process reads without a conversion first."""
        return self.layout == "nchw" and self.channel_order == "rgb"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layout": self.layout, "channel_order": self.channel_order}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputSpec:
        name = d.get("name")
        return cls(
            None if name is None else str(name),
            str(d.get("layout", "nchw")),
            str(d.get("channel_order", "rgb")),
        )


@dataclass(frozen=True)
class Feeds:
    """A batch of images' inputs in the runtime's canonical form: flat latents (N, Z) (already
    truncated), class ids (N,) for a conditional model, and the graph's other inputs (noise
    maps, knobs) by input name, each with the batch first. Made by the generator only
    (`feeds_for_seeds`, walks); the server concatenates them to merge requests."""

    z: np.ndarray
    class_ids: np.ndarray | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.z)

    def rows(self, index: slice | np.ndarray) -> Feeds:
        ids = None if self.class_ids is None else self.class_ids[index]
        return Feeds(self.z[index], ids, {k: v[index] for k, v in self.extra.items()})

    @staticmethod
    def concat(parts: Sequence[Feeds]) -> Feeds:
        """One batch from several of the same model."""
        with_classes = [p.class_ids is not None for p in parts]
        if any(with_classes) and not all(with_classes):
            raise ImggenError("cannot merge feeds with and without class ids")
        names = set(parts[0].extra) if parts else set()
        if any(set(p.extra) != names for p in parts):
            raise ImggenError("cannot merge feeds with different inputs")
        z = np.concatenate([p.z for p in parts])
        ids = None
        if all(with_classes) and parts:
            ids = np.concatenate([p.class_ids for p in parts if p.class_ids is not None])
        extra = {k: np.concatenate([p.extra[k] for p in parts]) for k in sorted(names)}
        return Feeds(z, ids, extra)


def graph_inputs(
    inputs: Sequence[InputSpec], num_classes: int, feeds: Feeds
) -> dict[str, np.ndarray]:
    """The graph's inputs by name, in their shapes and dtypes, from canonical feeds."""
    n = len(feeds)
    out: dict[str, np.ndarray] = {}
    for spec in inputs:
        if spec.role == "latent":
            z = feeds.z.reshape((n, *spec.item_shape))
            out[spec.name] = np.ascontiguousarray(z, dtype=spec.dtype)
        elif spec.role == "class":
            if feeds.class_ids is None:
                raise ImggenError("this model is class-conditional: class ids are required")
            ids = feeds.class_ids
            if spec.encoding == "ids":
                shaped = ids.reshape((n, *spec.item_shape))  # (B,) or (B, 1)
                out[spec.name] = np.ascontiguousarray(shaped, dtype=spec.dtype)
            else:
                onehot = np.zeros((n, num_classes), dtype=spec.dtype)
                onehot[np.arange(n), ids] = 1
                out[spec.name] = onehot.reshape((n, *spec.item_shape))
        elif spec.role in ("noise", "scalar"):
            value = feeds.extra.get(spec.name)
            if value is None:
                raise ImggenError(f"no value for the graph's {spec.role} input '{spec.name}'")
            if spec.shape == ():  # one value for the whole batch (a 0-d graph input)
                if len(value) and not np.all(value == value[0]):
                    raise ImggenError(f"'{spec.name}' takes one value per batch, got several")
                # np.array, not ascontiguousarray: that one makes a 0-d array 1-d
                out[spec.name] = np.array(value[0] if len(value) else 0, dtype=spec.dtype)
            else:
                value = value.reshape((n, *spec.item_shape))
                out[spec.name] = np.ascontiguousarray(value, dtype=spec.dtype)
        else:
            raise ImggenError(
                f"input '{spec.name}' takes an image: image-conditioned models are not run by "
                "this runtime yet"
            )
    return out


def noise_for_seed(seed: int, spec: InputSpec, index: int) -> np.ndarray:
    """One image's noise map for a noise input: standard normal from a stream derived from
    the image's seed and the input's position, so every map differs and none shares its
    numbers with the latent (which is drawn from PCG64(seed) itself)."""
    if spec.mode == "zeros":
        return np.zeros(spec.item_shape, dtype=np.float32)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x0015E, index])))
    return rng.standard_normal(spec.item_shape, dtype=np.float32)


def scalar_value(spec: InputSpec, value: float | None) -> float:
    """A knob's value: the one asked for, checked against its range, or its default."""
    if value is None:
        assert spec.default is not None  # InputSpec checks scalars have one
        return spec.default
    v = float(value)
    if not np.isfinite(v):
        raise ImggenError(f"{spec.name} must be a finite number, got {value!r}")
    if (spec.low is not None and v < spec.low) or (spec.high is not None and v > spec.high):
        raise ImggenError(f"{spec.name}={v:g} is outside its range {spec.low}..{spec.high}")
    return v


def canonical_output(output: OutputSpec, images: np.ndarray) -> np.ndarray:
    """The graph's output as NCHW RGB (a copy only when the layout or order differ)."""
    if output.layout == "nhwc":
        images = images.transpose(0, 3, 1, 2)
    if output.channel_order == "bgr" and images.shape[1] >= 3:
        images = images[:, [2, 1, 0, *range(3, images.shape[1])]]
    return np.ascontiguousarray(images)
