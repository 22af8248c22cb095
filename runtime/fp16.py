"""FP32 ONNX -> FP16 ONNX with FP32 inputs/outputs.

One function, used by `imggen-rt export --fp16` and by the TensorRT builder: TensorRT 11 has
no FP16 builder flag, so half precision has to come from the ONNX itself, and a strongly typed
network is then built from it.
"""

from __future__ import annotations

import warnings
from typing import Any

from .errors import ImggenError


def convert_to_fp16(model: Any) -> Any:
    """Weights and activations in float16; `z`, `class_id` and the image stay float32/int64.

    Ops that lose accuracy in half precision are kept in FP32 by onnxconverter-common's
    default block list (Resize, Range, ...).
    """
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise ImggenError(
            "FP16 conversion needs onnxconverter-common: pip install 'imggen-rt[train]'"
        ) from None
    with warnings.catch_warnings():
        # It warns once per tiny weight it flushes to the FP16 minimum; the parity gate that
        # follows every conversion measures what matters, the effect on the image.
        warnings.filterwarnings("ignore", message=".*will be truncated", category=UserWarning)
        return float16.convert_float_to_float16(
            model, keep_io_types=True, disable_shape_infer=False
        )
