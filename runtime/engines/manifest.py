"""The manifest: what an artifact was built from, how, for which platform, and its parity.

It is written as `manifest.json` beside the artifact and is the cache key: the fields of
`BuildRequest` decide whether a cached artifact can be reused, must be rebuilt (stale) or was
built for another GPU or TensorRT version (foreign). docs/gpu.md documents every field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..backends.platform import Platform
from ..backends.profiles import BatchProfile
from ..errors import ImggenError
from .parity import ParityReport

FORMAT = "imggen-rt-manifest"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TARGETS = ("trt", "onnx-fp16", "openvino")
PRECISIONS = ("fp16", "fp32", "bf16", "int8")

BuilderValue = str | int | None


@dataclass(frozen=True)
class BuildRequest:
    """Everything that changes the artifact's bytes; its hash is the cache key."""

    target: str
    precision: str
    onnx_sha256: str
    profile: BatchProfile
    builder: Mapping[str, BuilderValue] = field(default_factory=dict)
    platform: Platform | None = None  # None: a portable artifact (an FP16 ONNX)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ImggenError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.precision not in PRECISIONS:
            raise ImggenError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "precision": self.precision,
            "onnx_sha256": self.onnx_sha256,
            "profile": self.profile.to_dict(),
            "builder": dict(sorted(self.builder.items())),
            "platform": None if self.platform is None else self.platform.to_dict(),
        }

    def key(self) -> str:
        """sha256 of the canonical JSON of the fields above, plus the format version."""
        blob = json.dumps([FORMAT_VERSION, self.to_dict()], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BuildRequest:
        platform = d.get("platform")
        return cls(
            target=str(d["target"]),
            precision=str(d["precision"]),
            onnx_sha256=str(d["onnx_sha256"]),
            profile=BatchProfile(tuple(int(b) for b in d["profile"]["batches"])),
            builder={str(k): _builder_value(v) for k, v in d.get("builder", {}).items()},
            platform=None if platform is None else Platform.from_dict(platform),
        )


@dataclass(frozen=True)
class Manifest:
    request: BuildRequest
    artifact: str  # file name beside the manifest
    artifact_sha256: str
    parity: ParityReport
    onnx_name: str
    card: Mapping[str, str]  # the model card as ONNX metadata: the engine needs no ONNX to run
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    producer: str = f"imggen-rt {__version__}"
    # Measured when built, side by side on this machine (not part of the key): e.g. ms per
    # image of the engine and of FP32 at one batch size; `auto` uses an engine only if faster.
    timing: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        d = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "key": self.request.key(),
            **self.request.to_dict(),
            "artifact": self.artifact,
            "artifact_sha256": self.artifact_sha256,
            "onnx_name": self.onnx_name,
            "parity": self.parity.to_dict(),
            "card": dict(self.card),
            "created": self.created,
            "producer": self.producer,
            "timing": dict(self.timing),
        }
        return json.dumps(d, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = MANIFEST_NAME) -> Manifest:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise ValueError(f"not an {FORMAT}")
            if d.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"format version {d.get('format_version')!r}; this runtime reads "
                    f"{FORMAT_VERSION}"
                )
            return cls(
                request=BuildRequest.from_dict(d),
                artifact=str(d["artifact"]),
                artifact_sha256=str(d["artifact_sha256"]),
                parity=ParityReport.from_dict(d["parity"]),
                onnx_name=str(d["onnx_name"]),
                card={str(k): str(v) for k, v in d["card"].items()},
                created=str(d["created"]),
                producer=str(d["producer"]),
                timing={str(k): float(v) for k, v in d.get("timing", {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ImggenError(f"{source} is not a valid manifest: {e}") from None

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ImggenError(f"cannot read {path}: {e.strerror}") from None
        return cls.from_json(text, str(path))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _builder_value(v: Any) -> BuilderValue:
    return v if v is None or isinstance(v, (str, int)) else str(v)
