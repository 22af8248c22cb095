from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from imggen_rt.flops import count_flops


def test_conv_transpose_and_conv_flops(tmp_path: Path) -> None:
    """A 4x4 stride-2 ConvTranspose (8 -> 4 channels, 5x5 -> 10x10), then a 3x3 Conv (4 -> 2)."""
    wt = numpy_helper.from_array(np.zeros((8, 4, 4, 4), np.float32), "wt")
    wc = numpy_helper.from_array(np.zeros((2, 4, 3, 3), np.float32), "wc")
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt"], ["h"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["h", "wc"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 10, 10])],
        [wt, wc],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    flops = count_flops(model)
    # every input element scatters into Cout * k*k outputs; every output sums Cin * k*k terms
    assert flops["ConvTranspose"] == 2 * (8 * 5 * 5) * 4 * 16
    assert flops["Conv"] == 2 * (2 * 10 * 10) * 4 * 9
