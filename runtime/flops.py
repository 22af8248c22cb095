"""FLOPs of a generator graph, counted from its ONNX (per image).

Counts the layers that dominate a CNN generator: convolutions, transposed convolutions and
matrix products, as 2 FLOPs per multiply-add. Element-wise ops (bias, BatchNorm, activations)
are a few percent of that and are left out, as trtexec and most papers do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import onnx

from .onnx_graph import with_batch


def count_flops(model: onnx.ModelProto) -> dict[str, int]:
    """FLOPs per image by op type (batch fixed to 1 for shape inference)."""
    totals: dict[str, int] = {}
    for node, flops in _counted_nodes(model):
        totals[node.op_type] = totals.get(node.op_type, 0) + flops
    return totals


def flops_by_node(model: onnx.ModelProto) -> dict[str, int]:
    """FLOPs per image of each counted node, by node name (for per-layer profiles)."""
    return {node.name: flops for node, flops in _counted_nodes(model)}


def _counted_nodes(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, int]]:
    inferred = with_batch(model, 1)
    shapes = _known_shapes(inferred)
    counted = [(node, _node_flops(node, shapes)) for node in inferred.graph.node]
    return [(node, flops) for node, flops in counted if flops]


def _known_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    values = [*model.graph.input, *model.graph.value_info, *model.graph.output]
    for v in values:
        dims = v.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[v.name] = tuple(int(d.dim_value) for d in dims)
    for t in model.graph.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    return shapes


def _node_flops(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int:
    op = node.op_type
    if op in ("Conv", "ConvTranspose"):
        x, w = shapes.get(node.input[0]), shapes.get(node.input[1])
        y = shapes.get(node.output[0])
        if x is None or w is None or y is None:
            return 0
        kernel = math.prod(w[2:])
        if op == "Conv":  # w: (Cout, Cin/g, k...); every output element sums Cin/g * k terms
            return 2 * math.prod(y) * w[1] * kernel
        # ConvTranspose w: (Cin, Cout/g, k...); every input element scatters Cout/g * k terms
        return 2 * math.prod(x) * w[1] * kernel
    if op in ("Gemm", "MatMul"):
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        y = shapes.get(node.output[0])
        if a is None or b is None or y is None:
            return 0
        transposed_a = op == "Gemm" and _int_attr(node.attribute, "transA") == 1
        k = a[-2] if transposed_a else a[-1]
        return 2 * math.prod(y) * k
    return 0


def _int_attr(attributes: Sequence[onnx.AttributeProto], name: str) -> int:
    for a in attributes:
        if a.name == name:
            return int(a.i)
    return 0
