"""Write the looks shipped in runtime/post/looks/ (33-point .cube LUTs).

    python tools/make_looks.py

teal-orange: the blockbuster grade. Shadows lean teal, highlights orange, a gentle S-curve
adds contrast and colour gets a little richer; neutral mid-gray stays near neutral.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imggen_rt.post.cube import LOOKS_DIR, identity_table, write_cube


def teal_orange(size: int = 33) -> np.ndarray:
    rgb = identity_table(size).astype(np.float64)
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
    # S-curve on each channel: smoothstep blended half-way with the identity.
    curved = 0.5 * rgb + 0.5 * (rgb * rgb * (3 - 2 * rgb))
    shadows = ((1 - luma) ** 2)[..., None]
    highlights = (luma**2)[..., None]
    teal = np.array([-0.12, 0.02, 0.10])
    orange = np.array([0.14, 0.04, -0.14])
    toned = curved + shadows * teal + highlights * orange
    toned_luma = (toned @ np.array([0.2126, 0.7152, 0.0722]))[..., None]
    richer = toned_luma + 1.15 * (toned - toned_luma)
    return np.clip(richer, 0.0, 1.0).astype(np.float32)


def main() -> None:
    LOOKS_DIR.mkdir(exist_ok=True)
    path = Path(LOOKS_DIR) / "teal-orange.cube"
    write_cube(path, teal_orange(), title="imggen-rt teal-orange")
    print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
