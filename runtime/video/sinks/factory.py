"""From the `-o` argument to a sink: `-` is a pipe, a name with a frame field is an image
sequence, anything else is a video file named by its container."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from ...errors import ImggenError
from .base import Sink
from .codecs import pick_codec
from .colour import Colour

PIPE_FORMATS = ("raw", "y4m")


@dataclass(frozen=True)
class SinkOptions:
    fps: Fraction = Fraction(24)
    colour: Colour = field(default_factory=Colour)
    codec: str | None = None
    quality: int | None = None
    start_number: int | None = None
    bit_depth: int = 8
    pipe_format: str = "raw"
    y4m_chroma: str = "444"
    segment_frames: int | None = None
    # EXR sequences: the OCIO colour space the values are written in (scene-linear, e.g.
    # ACEScg), converted from `source_space` (the model's frames) by OCIO's own processor.
    colour_space: str | None = None
    source_space: str = "sRGB - Texture"
    ocio_config: str | None = None


@dataclass(frozen=True)
class OpenedSink:
    sink: Sink
    record_path: Path | None  # where the progress record goes (None: not resumable)
    to_stdout: bool


def open_sink(out: str, options: SinkOptions, stdout: BinaryIO | None = None) -> OpenedSink:
    from .pattern import is_pattern, parse_pattern

    o = options
    if o.colour_space is not None and not (is_pattern(out) and out.lower().endswith(".exr")):
        raise ImggenError(
            "--colour-space applies to EXR sequences (shot.####.exr); video files and 8/16-bit "
            "images carry display values: convert those with --post ocio=SRC:DST"
        )
    if out == "-":
        if o.codec is not None:
            raise ImggenError("--codec applies to video files; stdout carries raw or Y4M frames")
        if o.pipe_format not in PIPE_FORMATS:
            raise ImggenError(f"pipe format must be raw or y4m, got {o.pipe_format!r}")
        stream = stdout if stdout is not None else sys.stdout.buffer
        if o.pipe_format == "y4m":
            from .y4m_pipe import Y4MPipeSink

            return OpenedSink(Y4MPipeSink(stream, o.fps, o.colour, o.y4m_chroma), None, True)
        from .raw_pipe import RawPipeSink

        return OpenedSink(RawPipeSink(stream), None, True)
    if is_pattern(out):
        from .image_sequence import DEFAULT_START_NUMBER, ImageSequenceSink

        if o.codec is not None:
            raise ImggenError(
                "--codec applies to video files; an image sequence's format is its extension"
            )
        pattern = parse_pattern(out)
        start = DEFAULT_START_NUMBER if o.start_number is None else o.start_number
        space = None
        if o.colour_space is not None:
            from ...post.ocio import OcioTransform, config_source

            names = (o.source_space, o.colour_space)
            space = OcioTransform("colorspace", names, config_source(o.ocio_config))
            space.processor()  # names checked before anything is rendered
        sink = ImageSequenceSink(pattern, start, o.bit_depth, space)
        record = pattern.folder / f".{pattern.prefix or 'frames.'}progress.json"
        return OpenedSink(sink, record, False)
    from .video_file import DEFAULT_SEGMENT_FRAMES, VideoFileSink

    path = Path(out)
    spec = pick_codec(path, o.codec)
    if o.bit_depth != 8:
        raise ImggenError("--bit-depth applies to image sequences")
    seg = DEFAULT_SEGMENT_FRAMES if o.segment_frames is None else o.segment_frames
    if seg < 1:
        raise ImggenError(f"--segment-frames must be >= 1, got {seg}")
    video = VideoFileSink(path, spec, o.fps, o.colour, o.quality, segment_frames=seg)
    return OpenedSink(video, path.with_name(path.name + ".progress.json"), False)
