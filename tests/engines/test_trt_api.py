"""Every TensorRT name the builder and the backend use exists in TensorRT's own API listing.

mypy cannot check these calls: the tensorrt-stubs 10.13.0.35.1 package ships no py.typed
marker and its tensorrt.pyi does not parse (parameters named `in`), so mypy sees `Any`. This
test reads that listing as text instead: each `trt.X.Y` and each method called on a builder,
config, parser, profile, engine, context or runtime must be a member of the matching class.
It skips where tensorrt-stubs is not installed (`pip install --no-deps tensorrt-stubs`).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

import imggen_rt.backends.trt as trt_backend
import imggen_rt.engines.trt_builder as trt_builder

# Local names in our modules -> the TensorRT class each one holds.
HOLDERS = {
    "builder": "Builder",
    "network": "INetworkDefinition",
    "parser": "OnnxParser",
    "config": "IBuilderConfig",
    "trt_profile": "IOptimizationProfile",
    "engine": "ICudaEngine",
    "_engine": "ICudaEngine",
    "_context": "IExecutionContext",
    "_runtime": "Runtime",
}
# Gone in TensorRT 11 (facts/tensorrt.md): must not be used, or only behind hasattr.
REMOVED_IN_11 = (
    "INT8",
    "int8_calibrator",
    "platform_has_fast_fp16",
    "platform_has_fast_int8",
    "OBEY_PRECISION_CONSTRAINTS",
    "PREFER_PRECISION_CONSTRAINTS",
)


def stub_files() -> tuple[str, str]:
    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tensorrt-stubs is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "tensorrt.pyi").is_file():
        pytest.skip("tensorrt-stubs is not installed")
    return (root / "tensorrt.pyi").read_text(), (root / "__init__.pyi").read_text()


def classes(text: str) -> dict[str, set[str]]:
    """Class name -> member names (nested enums' values included), bases folded in."""
    members: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    blocks = re.split(r"^class ", text, flags=re.M)[1:]
    for block in blocks:
        header = block.split(":", 1)[0]
        name = header.split("(")[0].strip()
        bases[name] = re.findall(r"\w+", header.split("(")[1]) if "(" in header else []
        found = set(re.findall(r"^\s+def (\w+)\(", block, flags=re.M))
        found |= set(re.findall(r"^\s+(\w+):", block, flags=re.M))
        members[name] = found
    for name in members:
        for base in bases[name]:
            members[name] |= members.get(base, set())
    return members


def used_names(module: object) -> tuple[set[tuple[str, ...]], set[tuple[str, str]]]:
    """(trt.X.Y chains, (holder, attribute) pairs) used in a module's source."""
    source = Path(module.__file__).read_text()  # type: ignore[attr-defined]
    chains: set[tuple[str, ...]] = set()
    calls: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        parts = [node.attr]
        base: ast.expr = node.value
        while isinstance(base, ast.Attribute):
            parts.insert(0, base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id == "trt":
            chains.add(tuple(parts))
        holder = node.value
        if isinstance(holder, ast.Name) and holder.id in HOLDERS:
            calls.add((holder.id, node.attr))
        elif (
            isinstance(holder, ast.Attribute)
            and isinstance(holder.value, ast.Name)
            and holder.value.id == "self"
            and holder.attr in HOLDERS
        ):
            calls.add((holder.attr, node.attr))
    return chains, calls


@pytest.mark.parametrize("module", [trt_builder, trt_backend], ids=lambda m: m.__name__)
def test_tensorrt_names_exist_in_the_10_13_api(module: object) -> None:
    api_text, top_text = stub_files()
    api = classes(api_text)
    top_level = set(api) | set(re.findall(r"^def (\w+)\(", top_text, flags=re.M)) | {"__version__"}
    chains, calls = used_names(module)
    assert chains and calls, "nothing found: the scan is broken"
    missing = []
    for chain in sorted(chains):
        known = chain[0] in top_level
        if not known or (len(chain) > 1 and chain[1] not in api.get(chain[0], set())):
            missing.append("trt." + ".".join(chain))
    for holder, attr in sorted(calls):
        if attr not in api[HOLDERS[holder]]:
            missing.append(f"{holder}.{attr} ({HOLDERS[holder]})")
    assert not missing, f"not in TensorRT 10.13's API: {missing}"


def test_removed_names_stay_behind_hasattr() -> None:
    for module in (trt_builder, trt_backend):
        source = Path(module.__file__).read_text()
        assert not [n for n in REMOVED_IN_11 if re.search(rf"\b{n}\b", source)], module.__name__
        assert not re.search(r"\bdevice_memory_size\b", source)  # gone in 11: the _v2 name
    assert "engine.device_memory_size_v2" in Path(trt_backend.__file__).read_text()
    builder = Path(trt_builder.__file__).read_text()
    # The one use, and the hasattr check before it.
    assert len(re.findall(r"trt\.BuilderFlag\.FP16\b", builder)) == 1
    assert 'hasattr(trt.BuilderFlag, "FP16")' in builder
    # Enum values moved between 10 and 11: flags are looked up by name, never numbers.
    assert "1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)" in builder
    assert not re.search(r"create_network\(\s*\d", builder)
