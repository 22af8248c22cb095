"""`model=PATH[:TILE[:OVERLAP]]`: an image-to-image model (an upscaler) as a step of the chain,
so `generate`, `video` and `postprocess` can enlarge with a learned model instead of Lanczos.

The step runs on the 8-bit RGB frames, in tiles (`tiling`), and makes them `scale` times
larger; a source's alpha is resized to match by the chain. Models are loaded (and probed)
once per process and path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImggenError
from ..image_model import ImageModel, first_use_builds
from ..tiling import TileSpec
from .ops import Region

_LOADED: dict[Path, ImageModel] = {}


def loaded_model(path: Path) -> ImageModel:
    key = path.resolve()
    model = _LOADED.get(key)
    if model is None:
        # auto: this CPU's bf16 engine per tile size where it is faster (frames of at least
        # one tile), built on first use unless IMGGEN_RT_ENGINE_BUILD=never.
        model = _LOADED[key] = ImageModel(path, engine="auto", build=first_use_builds())
    return model


@dataclass(frozen=True)
class ModelOp:
    path: Path
    tile: int = 256
    overlap: int | None = None  # None: the model's receptive field
    region: Region = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if self.region != "all":
            raise ImggenError("model changes the frame size, so it cannot be limited to a region")
        if not self.path.is_file():
            raise ImggenError(f"model: {self.path} does not exist")
        if self.model.spec.channels != 3 or self.model.spec.out_channels != 3:
            raise ImggenError(f"model: {self.path.name} is not an RGB -> RGB model")
        _ = self.tiling  # checks tile and overlap now, not on the first frame

    @property
    def model(self) -> ImageModel:
        return loaded_model(self.path)

    @property
    def tiling(self) -> TileSpec:
        return self.model.tile_spec(self.tile, self.overlap)

    @property
    def scale(self) -> int:
        return self.model.spec.scale

    @property
    def makes_colour(self) -> bool:
        return True

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, H * scale, W * scale, 3)."""
        from ..enhance import enhance_image

        if frames.shape[3] != 3:
            channels = frames.shape[3]
            raise ImggenError(f"model: {self.path.name} needs RGB frames, not {channels}-channel")
        tiling = self.tiling
        return np.stack([enhance_image(frame, self.model, tiling) for frame in frames])
