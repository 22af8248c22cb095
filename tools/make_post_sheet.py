"""Draw docs/post_before_after.png: a bundled model's images before and after a grading chain.

    python tools/make_post_sheet.py [-m emoji64]

Before: the images resized to 128x128 (the same delivery size). After: the same seeds through
`CHAIN` (white balance, contrast, saturation, the shipped teal-orange .cube look, sharpening),
exactly as `imggen-rt generate --post CHAIN` makes them. RGBA images are composited on a light
grey, as `--grid-background light` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import imggen_rt
from imggen_rt.grid import composite, contact_sheet
from imggen_rt.post import parse_post

SIZE = "resize=128x128"
CHAIN = f"{SIZE},temperature=6000,contrast=1.1,saturation=1.3,lut=teal-orange,sharpen=0.6:1.2"
SEEDS = list(range(18))


def sheet_of(frames: np.ndarray) -> np.ndarray:
    frames = composite(frames, "light")
    frames = np.repeat(frames, 3, axis=3) if frames.shape[3] == 1 else frames
    return contact_sheet(frames, columns=6)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", default="emoji64", help="bundled name or ONNX path")
    args = p.parse_args()
    with imggen_rt.load(args.model) as gen:
        before = sheet_of(gen.generate(seeds=SEEDS, post=parse_post(SIZE), order="rgb"))
        after = sheet_of(gen.generate(seeds=SEEDS, post=parse_post(CHAIN), order="rgb"))
    gap = np.full((before.shape[0], 16, 3), 255, np.uint8)
    sheet = np.concatenate([before, gap, after], axis=1)
    path = Path(__file__).resolve().parents[1] / "docs" / "post_before_after.png"
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {path.name}: left plain, right --post {CHAIN!r}")


if __name__ == "__main__":
    main()
