from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_models import TinyGenerator

import imggen_rt


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imggen_rt.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_generate_writes_one_png_per_seed_byte_identical(
    tiny_conditional: TinyGenerator, tmp_path: Path
) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        done = cli(
            "generate",
            "-m",
            str(tiny_conditional.path),
            "-n",
            "8",
            "--seed",
            "1",
            "-o",
            str(out),
            "--batch-size",
            "3",
            "--no-progress",
        )
        assert done.returncode == 0, done.stderr
        runs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.png"))})
    assert sorted(runs[0]) == [f"seed{s:06d}.png" for s in range(1, 9)]
    assert runs[0] == runs[1]
    with imggen_rt.load(tiny_conditional.path) as gen:
        expected = gen.generate(seeds=[4])
    written = cv2.imread(str(tmp_path / "a" / "seed000004.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, expected[0, ..., 0])


def test_generate_colour_model_with_grid_and_class_free_seeds(
    tiny_rgb: TinyGenerator, tmp_path: Path
) -> None:
    done = cli(
        "generate",
        "-m",
        str(tiny_rgb.path),
        "--seeds",
        "3,9,20-21",
        "-o",
        str(tmp_path),
        "--grid",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [
        "grid.png",
        "seed000003.png",
        "seed000009.png",
        "seed000020.png",
        "seed000021.png",
    ]
    with imggen_rt.load(tiny_rgb.path) as gen:
        rgb = gen.generate(seeds=[9])[0]
    written = cv2.imread(str(tmp_path / "seed000009.png"), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(written[..., ::-1], rgb)  # PNG stores RGB; OpenCV reads BGR
    grid = cv2.imread(str(tmp_path / "grid.png"))
    assert grid.shape == (2 * (6 + 2) + 2, 2 * (5 + 2) + 2, 3)


def test_class_by_name(tiny_conditional: TinyGenerator, tmp_path: Path) -> None:
    done = cli(
        "generate",
        "-m",
        str(tiny_conditional.path),
        "-n",
        "2",
        "--class",
        "ankle boot",
        "-o",
        str(tmp_path),
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    with imggen_rt.load(tiny_conditional.path) as gen:
        expected = gen.generate(seeds=[1], classes=2)
    written = cv2.imread(str(tmp_path / "seed000001.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, expected[0, ..., 0])


def test_user_errors_exit_2_with_one_line(tiny_conditional: TinyGenerator, tmp_path: Path) -> None:
    cases = [
        ("generate", "-m", str(tmp_path / "missing.onnx"), "-o", str(tmp_path)),
        ("generate", "-m", str(tiny_conditional.path), "--class", "bird", "-o", str(tmp_path)),
        ("generate", "-m", str(tiny_conditional.path), "--truncation", "0", "-o", str(tmp_path)),
        ("info", str(tmp_path / "missing.onnx")),
    ]
    for args in cases:
        done = cli(*args, "--no-progress") if args[0] == "generate" else cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("imggen-rt: error:"), done.stderr
    assert not list(tmp_path.glob("*.png"))


def test_info_json(tiny_conditional: TinyGenerator) -> None:
    done = cli("info", str(tiny_conditional.path), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["card"]["class_names"] == ["cat", "dog", "Ankle boot"]
    assert [t["name"] for t in info["inputs"]] == ["z", "class_id"]
    assert info["outputs"][0]["shape"] == ["batch", 1, 6, 5]
    assert info["flops_per_image"] == 2 * 8 * 30
    table = cli("info", str(tiny_conditional.path))
    assert table.returncode == 0 and "Ankle boot" in table.stdout


def test_help_explains_every_verb() -> None:
    done = cli("--help")
    for verb in ("generate", "info", "train", "export", "eval"):
        assert verb in done.stdout
    assert "--truncation" in cli("generate", "--help").stdout


def test_models_lists_the_bundled_ones_and_names_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imggen_rt.bundled import BUNDLED, DEFAULT_MODEL, resolve_model
    from imggen_rt.cli.main import main

    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(BUNDLED) and rows[DEFAULT_MODEL]["default"]
    assert resolve_model() == resolve_model(DEFAULT_MODEL) == BUNDLED[DEFAULT_MODEL].path
    assert main(["generate", "-m", DEFAULT_MODEL, "-n", "1", "-o", str(tmp_path / "a")]) == 0
    assert main(["generate", "-m", "nosuch", "-n", "1", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "model file nosuch does not exist (bundled models:" in err and DEFAULT_MODEL in err


def test_serve_without_models_opens_on_the_face_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from imggen_rt import bundled

    shutil.copy(bundled.BUNDLED[bundled.DEFAULT_MODEL].path, tmp_path)
    monkeypatch.setattr(bundled, "MODELS_DIR", tmp_path)
    default = bundled.BUNDLED[bundled.DEFAULT_MODEL].path
    assert bundled.served_by_default() == [default]  # no emoji64 in this install
    face = bundled.BUNDLED[bundled.FACE_MODEL].path
    shutil.copy(default, face)  # any generator file stands in for it here
    assert bundled.served_by_default() == [face, default]
