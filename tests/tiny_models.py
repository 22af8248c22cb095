"""Small generator ONNX files built with onnx.helper (no torch), and their numpy meaning.

image = tanh(z @ W + b [+ E[class_id]]) reshaped to (B, C, H, W): simple enough to compute
exactly in numpy, real enough to exercise the card, the session and the post-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from imggen_rt.card import ModelCard
from imggen_rt.onnx_graph import write_card


@dataclass
class TinyGenerator:
    path: Path
    card: ModelCard
    weight: np.ndarray
    bias: np.ndarray
    embedding: np.ndarray | None = field(default=None)

    def reference(self, z: np.ndarray, class_id: np.ndarray | None = None) -> np.ndarray:
        y = z.astype(np.float64) @ self.weight + self.bias
        if self.embedding is not None:
            assert class_id is not None
            y = y + self.embedding[class_id]
        card = self.card
        return np.tanh(y).astype(np.float32).reshape(-1, card.channels, card.height, card.width)


def make_tiny_generator(
    path: Path,
    latent_dim: int = 8,
    height: int = 6,
    width: int = 5,
    channels: int = 3,
    class_names: tuple[str, ...] = (),
    seed: int = 0,
    card: ModelCard | None = None,
) -> TinyGenerator:
    rng = np.random.default_rng(seed)
    size = channels * height * width
    weight = rng.normal(0, 0.7, (latent_dim, size)).astype(np.float32)
    bias = rng.normal(0, 0.1, size).astype(np.float32)
    inits = [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")]
    shape = numpy_helper.from_array(np.array([-1, channels, height, width], np.int64), "shape")
    inits.append(shape)
    nodes = [helper.make_node("Gemm", ["z", "W", "b"], ["pre"])]
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent_dim])]
    embedding = None
    if class_names:
        embedding = rng.normal(0, 0.5, (len(class_names), size)).astype(np.float32)
        inits.append(numpy_helper.from_array(embedding, "E"))
        inputs.append(helper.make_tensor_value_info("class_id", TensorProto.INT64, ["batch"]))
        nodes += [
            helper.make_node("Gather", ["E", "class_id"], ["emb"], axis=0),
            helper.make_node("Add", ["pre", "emb"], ["pre_c"]),
        ]
    last = "pre_c" if class_names else "pre"
    nodes += [
        helper.make_node("Tanh", [last], ["act"]),
        helper.make_node("Reshape", ["act", "shape"], ["image"]),
    ]
    output = helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, ["batch", channels, height, width]
    )
    graph = helper.make_graph(nodes, "tiny_generator", inputs, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    card = card or ModelCard(
        latent_dim=latent_dim,
        height=height,
        width=width,
        channels=channels,
        class_names=class_names,
        producer="tests/tiny_models.py",
        training_data="none",
    )
    write_card(model, card)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return TinyGenerator(path, card, weight, bias, embedding)


def upscaler(
    path: Path,
    static: int | None = None,
    pool: int = 1,
    fixed_out: bool = False,
    instance_norm: bool = False,
    strength: bool = False,
) -> Path:
    """x2: Conv 3x3 (3 -> 12), DepthToSpace(2), Sigmoid; `pool` > 1 puts an average pool and a
    nearest upsample of that factor in front (the model then needs that spatial multiple);
    `instance_norm` normalises the convolution's output over the frame (not tileable);
    `strength` adds a scalar input (shape [1]) the output is multiplied by."""
    side = static if static is not None else "h"
    x = helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, [1 if static else "n", 3, side, side]
    )
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(
        np.random.default_rng(8).normal(0, 0.4, (12, 3, 3, 3)).astype(np.float32), "w"
    )
    nodes, inits, src = [], [w], "image"
    if pool > 1:
        scales = numpy_helper.from_array(np.array([1, 1, pool, pool], np.float32), "scales")
        inits.append(scales)
        nodes += [
            helper.make_node(
                "AveragePool", [src], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]
            ),
            helper.make_node("Resize", ["pooled", "", "scales"], ["unpooled"], mode="nearest"),
        ]
        src = "unpooled"
    nodes.append(helper.make_node("Conv", [src, "w"], ["c"], pads=[1, 1, 1, 1]))
    if instance_norm:
        inits += [
            numpy_helper.from_array(np.ones(12, np.float32), "gain"),
            numpy_helper.from_array(np.zeros(12, np.float32), "shift"),
        ]
        nodes.append(helper.make_node("InstanceNormalization", ["c", "gain", "shift"], ["cn"]))
    nodes += [
        helper.make_node("DepthToSpace", ["cn" if instance_norm else "c"], ["d"], blocksize=2),
        helper.make_node("Sigmoid", ["d"], ["out" if not (fixed_out or strength) else "s"]),
    ]
    inputs = [x]
    if strength:
        inputs.append(helper.make_tensor_value_info("strength", TensorProto.FLOAT, [1]))
        nodes.append(helper.make_node("Mul", ["s", "strength"], ["out"]))
    if fixed_out:
        sizes = numpy_helper.from_array(np.array([1, 3, 64, 64], np.int64), "sizes")
        inits.append(sizes)
        nodes.append(helper.make_node("Resize", ["s", "", "", "sizes"], ["out"], mode="nearest"))
    graph = helper.make_graph(nodes, "up", inputs, [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return path
