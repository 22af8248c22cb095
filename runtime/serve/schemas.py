"""What a client may send and what it gets back; pydantic turns bad input into a 422."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from ..latents import MAX_SEED
from ..walks import keyframe_walk_length

MAX_IMAGES_PER_REQUEST = 64
MAX_SIZE = 2048
MAX_POST_CHARS = 512
MAX_WALK_KEYS = 8
ImageFormat = Literal["png", "jpeg", "webp", "raw"]
MAX_KNOBS = 16
SCALARS_FIELD = Field(
    None,
    max_length=MAX_KNOBS,
    description="the model's knobs by name (its scalar inputs; GET /v1/models lists them)",
    examples=[{"psi": 0.7}],
)
POST_FIELD = Field(
    None,
    max_length=MAX_POST_CHARS,
    description="post-process chain, e.g. 'exposure=0.3,contrast=1.2,saturation=1.1' "
    "(lut= takes a shipped look only)",
    examples=["exposure=0.3,contrast=1.2,saturation=1.1"],
)


class GenerateRequest(BaseModel):
    """Either `seeds`, or `n` images from consecutive seeds starting at `seed`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = Field(None, description="model name (GET /v1/models); default: the first")
    seeds: list[int] | None = Field(
        None, min_length=1, max_length=MAX_IMAGES_PER_REQUEST, description="explicit seeds"
    )
    n: int | None = Field(None, ge=1, le=MAX_IMAGES_PER_REQUEST, description="image count")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="first seed when `n` is given")
    class_: int | str | None = Field(
        None, alias="class", description="class id or name; default: seed % num_classes"
    )
    truncation: float = Field(1.0, gt=0.0, le=1.0, description="latent scale, 1 = none")
    format: ImageFormat = Field("png", description="png, jpeg, webp, or raw RGB bytes")
    size: int | None = Field(None, ge=8, le=MAX_SIZE, description="resize to size x size")
    post: str | None = POST_FIELD
    scalars: dict[str, FiniteFloat] | None = SCALARS_FIELD

    @model_validator(mode="after")
    def _seeds_or_n(self) -> GenerateRequest:
        if self.seeds is not None and self.n is not None:
            raise ValueError("give either seeds or n, not both")
        if self.seeds is not None and any(not 0 <= s <= MAX_SEED for s in self.seeds):
            raise ValueError("seeds must be integers in 0..2**63-1")
        return self


class WalkRequest(BaseModel):
    """A latent walk: slerp between the latents of keyframe seeds, `frames_per_seed` frames
    per transition, every frame in one class."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = Field(None, description="model name (GET /v1/models); default: the first")
    seeds: list[int] = Field(
        min_length=2, max_length=MAX_WALK_KEYS, description="keyframe seeds, in order"
    )
    frames_per_seed: int = Field(8, ge=1, le=MAX_IMAGES_PER_REQUEST)
    loop_back: bool = Field(False, description="return to the first seed (a seamless loop)")
    easing: Literal["linear", "smooth"] = "smooth"
    class_: int | str | None = Field(
        None, alias="class", description="class id or name; default: first seed % num_classes"
    )
    truncation: float = Field(1.0, gt=0.0, le=1.0)
    format: Literal["png", "jpeg", "webp"] = "png"
    size: int | None = Field(None, ge=8, le=MAX_SIZE)
    post: str | None = POST_FIELD
    scalars: dict[str, FiniteFloat] | None = SCALARS_FIELD

    @model_validator(mode="after")
    def _bounded(self) -> WalkRequest:
        if any(not 0 <= s <= MAX_SEED for s in self.seeds):
            raise ValueError("seeds must be integers in 0..2**63-1")
        if self.frame_count() > MAX_IMAGES_PER_REQUEST:
            raise ValueError(
                f"the walk has {self.frame_count()} frames; at most {MAX_IMAGES_PER_REQUEST}"
            )
        return self

    def frame_count(self) -> int:
        return keyframe_walk_length(len(self.seeds), self.frames_per_seed, self.loop_back)


class WalkFrame(BaseModel):
    index: int
    content_type: str
    data: str = Field(description="base64 of the encoded frame")


class WalkResponse(BaseModel):
    model: str
    frames: list[WalkFrame]


class GeneratedImage(BaseModel):
    seed: int
    class_id: int | None
    content_type: str
    data: str = Field(description="base64 of the encoded image")


class GenerateResponse(BaseModel):
    model: str
    images: list[GeneratedImage]


class ModelInfo(BaseModel):
    name: str
    card: dict[str, Any]
    backend: dict[str, Any]
