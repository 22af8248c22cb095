"""`imggen-rt video`: a latent walk rendered to a video file, an image sequence or stdout."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..backend_factory import BACKEND_NAMES
from .engine_build import add_engine_build_argument, engine_build_progress
from .generate import parse_seeds
from .knob_args import add_knob_arguments, parse_animated_knobs
from .post_args import add_post_arguments


def add_parser(verbs: Any) -> None:
    from ..video.sinks.codecs import CODECS
    from ..video.sinks.colour import COLORSPACES, RANGES

    p = verbs.add_parser(
        "video",
        help="render a latent walk to ProRes/H.264/FFV1, an image sequence or raw frames",
        description="Render a walk through latent space. Frame i depends on i alone, so "
        "--frames slices, --resume and --ray give the frames of one uninterrupted render. "
        "-o picks the sink: out.mov|out.mp4|out.mkv, frames/shot.%06d.png (or ####.exr), "
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
    add_knob_arguments(p, animated=True)
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
    p.add_argument(
        "--colour-space",
        metavar="NAME",
        help="EXR sequences: write scene-linear values in this OpenColorIO colour space (e.g. "
        "ACEScg), converted from the model's sRGB frames by OCIO and named in each file's "
        "oiio:ColorSpace attribute (ocio extra; config from --ocio-config, $OCIO or the "
        "built-in default). Without it EXR holds linear Rec.709",
    )
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
    add_engine_build_argument(p)
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


def run(args: argparse.Namespace) -> int:
    from ..resize import parse_size
    from ..video.job import RenderJob, WalkSpec, render_job
    from ..video.options import parse_fps
    from ..video.sinks.colour import Colour
    from ..video.sinks.factory import SinkOptions

    job = RenderJob(
        out=args.out,
        walk=WalkSpec(
            seeds=tuple(args.seeds) if args.seeds is not None else None,
            frames_per_seed=args.frames_per_seed,
            loop_seconds=args.loop,
            loop_back=args.loop_back,
            easing=args.easing,
            classes=args.classes,
            truncation=args.truncation,
            knobs=parse_animated_knobs(args.scalar),
        ),
        sink=SinkOptions(
            fps=parse_fps(args.fps),
            colour=Colour(args.colorspace, args.range_),
            codec=args.codec,
            quality=args.quality,
            start_number=args.start_number,
            bit_depth=args.bit_depth,
            pipe_format=args.pipe_format,
            y4m_chroma=args.y4m_chroma,
            segment_frames=args.segment_frames,
            colour_space=args.colour_space,
            ocio_config=args.ocio_config,
        ),
        model=args.model,
        backend=args.backend,
        threads=args.threads,
        size=parse_size(args.size) if args.size else None,
        fit=args.fit,
        post=args.post,
        post_config=args.post_config,
        ocio_config=args.ocio_config,
        frames=args.frames,
        resume=args.resume,
        realtime=parse_fps(args.realtime) if args.realtime else None,
        batch_size=args.batch_size,
        queue=args.queue,
        sequential=args.sequential,
        ray=args.ray,
        ray_workers=args.ray_workers,
        ray_cpus=args.ray_cpus,
    )
    to_stdout = args.out == "-"
    with engine_build_progress(args) as build:
        summary = render_job(job, functools.partial(_progress_bar, args.no_progress), build)
    messages = sys.stderr if to_stdout else sys.stdout
    print(json.dumps(summary) if args.json else _summary_line(summary), file=messages)
    return 0


@contextlib.contextmanager
def _progress_bar(disabled: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr (stdout may carry frames), with the frame rate."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]video"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} frames"),
        TextColumn("{task.fields[rate]} fps"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=disabled, transient=True) as bar:
        task = bar.add_task("video", total=total, rate="-")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:.1f}" if speed else "-")

        yield advance


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
