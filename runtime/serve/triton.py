"""A Triton Inference Server model repository for a generator ONNX.

For teams that already run Triton: `repo/<name>/config.pbtxt` + `repo/<name>/1/model.onnx`,
with dynamic batching and the model card carried in the config's parameters. Triton returns
the generator's float image; the uint8 post-process stays with the client (or imggen-rt).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..card import ModelCard
from ..errors import ImggenError
from ..onnx_graph import graph_io, load_model, read_card

_TRITON_TYPES = {
    "float32": "TYPE_FP32",
    "float16": "TYPE_FP16",
    "int64": "TYPE_INT64",
    "int32": "TYPE_INT32",
}


def triton_config(
    name: str,
    card: ModelCard,
    output_name: str,
    output_dtype: str,
    max_batch: int = 64,
    preferred_batches: tuple[int, ...] = (8, 16),
    max_delay_us: int = 5000,
    kind: str = "KIND_CPU",
) -> str:
    """config.pbtxt text. Dims leave out the batch axis (Triton adds it for max_batch_size > 0);
    a per-image scalar like class_id is declared [1] and reshaped to [] as Triton documents.
    Every graph input of the card's contract is declared (latent, classes, noise, knobs)."""
    card_text = json.dumps(json.dumps(card.to_metadata(), sort_keys=True))  # a quoted string
    inputs = []
    for spec in card.input_specs:
        if spec.shape == ():
            raise ImggenError(
                f"input '{spec.name}' has no batch axis (0-d): Triton batches every input"
            )
        if spec.item_shape:
            dims = f"dims: [ {', '.join(str(d) for d in spec.item_shape)} ]"
        else:  # one value per image, e.g. class_id: declared [1], reshaped to []
            dims = "dims: [ 1 ] reshape: { shape: [ ] }"
        data_type = _TRITON_TYPES[spec.dtype]
        inputs.append(f'  {{ name: "{spec.name}" data_type: {data_type} {dims} }}')
    out_dims = ", ".join(str(d) for d in card.output_shape[1:])
    preferred = ", ".join(str(b) for b in preferred_batches if b <= max_batch)
    return "\n".join(
        [
            f'name: "{name}"',
            'platform: "onnxruntime_onnx"',
            f"max_batch_size: {max_batch}",
            "input [",
            ",\n".join(inputs),
            "]",
            "output [",
            f'  {{ name: "{output_name}" data_type: {_TRITON_TYPES[output_dtype]} '
            f"dims: [ {out_dims} ] }}",
            "]",
            "dynamic_batching {",
            f"  preferred_batch_size: [ {preferred} ]",
            f"  max_queue_delay_microseconds: {max_delay_us}",
            "}",
            f"instance_group [ {{ count: 1 kind: {kind} }} ]",
            f'parameters {{ key: "imggen.card" value {{ string_value: {card_text} }} }}',
            "",
        ]
    )


def validate_config(text: str) -> None:
    """Parse with Triton's own ModelConfig protobuf (tritonclient): misspelled fields, bad
    enum values and wrong types are refused before Triton ever sees the repository."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        raise ImggenError(
            "validating a Triton config needs tritonclient: pip install 'tritonclient[grpc]'"
        ) from None
    try:
        text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as e:
        raise ImggenError(
            f"generated config.pbtxt is not a valid Triton ModelConfig: {e}"
        ) from None


def write_repository(
    model_path: Path, out: Path, name: str | None = None, max_batch: int = 64, gpu: bool = False
) -> Path:
    """Write (or replace) one model's folder in a Triton repository; returns that folder."""
    model = load_model(model_path)
    card = read_card(model, model_path.name)
    _, outputs = graph_io(model)
    output = card.output_of(outputs, model_path.name)
    name = name or model_path.stem
    text = triton_config(
        name,
        card,
        output.name,
        output.dtype,
        max_batch=max_batch,
        kind="KIND_GPU" if gpu else "KIND_CPU",
    )
    validate_config(text)
    folder = out / name
    version = folder / "1"
    version.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, version / "model.onnx")
    (folder / "config.pbtxt").write_text(text)
    return folder
