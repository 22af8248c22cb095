"""One render job: a walk, its frames and a sink, from settings to a summary.

`imggen-rt video` parses its flags into a `RenderJob` and calls `render_job`; everything in
between -- loading the model, the walk, the delivery size, the sink and its progress record,
`--frames` slices, the Ray split and the render loop -- happens here, so a Python caller renders
exactly what the command renders.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ImggenError
from ..generator import ImageGenerator, check_knobs, load, model_colour_space
from ..walks import KeyframeWalk, NoiseLoop, Walk
from . import progress
from .frames import FrameMaker
from .options import parse_frames
from .render import RenderResult, batches_from, render
from .sinks.factory import OpenedSink, SinkOptions, open_sink

if TYPE_CHECKING:
    from ..post import PostChain

# A progress display for `total` frames: a context whose value advances it by n frames.
ProgressFactory = Callable[[int], AbstractContextManager[Callable[[int], None]]]

DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_FRAMES_PER_SEED = 48


@dataclasses.dataclass(frozen=True)
class WalkSpec:
    """A keyframe walk (`frames_per_seed`) or a noise loop (`loop_seconds`) through seeds."""

    seeds: tuple[int, ...] | None = None
    frames_per_seed: int | None = None
    loop_seconds: float | None = None
    loop_back: bool = False
    easing: str = "smooth"
    classes: str | None = None  # ids or names, comma-separated, one per keyframe
    truncation: float = 1.0
    knobs: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RenderJob:
    out: str
    walk: WalkSpec
    sink: SinkOptions
    model: Path | None = None
    backend: str = "auto"
    threads: int | None = None
    size: tuple[int, int] | None = None
    fit: str = "pad"
    post: str | None = None
    post_config: Path | None = None
    ocio_config: str | None = None  # for ocio ops and --colour-space (else $OCIO, built-in)
    frames: str | None = None  # "A:B"
    resume: bool = False
    realtime: Fraction | None = None
    batch_size: int = 8
    queue: int = 2
    sequential: bool = False
    ray: str | None = None  # "local" or a cluster address
    ray_workers: int = 2
    ray_cpus: float = 0.5


def render_job(
    job: RenderJob, progress_bar: ProgressFactory, build: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Render `job`; returns the summary (frames written, speed, realtime figures). `build`:
    `auto` may build this CPU's bf16 engine on first use, reporting through it."""
    if job.batch_size < 1:
        raise ImggenError(f"--batch-size must be >= 1, got {job.batch_size}")
    if job.walk.loop_seconds is not None and job.walk.loop_back:
        raise ImggenError("--loop-back applies to keyframe walks; a --loop has no seam to close")
    space = _frames_space(job)
    post_recipe = _post_recipe(job, space)
    post = post_recipe() if post_recipe is not None else None
    frames_space = _space_after_chain(job, post, space)
    colour = job.sink.colour.for_display(post.display if post else None)
    sink = dataclasses.replace(job.sink, source_space=frames_space, colour=colour)
    opened = open_sink(job.out, sink)
    if job.resume and opened.record_path is None:
        raise ImggenError("--resume needs a file output (a video file or an image sequence)")
    with load(job.model, backend=job.backend, threads=job.threads, build=build) as gen:
        walk = build_walk(job.walk, gen, job.sink.fps)
        check_knobs(gen.card, walk.knobs)
        first, stop = parse_frames(job.frames, walk.length) if job.frames else (0, walk.length)
        opened = _for_slice(opened, first, stop, walk.length)
        maker = FrameMaker(gen, walk, job.size, post, job.fit)
        if maker.has_alpha and not opened.sink.supports_alpha:
            raise ImggenError(
                "the post chain makes alpha: write prores4444 (.mov) or a PNG/TIFF/EXR sequence"
            )
        frame_size = maker.frame_size
        settings = {
            "walk": walk.describe(),
            "post": repr(post) if post else None,
            "size": frame_size,
            "fit": job.fit,
            "backend": gen.backend.name,
            "sink": opened.sink.describe(),
        }
        fp = progress.fingerprint(settings, gen.model_path)
        split = None
        if job.ray is not None:
            from .ray_split import RaySplit

            split = RaySplit(
                gen.model_path,
                walk,
                job.size,
                post=post_recipe,
                fit=job.fit,
                workers=job.ray_workers,
                cpus=job.ray_cpus,
                backend=gen.backend.name,
                threads=job.threads or 1,
                chunk=job.batch_size,
                address=None if job.ray == "local" else job.ray,
            )
        source = split if split is not None else batches_from(maker.make, job.batch_size)
        try:
            with progress_bar(stop - first) as advance:
                result = render(
                    source,
                    opened.sink,
                    frame_size,
                    first,
                    stop,
                    record_path=opened.record_path,
                    fingerprint=fp,
                    resume=job.resume,
                    pipelined=not job.sequential,
                    queue_depth=job.queue,
                    realtime=job.realtime,
                    drop_late=opened.to_stdout,
                    on_frames=advance,
                )
        finally:
            if split is not None:
                split.close()
    return _summary(job, result, frame_size)


def build_walk(spec: WalkSpec, gen: ImageGenerator, fps: Fraction) -> Walk:
    z_dim = gen.card.latent_dim
    seeds = list(spec.seeds) if spec.seeds is not None else list(DEFAULT_SEEDS)
    classes = _keyframe_classes(gen, spec.classes, seeds)
    if spec.loop_seconds is not None:
        if not 0 < spec.loop_seconds <= 86400:
            raise ImggenError(f"--loop must be in (0, 86400] seconds, got {spec.loop_seconds}")
        length = max(1, round(spec.loop_seconds * fps))
        if classes is not None and len(classes) != 1 and spec.classes is not None:
            raise ImggenError("a loop has one class: pass one --classes value")
        cls = classes[0] if classes is not None else None
        return NoiseLoop(seeds[0], length, z_dim, cls, spec.truncation, spec.knobs)
    return KeyframeWalk(
        seeds,
        spec.frames_per_seed or DEFAULT_FRAMES_PER_SEED,
        z_dim,
        classes,
        spec.easing,
        spec.loop_back,
        spec.truncation,
        spec.knobs,
    )


def _keyframe_classes(gen: ImageGenerator, text: str | None, seeds: list[int]) -> list[int] | None:
    """Keyframe class ids. Without --classes, or for a model without classes, the generator's
    own rule (seed % num_classes; an error for a class on an unconditional model). The count
    is checked by the walk, since a noise loop takes one class whatever its seeds."""
    if text is None or not gen.card.conditional:
        return gen.resolve_classes(text, seeds)
    names: list[int | str] = [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",")]
    return [gen.card.class_index(c) for c in names]


def _for_slice(opened: OpenedSink, first: int, stop: int, length: int) -> OpenedSink:
    """Slices of one sequence may render at once into one shared folder: one record each;
    a video file's segments go to one folder per slice."""
    if opened.record_path is None or (first, stop) == (0, length):
        return opened
    name = opened.record_path.name.replace(".progress.json", f".{first}-{stop}.progress.json")
    opened = dataclasses.replace(opened, record_path=opened.record_path.with_name(name))
    opened.sink.use_slice(first, stop)
    return opened


def _space_after_chain(job: RenderJob, post: PostChain | None, model_space: str) -> str:
    """The colour space of the frames the chain makes (what --colour-space converts from):
    the target of its last OCIO conversion, else the model's. EXR without --colour-space reads
    frames as sRGB, so a chain that converted them elsewhere needs --colour-space; a display
    transform's output is for a screen, not for scene-linear EXR."""
    last = post.last_ocio if post else None
    if last is None or not job.out.lower().endswith(".exr"):
        return model_space
    if last.kind == "display":
        raise ImggenError(
            f"{last} encodes frames for a display; EXR holds scene-linear values: drop it, or "
            "write a video file or PNG/TIFF sequence"
        )
    if last.kind == "look":
        return last.names[1]
    if job.sink.colour_space is None:
        raise ImggenError(
            f"{last} makes 8-bit frames of {last.names[1]!r}, which EXR would read as sRGB: "
            f"write EXR in that space with --colour-space {last.names[1]!r} instead"
        )
    return last.names[1]


def _frames_space(job: RenderJob) -> str:
    """The model's colour space, read from its card only where ocio ops or an EXR colour
    space need it."""
    from ..card import DEFAULT_COLOUR_SPACE
    from ..post.spec import may_use_ocio

    if not may_use_ocio(job.post, job.post_config) and job.sink.colour_space is None:
        return DEFAULT_COLOUR_SPACE
    return model_colour_space(job.model)


def _post_recipe(job: RenderJob, space: str) -> Callable[[], Any] | None:
    """How the chain is made, here and on each Ray worker (a chain holds thread-local buffers
    and does not travel); LUT files named in it must exist on the workers."""
    from ..post import load_post_config, parse_post

    if job.post_config is not None:
        path = job.post_config.resolve()
        return functools.partial(load_post_config, path, job.ocio_config, space)
    if job.post:
        return functools.partial(parse_post, job.post, job.ocio_config, space)
    return None


def _summary(job: RenderJob, result: RenderResult, frame_size: tuple[int, int]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "output": job.out,
        "frames": [result.first, result.stop],
        "resumed_from": result.resumed_from,
        "frames_written": result.frames_written,
        "frames_dropped": result.frames_dropped,
        "seconds": round(result.seconds, 3),
        "fps": round(result.fps, 2),
        "size": list(frame_size),
        "complete": result.complete,
    }
    if result.realtime is not None:
        summary["realtime"] = result.realtime
    return summary
