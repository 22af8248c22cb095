"""The progress record: what a stopped render finished, so `--resume` can carry on.

It lives beside the output (`out.mov.progress.json`, or in the image folder), is replaced
atomically each time more frames become durable (renamed, not fsynced: it survives a killed
process, not a power loss), and carries a fingerprint of everything that
decides the pixels (model bytes, walk, size, codec settings). A resume with different settings is
refused rather than stitching two different renders together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..errors import ImggenError

RECORD_VERSION = 1


@dataclass
class ProgressRecord:
    fingerprint: str
    first: int  # the render's slice is [first, stop)
    stop: int
    next: int  # first frame not yet durable
    complete: bool = False
    sink: dict[str, Any] = field(default_factory=dict)
    version: int = RECORD_VERSION


def fingerprint(settings: dict[str, Any], model: Path | None) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    if model is not None:
        with model.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:32]


def save(path: Path, record: ProgressRecord) -> None:
    data = json.dumps(asdict(record), indent=1).encode()
    try:
        atomic_write_bytes(path, data, durable=False)
    except OSError as e:
        raise ImggenError(f"cannot write the progress record {path}: {e.strerror}") from None


def load(path: Path) -> ProgressRecord | None:
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ImggenError(
                f"{path} is not an imggen-rt progress record; delete it to start over"
            )
        if raw.get("version") != RECORD_VERSION:
            raise ValueError
        return ProgressRecord(**raw)
    except ImggenError:
        raise
    except (ValueError, TypeError):
        raise ImggenError(
            f"progress record {path} is unreadable; delete it to start over"
        ) from None
