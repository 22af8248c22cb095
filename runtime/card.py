"""The model card: what a generator ONNX says about itself, in its `metadata_props`.

The card is the whole contract between training and runtime: the runtime needs nothing but the
ONNX file. Every key is a plain string under the `imggen.` prefix so tools such as Netron show
it; lists are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ImggenError

PREFIX = "imggen."
CARD_VERSION = "1"
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

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    # -- (de)serialisation -------------------------------------------------------------------
    def to_metadata(self) -> dict[str, str]:
        meta = {
            "card_version": CARD_VERSION,
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
        if meta.get("card_version") != CARD_VERSION:
            raise ImggenError(
                f"{source}: model card version {meta.get('card_version')!r} is not supported "
                f"(this runtime reads version {CARD_VERSION})"
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
                extra={k: v for k, v in meta.items() if k not in _KNOWN_KEYS},
            )
        except (ValueError, TypeError) as e:
            raise ImggenError(f"{source}: malformed model card: {e}") from None
        if "num_classes" in meta and int(meta["num_classes"]) != card.num_classes:
            raise ImggenError(
                f"{source}: model card says {meta['num_classes']} classes "
                f"but names {card.num_classes}"
            )
        card.check_values(source)
        return card

    def check_values(self, source: str = "model") -> None:
        if self.latent_dim < 1 or self.height < 1 or self.width < 1:
            raise ImggenError(f"{source}: model card sizes must be positive")
        if self.channels not in (1, 3):
            raise ImggenError(f"{source}: model card channels must be 1 or 3, got {self.channels}")
        low, high = self.output_range
        if not low < high:
            raise ImggenError(f"{source}: model card output range {self.output_range} is empty")

    def validate_graph(
        self, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], source: str = "model"
    ) -> None:
        """The card must describe the graph it sits in: names, ranks, static sizes, dtypes."""
        by_name = {t.name: t for t in inputs}
        z = by_name.get(LATENT_INPUT)
        if z is None:
            raise ImggenError(
                f"{source}: graph has no latent input '{LATENT_INPUT}' (inputs: {list(by_name)})"
            )
        _expect(z, (None, self.latent_dim), ("float32",), source)
        if self.conditional:
            c = by_name.get(CLASS_INPUT)
            if c is None:
                raise ImggenError(
                    f"{source}: card names {self.num_classes} classes but the graph has no "
                    f"'{CLASS_INPUT}' input"
                )
            _expect(c, (None,), ("int64",), source)
        extra_inputs = set(by_name) - {LATENT_INPUT, CLASS_INPUT if self.conditional else ""}
        if extra_inputs:
            raise ImggenError(f"{source}: unexpected graph inputs {sorted(extra_inputs)}")
        if len(outputs) != 1:
            raise ImggenError(f"{source}: graph must have one output image, has {len(outputs)}")
        _expect(
            outputs[0],
            (None, self.channels, self.height, self.width),
            ("float32", "float16"),
            source,
        )

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
            "extra": dict(self.extra),
        }


_KNOWN_KEYS = {
    "card_version",
    "latent_dim",
    "resolution",
    "channels",
    "output_range",
    "num_classes",
    "class_names",
    "producer",
    "training_data",
    "description",
}


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
