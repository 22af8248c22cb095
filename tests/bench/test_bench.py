"""`imggen-rt bench`: statistics, schema, skipped peers and CLI exit codes. No timed assertion:
the machine is shared, so only structure and internal consistency are checked."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import TinyGenerator

from imggen_rt.bench import SCHEMA, validate
from imggen_rt.bench.config import BenchConfig, parse_batches, parse_seconds
from imggen_rt.bench.stats import summarize
from imggen_rt.errors import ImggenError

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imggen_rt.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_stats_match_numpy_on_known_samples() -> None:
    rng = np.random.default_rng(3)
    samples = rng.gamma(2.0, 1.5, 101)
    s = summarize(samples.tolist())
    assert s["n"] == 101
    assert s["min"] == samples.min() and s["max"] == samples.max()
    assert s["median"] == pytest.approx(np.median(samples))
    assert s["mean"] == pytest.approx(samples.mean())
    for q in (90, 95, 99):
        assert s[f"p{q}"] == pytest.approx(np.percentile(samples, q))
    assert s["cv"] == pytest.approx(samples.std(ddof=1) / samples.mean())
    assert summarize([1.0, 2.0, 3.0])["p90"] == pytest.approx(2.8)
    one = summarize([4.0])
    assert one["cv"] == 0.0 and one["min"] == one["p99"] == one["max"] == 4.0
    with pytest.raises(ValueError):
        summarize([])


def test_parsers_and_config_refuse_bad_input(tiny_rgb: TinyGenerator) -> None:
    assert parse_seconds("5s") == 5 and parse_seconds("250ms") == 0.25
    assert parse_seconds("2") == 2 and parse_batches("1,4,16") == (1, 4, 16)
    for bad in ("fast", "-1s"):
        with pytest.raises(ImggenError):
            parse_seconds(bad)
    for bad_batch in ("0,1", "a", ""):
        with pytest.raises(ImggenError):
            parse_batches(bad_batch)
    with pytest.raises(ImggenError, match="unknown backend"):
        BenchConfig(tiny_rgb.path, backends=("tensorflow",))


def test_validator_reports_what_breaks_the_schema() -> None:
    assert validate({"schema": "x"}) != []
    errors = validate({"schema": SCHEMA, "machine": {}, "limits": {}, "models": [], "goals": []})
    assert "$.machine: missing 'cpu'" in errors
    assert "$.limits: missing 'matmul_gflops'" in errors


def run_bench(model: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    out = tmp_path / "report.json"
    done = cli(
        "bench",
        str(model),
        "--batch",
        "1,3",
        "--warmup",
        "0",
        "--duration",
        "60ms",
        "--json",
        str(out),
        *extra,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text()), done


def check_consistent(report: dict[str, Any]) -> None:
    assert validate(report) == []
    for model in report["models"]:
        for r in model["results"]:
            for key in ("latency_ms", "infer_ms"):
                s = r[key]
                assert s["min"] <= s["median"] <= s["p90"] <= s["p95"] <= s["p99"] <= s["max"]
                assert s["min"] <= s["mean"] <= s["max"] and s["cv"] >= 0
            # CPU backends have no device copies: n/a (null), never a measured 0
            assert r["stages_mean_ms"]["h2d"] is None and r["stages_mean_ms"]["d2h"] is None
            assert r["images_per_s"] == pytest.approx(
                r["batch"] * 1e3 / r["latency_ms"]["mean"], rel=1e-2
            )
            if r["scope"] == "seeds -> uint8 frames":
                st = r["stages_mean_ms"]
                parts = st["latents"] + st["infer"] + st["postprocess"]
                # stage means are rounded to 1e-4 ms in the report: allow that rounding on top
                assert parts <= r["latency_ms"]["mean"] * 1.001 + 1e-3
            else:
                assert r["latency_ms"] == r["infer_ms"]


def test_short_real_run_on_ort_writes_valid_outputs(
    tiny_conditional: TinyGenerator, tmp_path: Path
) -> None:
    md, png = tmp_path / "r.md", tmp_path / "r.png"
    report, done = run_bench(
        tiny_conditional.path,
        tmp_path,
        "--backends",
        "ort,ort-default,torch-eager",
        "--markdown",
        str(md),
        "--plot",
        str(png),
    )
    check_consistent(report)
    model = report["models"][0]
    assert {(r["contender"], r["batch"]) for r in model["results"]} == {
        (c, b) for c in ("ort", "ort-default") for b in (1, 3)
    }
    # torch eager is never run on weights other than the ONNX's: skipped, with why
    assert "--torch-checkpoint" in model["skipped"]["torch-eager"]
    assert model["contenders"]["ort"]["max_abs_diff"] == 0.0
    assert model["contenders"]["ort"]["peak_rss_bytes"] > 0
    cold = model["cold_start"]["ort"]
    assert cold["backend"] == "ort" and cold["total_s"] <= cold["process_wall_s"]
    assert report["limits"]["matmul_gflops"] > 0 and report["limits"]["copy_gbps"] > 0
    assert "Skipped:" in md.read_text() and "torch-eager" in md.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ort" in done.stdout  # the rich table


def test_missing_openvino_is_skipped_with_the_install_line(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    fake = tmp_path / "fake" / "openvino"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'openvino'\")\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    report, _ = run_bench(
        tiny_rgb.path,
        tmp_path,
        "--backends",
        "ort,openvino,openvino-direct",
        "--batch",
        "2",
        "--no-cold-start",
        "--quiet",
        env=env,
    )
    check_consistent(report)
    skipped = report["models"][0]["skipped"]
    for name in ("openvino", "openvino-direct"):
        assert skipped[name].startswith("OpenVINO is not installed: pip install")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.onnx"], "does not exist"),
        (["{model}", "--backends", "tensorflow"], "unknown backend"),
        (["{model}", "--batch", "0"], "batch sizes"),
        (["{model}", "--duration", "soon"], "not a duration"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    tiny_rgb: TinyGenerator, args: list[str], message: str
) -> None:
    done = cli("bench", *(a.format(model=tiny_rgb.path) for a in args))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.train
def test_torch_on_other_weights_is_refused(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    import torch

    from imggen_rt.export.checkpoint import save_checkpoint
    from imggen_rt.export.models import GanConfig, Generator

    config = GanConfig(resolution=32, channels=3, latent_dim=8, base_channels=8)
    state = Generator(config).state_dict()
    meta = {"step": 0, "train_config": {}, "gan_config": config.to_dict()}
    checkpoint = tmp_path / "other.pt"
    save_checkpoint(
        {
            **meta,
            "class_names": [],
            "data_name": "none",
            "generator": state,
            "generator_ema": state,
        },
        checkpoint,
    )
    del torch
    report, _ = run_bench(
        tiny_rgb.path,
        tmp_path,
        "--backends",
        "ort,torch-eager",
        "--torch-checkpoint",
        str(checkpoint),
        "--batch",
        "1",
        "--no-cold-start",
        "--quiet",
    )
    assert "not the same weights" in report["models"][0]["skipped"]["torch-eager"]
    assert {r["contender"] for r in report["models"][0]["results"]} == {"ort"}


needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="openvino is not installed")


@needs_openvino
def test_openvino_backend_matches_the_reference_and_reuses_its_buffer(
    tiny_conditional: TinyGenerator,
) -> None:
    from imggen_rt.backend_factory import create_backend, explain_auto
    from imggen_rt.contract import Feeds

    backend = create_backend("openvino", tiny_conditional.path)
    try:
        z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
        classes = np.array([0, 1, 2, 0], np.int64)
        first = backend.infer(Feeds(z, classes))
        np.testing.assert_allclose(first, tiny_conditional.reference(z, classes), atol=1e-5)
        again = backend.infer(Feeds(z[::-1].copy(), classes[::-1].copy()))
        assert np.shares_memory(again, first)  # the same batch size: the same memory
        bigger = backend.infer(Feeds(np.concatenate([z, z]), np.concatenate([classes, classes])))
        smaller = backend.infer(Feeds(z[:1], classes[:1]))
        assert np.shares_memory(bigger, smaller)  # one buffer for every batch size
        np.testing.assert_allclose(
            smaller, tiny_conditional.reference(z[:1], classes[:1]), atol=1e-5
        )
        with pytest.raises(ImggenError, match="class ids are required"):
            backend.infer(Feeds(z))
        assert backend.describe()["performance_hint"] == "LATENCY"
    finally:
        backend.close()
    choice = explain_auto(tiny_conditional.path)
    assert choice.name == "openvino" and "fastest CPU backend" in choice.reason
