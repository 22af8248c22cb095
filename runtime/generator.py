"""The one-call happy path: `load(model)` then `generate(seeds=...)` -> uint8 frames."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backend_factory import create_backend
from .backends import Backend, DeviceFramesBackend
from .bundled import resolve_model
from .card import ModelCard
from .contract import Feeds, canonical_output, noise_for_seed, scalar_value
from .errors import ImggenError, first_line
from .latents import latents_for_seeds
from .postprocess import denormalize
from .walks import FramePlan, Walk

if TYPE_CHECKING:
    from .post import PostChain

ORDERS = ("rgb", "bgr", "gray")

ClassArg = int | str | Sequence[int | str] | None


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


# Knob values by input name: one for every image, or an array with one per image.
Scalars = Mapping[str, float | np.ndarray] | None


def feeds_for_seeds(
    card: ModelCard,
    seeds: Sequence[int],
    classes: ClassArg = None,
    truncation: float = 1.0,
    latents: np.ndarray | None = None,
    scalars: Scalars = None,
    noise_seeds: Sequence[int] | None = None,
) -> Feeds:
    """The graph's inputs for these seeds: each latent drawn from its own seed (into `latents`,
    a float32 (N, Z) buffer, when given), classes by `resolve_classes`, noise maps from each
    image's seed (or from `noise_seeds`: a walk keeps one noise for all its frames) and the
    knobs (`scalars`, else the card's defaults). The one place seeds become feeds: the
    generator, the server, the benchmark and the parity gate all call it."""
    ids = resolve_classes(card, classes, seeds)
    z = latents_for_seeds(seeds, card.latent_dim, truncation, latents)
    extra = extra_inputs(card, seeds if noise_seeds is None else noise_seeds, scalars)
    return Feeds(z, None if ids is None else np.asarray(ids, dtype=np.int64), extra)


def extra_inputs(
    card: ModelCard, noise_seeds: Sequence[int], scalars: Scalars = None
) -> dict[str, np.ndarray]:
    """Noise maps (one per image, from its noise seed) and knob values (one per image), by
    graph input name."""
    check_scalars(card, scalars)
    n = len(noise_seeds)
    extra: dict[str, np.ndarray] = {}
    for index, spec in enumerate(card.inputs_with_role("noise")):
        maps = np.empty((n, *spec.item_shape), dtype=np.float32)
        for row, seed in enumerate(noise_seeds):
            maps[row] = noise_for_seed(int(seed), spec, index)
        extra[spec.name] = maps
    for spec in card.inputs_with_role("scalar"):
        asked = None if scalars is None else scalars.get(spec.name)
        values = np.empty(n, dtype=np.float32)
        if isinstance(asked, np.ndarray):  # one value per image (an animated knob)
            if asked.shape != (n,):
                raise ImggenError(f"{spec.name}: {asked.shape} values for {n} images")
            for row, v in enumerate(asked):
                values[row] = scalar_value(spec, float(v))
        else:
            values[:] = scalar_value(spec, asked)
        extra[spec.name] = np.broadcast_to(
            values.reshape((n,) + (1,) * len(spec.item_shape)), (n, *spec.item_shape)
        ).copy()
    return extra


def check_scalars(card: ModelCard, names: Iterable[str] | None) -> None:
    """Every knob asked for (by name) must be one of the model's."""
    known = [spec.name for spec in card.inputs_with_role("scalar")]
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        has = ", ".join(known) if known else "none"
        raise ImggenError(f"unknown knob(s) {', '.join(unknown)}; this model's knobs: {has}")


def check_knobs(card: ModelCard, knobs: Mapping[str, tuple[float, float]]) -> None:
    """A walk's animated knobs: known names, and both ends inside each knob's range (linear in
    between, so every frame is), checked before the first frame."""
    check_scalars(card, knobs)
    specs = {spec.name: spec for spec in card.inputs_with_role("scalar")}
    for name, (first, last) in knobs.items():
        scalar_value(specs[name], first)
        scalar_value(specs[name], last)


def colour_frames(channels: int, post: PostChain | None) -> bool:
    """Whether frames from `channels`-channel images are colour: a colour source, or a chain
    that colours them (a LUT look, white balance) or adds alpha (grey + alpha is no file
    format's layout: such frames become RGBA)."""
    return channels >= 3 or (post is not None and (post.makes_colour or post.has_alpha))


class ImageGenerator:
    """A loaded generator: latents from seeds, a backend, the fused post-process.

    Image k is a function of (model, seed k, class k, truncation, the model's knobs, backend
    precision) only: batch size and order never change it.
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
        # post-process chain colours it (`colour_frames`). An RGBA model's frames are RGBA
        # (or BGRA): it has no grey layout.
        if self.card.channels == 4 and order == "gray":
            raise ImggenError("an RGBA model makes colour frames: order rgb or bgr, not gray")
        return "gray" if order == "rgb" and not colour_frames(self.card.channels, post) else order

    def frame_shape(self, order: str, post: PostChain | None = None) -> tuple[int, int, int]:
        """(H, W, C) of the frames made with this order and chain."""
        height, width = self.card.height, self.card.width
        channels = 1 if self._order_for_model(order, post) == "gray" else 3
        if post is not None:
            height, width = post.output_size(height, width)
        if self.has_alpha(post):
            channels = 4 if channels == 3 else channels + 1
        return height, width, channels

    def has_alpha(self, post: PostChain | None = None) -> bool:
        """Whether the frames carry alpha: the model's own (RGBA) or a chain's `alpha` op."""
        return self.card.channels == 4 or (post is not None and post.has_alpha)

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
        scalars: Scalars = None,
    ) -> tuple[list[int], list[int] | None, str]:
        if batch_size < 1:
            raise ImggenError(f"batch size must be >= 1, got {batch_size}")
        check_scalars(self.card, scalars)
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
        scalars: Scalars = None,
    ) -> Iterator[Batch]:
        """Stream frames batch by batch: memory stays flat however many images are asked.
        `scalars` sets the model's knobs by name (e.g. {"psi": 0.7}; `card.input_specs`)."""
        all_seeds, all_classes, out_order = self._plan(
            n, seeds, classes, seed, batch_size, order, post, scalars
        )
        for start in range(0, len(all_seeds), batch_size):
            batch_seeds = all_seeds[start : start + batch_size]
            batch_classes = all_classes[start : start + batch_size] if all_classes else None
            feeds = self._feeds_in_buffer(batch_seeds, batch_classes, truncation, scalars)
            frames = self.frames(feeds, out_order, None, post)
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
        scalars: Scalars = None,
    ) -> np.ndarray:
        """All frames as one uint8 (N, H, W, C) array, written batch by batch in place.
        `post` (imggen_rt.post.PostChain) post-processes them: colour, LUT, filters, size;
        `scalars` sets the model's knobs by name."""
        all_seeds, all_classes, out_order = self._plan(
            n, seeds, classes, seed, batch_size, order, post, scalars
        )
        shape = self.frame_shape(out_order, post)
        frames = np.empty((len(all_seeds), *shape), dtype=np.uint8)
        for start in range(0, len(all_seeds), batch_size):
            stop = start + batch_size
            batch_classes = all_classes[start:stop] if all_classes else None
            feeds = self._feeds_in_buffer(all_seeds[start:stop], batch_classes, truncation, scalars)
            self.frames(feeds, out_order, frames[start:stop], post)
        return frames

    def feeds_for_seeds(
        self,
        seeds: Sequence[int],
        classes: ClassArg = None,
        truncation: float = 1.0,
        latents: np.ndarray | None = None,
        scalars: Scalars = None,
    ) -> Feeds:
        return feeds_for_seeds(self.card, seeds, classes, truncation, latents, scalars)

    def feeds_for_walk(self, walk: Walk, indices: Sequence[int], scalars: Scalars = None) -> Feeds:
        """The feeds of walk frames that stay in one class (a class morph needs two renders
        per frame: `frames_for_walk`). Noise maps are the walk's own, the same in every frame,
        so frames do not flicker."""
        plan = walk.plan(indices)
        if plan.blend is not None and bool(np.any(plan.blend > 0)):
            raise ImggenError("this walk morphs between classes: render it with frames_for_walk")
        return self._walk_feeds(walk, plan, scalars)

    def _walk_feeds(self, walk: Walk, plan: FramePlan, scalars: Scalars) -> Feeds:
        """A plan's feeds in its first classes: the walk's noise (the same in every frame)
        and its animated knobs over any knobs asked for."""
        knobs = {**(scalars or {}), **plan.knobs}
        extra = extra_inputs(self.card, [walk.noise_seed] * len(plan.z), knobs)
        return Feeds(plan.z, plan.class_a, extra)

    def frames_for_walk(
        self,
        walk: Walk,
        indices: Sequence[int],
        order: str = "rgb",
        post: PostChain | None = None,
        scalars: Scalars = None,
    ) -> np.ndarray:
        """Frames `indices` of a walk. A class morph cross-fades the renders of one latent in
        the two classes (the blend is of 8-bit frames, rounded), so frame i stays a function of
        i alone; noise maps are fixed for the whole walk; the walk's animated knobs (its
        `knobs`) take their value for each frame."""
        plan = walk.plan(indices)
        feeds = self._walk_feeds(walk, plan, scalars)
        frames = self.frames(feeds, order, post=post)
        if plan.blend is not None and plan.class_b is not None:
            morph = np.flatnonzero(plan.blend > 0)
            if len(morph):
                other_class = Feeds(feeds.z, plan.class_b, feeds.extra).rows(morph)
                other = self.frames(other_class, order, post=post)
                w = plan.blend[morph].reshape(-1, 1, 1, 1)
                mixed = frames[morph] * (1.0 - w) + other * w
                frames[morph] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return frames

    def frames_for_latents(
        self,
        z: np.ndarray,
        class_ids: np.ndarray | None,
        order: str | None = None,
        out: np.ndarray | None = None,
        post: PostChain | None = None,
        noise_seed: int = 0,
        scalars: Scalars = None,
    ) -> np.ndarray:
        """Latents (already truncated) -> uint8 frames, for callers that make their own
        latents; noise maps (if the model has noise inputs) come from `noise_seed`."""
        extra = extra_inputs(self.card, [noise_seed] * len(z), scalars)
        return self.frames(Feeds(z, class_ids, extra), order, out, post)

    def to_frames(
        self, images: np.ndarray, order: str | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The backend's float output -> uint8 NHWC frames: the layout and channel order made
        NCHW RGB when the graph's differ, then one fused pass from the card's range."""
        low, high = self.card.output_range
        images = canonical_output(self.card.output, images)
        return denormalize(images, low, high, self._order_for_model(order or self.order), out=out)

    def frames(
        self,
        feeds: Feeds,
        order: str | None = None,
        out: np.ndarray | None = None,
        post: PostChain | None = None,
    ) -> np.ndarray:
        """Feeds -> uint8 (N, H, W, C) frames, on the backend's own path. With `post`, the
        chain's leading colour ops fuse into the denormalise pass.

        A batch the backend cannot take whole (a fixed-batch graph, an engine profile's
        limits, a 0-d knob whose value changes within the batch) runs in pieces that fit, each
        padded to the backend's smallest batch: every image is still its own seed's."""
        order = self._order_for_model(order or self.order, post)
        pieces = self._pieces(feeds)
        if pieces == [(0, len(feeds), len(feeds))]:
            return self._frames_whole(feeds, order, out, post)
        if out is None:
            out = np.empty((len(feeds), *self.frame_shape(order, post)), np.uint8)
        for start, stop, size in pieces:
            rows = np.arange(start, stop)
            padded = np.concatenate([rows, np.repeat(rows[:1], size - len(rows))])
            out[start:stop] = self._frames_whole(feeds.rows(padded), order, None, post)[: len(rows)]
        return out

    def _pieces(self, feeds: Feeds) -> list[tuple[int, int, int]]:
        """(start, stop, batch to run) covering `feeds` in pieces the backend takes."""
        fixed = self.card.fixed_batch
        low = fixed or self.backend.min_batch
        high = fixed or self.backend.max_batch or len(feeds) or 1
        # Runs of equal values of every 0-d knob (a graph input with no batch axis).
        bounds = [0, len(feeds)]
        for spec in self.card.input_specs:
            values = feeds.extra.get(spec.name) if spec.shape == () else None
            if values is not None and len(values) > 1:
                flat = values.reshape(len(values), -1)[:, 0]
                bounds += [int(i) + 1 for i in np.flatnonzero(flat[1:] != flat[:-1])]
        cuts = sorted(set(bounds))
        pieces = []
        for begin, end in itertools.pairwise(cuts):
            for start in range(begin, end, high):
                stop = min(end, start + high)
                pieces.append((start, stop, max(low, stop - start)))
        return pieces or [(0, 0, 0)]

    def _frames_whole(
        self, feeds: Feeds, order: str, out: np.ndarray | None, post: PostChain | None
    ) -> np.ndarray:
        if post:
            return self._post_processed(feeds, order, out, post)
        if self._device_frames is not None:
            # GPU backends post-process on the device: only uint8 frames come back.
            if out is None:
                channels = 1 if order == "gray" else 3
                shape = (len(feeds), self.card.height, self.card.width, channels)
                out = np.empty(shape, np.uint8)
            return self._device_frames.infer_frames(feeds, order, out)
        return self.to_frames(self.backend.infer(feeds), order, out)

    @property
    def _device_frames(self) -> DeviceFramesBackend | None:
        """The backend, when it makes frames on its device and the graph's output is the NCHW
        RGB its device pass reads; else None (the host path)."""
        backend = self.backend
        # The device pass writes RGB or grey frames; RGBA models take the host path.
        if (
            isinstance(backend, DeviceFramesBackend)
            and self.card.output.canonical
            and self.card.channels != 4
        ):
            return backend
        return None

    def _feeds_in_buffer(
        self,
        seeds: list[int],
        classes: list[int] | None,
        truncation: float,
        scalars: Scalars,
    ) -> Feeds:
        """Feeds whose latents are drawn into a buffer reused across batches."""
        if len(self._latents) < len(seeds):
            self._latents = np.empty((len(seeds), self.card.latent_dim), dtype=np.float32)
        latents = self._latents[: len(seeds)]
        return feeds_for_seeds(self.card, seeds, classes, truncation, latents, scalars)

    def _post_processed(
        self, feeds: Feeds, order: str, out: np.ndarray | None, post: PostChain
    ) -> np.ndarray:
        device = self._device_frames
        if device is not None:
            # The chain's leading colour ops run in the device pass (only 8-bit frames come
            # back); what follows (filters, resize, masks) continues on them on the CPU.
            colour, rest = post.split_leading_colour()
            work = order if not rest else ("gray" if order == "gray" else "rgb")
            frames = np.asarray(device.infer_frames(feeds, work, None, colour))
            # Pinned frames are reused by the next batch: copy when nothing else did.
            frames = rest.apply(frames, order) if rest else frames.copy()
        else:
            low, high = self.card.output_range
            images = canonical_output(self.card.output, self.backend.infer(feeds))
            frames = post.run(images, low, high, order)
        if out is None:
            return frames
        if out.shape != frames.shape:
            raise ImggenError(f"out has shape {out.shape}; the chain makes {frames.shape}")
        out[...] = frames
        return out

    def self_check(self) -> None:
        """One image (seed 0, the last class) through the model: a card that does not describe
        what the graph does (more classes than it has, another output size) or weights that
        make NaN/Inf are refused here, with the reason, before any file is written."""
        card, source = self.card, self.model_path.name
        classes = [card.num_classes - 1] if card.conditional else None
        seeds = [0] * (self.card.fixed_batch or self.backend.min_batch)
        feeds = self.feeds_for_seeds(seeds, None if classes is None else classes * len(seeds))
        try:
            images = np.asarray(self.backend.infer(feeds))
        except ImggenError:
            raise
        except Exception as e:  # the engine's own complaint, e.g. a Gather index out of range
            hint = f" with class {classes[0]}" if classes else ""
            raise ImggenError(
                f"{source}: the model fails on one image{hint}: {first_line(e)}"
            ) from None
        expected = (len(seeds), *card.output_shape[1:])
        if images.shape != expected:
            raise ImggenError(
                f"{source}: the graph makes {images.shape[1:]} images; the card says {expected[1:]}"
            )
        if not np.isfinite(images).all():
            raise ImggenError(
                f"{source}: the model's output has NaN/Inf values on seed 0 (broken weights?)"
            )

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> ImageGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def model_colour_space(model: str | Path | None = None) -> str:
    """The colour space a model's frames are in (its card's, else sRGB), read without a
    session: what ocio ops and EXR conversion start from."""
    from .onnx_graph import card_of_file

    return card_of_file(resolve_model(model)).source_space


def load(
    model: str | Path | None = None,
    backend: str = "auto",
    order: str = "rgb",
    threads: int | None = None,
    build: Callable[[str], None] | None = None,
) -> ImageGenerator:
    """Load a generator ONNX, or a bundled model by name (the default one when `model` is
    None). With `build` (a progress callback), `auto` may build this CPU's bf16 engine on first
    use."""
    path = resolve_model(model)
    gen = ImageGenerator(create_backend(backend, path, threads, build), path, order)
    try:
        gen.self_check()
    except BaseException:
        gen.close()
        raise
    return gen
