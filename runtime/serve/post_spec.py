"""Post chains named in requests (`"post": "exposure=0.3,contrast=1.2"`).

A chain from the network must never make the server read a file of its choosing, so `lut=`
accepts only the looks shipped with the package, resolved here to their own path, and
`model=` only the shipped image-to-image models, by name. Each distinct
spec is parsed once and the same PostChain object is handed to every request that sends it:
the batchers merge requests by chain object, so equal specs share one post-process call.
"""

from __future__ import annotations

import functools
import re

from ..bundled import BUNDLED
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
    return parse_post(",".join(_shipped_only(item) for item in items))


def _shipped_only(item: str) -> str:
    name, _, value = item.partition("=")
    if name.strip().lower() in MODEL_NAMES:
        # a path from the network would make the server load a file of the caller's choosing
        model = re.split(r"[:@]", value.strip(), maxsplit=1)[0]
        models = [m.name for m in BUNDLED.values() if m.kind == "image-to-image" and m.installed]
        if model not in models:
            raise ImggenError(
                f"post: model over HTTP takes a shipped model ({', '.join(models) or 'none'}), "
                f"got {model[:40]!r}"
            )
        return item
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
