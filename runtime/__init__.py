"""imggen-rt: seeds in, 8-bit images out, from a generator ONNX on CPUs, Jetson and GPUs.

    import imggen_rt
    gen = imggen_rt.load()                      # the bundled Fashion-MNIST model
    frames = gen.generate(seeds=[1, 2, 3], classes="Sneaker")   # uint8 (3, 32, 32, 1)

Nothing here imports torch; optional engines are imported only when chosen.
"""

from __future__ import annotations

from .errors import ImggenError
from .generator import ImageGenerator, load

__version__ = "0.1.0"
__all__ = ["ImageGenerator", "ImggenError", "__version__", "load"]
