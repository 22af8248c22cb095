"""FP32 ONNX -> FP16 ONNX with FP32 inputs/outputs.

One function, used by `imggen-rt export --fp16` and by the TensorRT builder: TensorRT 11 has
no FP16 builder flag, so half precision has to come from the ONNX itself, and a strongly typed
network is then built from it.
"""

from __future__ import annotations

import warnings
from typing import Any

from .card import ModelCard
from .errors import ImggenError
from .onnx_graph import write_card


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


def fp16_model_with_card(model: Any, card: ModelCard) -> Any:
    """The FP16 twin of `model` (left untouched), carrying `card` and passing onnx.checker."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # the converter edits its argument in place
    half = convert_to_fp16(copy)
    write_card(half, card)
    onnx.checker.check_model(half)
    return half
