from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tiny_models, shared by tests

from tiny_models import TinyGenerator, make_tiny_generator

HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_configure(config: pytest.Config) -> None:
    # Engines built on first use would make a CLI test's pixels depend on the host's CPU and on
    # what an earlier test cached, and fill the user's cache: off unless a test turns it on
    # (tests/engines/test_openvino_engines.py), and any cache goes to a folder of this run.
    os.environ["IMGGEN_RT_ENGINE_BUILD"] = "never"
    if "IMGGEN_RT_CACHE" not in os.environ:
        os.environ["IMGGEN_RT_CACHE"] = tempfile.mkdtemp(prefix="imggen-rt-test-cache-")


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
