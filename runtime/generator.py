"""The one-call happy path: `load(model)` then `generate(seeds=...)` -> uint8 frames."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backend_factory import create_backend
from .backends import Backend, DeviceFramesBackend
from .card import ModelCard
from .errors import ImggenError
from .latents import latents_for_seeds
from .postprocess import denormalize
from .walks import Walk

if TYPE_CHECKING:
    from .post import PostChain

DEFAULT_MODEL = Path(__file__).parent / "models" / "fashion_cgan32.onnx"
ORDERS = ("rgb", "bgr", "gray")

ClassArg = int | str | Sequence[int | str] | None


@dataclass(frozen=True)
class Feeds:
    """What the graph is fed for a batch of images: latents (already truncated) and, for a
    conditional model, their class ids. Made only by `ImageGenerator.feeds_for_seeds`/`walk`
    plans; callers that merge requests (the server) concatenate them."""

    z: np.ndarray  # float32 (N, Z)
    class_ids: np.ndarray | None  # int64 (N,)

    def __len__(self) -> int:
        return len(self.z)

    def rows(self, index: slice | np.ndarray) -> Feeds:
        return Feeds(self.z[index], None if self.class_ids is None else self.class_ids[index])

    @staticmethod
    def concat(parts: Sequence[Feeds]) -> Feeds:
        """One batch from several; all or none of the parts carry class ids."""
        with_classes = [p.class_ids is not None for p in parts]
        if any(with_classes) and not all(with_classes):
            raise ImggenError("cannot merge feeds with and without class ids")
        z = np.concatenate([p.z for p in parts])
        if not all(with_classes):
            return Feeds(z, None)
        return Feeds(z, np.concatenate([p.class_ids for p in parts if p.class_ids is not None]))


@dataclass(frozen=True)
class Batch:
    """One streamed batch: the seeds and classes it holds, and its frames (N, H, W, C) uint8."""

    seeds: list[int]
    classes: list[int] | None
    frames: np.ndarray


def resolve_classes(card: ModelCard, classes: ClassArg, seeds: Sequence[int]) -> list[int] | None:
    """Per-seed class ids. Without an explicit class, a conditional model uses
    seed % num_classes, so a run of consecutive seeds shows every class."""
    if not card.conditional:
        if classes is not None:
            raise ImggenError("this model is not class-conditional: do not pass a class")
        return None
    if classes is None:
        return [s % card.num_classes for s in seeds]
    if isinstance(classes, (int, str)):
        return [card.class_index(classes)] * len(seeds)
    ids = [card.class_index(c) for c in classes]
    if len(ids) != len(seeds):
        raise ImggenError(f"{len(ids)} classes given for {len(seeds)} seeds")
    return ids


def feeds_for_seeds(
    card: ModelCard,
    seeds: Sequence[int],
    classes: ClassArg = None,
    truncation: float = 1.0,
    latents: np.ndarray | None = None,
) -> Feeds:
    """The graph's inputs for these seeds: each latent drawn from its own seed (into `latents`,
    a float32 (N, Z) buffer, when given), classes by `resolve_classes`. The one place seeds
    become feeds; `ImageGenerator.feeds_for_seeds` and the parity gate's inputs call it."""
    ids = resolve_classes(card, classes, seeds)
    z = latents_for_seeds(seeds, card.latent_dim, truncation, latents)
    return Feeds(z, None if ids is None else np.asarray(ids, dtype=np.int64))


def default_model_path() -> Path:
    if not DEFAULT_MODEL.is_file():
        raise ImggenError(
            "this install has no bundled default model; pass a model path (-m MODEL.onnx)"
        )
    return DEFAULT_MODEL


class ImageGenerator:
    """A loaded generator: latents from seeds, a backend, the fused post-process.

    Image k is a function of (model, seed k, class k, truncation, backend precision) only:
    batch size and order never change it.
    """

    def __init__(self, backend: Backend, model_path: Path, order: str = "rgb") -> None:
        if order not in ORDERS:
            raise ImggenError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        self.backend = backend
        self.model_path = model_path
        self.order = order
        self.card: ModelCard = backend.card
        self._latents = np.empty((0, self.card.latent_dim), dtype=np.float32)

    def _order_for_model(self, order: str, post: PostChain | None = None) -> str:
        # A one-channel model stays one channel unless colour is asked for explicitly, or a
        # post-process chain can colour it (a LUT look, white balance).
        colour = post is not None and post.makes_colour
        return "gray" if self.card.channels == 1 and order == "rgb" and not colour else order

    def frame_shape(self, order: str, post: PostChain | None = None) -> tuple[int, int, int]:
        """(H, W, C) of the frames made with this order and chain."""
        height, width = self.card.height, self.card.width
        channels = 1 if self._order_for_model(order, post) == "gray" else 3
        if post is not None:
            height, width = post.output_size(height, width)
            channels += post.has_alpha
        return height, width, channels

    def resolve_seeds(self, n: int | None, seeds: Sequence[int] | None, seed: int) -> list[int]:
        if seeds is not None:
            if n is not None and n != len(seeds):
                raise ImggenError(f"n={n} disagrees with {len(seeds)} seeds given")
            return [int(s) for s in seeds]
        count = 1 if n is None else n
        if count < 0:
            raise ImggenError(f"n must be >= 0, got {count}")
        return list(range(seed, seed + count))

    def resolve_classes(self, classes: ClassArg, seeds: Sequence[int]) -> list[int] | None:
        return resolve_classes(self.card, classes, seeds)

    def _plan(
        self,
        n: int | None,
        seeds: Sequence[int] | None,
        classes: ClassArg,
        seed: int,
        batch_size: int,
        order: str | None,
        post: PostChain | None,
    ) -> tuple[list[int], list[int] | None, str]:
        if batch_size < 1:
            raise ImggenError(f"batch size must be >= 1, got {batch_size}")
        all_seeds = self.resolve_seeds(n, seeds, seed)
        return (
            all_seeds,
            self.resolve_classes(classes, all_seeds),
            self._order_for_model(order or self.order, post),
        )

    def iter_batches(
        self,
        n: int | None = None,
        seeds: Sequence[int] | None = None,
        classes: ClassArg = None,
        truncation: float = 1.0,
        batch_size: int = 16,
        seed: int = 0,
        order: str | None = None,
        post: PostChain | None = None,
    ) -> Iterator[Batch]:
        """Stream frames batch by batch: memory stays flat however many images are asked."""
        all_seeds, all_classes, out_order = self._plan(
            n, seeds, classes, seed, batch_size, order, post
        )
        for start in range(0, len(all_seeds), batch_size):
            batch_seeds = all_seeds[start : start + batch_size]
            batch_classes = all_classes[start : start + batch_size] if all_classes else None
            frames = self._run(batch_seeds, batch_classes, truncation, out_order, None, post)
            yield Batch(batch_seeds, batch_classes, frames)

    def generate(
        self,
        n: int | None = None,
        seeds: Sequence[int] | None = None,
        classes: ClassArg = None,
        truncation: float = 1.0,
        batch_size: int = 16,
        seed: int = 0,
        order: str | None = None,
        post: PostChain | None = None,
    ) -> np.ndarray:
        """All frames as one uint8 (N, H, W, C) array, written batch by batch in place.
        `post` (imggen_rt.post.PostChain) post-processes them: colour, LUT, filters, size."""
        all_seeds, all_classes, out_order = self._plan(
            n, seeds, classes, seed, batch_size, order, post
        )
        shape = self.frame_shape(out_order, post)
        frames = np.empty((len(all_seeds), *shape), dtype=np.uint8)
        for start in range(0, len(all_seeds), batch_size):
            stop = start + batch_size
            self._run(
                all_seeds[start:stop],
                all_classes[start:stop] if all_classes else None,
                truncation,
                out_order,
                frames[start:stop],
                post,
            )
        return frames

    def feeds_for_seeds(
        self,
        seeds: Sequence[int],
        classes: ClassArg = None,
        truncation: float = 1.0,
        latents: np.ndarray | None = None,
    ) -> Feeds:
        return feeds_for_seeds(self.card, seeds, classes, truncation, latents)

    def feeds_for_walk(self, walk: Walk, indices: Sequence[int]) -> Feeds:
        """The feeds of walk frames that stay in one class (a class morph needs two renders
        per frame: `frames_for_walk`)."""
        plan = walk.plan(indices)
        if plan.blend is not None and bool(np.any(plan.blend > 0)):
            raise ImggenError("this walk morphs between classes: render it with frames_for_walk")
        return Feeds(plan.z, plan.class_a)

    def frames(
        self,
        feeds: Feeds,
        order: str | None = None,
        out: np.ndarray | None = None,
        post: PostChain | None = None,
    ) -> np.ndarray:
        """Feeds -> uint8 (N, H, W, C) frames."""
        return self.frames_for_latents(feeds.z, feeds.class_ids, order, out, post)

    def frames_for_walk(
        self, walk: Walk, indices: Sequence[int], order: str = "rgb", post: PostChain | None = None
    ) -> np.ndarray:
        """Frames `indices` of a walk. A class morph cross-fades the renders of one latent in
        the two classes (the blend is of 8-bit frames, rounded), so frame i stays a function of
        i alone."""
        plan = walk.plan(indices)
        frames = self.frames_for_latents(plan.z, plan.class_a, order, post=post)
        if plan.blend is not None and plan.class_b is not None:
            morph = np.flatnonzero(plan.blend > 0)
            if len(morph):
                other = self.frames_for_latents(
                    plan.z[morph], plan.class_b[morph], order, post=post
                )
                w = plan.blend[morph].reshape(-1, 1, 1, 1)
                mixed = frames[morph] * (1.0 - w) + other * w
                frames[morph] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return frames

    def to_frames(
        self, images: np.ndarray, order: str | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Host float NCHW images in the card's range -> uint8 NHWC frames (one fused pass)."""
        low, high = self.card.output_range
        return denormalize(images, low, high, self._order_for_model(order or self.order), out=out)

    def _run(
        self,
        seeds: list[int],
        classes: list[int] | None,
        truncation: float,
        order: str,
        out: np.ndarray | None,
        post: PostChain | None = None,
    ) -> np.ndarray:
        if len(self._latents) < len(seeds):
            self._latents = np.empty((len(seeds), self.card.latent_dim), dtype=np.float32)
        feeds = self.feeds_for_seeds(seeds, classes, truncation, self._latents[: len(seeds)])
        return self.frames(feeds, order, out, post)

    def frames_for_latents(
        self,
        z: np.ndarray,
        class_ids: np.ndarray | None,
        order: str | None = None,
        out: np.ndarray | None = None,
        post: PostChain | None = None,
    ) -> np.ndarray:
        """Latents (already truncated) -> uint8 frames: the step after seeds, for callers that
        assemble batches themselves (the server merges requests with different truncations).
        With `post`, the chain's colour ops fuse into the denormalise pass."""
        order = self._order_for_model(order or self.order, post)
        if post:
            return self._post_processed(z, class_ids, order, out, post)
        if isinstance(self.backend, DeviceFramesBackend):
            # GPU backends post-process on the device: only uint8 frames come back.
            if out is None:
                channels = 1 if order == "gray" else 3
                out = np.empty((len(z), self.card.height, self.card.width, channels), np.uint8)
            return self.backend.infer_frames(z, class_ids, order, out)
        images = self.backend.infer(z, class_ids)
        low, high = self.card.output_range
        return denormalize(images, low, high, order, out=out)

    def _post_processed(
        self,
        z: np.ndarray,
        class_ids: np.ndarray | None,
        order: str,
        out: np.ndarray | None,
        post: PostChain,
    ) -> np.ndarray:
        if isinstance(self.backend, DeviceFramesBackend):
            # The chain's leading colour ops run in the device pass (only 8-bit frames come
            # back); what follows (filters, resize, masks) continues on them on the CPU.
            colour, rest = post.split_leading_colour()
            work = order if not rest else ("gray" if order == "gray" else "rgb")
            frames = np.asarray(self.backend.infer_frames(z, class_ids, work, None, colour))
            # Pinned frames are reused by the next batch: copy when nothing else did.
            frames = rest.apply(frames, order) if rest else frames.copy()
        else:
            low, high = self.card.output_range
            frames = post.run(self.backend.infer(z, class_ids), low, high, order)
        if out is None:
            return frames
        if out.shape != frames.shape:
            raise ImggenError(f"out has shape {out.shape}; the chain makes {frames.shape}")
        out[...] = frames
        return out

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> ImageGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(
    model: str | Path | None = None,
    backend: str = "auto",
    order: str = "rgb",
    threads: int | None = None,
) -> ImageGenerator:
    """Load a generator ONNX (the bundled default model when `model` is None)."""
    path = Path(model) if model is not None else default_model_path()
    if not path.is_file():
        raise ImggenError(f"model file {path} does not exist")
    return ImageGenerator(create_backend(backend, path, threads=threads), path, order)
