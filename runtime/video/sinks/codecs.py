"""The video codecs a render can ask for, with settings that are known to work (facts/video.md).

One table instead of branches: adding a codec is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ImggenError


@dataclass(frozen=True)
class CodecSpec:
    name: str
    encoder: str
    pix_fmt: str
    containers: tuple[str, ...]
    source_format: str = "rgb24"  # what the RGB frame becomes before conversion
    yuv: bool = True  # converted with a colour matrix (False: stored as RGB)
    chroma: tuple[int, int] = (1, 1)  # horizontal, vertical subsampling divisors
    options: dict[str, str] = field(default_factory=dict)
    codec_tag: str | None = None
    quality_option: str | None = None  # the option `--quality` sets (CRF for x264/x265)
    default_quality: int | None = None
    intra_only: bool = False


CODECS: dict[str, CodecSpec] = {
    c.name: c
    for c in (
        CodecSpec(
            "h264",
            "libx264",
            "yuv420p",
            (".mp4", ".mov", ".mkv"),
            chroma=(2, 2),
            options={"preset": "medium"},
            quality_option="crf",
            default_quality=18,
        ),
        CodecSpec(
            "hevc",
            "libx265",
            "yuv420p10le",
            (".mp4", ".mov", ".mkv"),
            chroma=(2, 2),
            options={"preset": "medium", "x265-params": "log-level=error"},
            codec_tag="hvc1",
            quality_option="crf",
            default_quality=20,
        ),
        CodecSpec(
            "prores",
            "prores_ks",
            "yuv422p10le",
            (".mov",),
            chroma=(2, 1),
            options={"profile": "hq", "vendor": "apl0"},
            intra_only=True,
        ),
        CodecSpec(
            "prores4444",
            "prores_ks",
            "yuva444p10le",
            (".mov",),
            source_format="rgba",
            options={"profile": "4444", "alpha_bits": "16", "vendor": "apl0"},
            intra_only=True,
        ),
        CodecSpec(
            "ffv1",
            "ffv1",
            "bgr0",
            (".mkv",),
            yuv=False,
            options={"level": "3", "slices": "4", "g": "1"},
            intra_only=True,
        ),
        CodecSpec(
            "h264-lossless",
            "libx264rgb",
            "bgr24",
            (".mp4", ".mkv", ".mov"),
            yuv=False,
            options={"preset": "medium", "qp": "0"},
        ),
    )
}

DEFAULT_BY_SUFFIX = {".mp4": "h264", ".mov": "prores", ".mkv": "ffv1"}


def pick_codec(path: Path, codec: str | None) -> CodecSpec:
    """The codec named, or the container's usual one; refuses a codec the container cannot hold."""
    suffix = path.suffix.lower()
    if suffix not in DEFAULT_BY_SUFFIX:
        raise ImggenError(
            f"unknown video container {suffix or '(none)'!r} for {path.name}: "
            "use .mp4, .mov or .mkv, an image pattern like shot.%06d.png, or - for stdout"
        )
    name = codec or DEFAULT_BY_SUFFIX[suffix]
    if name not in CODECS:
        raise ImggenError(f"unknown codec {name!r}: choose from {', '.join(CODECS)}")
    spec = CODECS[name]
    if suffix not in spec.containers:
        raise ImggenError(
            f"codec {name} does not go in {suffix} files: use {', '.join(spec.containers)}"
        )
    return spec


def check_size(spec: CodecSpec, width: int, height: int) -> None:
    """Chroma subsampling needs dimensions divisible by its factors (odd sizes are refused, not
    silently cropped)."""
    cx, cy = spec.chroma
    if width % cx or height % cy:
        raise ImggenError(
            f"{spec.name} ({spec.pix_fmt}) needs a width divisible by {cx} and a height "
            f"divisible by {cy}; {width}x{height} is not: pass --size"
        )


def codec_options(spec: CodecSpec, quality: int | None) -> dict[str, str]:
    options = dict(spec.options)
    if quality is not None:
        if spec.quality_option is None:
            raise ImggenError(f"--quality applies to h264 and hevc (CRF), not to {spec.name}")
        if not 0 <= quality <= 51:
            raise ImggenError(f"--quality (CRF) must be in 0..51, got {quality}")
    q = quality if quality is not None else spec.default_quality
    if spec.quality_option is not None and q is not None:
        options[spec.quality_option] = str(q)
    return options
