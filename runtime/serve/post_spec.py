"""Post chains named in requests (`"post": "exposure=0.3,contrast=1.2"`).

A chain from the network must never make the server read a file of its choosing, so `lut=`
accepts only the looks shipped with the package, resolved here to their own path, and
`model=` only shipped models (none yet). Each distinct
spec is parsed once and the same PostChain object is handed to every request that sends it:
the batchers merge requests by chain object, so equal specs share one post-process call.
"""

from __future__ import annotations

import functools
import re

from ..errors import ImggenError
from ..post import PostChain, parse_post
from ..post.cube import LOOKS_DIR
from ..post.spec import LUT_NAMES, MODEL_NAMES

MAX_SPEC_CHARS = 512
MAX_OPS = 16
_LOOK_NAME = re.compile(r"[A-Za-z0-9_-]+")


def chain_for_request(spec: str | None) -> PostChain | None:
    """The chain for a request's `post` string (None or empty: no chain)."""
    if spec is None:
        return None
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        return None
    return _parsed(",".join(items))


@functools.lru_cache(maxsize=256)
def _parsed(spec: str) -> PostChain:
    items = spec.split(",")
    if len(items) > MAX_OPS:
        raise ImggenError(f"post: at most {MAX_OPS} ops, got {len(items)}")
    return parse_post(",".join(_shipped_luts_only(item) for item in items))


def _shipped_luts_only(item: str) -> str:
    name, _, value = item.partition("=")
    if name.strip().lower() in MODEL_NAMES:
        # a path from the network would make the server load a file of the caller's choosing
        raise ImggenError(
            "post: model= runs shipped models only over HTTP, and none is shipped yet"
        )
    if name.strip().lower() not in LUT_NAMES:
        return item
    value = value.strip()
    look = re.split(r"[:@]", value, maxsplit=1)[0]  # then :interpolation, @region
    rest = value[len(look) :]
    shipped = LOOKS_DIR / f"{look}.cube"
    if not _LOOK_NAME.fullmatch(look) or not shipped.is_file():
        looks = ", ".join(sorted(p.stem for p in LOOKS_DIR.glob("*.cube")))
        raise ImggenError(f"post: lut over HTTP takes a shipped look ({looks}), got {look!r}")
    return f"{name}={shipped}{rest}"
