from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnx
import pytest
from tiny_models import TinyGenerator, make_tiny_generator

from imggen_rt import ImggenError
from imggen_rt.card import ModelCard, TensorInfo
from imggen_rt.onnx_graph import load_model, metadata, read_card


def test_card_round_trips_through_onnx(tiny_conditional: TinyGenerator) -> None:
    model = load_model(tiny_conditional.path)
    card = read_card(model)
    assert card == tiny_conditional.card
    meta = metadata(model)
    assert json.loads(meta["imggen.class_names"]) == ["cat", "dog", "Ankle boot"]
    assert meta["imggen.resolution"] == "6x5"


def test_class_lookup_by_name_and_id(tiny_conditional: TinyGenerator) -> None:
    card = tiny_conditional.card
    assert card.class_index("ankle BOOT") == 2
    assert card.class_index("1") == 1
    assert card.class_index(0) == 0
    with pytest.raises(ImggenError, match="unknown class 'bird'"):
        card.class_index("bird")
    with pytest.raises(ImggenError, match="out of range"):
        card.class_index(3)


def test_missing_card_is_a_one_line_error(tmp_path: Path, tiny_rgb: TinyGenerator) -> None:
    model = onnx.load(str(tiny_rgb.path))
    del model.metadata_props[:]
    with pytest.raises(ImggenError, match="has no imggen-rt model card") as err:
        read_card(model, "bare.onnx")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latent_dim": 9}, "'z' has shape"),
        ({"channels": 1}, "'image' has shape"),
        ({"height": 7}, "'image' has shape"),
        ({"class_names": ("a", "b")}, "no 'class_id' input"),
    ],
)
def test_card_that_contradicts_the_graph_is_refused(
    tiny_rgb: TinyGenerator, change: dict[str, object], message: str
) -> None:
    card = replace(tiny_rgb.card, **change)  # type: ignore[arg-type]
    inputs = [TensorInfo("z", (None, 8), "float32")]
    outputs = [TensorInfo("image", (None, 3, 6, 5), "float32")]
    with pytest.raises(ImggenError, match=message):
        card.validate_graph(inputs, outputs)


def test_class_input_without_classes_in_card_is_refused(tmp_path: Path) -> None:
    cond = make_tiny_generator(tmp_path / "c.onnx", class_names=("a", "b"))
    model = onnx.load(str(cond.path))
    for prop in model.metadata_props:
        if prop.key in ("imggen.class_names", "imggen.num_classes"):
            prop.value = "[]" if prop.key.endswith("names") else "0"
    with pytest.raises(ImggenError, match="unexpected graph inputs"):
        read_card(model)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("imggen.card_version", "7", "version '7' is not supported"),
        ("imggen.resolution", "big", "malformed model card"),
        ("imggen.output_range", "[1, -1]", "is empty"),
        ("imggen.num_classes", "5", "says 5 classes but names 3"),
        ("imggen.channels", "2", "channels must be 1, 3 or 4"),
    ],
)
def test_malformed_card_values(
    tiny_conditional: TinyGenerator, key: str, value: str, message: str
) -> None:
    meta = dict(tiny_conditional.card.to_metadata())
    meta[key] = value
    with pytest.raises(ImggenError, match=message):
        ModelCard.from_metadata(meta)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a protobuf at all" * 10)
    with pytest.raises(ImggenError, match="not a readable ONNX model"):
        load_model(junk)
    with pytest.raises(ImggenError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")
