"""Draw docs/post_before_after.png: the bundled model's images before and after a grading chain.

    python tools/make_post_sheet.py

Before: the images resized to 96x96 (the same delivery size). After: the same seeds through
`CHAIN` (white balance, the shipped teal-orange .cube look, sharpening), exactly as
`imggen-rt generate --post CHAIN` makes them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import imggen_rt
from imggen_rt.grid import contact_sheet
from imggen_rt.post import parse_post

CHAIN = "resize=96x96,temperature=6000,contrast=1.1,lut=teal-orange,sharpen=0.6:1.2"
SEEDS = list(range(16))


def main() -> None:
    gen = imggen_rt.load()
    before = gen.generate(seeds=SEEDS, post=parse_post("resize=96x96"), order="rgb")
    before = np.repeat(before, 3, axis=3) if before.shape[3] == 1 else before
    after = gen.generate(seeds=SEEDS, post=parse_post(CHAIN), order="rgb")
    gap = np.full((contact_sheet(before).shape[0], 16, 3), 255, np.uint8)
    sheet = np.concatenate([contact_sheet(before), gap, contact_sheet(after)], axis=1)
    path = Path(__file__).resolve().parents[1] / "docs" / "post_before_after.png"
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {path.name}: left plain, right --post {CHAIN!r}")


if __name__ == "__main__":
    main()
