"""`imggen-rt video`: a latent walk rendered to a video file, an image sequence or stdout."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..backend_factory import BACKEND_NAMES
from ..errors import ImggenError
from .generate import parse_seeds
from .post_args import add_post_arguments, chain_from_args


def add_parser(verbs: Any) -> None:
    from ..video.sinks.codecs import CODECS
    from ..video.sinks.colour import COLORSPACES, RANGES

    p = verbs.add_parser(
        "video",
        help="render a latent walk to ProRes/H.264/FFV1, an image sequence or raw frames",
        description="Render a walk through latent space. Frame i depends on i alone, so "
        "--frames slices, --resume and --ray give the frames of one uninterrupted render. "
        "-o picks the sink: out.mov|out.mp4|out.mkv, frames/shot.%%06d.png (or ####.exr), "
        "or - for raw RGB24 / Y4M on stdout (messages go to stderr).",
    )
    p.add_argument("-m", "--model", type=Path, help="generator ONNX (default: the bundled one)")
    walk = p.add_mutually_exclusive_group()
    walk.add_argument("--frames-per-seed", type=int, help="frames per keyframe transition (48)")
    walk.add_argument(
        "--loop", type=float, metavar="SECONDS", help="a seamless noise loop this long"
    )
    p.add_argument("--seeds", type=parse_seeds, help="keyframe seeds: 1,7,42 (loop: first seed)")
    p.add_argument("--loop-back", action="store_true", help="walk back to the first keyframe")
    p.add_argument("--easing", choices=("smooth", "linear"), default="smooth")
    p.add_argument(
        "--classes", help="class per keyframe (ids or names, comma-separated); morphs between"
    )
    p.add_argument("--truncation", type=float, default=1.0, help="latent scale in (0, 1]")
    p.add_argument("--fps", default="24", help="frame rate: 24, 25, 24000/1001, 29.97 ...")
    p.add_argument("--size", help="delivery size WxH, e.g. 1920x1080 (default: the model's)")
    p.add_argument(
        "--fit",
        choices=("pad", "crop", "stretch"),
        default="pad",
        help="--size with another aspect ratio: pad with black bars (default), crop, or stretch",
    )
    add_post_arguments(p)
    p.add_argument("-o", "--out", required=True, help="out.mov | out.mp4 | shot.%%06d.png | -")
    p.add_argument("--codec", help=f"video codec: {', '.join(CODECS)} (default by container)")
    p.add_argument("--quality", type=int, help="CRF for h264/hevc (lower = better; 18/20)")
    p.add_argument(
        "--colorspace",
        choices=COLORSPACES,
        default="bt709",
        help="YUV matrix (matrix only: primaries and transfer are BT.709, what the pixels are)",
    )
    p.add_argument("--range", dest="range_", choices=RANGES, default="limited")
    p.add_argument("--start-number", type=int, help="first file number of a sequence (1001)")
    p.add_argument("--bit-depth", type=int, default=8, help="PNG/TIFF bit depth: 8 or 16")
    p.add_argument("--pipe-format", choices=("raw", "y4m"), default="raw", help="for -o -")
    p.add_argument("--y4m-chroma", choices=("444", "420"), default="444")
    p.add_argument(
        "--frames",
        metavar="A:B",
        help="render only frames A..B-1 of the walk; slices of an image sequence can share a "
        "folder, but each slice of a video file needs its own -o",
    )
    p.add_argument("--resume", action="store_true", help="continue a stopped render")
    p.add_argument("--realtime", metavar="FPS", help="pace output to FPS and report misses")
    p.add_argument(
        "--segment-frames",
        type=int,
        help="video files are closed every N frames (240): the most a killed render loses",
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--queue", type=int, default=2, help="batches each stage runs ahead")
    p.add_argument(
        "--sequential", action="store_true", help="no pipelining (make, then encode, in turn)"
    )
    p.add_argument("--backend", default="auto", choices=BACKEND_NAMES)
    p.add_argument("--threads", type=int, default=None, help="inference threads")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="make frames on a Ray cluster (ray extra); no address: a local one",
    )
    p.add_argument("--ray-workers", type=int, default=2)
    p.add_argument("--ray-cpus", type=float, default=0.5, help="CPUs per Ray worker")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def _classes(gen: Any, text: str | None, seeds: list[int]) -> list[int] | None:
    """Keyframe class ids. Without --classes, or for a model without classes, the generator's
    own rule (seed % num_classes; an error for a class on an unconditional model). The count
    is checked by the walk, since a noise loop takes one class whatever its seeds."""
    if text is None or not gen.card.conditional:
        classes: list[int] | None = gen.resolve_classes(text, seeds)
        return classes
    names: list[int | str] = [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",")]
    return [gen.card.class_index(c) for c in names]


def build_walk(args: argparse.Namespace, gen: Any, fps: Any) -> Any:
    from ..walks import KeyframeWalk, NoiseLoop

    z_dim = gen.card.latent_dim
    seeds = args.seeds if args.seeds is not None else [0, 1, 2]
    classes = _classes(gen, args.classes, seeds)
    if args.loop is not None:
        if not 0 < args.loop <= 86400:
            raise ImggenError(f"--loop must be in (0, 86400] seconds, got {args.loop}")
        length = max(1, round(args.loop * fps))
        if classes is not None and len(classes) != 1 and args.classes is not None:
            raise ImggenError("a loop has one class: pass one --classes value")
        cls = classes[0] if classes is not None else None
        return NoiseLoop(seeds[0], length, z_dim, cls, args.truncation)
    return KeyframeWalk(
        seeds,
        args.frames_per_seed or 48,
        z_dim,
        classes,
        args.easing,
        args.loop_back,
        args.truncation,
    )


def run(args: argparse.Namespace) -> int:
    from ..generator import load
    from ..resize import parse_size
    from ..video import progress
    from ..video.frames import FrameMaker
    from ..video.options import parse_fps, parse_frames
    from ..video.render import batches_from
    from ..video.sinks.colour import Colour
    from ..video.sinks.factory import SinkOptions, open_sink

    if args.batch_size < 1:
        raise ImggenError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.loop is not None and args.loop_back:
        raise ImggenError("--loop-back applies to keyframe walks; a --loop has no seam to close")
    fps = parse_fps(args.fps)
    realtime = parse_fps(args.realtime) if args.realtime else None
    size = parse_size(args.size) if args.size else None
    options = SinkOptions(
        fps=fps,
        colour=Colour(args.colorspace, args.range_),
        codec=args.codec,
        quality=args.quality,
        start_number=args.start_number,
        bit_depth=args.bit_depth,
        pipe_format=args.pipe_format,
        y4m_chroma=args.y4m_chroma,
        segment_frames=args.segment_frames,
    )
    post = chain_from_args(args)
    opened = open_sink(args.out, options)
    if args.resume and opened.record_path is None:
        raise ImggenError("--resume needs a file output (a video file or an image sequence)")
    messages = sys.stderr if opened.to_stdout else sys.stdout
    with load(args.model, backend=args.backend, threads=args.threads) as gen:
        walk = build_walk(args, gen, fps)
        first, stop = parse_frames(args.frames, walk.length) if args.frames else (0, walk.length)
        if opened.record_path is not None and (first, stop) != (0, walk.length):
            # Slices of one sequence may render at once into one shared folder: one record each.
            name = opened.record_path.name.replace(
                ".progress.json", f".{first}-{stop}.progress.json"
            )
            opened = dataclasses.replace(opened, record_path=opened.record_path.with_name(name))
            opened.sink.use_slice(first, stop)  # a video file's segments: one folder a slice
        maker = FrameMaker(gen, walk, size, post, args.fit)
        if maker.has_alpha and not opened.sink.supports_alpha:
            raise ImggenError(
                "the post chain makes alpha: write prores4444 (.mov) or a PNG/TIFF/EXR sequence"
            )
        frame_size = maker.frame_size
        settings = {
            "walk": walk.describe(),
            "post": repr(post) if post else None,
            "size": frame_size,
            "fit": args.fit,
            "backend": gen.backend.name,
            "sink": opened.sink.describe(),
        }
        fp = progress.fingerprint(settings, gen.model_path)
        split = None
        if args.ray is not None:
            from ..video.ray_split import RaySplit

            split = RaySplit(
                gen.model_path,
                walk,
                size,
                post=_post_recipe(args),
                fit=args.fit,
                workers=args.ray_workers,
                cpus=args.ray_cpus,
                backend=gen.backend.name,
                threads=args.threads or 1,
                chunk=args.batch_size,
                address=None if args.ray == "local" else args.ray,
            )
        source = split if split is not None else batches_from(maker.make, args.batch_size)
        try:
            result = _render_with_progress(
                args, source, opened, frame_size, first, stop, fp, realtime
            )
        finally:
            if split is not None:
                split.close()
    summary: dict[str, Any] = {
        "output": args.out,
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
    if args.json:
        print(json.dumps(summary), file=messages)
    else:
        print(_summary_line(summary), file=messages)
    return 0


def _post_recipe(args: argparse.Namespace) -> Any:
    """How a Ray worker rebuilds the chain (a chain holds thread-local buffers and does not
    travel); LUT files named in it must exist on the workers."""
    import functools

    from ..post import load_post_config, parse_post

    if args.post_config is not None:
        return functools.partial(load_post_config, args.post_config.resolve())
    if args.post:
        return functools.partial(parse_post, args.post)
    return None


def _render_with_progress(
    args: argparse.Namespace,
    source: Any,
    opened: Any,
    frame_size: tuple[int, int],
    first: int,
    stop: int,
    fp: str,
    realtime: Any,
) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..video.render import render

    columns = (
        TextColumn("[bold]video"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} frames"),
        TextColumn("{task.fields[rate]} fps"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=args.no_progress, transient=True) as bar:
        task = bar.add_task("video", total=stop - first, rate="-")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:.1f}" if speed else "-")

        return render(
            source,
            opened.sink,
            frame_size,
            first,
            stop,
            record_path=opened.record_path,
            fingerprint=fp,
            resume=args.resume,
            pipelined=not args.sequential,
            queue_depth=args.queue,
            realtime=realtime,
            drop_late=opened.to_stdout,
            on_frames=advance,
        )


def _summary_line(s: dict[str, Any]) -> str:
    a, b = s["frames"]
    line = (
        f"rendered {s['frames_written']} frames ({a}:{b}, {s['size'][0]}x{s['size'][1]}) "
        f"to {s['output']} in {s['seconds']:.1f} s, {s['fps']:.1f} fps"
    )
    if s["resumed_from"] is not None:
        line += f", resumed at frame {s['resumed_from']}"
    if not s["complete"]:
        line += " (incomplete)"
    rt = s.get("realtime")
    if rt:
        line += (
            f"; realtime {rt['target_fps']} fps: {rt['deadline_misses']} deadline misses, "
            f"{rt['dropped']} dropped, interval p50 {rt['interval_ms_p50']} ms "
            f"p99 {rt['interval_ms_p99']} ms"
        )
    return line
