"""The generators shipped inside the package, by name: `-m emoji64` as well as `-m path.onnx`.

`resolve_model` is the one place a model argument becomes a file: a path that exists, else a
bundled name, else one error line naming what is bundled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ImggenError

MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class BundledModel:
    name: str
    file: str
    summary: str
    kind: str = "generator"  # or "image-to-image" (`enhance`, the chain's `model=`)

    @property
    def path(self) -> Path:
        return MODELS_DIR / self.file

    @property
    def installed(self) -> bool:
        return self.path.is_file()


BUNDLED = {
    m.name: m
    for m in (
        BundledModel(
            "fashion32", "fashion_cgan32.onnx", "Fashion-MNIST, 32x32 grey, 10 classes (MIT data)"
        ),
        BundledModel(
            "emoji64",
            "emoji64.onnx",
            "Twemoji colour emoji, 64x64 RGBA, 9 Unicode groups (CC-BY 4.0 graphics)",
        ),
        BundledModel(
            "upscaler",
            "upscaler_x2.onnx",
            "x2 upscaler trained on Twemoji renders (CC-BY 4.0 graphics), L1 + adversarial",
            "image-to-image",
        ),
    )
}
DEFAULT_MODEL = "fashion32"  # generate/video/load without -m
FACE_MODEL = "emoji64"  # the page's default: served first by `serve` without -m
DEFAULT_IMAGE_MODEL = "upscaler"


def served_by_default() -> list[Path]:
    """What `serve` serves without -m: the bundled generators this install has, the face
    first (the page opens on it)."""
    names = (FACE_MODEL, DEFAULT_MODEL)
    return [BUNDLED[n].path for n in names if BUNDLED[n].installed] or [resolve_model()]


def resolve_model(model: str | Path | None = None) -> Path:
    """The ONNX file a model argument names: an existing path, a bundled model's name, or
    (None) the default bundled model."""
    if model is not None and Path(model).is_file():
        return Path(model)
    name = DEFAULT_MODEL if model is None else str(model)
    bundled = BUNDLED.get(name)
    if bundled is None:
        names = ", ".join(m.name for m in BUNDLED.values() if m.installed)
        raise ImggenError(f"model file {model} does not exist (bundled models: {names or 'none'})")
    if not bundled.installed:
        raise ImggenError(
            f"this install has no bundled model {name!r}; pass a model path (-m MODEL.onnx)"
        )
    return bundled.path


def model_reference(model: str | None) -> Path:
    """A bundled model's path by name, else the path as given, unchecked: for a deployment
    built here whose files exist only where it runs (a Ray cluster's nodes)."""
    bundled = BUNDLED.get(DEFAULT_MODEL if model is None else model)
    return bundled.path if bundled is not None else Path(str(model))
