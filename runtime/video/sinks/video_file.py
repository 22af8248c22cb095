"""Video files through PyAV, written as closed segments and joined by stream copy at the end.

A render that is killed mid-file must leave something playable and a point to resume from. An
MP4 or MOV without its index is unreadable, so frames go into segment files under
`<output>.parts/` that are closed (index written) every `segment_frames` frames, on fixed frame
boundaries, and the output is assembled from closed segments by copying packets, never by
re-encoding. Ctrl-C closes the open segment early and still assembles a playable file; a hard
stop (a second Ctrl-C, an error) discards the open segment, whose frame count may be one short of
what the encoder took; a killed process loses at most the open segment. The progress record is not
fsynced, so this holds for a killed process, not for a power loss. Because boundaries sit at fixed
frame numbers, a resumed render is cut exactly like an uninterrupted one.

A video file holds one `--frames` slice: the segments of a slice live in a folder named by the
slice (`out.mov.0-100.parts`) and a render refuses to start while another slice or render of the
same file has its folder there, so give each slice its own `-o`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import TEMP_PREFIX, temp_path_beside
from ...errors import ImggenError
from ._av import require_av
from .base import Sink
from .codecs import CodecSpec, check_size, codec_options
from .colour import Colour, to_yuv

DEFAULT_SEGMENT_FRAMES = 240
# Decode times of codecs that reorder frames are renumbered as (packet number - this many
# frames). libx265 through PyAV now and then hands back garbage decode times on short streams
# (a segment's tail after Ctrl-C): any value at least the real reorder depth (x264/x265 medium:
# 2-3) gives valid, increasing decode times whatever the encoder said.
REORDER_SLACK = 4


class VideoFileSink(Sink):
    resumable = True

    def __init__(
        self,
        path: Path,
        spec: CodecSpec,
        fps: Fraction,
        colour: Colour,
        quality: int | None = None,
        segment_frames: int = DEFAULT_SEGMENT_FRAMES,
    ) -> None:
        self.av = require_av()
        self.path = path
        self.spec = spec
        self.fps = fps
        self.colour = colour
        self.options = codec_options(spec, quality)
        self.segment_frames = segment_frames
        self.supports_alpha = spec.source_format == "rgba"
        self.parts = path.with_name(path.name + ".parts")  # a slice's: use_slice
        self.segments: list[dict[str, Any]] = []
        self._container: Any = None
        self._stream: Any = None
        self._seg_first = 0
        self._seg_count = 0
        self._packets = 0
        self._next = 0
        self._first = 0
        self._size = (0, 0)
        if path.parent.exists() and not path.parent.is_dir():
            raise ImggenError(f"{path.parent} is not a folder")
        if not path.parent.is_dir():
            raise ImggenError(f"output folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise ImggenError(f"output folder {path.parent} is not writable")

    def describe(self) -> dict[str, Any]:
        return {
            "sink": "video",
            "codec": self.spec.name,
            "options": self.options,
            "fps": str(self.fps),
            "colour": [self.colour.space, self.colour.range]
            + ([self.colour.display] if self.colour.display else []),
            "segment_frames": self.segment_frames,
        }

    def use_slice(self, first: int, stop: int) -> None:
        self.parts = self.path.with_name(f"{self.path.name}.{first}-{stop}.parts")

    def _other_renders(self) -> list[Path]:
        """Parts folders of other slices (or the whole render) of this output."""
        pattern = glob.escape(str(self.path)) + ".*parts"
        return sorted(
            p for p in map(Path, glob.glob(pattern)) if p.is_dir() and p.name != self.parts.name
        )

    def start(self, width: int, height: int, first_index: int) -> None:
        check_size(self.spec, width, height)
        self._size = (width, height)
        self._first = first_index
        self._next = first_index
        existed = self.parts.is_dir()
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ImggenError(f"cannot write beside {self.path}: {e.strerror}") from None
        # Checked after making our own folder: two renders starting at once both see the other
        # and both stop, rather than both going on to overwrite one file.
        others = self._other_renders()
        if others:
            if not existed:
                shutil.rmtree(self.parts, ignore_errors=True)
            raise ImggenError(
                f"{others[0].name} holds another unfinished render of {self.path.name}: finish "
                "or delete it, or give each --frames slice of a video file its own -o"
            )

    def restore(self, state: dict[str, Any], next_index: int) -> None:
        """Keep the closed segments the record lists; anything else in the folder is a segment
        a crash left open, and goes."""
        self.segments = [s for s in state.get("segments", []) if s["first"] < next_index]
        keep = {s["file"] for s in self.segments}
        if self.parts.is_dir():
            for f in self.parts.iterdir():
                if f.name not in keep:
                    f.unlink()
        missing = [s["file"] for s in self.segments if not (self.parts / s["file"]).is_file()]
        if missing:
            raise ImggenError(f"cannot resume: segment {missing[0]} is missing from {self.parts}")

    def state(self) -> dict[str, Any]:
        return {"segments": list(self.segments)}

    def committed(self) -> int:
        if not self.segments:
            return self._first
        last = self.segments[-1]
        return int(last["first"] + last["count"])

    def _open_segment(self, first: int) -> None:
        av = self.av
        name = f"{first:09d}{self.path.suffix}"
        tmp = self.parts / (TEMP_PREFIX + name)
        try:
            container = av.open(str(tmp), "w")
        except (OSError, av.FFmpegError) as e:
            raise ImggenError(f"cannot write {tmp}: {_reason(e)}") from None
        stream = container.add_stream(self.spec.encoder, rate=self.fps, options=self.options)
        stream.width, stream.height = self._size
        stream.pix_fmt = self.spec.pix_fmt
        if self.spec.codec_tag:
            stream.codec_tag = self.spec.codec_tag
        ctx = stream.codec_context
        ctx.time_base = Fraction(1, 1) / self.fps
        self._tag(ctx)
        self._container, self._stream = container, stream
        self._seg_first, self._seg_count, self._packets = first, 0, 0

    def _tag(self, target: Any) -> None:
        if self.spec.yuv:
            self.colour.tag(target)
        else:
            p, t, _, _ = self.colour.tags
            target.color_primaries, target.color_trc = p, t
            target.colorspace, target.color_range = 0, 2  # RGB: no matrix, full range

    def _convert(self, rgb: np.ndarray) -> Any:
        av = self.av
        if self.spec.source_format == "rgba":
            if rgb.shape[2] == 3:  # opaque
                rgb = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgba")
        else:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if self.spec.yuv:
            return to_yuv(frame, self.spec.pix_fmt, self.colour)
        out = frame.reformat(format=self.spec.pix_fmt)
        self._tag(out)
        return out

    def _close_segment(self) -> None:
        if self._container is None:
            return
        container, stream = self._container, self._stream
        self._container = self._stream = None
        name = f"{self._seg_first:09d}{self.path.suffix}"
        tmp = self.parts / (TEMP_PREFIX + name)
        try:
            for packet in stream.encode(None):
                self._mux(container, packet)
            container.close()
        except (OSError, self.av.FFmpegError, ImggenError) as e:
            _close_quietly(container)
            tmp.unlink(missing_ok=True)
            if isinstance(e, ImggenError):
                raise
            raise ImggenError(f"cannot write {self.path}: {_reason(e)}") from None
        if self._seg_count == 0:
            tmp.unlink()
            return
        os.replace(tmp, self.parts / name)
        self.segments.append({"first": self._seg_first, "count": self._seg_count, "file": name})

    def abandon(self) -> None:
        """Drop the open segment: a hard stop may have landed between an encoder call and the
        frame count, so its count cannot be trusted. Resume re-renders it from its first frame."""
        container = self._container
        self._container = self._stream = None
        if container is not None:
            _close_quietly(container)
        (self.parts / f"{TEMP_PREFIX}{self._seg_first:09d}{self.path.suffix}").unlink(
            missing_ok=True
        )
        self._next = self.committed()

    def _mux(self, container: Any, packet: Any) -> None:
        if packet.size == 0:
            return
        if packet.pts is None:
            raise ImggenError(f"the {self.spec.encoder} encoder returned a frame without a time")
        if not self.spec.intra_only:
            packet.dts = self._packets - REORDER_SLACK
        self._packets += 1
        try:
            container.mux(packet)
        except (OSError, self.av.FFmpegError) as e:
            raise ImggenError(f"cannot write {self.path}: {_reason(e)}") from None

    def prepare(self, frames: np.ndarray) -> list[Any]:
        return [self._convert(rgb) for rgb in frames]

    def write_prepared(self, items: list[Any]) -> None:
        for frame in items:
            i = self._next
            if self._container is not None and i % self.segment_frames == 0:
                self._close_segment()
            if self._container is None:
                self._open_segment(i)
            frame.pts = self._seg_count
            try:
                packets = self._stream.encode(frame)
            except (OSError, self.av.FFmpegError) as e:
                raise ImggenError(f"the {self.spec.encoder} encoder failed: {_reason(e)}") from None
            for packet in packets:
                self._mux(self._container, packet)
            self._seg_count += 1
            self._next += 1

    def finish(self, complete: bool) -> None:
        self._close_segment()
        if self.segments:
            join_segments(
                [(self.parts / s["file"], s["count"]) for s in self.segments],
                self.path,
                self.fps,
            )
        if complete:
            shutil.rmtree(self.parts, ignore_errors=True)


def join_segments(files: list[tuple[Path, int]], out: Path, fps: Fraction) -> None:
    """Copy the packets of consecutive segments into one file, re-timed as one sequence.

    Presentation times are mapped through frame numbers (pts * time_base * fps), so containers
    with coarse clocks (Matroska counts milliseconds) get the times an uninterrupted render has.
    Decode times are renumbered in decode order behind the largest reorder delay of any segment
    (a short last segment has fewer B-frames), which keeps them increasing and evenly spaced.
    """
    av = require_av()
    delay = max(_reorder_delay(av, f, fps) for f, _ in files)
    tmp = temp_path_beside(out)
    try:
        with av.open(str(tmp), "w", format=_muxer_for(out)) as dst:
            out_stream = None
            offset = decoded = 0
            for f, count in files:
                with av.open(str(f)) as src:
                    in_stream = src.streams.video[0]
                    if out_stream is None:
                        out_stream = dst.add_stream_from_template(in_stream)
                        out_stream.time_base = in_stream.time_base
                        # the template leaves the muxer's default tag (hev1, not Apple's hvc1)
                        out_stream.codec_tag = in_stream.codec_tag
                    tb = Fraction(in_stream.time_base)
                    for packet in src.demux(in_stream):
                        if packet.size == 0 or packet.pts is None:
                            continue
                        local = round(packet.pts * tb * fps)
                        packet.pts = round((local + offset) / fps / tb)
                        packet.dts = round((decoded - delay) / fps / tb)
                        packet.stream = out_stream
                        dst.mux(packet)
                        decoded += 1
                    offset += count
        os.replace(tmp, out)
    except (OSError, av.FFmpegError) as e:
        raise ImggenError(f"cannot write {out}: {_reason(e)}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _reorder_delay(av: Any, path: Path, fps: Fraction) -> int:
    """How many frames the first decode time lies before the first presentation time."""
    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        for packet in src.demux(stream):
            if packet.dts is None or packet.dts >= 0:
                return 0
            delay: int = round(-packet.dts * Fraction(stream.time_base) * fps)
            return delay
    return 0


def _reason(e: BaseException) -> str:
    """One line from an OSError or a PyAV error (whose strerror names FFmpeg's reason)."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return str(text).strip().splitlines()[0]


def _close_quietly(container: Any) -> None:
    """Close a container whose writes already failed (its own errors add nothing)."""
    with contextlib.suppress(Exception):
        container.close()


def _muxer_for(path: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}[path.suffix.lower()]
