"""The model card: what a generator ONNX says about itself, in its `metadata_props`.

The card is the whole contract between training and runtime: the runtime needs nothing but the
ONNX file. Every key is a plain string under the `imggen.` prefix so tools such as Netron show
it; lists are JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .contract import FLOAT_TYPES, InputSpec, OutputSpec
from .errors import ImggenError

PREFIX = "imggen."
# Version 1: input `z` (B, Z), `class_id` (B,) ids, one NCHW RGB output. Version 2 adds the
# declarative contract (`inputs`, `output`) for any other plumbing; a card whose contract is
# version 1's is still written as version 1, so files readable by older runtimes stay so.
CARD_VERSION = "2"
READS_VERSIONS = ("1", "2")
FLOAT32_MAX = 3.4028234663852886e38  # the range is used in float32 by the post-process
# The colour space a card that names none is read in (OpenColorIO's name in the ACES configs):
# generators output 8-bit-style sRGB-encoded images.
DEFAULT_COLOUR_SPACE = "sRGB - Texture"
MAX_SIDE = 16384  # the largest frame side any part of the runtime makes (resize, video)
LATENT_INPUT = "z"
CLASS_INPUT = "class_id"


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as the runtime sees it; a None or str dim is dynamic."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str  # numpy name: float32, float16, int64, ...

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class ModelCard:
    latent_dim: int
    height: int
    width: int
    channels: int
    output_range: tuple[float, float] = (-1.0, 1.0)
    class_names: tuple[str, ...] = ()
    producer: str = ""
    training_data: str = ""
    description: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    # The contract (version 2); empty: version 1's `z` and `class_id`.
    inputs: tuple[InputSpec, ...] = ()
    output: OutputSpec = field(default_factory=OutputSpec)
    # The output's colour space by its OpenColorIO name; "": DEFAULT_COLOUR_SPACE.
    colour_space: str = ""

    @property
    def source_space(self) -> str:
        """The colour space ocio ops and EXR conversion read the model's frames in."""
        return self.colour_space or DEFAULT_COLOUR_SPACE

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    @property
    def input_specs(self) -> tuple[InputSpec, ...]:
        """Every graph input with its role (version 1 cards: `z`, and `class_id` ids)."""
        if self.inputs:
            return self.inputs
        specs = [InputSpec(LATENT_INPUT, "latent", (None, self.latent_dim), "float32")]
        if self.conditional:
            specs.append(InputSpec(CLASS_INPUT, "class", (None,), "int64", encoding="ids"))
        return tuple(specs)

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the graph was exported with when it is not dynamic (many foreign
        files are batch 1): the generator then feeds it batches of exactly that size."""
        sizes = {s.shape[0] for s in self.input_specs if s.shape and s.shape[0] is not None}
        return sizes.pop() if len(sizes) == 1 else None

    def inputs_with_role(self, role: str) -> tuple[InputSpec, ...]:
        return tuple(s for s in self.input_specs if s.role == role)

    @property
    def is_v1_contract(self) -> bool:
        return not self.inputs and self.output == OutputSpec()

    # -- (de)serialisation -------------------------------------------------------------------
    def to_metadata(self) -> dict[str, str]:
        meta = {
            "card_version": "1" if self.is_v1_contract else CARD_VERSION,
            "latent_dim": str(self.latent_dim),
            "resolution": f"{self.height}x{self.width}",
            "channels": str(self.channels),
            "output_range": json.dumps(list(self.output_range)),
            "num_classes": str(self.num_classes),
            "class_names": json.dumps(list(self.class_names)),
            "producer": self.producer,
            "training_data": self.training_data,
            "description": self.description,
        }
        if self.colour_space:
            meta["colour_space"] = self.colour_space
        if not self.is_v1_contract:
            meta["inputs"] = json.dumps([spec.to_dict() for spec in self.input_specs])
            meta["output"] = json.dumps(self.output.to_dict())
        meta.update(self.extra)
        return {PREFIX + k: v for k, v in meta.items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str = "model") -> ModelCard:
        meta = {k[len(PREFIX) :]: v for k, v in metadata.items() if k.startswith(PREFIX)}
        if not meta:
            raise ImggenError(
                f"{source} has no imggen-rt model card (metadata_props 'imggen.*'); "
                "export it with `imggen-rt export` or add the card with imggen_rt.card.write_card"
            )
        version = meta.get("card_version")
        if version not in READS_VERSIONS:
            raise ImggenError(
                f"{source}: model card version {version!r} is not supported "
                f"(this runtime reads versions {', '.join(READS_VERSIONS)})"
            )

        def need(key: str) -> str:
            if key not in meta:
                raise ImggenError(f"{source}: model card lacks '{PREFIX}{key}'")
            return meta[key]

        try:
            height, width = (int(v) for v in need("resolution").lower().split("x"))
            low, high = (float(v) for v in json.loads(need("output_range")))
            names = json.loads(meta.get("class_names", "[]"))
            card = cls(
                latent_dim=int(need("latent_dim")),
                height=height,
                width=width,
                channels=int(need("channels")),
                output_range=(low, high),
                class_names=tuple(str(n) for n in names),
                producer=meta.get("producer", ""),
                training_data=meta.get("training_data", ""),
                description=meta.get("description", ""),
                colour_space=meta.get("colour_space", ""),
                extra={k: v for k, v in meta.items() if k not in _KNOWN_KEYS},
                inputs=_input_specs(meta.get("inputs")) if version == "2" else (),
                output=_output_spec(meta.get("output")) if version == "2" else OutputSpec(),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise ImggenError(f"{source}: malformed model card: {e}") from None
        if "num_classes" in meta and meta["num_classes"].strip() != str(card.num_classes):
            raise ImggenError(
                f"{source}: model card says {meta['num_classes']} classes "
                f"but names {card.num_classes}"
            )
        card.check_values(source)
        return card

    def check_values(self, source: str = "model") -> None:
        if self.latent_dim < 1 or self.height < 1 or self.width < 1:
            raise ImggenError(f"{source}: model card sizes must be positive")
        if max(self.height, self.width) > MAX_SIDE:
            raise ImggenError(
                f"{source}: model card size {self.height}x{self.width}; at most {MAX_SIDE} a side"
            )
        if len(self.colour_space) > 200 or not self.colour_space.isprintable():
            raise ImggenError(f"{source}: model card colour space {self.colour_space[:60]!r}")
        if self.channels not in (1, 3, 4):
            raise ImggenError(
                f"{source}: model card channels must be 1, 3 or 4 (RGBA), got {self.channels}"
            )
        low, high = self.output_range
        if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in (low, high)):
            raise ImggenError(
                f"{source}: model card output range [{low:g}, {high:g}] is not finite in float32"
            )
        if not low < high:
            raise ImggenError(f"{source}: model card output range {self.output_range} is empty")
        self._check_contract(source)

    def _check_contract(self, source: str) -> None:
        specs = self.input_specs
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ImggenError(f"{source}: model card names an input twice: {names}")
        latents = self.inputs_with_role("latent")
        if len(latents) != 1:
            raise ImggenError(f"{source}: the card must name one latent input, not {len(latents)}")
        if latents[0].size != self.latent_dim:
            raise ImggenError(
                f"{source}: latent '{latents[0].name}' holds {latents[0].size} values but the "
                f"card's latent_dim is {self.latent_dim}"
            )
        classes = self.inputs_with_role("class")
        if len(classes) > 1:
            raise ImggenError(f"{source}: the card names {len(classes)} class inputs; one at most")
        if bool(classes) != self.conditional:
            raise ImggenError(
                f"{source}: the card has {self.num_classes} class names but "
                f"{len(classes)} class input(s)"
            )
        if classes and classes[0].encoding == "onehot" and classes[0].size != self.num_classes:
            raise ImggenError(
                f"{source}: one-hot input '{classes[0].name}' has {classes[0].size} slots for "
                f"{self.num_classes} class names"
            )
        if self.inputs_with_role("image"):
            raise ImggenError(
                f"{source}: image-conditioned models (an 'image' input) are not run by this "
                "runtime yet"
            )

    def validate_graph(
        self, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], source: str = "model"
    ) -> None:
        """The card must describe the graph it sits in: names, ranks, static sizes, dtypes."""
        by_name = {t.name: t for t in inputs}
        for spec in self.input_specs:
            graph_input = by_name.get(spec.name)
            if graph_input is None:
                what = "latent input" if spec.role == "latent" else f"{spec.role} input"
                if spec.role == "class" and not self.inputs:
                    raise ImggenError(
                        f"{source}: card names {self.num_classes} classes but the graph has no "
                        f"'{spec.name}' input"
                    )
                raise ImggenError(
                    f"{source}: graph has no {what} '{spec.name}' (inputs: {list(by_name)})"
                )
            _expect(graph_input, spec.shape, (spec.dtype,), source)
        extra_inputs = set(by_name) - {s.name for s in self.input_specs}
        if extra_inputs:
            raise ImggenError(f"{source}: unexpected graph inputs {sorted(extra_inputs)}")
        _expect(self.output_of(outputs, source), self.output_shape, FLOAT_TYPES, source)

    def output_of(self, outputs: Sequence[TensorInfo], source: str = "model") -> TensorInfo:
        """The graph output the card names (version 1: the graph's only output)."""
        if self.output.name is None:
            if len(outputs) != 1:
                raise ImggenError(f"{source}: graph must have one output image, has {len(outputs)}")
            return outputs[0]
        for tensor in outputs:
            if tensor.name == self.output.name:
                return tensor
        raise ImggenError(
            f"{source}: graph has no output '{self.output.name}' "
            f"(outputs: {[t.name for t in outputs]})"
        )

    @property
    def output_item_shape(self) -> tuple[int, int, int]:
        """One image as the graph lays it out: (C, H, W) or (H, W, C)."""
        if self.output.layout == "nhwc":
            return (self.height, self.width, self.channels)
        return (self.channels, self.height, self.width)

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        """The output's shape as the graph has it (batch None)."""
        if self.output.layout == "nhwc":
            return (None, self.height, self.width, self.channels)
        return (None, self.channels, self.height, self.width)

    def class_index(self, value: int | str) -> int:
        """A class by id or by name (case-insensitive)."""
        if not self.conditional:
            raise ImggenError("this model is not class-conditional: do not pass a class")
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            lowered = [n.lower() for n in self.class_names]
            if value.lower() not in lowered:
                raise ImggenError(
                    f"unknown class {value!r}; this model has: {', '.join(self.class_names)}"
                )
            return lowered.index(value.lower())
        index = int(value)
        if not 0 <= index < self.num_classes:
            raise ImggenError(f"class id {index} out of range 0..{self.num_classes - 1}")
        return index

    def to_dict(self) -> dict[str, Any]:
        return {
            "latent_dim": self.latent_dim,
            "resolution": [self.height, self.width],
            "channels": self.channels,
            "output_range": list(self.output_range),
            "class_names": list(self.class_names),
            "producer": self.producer,
            "training_data": self.training_data,
            "description": self.description,
            "colour_space": self.source_space,
            "extra": dict(self.extra),
            "inputs": [spec.to_dict() for spec in self.input_specs],
            "output": self.output.to_dict(),
        }


_KNOWN_KEYS = {
    "card_version",
    "colour_space",
    "latent_dim",
    "resolution",
    "channels",
    "output_range",
    "num_classes",
    "class_names",
    "producer",
    "training_data",
    "description",
    "inputs",
    "output",
}


def _input_specs(text: str | None) -> tuple[InputSpec, ...]:
    if text is None:
        raise ValueError("a version 2 card needs 'imggen.inputs'")
    items = json.loads(text)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("'imggen.inputs' must be a JSON list of objects")
    return tuple(InputSpec.from_dict(item) for item in items)


def _output_spec(text: str | None) -> OutputSpec:
    item = json.loads(text) if text is not None else {}
    if not isinstance(item, dict):
        raise ValueError("'imggen.output' must be a JSON object")
    return OutputSpec.from_dict(item)


def _expect(
    tensor: TensorInfo,
    shape: tuple[int | None, ...],
    dtypes: tuple[str, ...],
    source: str,
) -> None:
    if tensor.dtype not in dtypes:
        raise ImggenError(
            f"{source}: '{tensor.name}' is {tensor.dtype}, expected {' or '.join(dtypes)}"
        )
    if len(tensor.shape) != len(shape):
        raise ImggenError(
            f"{source}: '{tensor.name}' has rank {len(tensor.shape)}, expected {len(shape)} "
            f"({_fmt(shape)})"
        )
    for got, want in zip(tensor.shape, shape, strict=True):
        if want is not None and isinstance(got, int) and got != want:
            raise ImggenError(
                f"{source}: '{tensor.name}' has shape {_fmt(tensor.shape)} but the model card "
                f"implies {_fmt(shape)}"
            )


def _fmt(shape: Sequence[int | str | None]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
