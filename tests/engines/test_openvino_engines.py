"""OpenVINO engines for the CPU: built, gated, cached, refused when foreign or stale, and chosen
by `auto` only where their build measured them faster than FP32."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator, make_tiny_generator

pytest.importorskip("openvino")

import imggen_rt
from imggen_rt.backend_factory import (
    create_backend,
    explain_auto,
    load_openvino_engine,
)
from imggen_rt.backends.openvino import OpenVinoBackend
from imggen_rt.backends.platform import Platform, cpu_supports
from imggen_rt.cli.main import main
from imggen_rt.engines.parity import ParityThresholds
from imggen_rt.engines.pipeline import BuildSpec, build
from imggen_rt.errors import ImggenError

HAS_BF16 = cpu_supports("bf16") is None


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("IMGGEN_RT_CACHE", str(folder))
    return folder


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_build_reuse_stale_rebuild(
    precision: str, tiny_conditional: TinyGenerator, cache: Path
) -> None:
    if precision == "bf16" and not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    spec = BuildSpec(tiny_conditional.path, "openvino", precision, cache_dir=cache, parity_seeds=8)
    first = build(spec)
    assert first.action == "built" and first.manifest.parity.passed
    assert first.manifest.request.platform is not None
    assert first.manifest.request.platform.library == "openvino"
    assert set(first.manifest.timing) == {"batch", "engine_ms", "fp32_ms"}
    assert build(spec).action == "reused"
    make_tiny_generator(
        tiny_conditional.path, channels=1, class_names=("cat", "dog", "Ankle boot"), seed=7
    )
    again = build(spec)
    assert again.action == "built" and "the ONNX changed" in again.reason
    name = "openvino" if precision == "fp32" else f"openvino-{precision}"
    with imggen_rt.load(tiny_conditional.path, backend=name) as gen:
        frames = gen.generate(seeds=range(6))
    with imggen_rt.load(tiny_conditional.path, backend="ort") as ref:
        expected = ref.generate(seeds=range(6))
    # bf16 computes in 8-bit mantissas: a few levels, as the gate allowed
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= (
        1 if precision == "fp32" else 4
    )


def test_an_engine_from_another_cpu_or_openvino_is_refused(
    tiny_rgb: TinyGenerator, cache: Path
) -> None:
    spec = BuildSpec(tiny_rgb.path, "openvino", "fp32", cache_dir=cache, parity_seeds=4)
    built = build(spec)
    manifest_path = built.artifact.parent / "manifest.json"
    record = json.loads(manifest_path.read_text())
    record["platform"]["device"] = "Some Other CPU 9000"
    manifest_path.write_text(json.dumps(record))
    with pytest.raises(ImggenError, match="refusing to replace it"):
        build(spec)
    with pytest.raises(ImggenError, match=r"refusing the engine .*Some Other CPU 9000"):
        load_openvino_engine(tiny_rgb.path, "fp32", cache_dir=cache)


def test_the_gate_refuses_a_failing_engine(tiny_rgb: TinyGenerator, cache: Path) -> None:
    strict = ParityThresholds(min_psnr_db=1000.0)
    spec = BuildSpec(tiny_rgb.path, "openvino", "fp32", cache_dir=cache, thresholds=strict)
    with pytest.raises(ImggenError, match=r"failed the parity gate.*nothing was written"):
        build(spec)
    assert not any(cache.rglob("*.ovir"))


def test_a_cpu_without_the_isa_says_so_in_one_line(
    tiny_rgb: TinyGenerator,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("imggen_rt.backends.platform.cpu_isa", lambda: ())
    assert cpu_supports("bf16") is not None and cpu_supports("int8") is not None
    args = ["build", str(tiny_rgb.path), "--target", "openvino", "--precision", "bf16"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "neither AMX-BF16 nor AVX512-BF16" in err and len(err.splitlines()) == 1
    assert explain_auto(tiny_rgb.path).name == "openvino"  # FP32, nothing cached


def test_auto_takes_a_cached_engine_only_where_it_measured_faster(
    tiny_rgb: TinyGenerator, cache: Path
) -> None:
    if not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    assert explain_auto(tiny_rgb.path).name == "openvino"
    built = build(BuildSpec(tiny_rgb.path, "openvino", "bf16", cache_dir=cache, parity_seeds=4))
    manifest_path = built.artifact.parent / "manifest.json"
    record = json.loads(manifest_path.read_text())
    for engine_ms, expected in ((0.5, "openvino-bf16"), (2.0, "openvino")):
        record["timing"] = {"batch": 16.0, "engine_ms": engine_ms, "fp32_ms": 1.0}
        manifest_path.write_text(json.dumps(record))
        choice = explain_auto(tiny_rgb.path)
        assert choice.name == expected, choice
    record["timing"]["engine_ms"] = 0.5
    manifest_path.write_text(json.dumps(record))
    assert "2.00x FP32 when built" in explain_auto(tiny_rgb.path).reason
    backend = create_backend("auto", tiny_rgb.path)
    assert isinstance(backend, OpenVinoBackend) and backend.precision == "bf16"
    backend.close()


def test_bf16_output_stays_bf16_to_the_frames(tiny_rgb: TinyGenerator) -> None:
    """The engine's bf16 output reaches the extension as bf16 (no FP32 copy between), in one
    buffer that grows with the batch and is rebound for every compiled batch size."""
    if not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    from imggen_rt.contract import Feeds
    from imggen_rt.generator import ImageGenerator
    from imggen_rt.latents import latents_for_seeds
    from imggen_rt.postprocess import denormalize_reference

    half = OpenVinoBackend(tiny_rgb.path, precision="bf16")
    full = OpenVinoBackend(tiny_rgb.path)
    feeds = Feeds(latents_for_seeds(range(5), 8))
    small = np.asarray(half.infer(feeds.rows(slice(0, 3))), np.float32)
    out = half.infer(feeds)
    assert out.dtype.name == "bfloat16" and out.shape[0] == 5
    wide = np.asarray(out, np.float32)
    np.testing.assert_array_equal(wide[:3], small)  # the larger buffer took over batch 3 too
    again = half.infer(feeds.rows(slice(0, 3)))
    np.testing.assert_array_equal(np.asarray(again, np.float32), small)
    np.testing.assert_allclose(wide, full.infer(feeds), atol=0.02)  # the graph ran in bf16

    gen = ImageGenerator(half, tiny_rgb.path)
    frames = gen.frames(feeds)
    low, high = gen.card.output_range
    np.testing.assert_array_equal(frames, denormalize_reference(wide, low, high, "rgb"))
    full.close()
    gen.close()


def test_platform_binding_names_the_cpu() -> None:
    here = Platform("openvino", "2026.4", "CPU A", "avx512_bf16", "")
    other = dataclasses.replace(here, compute_capability="")
    assert here.binding_fields() != other.binding_fields()
    assert "OpenVINO 2026.4" in here.describe()


# --- auto builds the bf16 engine on first use --------------------------------------------------


def test_auto_builds_bf16_on_first_use_then_reuses(
    tiny_rgb: TinyGenerator, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    monkeypatch.setenv("IMGGEN_RT_ENGINE_BUILD", "first-use")  # what a user has by default
    assert "build it on first use" in explain_auto(tiny_rgb.path).reason
    assert create_backend("auto", tiny_rgb.path).precision == "fp32"  # no build without consent
    assert not cache.exists()

    messages: list[str] = []
    backend = create_backend("auto", tiny_rgb.path, build=messages.append)
    manifest = json.loads(next(cache.glob("*.openvino-bf16/manifest.json")).read_text())
    faster = manifest["timing"]["engine_ms"] < manifest["timing"]["fp32_ms"]
    assert isinstance(backend, OpenVinoBackend)
    assert backend.precision == ("bf16" if faster else "fp32")
    assert any("parity gate" in m for m in messages)
    assert messages[-1].startswith("using it" if faster else "built, but not faster")
    backend.close()

    messages.clear()  # the second run finds the engine (or FP32's verdict) and builds nothing
    create_backend("auto", tiny_rgb.path, build=messages.append).close()
    assert messages == [] or not faster


def test_first_use_does_not_retry_a_refused_engine(tiny_rgb: TinyGenerator, cache: Path) -> None:
    if not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    from imggen_rt.engines.pipeline import RefusedBefore

    strict = ParityThresholds(min_psnr_db=400.0)
    spec = BuildSpec(tiny_rgb.path, "openvino", "bf16", thresholds=strict, parity_seeds=4)
    with pytest.raises(ImggenError, match="parity gate"):
        build(spec)
    assert list(cache.glob(".*.refused.json"))
    with pytest.raises(RefusedBefore, match=r"refused before: .*PSNR"):
        build(dataclasses.replace(spec, retry_refused=False))

    messages: list[str] = []
    backend = create_backend("auto", tiny_rgb.path, build=messages.append)
    assert backend.precision == "fp32" and messages == []  # no build, no status line
    backend.close()

    built = build(dataclasses.replace(spec, thresholds=ParityThresholds()))  # asked: retried
    assert built.action == "built" and not list(cache.glob(".*.refused.json"))


def test_first_use_without_the_isa_builds_nothing(
    tiny_rgb: TinyGenerator, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imggen_rt.backends.platform.cpu_isa", lambda: ("avx2",))
    messages: list[str] = []
    backend = create_backend("auto", tiny_rgb.path, build=messages.append)
    assert backend.precision == "fp32" and messages == [] and not cache.exists()
    assert "first use" not in explain_auto(tiny_rgb.path).reason
    backend.close()


def test_engine_build_never_and_first_use_from_the_cli(
    tiny_rgb: TinyGenerator, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "frames"
    args = ["generate", "-m", str(tiny_rgb.path), "-n", "2", "-o", str(out), "--no-progress"]
    assert main([*args, "--engine-build", "never"]) == 0
    monkeypatch.setenv("IMGGEN_RT_ENGINE_BUILD", "never")
    assert main(args) == 0
    assert "first use" not in explain_auto(tiny_rgb.path).reason
    assert not cache.exists() and len(list(out.glob("*.png"))) == 2
    monkeypatch.setenv("IMGGEN_RT_ENGINE_BUILD", "sometimes")
    assert main(args) == 2  # one line naming the variable and its values
    monkeypatch.setenv("IMGGEN_RT_ENGINE_BUILD", "never")
    if HAS_BF16:  # the flag overrides the variable
        assert main([*args, "--engine-build", "first-use"]) == 0
        assert list(cache.glob("*.openvino-bf16/manifest.json"))


def test_rgba_model_bf16_engine_passes_the_gate_and_keeps_alpha(
    tmp_path: Path, cache: Path
) -> None:
    if not HAS_BF16:
        pytest.skip(str(cpu_supports("bf16")))
    rgba = make_tiny_generator(tmp_path / "rgba.onnx", channels=4, height=8, width=8)
    built = build(BuildSpec(rgba.path, "openvino", "bf16", cache_dir=cache, parity_seeds=8))
    assert built.manifest.parity.passed
    with imggen_rt.load(rgba.path, backend="openvino-bf16") as gen:
        frames = gen.generate(seeds=[1, 2])
    with imggen_rt.load(rgba.path, backend="ort") as ref:
        exact = ref.generate(seeds=[1, 2])
    assert frames.shape == exact.shape == (2, 8, 8, 4)
    assert np.abs(frames.astype(int) - exact).max() <= 2  # bf16 through to the alpha channel
