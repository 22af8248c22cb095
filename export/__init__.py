"""Training side: data, GAN models, training, ONNX export, FP16 ONNX and quality evaluation.

Needs the `train` extra (torch); the runtime never imports this package except for the CLI's
training commands, lazily.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    from ..errors import ImggenError

    raise ImggenError("the training side needs torch: pip install 'imggen-rt[train]'") from None
