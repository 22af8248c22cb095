"""The card of an image-to-image model, and how far its pixels reach.

What the graph cannot say about an upscaler or restorer -- the value ranges it takes and
makes, how much context each output pixel needs (its receptive field, the tiler's default
overlap), whether it may be tiled at all -- is stored in the ONNX's metadata_props under
`imggen_image.*` (apart from a generator card's `imggen.*`) by `imggen-rt import`. Without a
card the runtime measures it at load
(`measure_locality`): a block at the centre of a probe image is inverted and the reach of
the change in the output is the receptive field; a model whose change reaches the probe's
edges (global pooling, InstanceNorm, attention) is not tileable, and a graph op known to mix
the whole frame names the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .card import TensorInfo
from .errors import ImggenError

PREFIX = "imggen_image."
# Ops whose output at a pixel depends on the whole frame, however little one pixel moves it
# (a probe could miss that: one block barely moves a frame's mean).
ALWAYS_GLOBAL = {
    "GlobalAveragePool": "global average pooling",
    "GlobalMaxPool": "global max pooling",
    "GlobalLpPool": "global pooling",
    "InstanceNormalization": "InstanceNorm",
}
# Ops that mix the whole frame when they reduce over positions, and are local over channels:
# the probe decides, these only name the reason.
MAYBE_GLOBAL = {
    "ReduceMean": "a mean over positions",
    "ReduceMax": "a max over positions",
    "Softmax": "attention (a softmax over positions)",
}
# Where the measured reach ends: the change falls below a quarter of an 8-bit level.
REACH_THRESHOLD = 1 / 1020


@dataclass(frozen=True)
class ImageCard:
    input_range: tuple[float, float] = (0.0, 1.0)
    output_range: tuple[float, float] = (0.0, 1.0)
    # Input pixels of context each output pixel needs, per side (the default overlap); None:
    # larger than could be measured.
    receptive_field: int | None = None
    not_tileable: str = ""  # why the model must see whole frames; "" = tileable
    description: str = ""
    # Defaults of the model's scalar knobs (inputs besides the image, e.g. a strength).
    scalars: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("input_range", "output_range"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ImggenError(f"{name} must be finite with low < high, got {low}:{high}")
        if self.receptive_field is not None and not 0 <= self.receptive_field <= 4096:
            raise ImggenError(f"receptive field must be 0..4096 px, got {self.receptive_field}")
        for name, value in self.scalars.items():
            if not math.isfinite(value):
                raise ImggenError(f"scalar {name}: a default must be finite, got {value}")

    @property
    def tileable(self) -> bool:
        return not self.not_tileable

    def to_metadata(self) -> dict[str, str]:
        return {PREFIX + k: json.dumps(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str) -> ImageCard | None:
        """The card in `metadata`, None when it has none; a damaged one is one line."""
        found = {k[len(PREFIX) :]: v for k, v in metadata.items() if k.startswith(PREFIX)}
        if not found:
            return None
        known = {f.name for f in fields(cls)}
        try:
            values = {k: json.loads(v) for k, v in found.items() if k in known}
            for name in ("input_range", "output_range"):
                if name in values:
                    low, high = values[name]
                    values[name] = (float(low), float(high))
            rf = values.get("receptive_field")
            if rf is not None:
                values["receptive_field"] = int(rf)
            values["scalars"] = {str(k): float(v) for k, v in values.get("scalars", {}).items()}
            values["not_tileable"] = str(values.get("not_tileable", ""))
            values["description"] = str(values.get("description", ""))
            return cls(**values)
        except (ValueError, TypeError, AttributeError) as e:
            raise ImggenError(f"{source}: the image-model card is damaged: {e}") from None


def always_global(op_types: set[str]) -> str | None:
    """The op of these that always mixes the whole frame, named; None when none does."""
    return _first(ALWAYS_GLOBAL, op_types)


def global_op(op_types: set[str]) -> str | None:
    """The op of these that may mix the whole frame, named; None when none may."""
    return _first({**ALWAYS_GLOBAL, **MAYBE_GLOBAL}, op_types)


def _first(names: dict[str, str], op_types: set[str]) -> str | None:
    return next((f"{why} ({op})" for op, why in names.items() if op in op_types), None)


@dataclass(frozen=True)
class Locality:
    receptive_field: int | None  # None: reaches the probe's edge
    reaches_edge: bool


def measure_locality(
    infer: Callable[[np.ndarray], np.ndarray],
    channels: int,
    side: int,
    multiple: int,
    scale: int,
    input_range: tuple[float, float],
    output_range: tuple[float, float],
) -> Locality:
    """Invert a block of `multiple` pixels a side at the centre of a seeded random image and
    measure how far (in input pixels) the output changes: past the block's edge, plus the
    block's own extent less one (a pixel at one side of the block reaches that much further
    on the other, as through a pooling cell).

    The reach of any change at all is what makes tiles equal a whole-frame run bit for bit;
    deep networks (RRDB) reach further than a probe, and then the reach of changes above
    REACH_THRESHOLD (seams under a quarter of an 8-bit level) is taken. Only a model whose
    changes above the threshold reach the probe's edge is not local."""
    low, high = input_range
    rng = np.random.default_rng(7)
    base = rng.random((1, channels, side, side), np.float32) * np.float32(high - low)
    base += np.float32(low)
    block = multiple
    c0 = (side // 2) // multiple * multiple
    changed = base.copy()
    inside = (slice(None), slice(None), slice(c0, c0 + block), slice(c0, c0 + block))
    changed[inside] = low + high - changed[inside]
    diff = np.abs(infer(changed) - infer(base))[0].max(axis=0)
    out_low, out_high = output_range
    exact = _reach(diff > 0, c0, block, scale)
    if exact is not None:
        return Locality(exact + block - 1, False)
    effective = _reach(diff > (out_high - out_low) * REACH_THRESHOLD, c0, block, scale)
    if effective is None:
        return Locality(None, True)
    return Locality(effective + block - 1, False)


def _reach(changed: np.ndarray, c0: int, block: int, scale: int) -> int | None:
    """How many input pixels past the block the changed output pixels reach; None when they
    reach the edge of the output."""
    where = np.argwhere(changed)
    if not len(where):
        return 0
    (y0, x0), (y1, x1) = where.min(axis=0), where.max(axis=0)
    edge = changed.shape[0] - 1
    if min(y0, x0) == 0 or max(y1, x1) == edge:
        return None
    first, last = c0 * scale, (c0 + block) * scale - 1
    reach = int(max(first - y0, first - x0, y1 - last, x1 - last, 0))
    return math.ceil(reach / scale)


def is_image_input(shape: tuple[int | str | None, ...]) -> bool:
    """An NCHW image (1, 3 or 4 channels), not a 1x1 latent map."""
    if len(shape) != 4:
        return False
    _, channels, h, w = shape
    return channels in (1, 3, 4) and not (h == 1 and w == 1)


def is_scalar_input(shape: tuple[int | str | None, ...]) -> bool:
    """A knob: one number per call (rank 0, or rank 1 of one or a batch)."""
    if len(shape) == 0:
        return True
    return len(shape) == 1 and (shape[0] in (1, None) or isinstance(shape[0], str))


def is_image_model(inputs: list[TensorInfo]) -> bool:
    """A graph whose inputs are one NCHW image and scalar knobs: an upscaler or restorer
    rather than a generator of latents."""
    images = [t for t in inputs if is_image_input(t.shape)]
    return len(images) == 1 and all(
        is_scalar_input(t.shape) and "float" in t.dtype for t in inputs if t not in images
    )


def write_image_card(source: Path, out: Path, card: ImageCard) -> None:
    """A copy of `source` with `card` in its metadata_props (any older image card replaced)."""
    from .atomic import atomic_write_bytes
    from .onnx_graph import load_model

    model = load_model(source)
    kept = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in [*kept, *card.to_metadata().items()]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    atomic_write_bytes(out, model.SerializeToString())
