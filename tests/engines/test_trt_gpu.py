"""TensorRT on a real GPU: build -> load -> generate, parity, CUDA graphs, device post-process.

Run on a machine with an NVIDIA GPU, TensorRT and cuda-python: `python -m pytest -m gpu`.
Everywhere else these tests are collected and skipped with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator, make_tiny_generator

from imggen_rt.backends.platform import cuda_device_count, import_cudart, import_tensorrt
from imggen_rt.card import ModelCard
from imggen_rt.contract import Feeds
from imggen_rt.errors import ImggenError
from imggen_rt.latents import latents_for_seeds


def _gpu_missing() -> str | None:
    try:
        import_tensorrt()
        import_cudart()
    except ImggenError as e:
        return str(e)
    count, why = cuda_device_count()
    return None if count else f"no usable CUDA device: {why}"


_MISSING = _gpu_missing()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_MISSING is not None, reason=f"needs a GPU with TensorRT: {_MISSING}"),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TinyGenerator, Path]]:
    """A conditional RGB generator and its FP16 engine, built once by the build pipeline."""
    from imggen_rt.backends.profiles import parse_batches
    from imggen_rt.engines.pipeline import BuildSpec, build

    root = tmp_path_factory.mktemp("gpu")
    model = make_tiny_generator(
        root / "gen.onnx", latent_dim=32, height=16, width=16, class_names=("a", "b", "c")
    )
    spec = BuildSpec(model.path, target="trt", profile=parse_batches("1,4,8"), cache_dir=root)
    outcome = build(spec)
    assert outcome.manifest.parity.passed
    assert build(spec).action == "reused"
    yield model, root


def inputs(card: ModelCard, n: int) -> Feeds:
    seeds = list(range(n))
    classes = np.asarray([s % card.num_classes for s in seeds], dtype=np.int64)
    return Feeds(latents_for_seeds(seeds, card.latent_dim), classes)


def test_build_load_generate_matches_ort_cpu(engine: tuple[TinyGenerator, Path]) -> None:
    import imggen_rt
    from imggen_rt.backend_factory import load_trt_backend
    from imggen_rt.engines.parity import check_parity, run_batched

    model, cache = engine
    feeds = inputs(model.card, 20)
    with load_trt_backend(model.path, cache) as backend:
        frames = imggen_rt.ImageGenerator(backend, model.path).generate(n=20, batch_size=8)
        images = run_batched(backend.infer, feeds, 1, 8)
    with imggen_rt.load(model.path, backend="ort") as cpu:
        reference_frames = cpu.generate(n=20, batch_size=8)
        reference = run_batched(cpu.backend.infer, feeds, 1, 8)
    report = check_parity(reference, images, model.card.output_range)
    assert report.passed, report.summary()
    # FP16 may move a pixel by a level or two, not more, and only a few of them.
    diff = np.abs(frames.astype(np.int16) - reference_frames.astype(np.int16))
    assert diff.max() <= 4 and np.mean(diff > 1) < 0.01


def test_cuda_graphs_change_nothing(engine: tuple[TinyGenerator, Path]) -> None:
    from imggen_rt.backend_factory import load_trt_backend

    model, cache = engine
    feeds = inputs(model.card, 8)
    sizes = (8, 4, 8, 4, 1, 1)  # the second run of each size replays its graph
    outputs = {}
    for graphs in (False, True):
        with load_trt_backend(model.path, cache, cuda_graphs=graphs) as backend:
            outputs[graphs] = [backend.infer(feeds.rows(slice(0, b))).copy() for b in sizes]
            described = backend.describe()
        if graphs:
            assert described["graphs_captured"] == [1, 4, 8], described["graph_failures"]
        else:
            assert described["graphs_captured"] == []
    for plain, graphed in zip(outputs[False], outputs[True], strict=True):
        np.testing.assert_array_equal(plain, graphed)


def test_device_post_process_matches_the_cpu(engine: tuple[TinyGenerator, Path]) -> None:
    from imggen_rt.backend_factory import load_trt_backend
    from imggen_rt.postprocess import denormalize

    model, cache = engine
    feeds = inputs(model.card, 8)
    low, high = model.card.output_range
    with load_trt_backend(model.path, cache) as backend:
        for order in ("rgb", "bgr", "gray"):
            on_device = backend.infer_frames(feeds, order).copy()
            on_host = denormalize(backend.infer(feeds), low, high, order)
            np.testing.assert_array_equal(on_device, on_host)
        batches = [feeds.rows(slice(0, 4)), feeds.rows(slice(4, 8)), feeds.rows(slice(0, 1))]
        streamed = [frames.copy() for frames in backend.stream_frames(batches, "rgb")]
        assert len(streamed) == 3
        for batch, frames in zip(batches, streamed, strict=True):
            np.testing.assert_array_equal(frames, denormalize(backend.infer(batch), low, high))


def test_a_foreign_engine_is_refused(engine: tuple[TinyGenerator, Path]) -> None:
    from imggen_rt.backend_factory import load_trt_backend
    from imggen_rt.engines.manifest import Manifest

    model, cache = engine
    manifest_path = cache / "gen.trt-fp16" / "manifest.json"
    original = manifest_path.read_text()
    manifest = Manifest.from_json(original)
    assert manifest.request.platform is not None
    other = dataclasses.replace(manifest.request.platform, device="Some Other GPU")
    forged = dataclasses.replace(
        manifest, request=dataclasses.replace(manifest.request, platform=other)
    )
    try:
        manifest_path.write_text(forged.to_json())
        with pytest.raises(ImggenError, match=r"refusing .* GPU 'Some Other GPU'"):
            load_trt_backend(model.path, cache)
    finally:
        manifest_path.write_text(original)
