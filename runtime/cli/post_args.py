"""The `--post` / `--post-config` options, shared by every verb that makes frames."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..post import PostChain

POST_HELP = (
    "post-process chain, comma-separated, in order: exposure=STOPS, brightness=X, contrast=X, "
    "saturation=X, gamma=X, wb=R:G:B, temperature=KELVIN[:TINT], matrix=9 values, "
    "lut=FILE.cube[:trilinear], blur=SIGMA, sharpen=AMOUNT[:RADIUS[:THRESHOLD]], "
    "resize=WxH[:area|bilinear|lanczos], mask=otsu|otsu-dark|kmeans[:K], alpha, "
    "ocio=SRC:DST, ocio-look=LOOK[:SRC], ocio-display=DISPLAY:VIEW[:SRC] (OpenColorIO names; "
    "add :exact to run OCIO's own processor instead of the fused bake); "
    "add @fg or @bg to limit an op to the last mask's region. "
    'Example: "exposure=0.3,lut=look.cube,sharpen=0.5"'
)


def add_post_arguments(parser: Any) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--post", metavar="CHAIN", help=POST_HELP)
    group.add_argument(
        "--post-config",
        type=Path,
        metavar="FILE",
        help="the chain as a YAML or JSON file (a list of ops under 'post:')",
    )
    parser.add_argument(
        "--ocio-config",
        metavar="PATH|URI",
        help="OpenColorIO config for the ocio ops: a config.ocio file or a built-in one "
        "(ocio://studio-config-latest, ocio://cg-config-latest); default $OCIO, else "
        "ocio://default",
    )


def frames_space(args: argparse.Namespace) -> str | None:
    """The model card's colour space when the chain may need it (an ocio op, or a chain file),
    else None: the card is read only then (it parses the ONNX without a session)."""
    from ..post.spec import may_use_ocio

    if not may_use_ocio(getattr(args, "post", None), getattr(args, "post_config", None)):
        return None
    from ..generator import model_colour_space

    return model_colour_space(args.model)


def chain_from_args(args: argparse.Namespace, source_space: str | None = None) -> PostChain | None:
    """The chain the user asked for, or None; a bad chain is one ImggenError line.
    `source_space`: the frames' colour space (the model card's) for ocio ops naming none."""
    from ..card import DEFAULT_COLOUR_SPACE
    from ..post import load_post_config, parse_post

    ocio_config = getattr(args, "ocio_config", None)
    space = source_space or DEFAULT_COLOUR_SPACE
    if getattr(args, "post_config", None) is not None:
        return load_post_config(args.post_config, ocio_config, space)
    if getattr(args, "post", None):
        return parse_post(args.post, ocio_config, space)
    return None
