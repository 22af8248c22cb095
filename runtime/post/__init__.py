"""Post-processing after denormalisation: colour correction, .cube LUTs, filters, masks.

    from imggen_rt.post import parse_post
    chain = parse_post("exposure=0.3,temperature=5600,lut=look.cube,sharpen=0.5")
    frames = gen.generate(seeds=[1, 2, 3], post=chain)        # or chain.apply(frames)

The pixel math is in the C++/CUDA extension, one header per op under cpp_ext/include/imggen/
(point.h, separable_filter.h, unsharp.h, blend.h, otsu_masks.h); `reference` states each op's
meaning in numpy for the tests.
"""

from __future__ import annotations

from .chain import PostChain
from .cube import CubeLut, identity_table, parse_cube, read_cube, write_cube
from .ops import (
    Alpha,
    Blur,
    Brightness,
    ColorMatrix,
    Contrast,
    Exposure,
    Gains,
    Gamma,
    Lut,
    Mask,
    Resize,
    Saturation,
    Sharpen,
    white_balance_gains,
)
from .segment import kmeans_mask, masks_for, otsu_mask
from .spec import load_post_config, parse_post

__all__ = [
    "Alpha",
    "Blur",
    "Brightness",
    "ColorMatrix",
    "Contrast",
    "CubeLut",
    "Exposure",
    "Gains",
    "Gamma",
    "Lut",
    "Mask",
    "PostChain",
    "Resize",
    "Saturation",
    "Sharpen",
    "identity_table",
    "kmeans_mask",
    "load_post_config",
    "masks_for",
    "otsu_mask",
    "parse_cube",
    "parse_post",
    "read_cube",
    "white_balance_gains",
    "write_cube",
]
