"""PyAV, imported only when a sink needs it: its absence is a one-line message."""

from __future__ import annotations

from types import ModuleType

from ...errors import ImggenError


def require_av() -> ModuleType:
    try:
        import av
    except ImportError:
        raise ImggenError(
            "video files and image sequences need PyAV: pip install 'imggen-rt[video]'"
        ) from None
    return av
