"""The manifest is the cache key: reuse a match, rebuild a stale entry, refuse a foreign one."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyGenerator, make_tiny_generator

from imggen_rt.atomic import TEMP_PREFIX, atomic_write_bytes, atomic_write_text
from imggen_rt.backends.platform import Platform
from imggen_rt.backends.profiles import parse_batches
from imggen_rt.engines.cache import ArtifactCache, State, find_engine, judge, stale_reasons
from imggen_rt.engines.manifest import BuildRequest, Manifest, sha256_file
from imggen_rt.engines.parity import ParityThresholds, check_parity
from imggen_rt.errors import ImggenError

ORIN = Platform("tensorrt", "10.3.0", "Orin", "8.7", "12.6")
THOR = Platform("tensorrt", "10.13.0", "NVIDIA Thor", "11.0", "13.0")


def request(**changes: object) -> BuildRequest:
    base = BuildRequest(
        target="trt",
        precision="fp16",
        onnx_sha256="a" * 64,
        profile=parse_batches("1,8,16"),
        builder={"opt_level": 3, "workspace_bytes": None, "dla_core": None, "typing": "strong"},
        platform=ORIN,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def passing_parity() -> object:
    ref = np.linspace(-1, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    return check_parity(ref, ref + np.float32(1e-4), (-1.0, 1.0))


def manifest_for(req: BuildRequest, artifact: Path, card: dict[str, str]) -> Manifest:
    return Manifest(
        request=req,
        artifact=artifact.name,
        artifact_sha256=sha256_file(artifact),
        parity=passing_parity(),  # type: ignore[arg-type]
        onnx_name="m.onnx",
        card=card,
    )


def test_key_changes_with_every_build_input() -> None:
    key = request().key()
    changed = [
        request(onnx_sha256="b" * 64),
        request(precision="fp32"),
        request(profile=parse_batches("1,8")),
        request(builder={**request().builder, "opt_level": 5}),
        request(builder={**request().builder, "dla_core": 0}),
        request(platform=THOR),
        request(platform=dataclasses.replace(ORIN, cuda_runtime="12.8")),
    ]
    keys = [r.key() for r in changed]
    assert key not in keys and len(set(keys)) == len(keys)
    assert request().key() == key  # and it is a pure function of them


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    artifact = tmp_path / "engine.plan"
    artifact.write_bytes(b"plan")
    manifest = manifest_for(request(), artifact, {"imggen.latent_dim": "8"})
    text = manifest.to_json()
    data = json.loads(text)
    assert data["key"] == request().key()
    assert data["platform"]["device"] == "Orin"
    assert data["parity"]["passed"] is True
    again = Manifest.from_json(text)
    assert again == manifest
    assert again.request.key() == manifest.request.key()


def test_infinite_psnr_survives_json() -> None:
    ref = np.zeros((1, 1, 2, 2), np.float32)
    ref[0, 0, 0, 0] = 1
    report = check_parity(ref, ref.copy(), (-1.0, 1.0))
    manifest = Manifest(request(), "engine.plan", "0" * 64, report, "m.onnx", {})
    again = Manifest.from_json(manifest.to_json())
    assert again.parity.psnr_db == float("inf") and again.parity.passed


@pytest.mark.parametrize(
    "text",
    ["{}", "not json", '{"format": "imggen-rt-manifest", "format_version": 99}'],
)
def test_malformed_manifests_are_one_line_errors(text: str) -> None:
    with pytest.raises(ImggenError, match="not a valid manifest") as info:
        Manifest.from_json(text, "m.json")
    assert "\n" not in str(info.value)


def test_judge_reuses_rebuilds_and_refuses(tmp_path: Path) -> None:
    artifact = tmp_path / "engine.plan"
    artifact.write_bytes(b"plan")
    cached = manifest_for(request(), artifact, {})

    assert judge(None, request(), artifact).state is State.MISSING
    assert judge(cached, request(), artifact).state is State.MATCH

    stale = judge(cached, request(onnx_sha256="b" * 64), artifact)
    assert stale.state is State.STALE and "the ONNX changed" in stale.reason
    stale = judge(cached, request(profile=parse_batches("1,32")), artifact)
    assert stale.state is State.STALE and "batch sizes 1,8,16 -> 1,32" in stale.reason
    stale = judge(cached, request(builder={**request().builder, "opt_level": 5}), artifact)
    assert stale.state is State.STALE and "opt_level 3 -> 5" in stale.reason

    foreign = judge(cached, request(platform=THOR), artifact)
    assert foreign.state is State.FOREIGN
    assert "GPU 'Orin' (here: 'NVIDIA Thor')" in foreign.reason
    assert "TensorRT '10.3.0' (here: '10.13.0')" in foreign.reason

    artifact.write_bytes(b"plan, damaged")
    damaged = judge(cached, request(), artifact)
    assert damaged.state is State.STALE and "does not match its manifest" in damaged.reason
    artifact.unlink()
    assert judge(cached, request(), artifact).state is State.STALE


def test_stale_reasons_name_only_what_changed() -> None:
    assert stale_reasons(request(), request()) == []
    reasons = stale_reasons(request(), request(precision="fp32", onnx_sha256="c" * 64))
    assert len(reasons) == 2


def engine_slot(cache: ArtifactCache, model: TinyGenerator, built_on: Platform) -> Path:
    """A cache entry as `imggen-rt build --target trt` leaves it (the plan bytes are opaque
    here: find_engine judges the manifest and the hash, never the plan's contents)."""
    slot = cache.slot(model.path.name, "trt", "fp16")
    engine = slot.dir / "engine.plan"
    atomic_write_bytes(engine, b"serialized engine")
    req = request(onnx_sha256=sha256_file(model.path), platform=built_on)
    manifest = dataclasses.replace(
        manifest_for(req, engine, model.card.to_metadata()), onnx_name=model.path.name
    )
    atomic_write_text(slot.manifest_path, manifest.to_json())
    return slot.dir


def test_find_engine_loads_only_a_matching_fresh_engine(
    tiny_conditional: TinyGenerator, tmp_path: Path
) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    with pytest.raises(ImggenError, match=r"no TensorRT engine .*`imggen-rt build tiny_cond\.onnx"):
        find_engine(cache, tiny_conditional.path, ORIN)
    slot_dir = engine_slot(cache, tiny_conditional, ORIN)

    engine, manifest = find_engine(cache, tiny_conditional.path, ORIN)
    assert engine == slot_dir / "engine.plan" and manifest.request.platform == ORIN
    assert find_engine(cache, slot_dir, ORIN)[0] == engine  # a cache folder works too

    with pytest.raises(ImggenError, match=r"refusing .* built for TensorRT '10\.3\.0'"):
        find_engine(cache, tiny_conditional.path, THOR)

    make_tiny_generator(tiny_conditional.path, class_names=("x", "y"), seed=7)  # re-exported
    with pytest.raises(ImggenError, match=r"stale: tiny_cond\.onnx changed"):
        find_engine(cache, tiny_conditional.path, ORIN)

    (slot_dir / "engine.plan").write_bytes(b"truncated")
    with pytest.raises(ImggenError, match="does not match its manifest"):
        find_engine(cache, slot_dir, ORIN)


def test_build_reuses_then_rebuilds_when_the_onnx_changes(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    """The real pipeline on the CPU target: built, reused, then stale after a re-export."""
    from imggen_rt.engines.pipeline import BuildSpec, build

    spec = BuildSpec(tiny_rgb.path, target="onnx-fp16", cache_dir=tmp_path / "c", parity_seeds=4)
    first = build(spec)
    assert first.action == "built" and first.reason == "nothing cached yet"
    again = build(spec)
    assert again.action == "reused" and again.manifest == first.manifest

    make_tiny_generator(tiny_rgb.path, seed=3)
    rebuilt = build(spec)
    assert rebuilt.action == "built" and "the ONNX changed" in rebuilt.reason
    assert rebuilt.manifest.request.onnx_sha256 == sha256_file(tiny_rgb.path)

    fewer = build(dataclasses.replace(spec, profile=parse_batches("1,4")))
    assert fewer.action == "built" and "batch sizes 1,8,16 -> 1,4" in fewer.reason

    stricter = dataclasses.replace(
        spec, profile=parse_batches("1,4"), thresholds=ParityThresholds(min_psnr_db=500)
    )
    with pytest.raises(ImggenError, match=r"cached artifact failed the parity gate.*PSNR"):
        build(stricter)


def test_build_refuses_a_foreign_cache_entry(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    """A cache entry whose manifest names a platform (a TensorRT one) is not replaced by a
    build that has none, unless --rebuild is given."""
    from imggen_rt.engines.pipeline import BuildSpec, build

    spec = BuildSpec(tiny_rgb.path, target="onnx-fp16", cache_dir=tmp_path, parity_seeds=2)
    built = build(spec)
    slot_manifest = built.artifact.parent / "manifest.json"
    foreign = dataclasses.replace(
        built.manifest, request=dataclasses.replace(built.manifest.request, platform=ORIN)
    )
    slot_manifest.write_text(foreign.to_json())
    with pytest.raises(ImggenError, match="refusing to replace it"):
        build(spec)
    assert build(dataclasses.replace(spec, rebuild=True)).action == "built"


def test_build_cli_reports_reuse_and_staleness(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "imggen_rt.cli.main", "build", str(tiny_rgb.path), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    common = ("--target", "onnx-fp16", "--cache-dir", str(tmp_path), "--parity-seeds", "4")
    first = cli(*common)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("built (nothing cached yet):")
    assert "PSNR" in first.stdout and "passed" in first.stdout
    second = cli(*common, "--json")
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["target"] == "onnx-fp16" and data["platform"] is None
    assert data["parity"]["seeds"] == 4 and data["builder"]["converter"].startswith("onnxconv")
    third = cli(*common, "--batch", "2,4")
    assert third.returncode == 0, third.stderr
    assert third.stdout.startswith("built (batch sizes 1,8,16 -> 2,4):")
    shutil.rmtree(tmp_path / "tiny_rgb.onnx-fp16")
    fourth = cli(*common, "--batch", "2,4")
    assert fourth.stdout.startswith("built (nothing cached yet):")


def test_a_killed_build_leaves_nothing_the_next_one_keeps(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    from imggen_rt.engines.pipeline import BuildSpec, build

    spec = BuildSpec(tiny_rgb.path, target="onnx-fp16", cache_dir=tmp_path / "c", parity_seeds=4)
    folder = build(spec).artifact.parent
    # what a build killed between writing and committing leaves behind
    leftover = folder / f"{TEMP_PREFIX}model.fp16.onnx.abc123"
    leftover.write_bytes(b"half an artifact")
    assert build(spec).action == "reused"
    assert not leftover.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.fp16.onnx"]
