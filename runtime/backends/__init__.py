"""Inference backends, one module each; heavy engines are imported only when chosen.

`base` states what a backend can do (host float output; device frames with a fused colour
pass). Backends never import `engines/` (building and caching): the factory that finds a cached
engine for a backend is `imggen_rt.backend_factory`.
"""

from .base import Backend, ColourProgram, DeviceFramesBackend

__all__ = ["Backend", "ColourProgram", "DeviceFramesBackend"]
