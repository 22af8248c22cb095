from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tiny_models, shared by tests

from tiny_models import TinyGenerator, make_tiny_generator

HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_train = pytest.mark.skip(reason="needs the train extra (torch)")
    for item in items:
        if "train" in item.keywords and not HAS_TORCH:
            item.add_marker(skip_train)


@pytest.fixture
def tiny_rgb(tmp_path: Path) -> TinyGenerator:
    return make_tiny_generator(tmp_path / "tiny_rgb.onnx")


@pytest.fixture
def tiny_conditional(tmp_path: Path) -> TinyGenerator:
    return make_tiny_generator(
        tmp_path / "tiny_cond.onnx",
        channels=1,
        class_names=("cat", "dog", "Ankle boot"),
        seed=1,
    )
