"""Reading and annotating generator ONNX files with the `onnx` library (no session needed)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper, shape_inference

from .card import ModelCard, TensorInfo
from .errors import ImggenError, first_line


def load_model(path: str | Path, load_weights: bool = True) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise ImggenError(f"model file {path} does not exist")
    try:
        return onnx.load(str(path), load_external_data=load_weights)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ImggenError(f"{path} is not a readable ONNX model: {first_line(e)}") from None


def graph_io(model: onnx.ModelProto) -> tuple[list[TensorInfo], list[TensorInfo]]:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [_info(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [_info(v) for v in model.graph.output]


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def card_of_file(path: str | Path) -> ModelCard:
    """The card of an ONNX file, read without its external weights (no session made)."""
    return read_card(load_model(path, load_weights=False), Path(path).name)


def read_card(model: onnx.ModelProto, source: str = "model") -> ModelCard:
    """The card, checked against the graph it describes (and, for class ids, against the
    table they index: a card naming another class count than the graph has is refused)."""
    card = ModelCard.from_metadata(metadata(model), source)
    card.validate_graph(*graph_io(model), source=source)
    for spec in card.inputs_with_role("class"):
        rows = class_table_rows(model, spec.name) if spec.encoding == "ids" else None
        if rows is not None and rows != card.num_classes:
            raise ImggenError(
                f"{source}: the card names {card.num_classes} classes but '{spec.name}' indexes "
                f"a table of {rows}"
            )
    return card


def class_table_rows(model: onnx.ModelProto, name: str) -> int | None:
    """How many classes an id input selects among: the rows of the initializer a Gather
    indexes with it (an Embedding), looking through Casts and Reshapes of the ids."""
    initializers = {t.name: t for t in model.graph.initializer}
    constants = {
        n.output[0]: n.attribute[0].t
        for n in model.graph.node
        if n.op_type == "Constant" and n.attribute and n.attribute[0].HasField("t")
    }
    tensors = {**constants, **initializers}
    frontier, seen = [name], set()
    while frontier:
        current = frontier.pop()
        seen.add(current)
        for node in model.graph.node:
            if current not in node.input:
                continue
            if node.op_type == "Gather" and node.input[1] == current and node.input[0] in tensors:
                dims = tensors[node.input[0]].dims  # no weights read: they may be external
                return int(dims[0]) if dims else None
            if node.op_type in ("Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"):
                frontier += [o for o in node.output if o not in seen]
    return None


def write_card(model: onnx.ModelProto, card: ModelCard) -> None:
    """Replace any existing card in place (other metadata is kept)."""
    keep = {k: v for k, v in metadata(model).items() if not k.startswith("imggen.")}
    keep.update(card.to_metadata())
    del model.metadata_props[:]
    helper.set_model_props(model, keep)


def with_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """A shape-inferred copy with the batch axis of every graph input fixed."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = batch
    try:
        return shape_inference.infer_shapes(fixed, data_prop=True)
    except Exception as e:
        raise ImggenError(f"ONNX shape inference failed: {first_line(e)}") from None


def _info(value: onnx.ValueInfoProto) -> TensorInfo:
    tensor = value.type.tensor_type
    dims: list[int | str | None] = []
    for d in tensor.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or None)
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
    return TensorInfo(value.name, tuple(dims), dtype)
