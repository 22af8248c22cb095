"""Training side: data readers, training/resume, export parity, FP16, eval. Needs torch."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import imggen_rt
from imggen_rt import ImggenError

pytestmark = [pytest.mark.slow, pytest.mark.train]

FASHION = Path("/usr/share/datasets/fashion-mnist")


def write_idx(path: Path, array: np.ndarray) -> None:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + array.tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.fixture
def small_fashion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 96-image stand-in for Fashion-MNIST in IDX form: class k is a bar at row 2k."""
    root = tmp_path / "fmnist"
    root.mkdir()
    rng = np.random.default_rng(0)
    labels = np.arange(96, dtype=np.uint8) % 10
    images = rng.integers(0, 40, (96, 28, 28), dtype=np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6] = 230
    for split in ("train", "t10k"):
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte", labels)
    monkeypatch.setenv("IMGGEN_FASHION_MNIST_DIR", str(root))
    return root


def test_idx_reader_round_trip_and_errors(tmp_path: Path) -> None:
    from imggen_rt.export.data import read_idx

    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ImggenError, match="bad magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "a.idx").read_bytes()[:-3])
    with pytest.raises(ImggenError, match="header says"):
        read_idx(tmp_path / "short")


def test_fashion_mnist_loader_resizes(small_fashion: Path) -> None:
    from imggen_rt.export.data import load_fashion_mnist

    data = load_fashion_mnist("train", resolution=32, channels=3)
    assert data.images.shape == (96, 3, 32, 32) and data.images.dtype == np.uint8
    assert data.class_names[9] == "Ankle boot" and data.labels[13] == 3


def test_missing_fashion_mnist_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imggen_rt.export.data import load_fashion_mnist

    monkeypatch.setenv("IMGGEN_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(ImggenError, match="dataset-fashion-mnist"):
        load_fashion_mnist()


def test_image_folder_with_class_subfolders(tmp_path: Path) -> None:
    from imggen_rt.export.data import load_image_folder

    for k, name in enumerate(("cats", "dogs")):
        (tmp_path / name).mkdir()
        for i in range(3):
            img = np.full((40, 60, 3), 60 * k + 10 * i, np.uint8)
            cv2.imwrite(str(tmp_path / name / f"{i}.png"), img)
    data = load_image_folder(tmp_path, resolution=32, channels=3)
    assert data.images.shape == (6, 3, 32, 32)
    assert data.class_names == ("cats", "dogs")
    assert list(data.labels) == [0, 0, 0, 1, 1, 1]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImggenError, match="no PNG or JPEG"):
        load_image_folder(empty, 32, 3)


def _config(steps: int):  # type: ignore[no-untyped-def]
    from imggen_rt.export.train import TrainConfig

    return TrainConfig(
        steps=steps, batch_size=8, width=0.125, latent_dim=16, checkpoint_every=2, threads=1
    )


def test_training_changes_weights_and_resume_is_exact(small_fashion: Path, tmp_path: Path) -> None:
    import torch

    from imggen_rt.export.checkpoint import load_checkpoint
    from imggen_rt.export.models import GanConfig, Generator
    from imggen_rt.export.train import train

    straight = tmp_path / "straight"
    train(_config(4), straight, progress=False)
    resumed = tmp_path / "resumed"
    train(_config(2), resumed, progress=False)
    train(_config(4), resumed, resume=True, progress=False)

    a = load_checkpoint(straight)
    b = load_checkpoint(resumed)
    assert a["step"] == b["step"] == 4
    for key in ("generator", "generator_ema", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    torch.manual_seed(0)
    fresh = Generator(GanConfig(**a["gan_config"])).state_dict()
    changed = [
        n
        for n, t in fresh.items()
        if t.is_floating_point() and not torch.equal(t, a["generator"][n])
    ]
    assert changed
    assert sorted(p.name for p in (straight / "samples").iterdir()) == [
        "step_0000002.png",
        "step_0000004.png",
    ]
    with pytest.raises(ImggenError, match="already holds a run"):
        train(_config(4), straight, progress=False)


def test_bad_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from imggen_rt.export.checkpoint import load_checkpoint

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ImggenError, match="cannot read checkpoint"):
        load_checkpoint(junk)
    with pytest.raises(ImggenError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_export_parity_card_and_fp16(small_fashion: Path, tmp_path: Path) -> None:
    from imggen_rt.export.checkpoint import generator_from_checkpoint
    from imggen_rt.export.onnx_export import card_for_checkpoint, export_fp16, export_generator
    from imggen_rt.export.sampling import generate_torch
    from imggen_rt.export.train import train
    from imggen_rt.postprocess import denormalize_reference

    checkpoint = train(_config(2), tmp_path / "run", progress=False)
    generator, meta = generator_from_checkpoint(checkpoint)
    card = card_for_checkpoint(meta)
    onnx_path = tmp_path / "g.onnx"
    parity = export_generator(generator, card, onnx_path)
    assert parity.max_abs_error <= 1e-4
    assert b"stack_trace" not in onnx_path.read_bytes()  # no exporting machine's paths inside

    with imggen_rt.load(onnx_path) as gen:
        assert gen.card.class_names[0] == "T-shirt/top"
        assert gen.card.latent_dim == 16 and gen.card.height == 32
        assert json.loads(gen.card.extra["architecture"])["width"] == 0.125
        frames = gen.generate(seeds=[3, 4, 5], classes=[1, 2, 9])
    expected = denormalize_reference(generate_torch(generator, [3, 4, 5], [1, 2, 9]), -1, 1, "gray")
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1

    half = export_fp16(onnx_path, tmp_path / "g.fp16.onnx", card)
    assert half.passed and half.psnr_db > 40, half.summary()
    with imggen_rt.load(tmp_path / "g.fp16.onnx") as gen:
        assert gen.generate(seeds=[3]).shape == (1, 32, 32, 1)


def test_byo_module_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    pkg = tmp_path / "byo_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(
        "import torch\n"
        "class G(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(4, 3 * 8 * 8)\n"
        "    def forward(self, z):\n"
        "        return torch.tanh(self.lin(z)).reshape(-1, 3, 8, 8)\n"
        "def make():\n"
        "    return G()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.path.insert(0, str(tmp_path))
    from byo_pkg.gen import make  # type: ignore[import-not-found]

    torch.save(make().state_dict(), tmp_path / "w.pt")
    out = tmp_path / "byo.onnx"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imggen_rt.cli.main",
            "export",
            str(tmp_path / "w.pt"),
            "-o",
            str(out),
            "--module",
            "byo_pkg.gen:make",
            "--latent-dim",
            "4",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "parity" in done.stdout
    with imggen_rt.load(out) as gen:
        assert gen.generate(n=2).shape == (2, 8, 8, 3)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_cli_train_interrupt_saves_and_resumes(
    small_fashion: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    run = tmp_path / "run"
    base = [sys.executable, "-m", "imggen_rt.cli.main", "train", "--out", str(run)]
    base += ["--batch-size", "8", "--width", "0.125", "--latent-dim", "16"]
    base += ["--checkpoint-every", "5", "--threads", "1", "--no-progress"]
    args = [*base, "--steps", "100000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "interrupted at step" in err and "--resume" in err
    from imggen_rt.export.checkpoint import load_checkpoint

    step = load_checkpoint(run)["step"]
    assert step >= 5
    resumed = subprocess.run(
        [*base, "--steps", str(step + 2), "--resume"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(run)["step"] == step + 2


@pytest.mark.skipif(not FASHION.is_dir(), reason="needs dataset-fashion-mnist")
def test_eval_reports_distance_with_its_scale(tmp_path: Path) -> None:
    from imggen_rt.export.quality import evaluate, frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(frechet_distance(a, a)) < 1e-9
    assert frechet_distance(a, a + 3) == pytest.approx(4 * 9, rel=1e-6)

    report = evaluate(None, n=200)
    assert report["floor_train_vs_test"] < report["untrained_generator"]
    assert report["classifier_test_accuracy"] > 0.88
    assert report["class_consistency"] >= 0.85  # the bundled model's promise
    assert set(report["class_consistency_by_class"]) == set(imggen_rt.load().card.class_names)


@pytest.mark.parametrize(
    ("factory", "flags", "latent", "low_high"),
    [
        ("DCGAN", [], [None, 16, 1, 1], [-1.0, 1.0]),  # ConvTranspose first: (B, Z, 1, 1)
        ("VaeDecoder", [], [None, 10], [0.0, 1.0]),  # a sigmoid decoder: [0, 1]
        ("ConditionalSigmoid", ["--classes", "a,b,c,d,e"], [None, 12], [0.0, 1.0]),
    ],
)
def test_module_export_infers_the_contract(
    factory: str, flags: list[str], latent: list[int | None], low_high: list[float], tmp_path: Path
) -> None:
    import torch
    import zoo

    torch.manual_seed(1)
    torch.save(getattr(zoo, factory)().state_dict(), tmp_path / "w.pt")
    out = tmp_path / "m.onnx"
    env = {**os.environ, "PYTHONPATH": str(Path(zoo.__file__).parent)}
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "export", str(tmp_path / "w.pt")]
    cmd += ["-o", str(out), "--module", f"zoo:{factory}", *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "torch parity" in done.stdout and "why:" in done.stdout
    with imggen_rt.load(out) as gen:
        assert list(gen.card.inputs_with_role("latent")[0].shape) == latent
        assert list(gen.card.output_range) == low_high
        assert gen.generate(n=2).dtype == np.uint8
    # a range flag the probe disagrees with is used, with a warning
    flagged = [*cmd, "--output-range", "0:255" if low_high[0] < 0 else "-1:1"]
    done = subprocess.run(flagged, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "warning: --output-range" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--resolution", "48"], "--resolution must be a power of two in 32..256, got 48"),
        (["--width", "nan"], "--width must be in (0, 64]"),
        (["--lr-g", "inf"], "--lr-g must be in (0, 1)"),
    ],
)
def test_bad_training_settings_are_one_line(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imggen_rt.cli.main import main

    assert main(["train", "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()
