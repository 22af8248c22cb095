"""The RGBA emoji generator's training side: the reader, DiffAugment, bf16 RGBA training that
resumes exactly, checkpoint pruning, and the export and lower-precision gates of an RGBA model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import imggen_rt

pytestmark = [pytest.mark.slow, pytest.mark.train]
torch = pytest.importorskip("torch")

# A few Twemoji files and the group their code points belong to in emoji-test.txt.
SAMPLE = {
    "1f600": "Smileys & Emotion",  # grinning face
    "1f436": "Animals & Nature",  # dog face
    "1f34e": "Food & Drink",  # red apple
    "1f697": "Travel & Places",  # automobile
    "26bd": "Activities",  # soccer ball (FE0F dropped in the file name)
    "1f1fa-1f1f8": "Flags",  # flag: United States
    "1f44b-1f3fd": "People & Body",  # waving hand: medium skin tone
    "2764": "Smileys & Emotion",  # red heart (file name without FE0F)
    "1f4a1": "Objects",  # light bulb
    "267b": "Symbols",  # recycling symbol
}


@pytest.fixture
def emoji_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from imggen_rt.export.emoji import emoji_test_path, twemoji_dir

    try:
        source, _ = twemoji_dir(), emoji_test_path()
    except imggen_rt.ImggenError as e:
        pytest.skip(str(e))
    folder = tmp_path / "twemoji"
    folder.mkdir()
    for stem in SAMPLE:
        shutil.copy(source / f"{stem}.png", folder / f"{stem}.png")
    monkeypatch.setenv("IMGGEN_TWEMOJI_DIR", str(folder))
    return folder


def test_reader_keeps_alpha_and_labels_by_group(emoji_folder: Path) -> None:
    from imggen_rt.export.emoji import GROUPS, held_out, load_twemoji

    every = load_twemoji("all", 64)
    stems = sorted(SAMPLE)
    assert every.images.shape == (len(SAMPLE), 4, 64, 64) and every.class_names == GROUPS
    assert [GROUPS[k] for k in every.labels] == [SAMPLE[s] for s in stems]
    face = every.images[stems.index("1f600")]
    assert face[3, 0, 0] == 0 and face[3, 32, 32] == 255  # transparent corner, opaque middle
    train, kept = load_twemoji("train", 64), [s for s in stems if not held_out(s)]
    assert len(train) == len(kept) and len(train) + sum(map(held_out, stems)) == len(SAMPLE)
    small = load_twemoji("all", 32).images
    assert small.shape[2:] == (32, 32) and small[:, 3].max() == 255


def test_diff_augment_is_seeded_differentiable_and_leaves_alpha_to_geometry() -> None:
    from imggen_rt.export.augment import diff_augment

    leaf = torch.rand(4, 4, 16, 16, requires_grad=True)
    x = leaf * 2 - 1
    a = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    b = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    a.sum().backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0
    coloured = diff_augment(x.detach(), "color", torch.Generator().manual_seed(4))
    assert torch.equal(coloured[:, 3], x.detach()[:, 3])  # colour ops do not touch alpha
    assert not torch.equal(coloured[:, :3], x.detach()[:, :3])


def _config(steps: int):  # type: ignore[no-untyped-def]
    from imggen_rt.export.train import TrainConfig

    return TrainConfig(
        data="twemoji",
        resolution=32,
        channels=4,
        steps=steps,
        batch_size=4,
        width=0.125,
        latent_dim=16,
        checkpoint_every=2,
        threads=1,
        augment="color,translation,cutout",
        bf16=True,
        minibatch_std=True,
        diversity=1.0,
    )


def test_rgba_bf16_training_resumes_exactly_and_exports(emoji_folder: Path, tmp_path: Path) -> None:
    from imggen_rt.export.checkpoint import generator_from_checkpoint, load_checkpoint
    from imggen_rt.export.onnx_export import card_for_checkpoint, export_fp16, export_generator
    from imggen_rt.export.train import train

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(_config(4), straight, progress=False)
    train(_config(2), resumed, progress=False)
    train(_config(4), resumed, resume=True, progress=False)
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    for key in ("generator", "generator_ema", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    assert {p.name for p in (straight / "samples").iterdir()} >= {
        "step_0000004.png",
        "step_0000004_dark.png",  # RGBA samples on a light and a dark background
    }

    generator, meta = generator_from_checkpoint(straight / "checkpoint.pt")
    card = card_for_checkpoint(meta)
    onnx_path = tmp_path / "emoji.onnx"
    assert export_generator(generator, card, onnx_path).max_abs_error <= 1e-4
    with imggen_rt.load(onnx_path, backend="ort") as gen:
        assert gen.card.channels == 4 and gen.card.class_names[-1] == "Flags"
        assert gen.card.extra["alpha"] == "straight"  # stated in the card
        assert gen.generate(seeds=[1, 2], classes=["Flags", 0]).shape == (2, 32, 32, 4)
    half = export_fp16(onnx_path, tmp_path / "emoji.fp16.onnx", card)
    assert half.passed, half.summary()


def test_resume_may_change_the_recipe_not_the_model(
    emoji_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import asdict

    from imggen_rt.cli.main import main
    from imggen_rt.export.checkpoint import load_checkpoint
    from imggen_rt.export.train import train

    run = tmp_path / "run"
    train(asdict(_config(2)), run, progress=False)
    before = load_checkpoint(run)
    assert not any(k.startswith("classifier.") for k in before["discriminator"])
    # The auxiliary classifier switched on mid-run: D gains a head, G carries on.
    train({"steps": 3, "aux_class": 1.0}, run, resume=True, progress=False)
    assert "resuming with aux_class = 1.0 (was 0.0)" in capsys.readouterr().out
    after = load_checkpoint(run)
    assert after["step"] == 3 and after["train_config"]["aux_class"] == 1.0
    assert after["gan_config"]["aux_classifier"]
    assert after["discriminator"]["classifier.weight"].shape[0] == 9
    assert not torch.equal(
        after["generator"]["stem.0.weight"], before["generator"]["stem.0.weight"]
    )
    # and resumes exactly from there on, head and all
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    train({"steps": 5}, run, resume=True, progress=False)
    train({"steps": 4}, twin, resume=True, progress=False)
    train({"steps": 5}, twin, resume=True, progress=False)
    a, b = load_checkpoint(run), load_checkpoint(twin)
    for name, tensor in a["discriminator"].items():
        assert torch.equal(tensor, b["discriminator"][name]), name
    # the model itself is fixed for a run's life: one line, nothing trained
    code = main(["train", "--out", str(run), "--resume", "--steps", "9", "--width", "1"])
    assert code != 0
    assert "--width 1.0 differs from the run's 0.125" in capsys.readouterr().err
    assert load_checkpoint(run)["step"] == 5


def test_old_step_checkpoints_are_pruned(tmp_path: Path) -> None:
    from imggen_rt.export.train import KEEP_EVERY, KEEP_LAST, Trainer

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    steps = [500, 1000, 1500, KEEP_EVERY, KEEP_EVERY + 500, KEEP_EVERY + 1000, KEEP_EVERY + 1500]
    for step in steps:
        (folder / f"step_{step:07d}.pt").write_bytes(b"x")
    trainer = Trainer.__new__(Trainer)
    trainer.run_dir = tmp_path
    trainer._prune_checkpoints()
    left = sorted(int(p.stem.split("_")[1]) for p in folder.iterdir())
    assert left == [KEEP_EVERY, *steps[-KEEP_LAST:]]


def test_eval_measures_an_rgba_model_against_the_emoji_set(
    emoji_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imggen_rt.export.emoji import GROUPS
    from imggen_rt.export.onnx_export import export_checkpoint
    from imggen_rt.export.quality import evaluate
    from imggen_rt.export.train import train

    train(_config(2), tmp_path / "run", progress=False)
    onnx_path = tmp_path / "emoji.onnx"
    export_checkpoint(tmp_path / "run" / "checkpoint.pt", onnx_path)
    monkeypatch.delenv("IMGGEN_TWEMOJI_DIR")  # measured against the whole shipped set
    report = evaluate(onnx_path, n=200)
    assert report["feature_space"].endswith("twemoji classifier")
    assert report["classifier_test_accuracy"] > 0.7 and report["held_out_images"] > 300
    assert 0 <= report["class_consistency"] <= 1
    assert set(report["class_consistency_by_class"]) <= set(GROUPS)
    assert report["floor_train_vs_test"] < report["untrained_generator"]


def test_upscaler_trains_resumes_exports_and_evaluates(tmp_path: Path) -> None:
    pytest.importorskip("resvg_py")
    from imggen_rt.export.upscaler import UpscalerConfig, evaluate, export, load_pairs, train
    from imggen_rt.image_model import ImageModel

    low, high = load_pairs("heldout", 3)
    assert low.shape == (3, 3, 64, 64) and high.shape == (3, 3, 128, 128)
    config = UpscalerConfig(
        steps=2, batch_size=2, width=8, blocks=1, train_images=6, checkpoint_every=1
    )
    straight, resumed = tmp_path / "a", tmp_path / "b"
    train(config, straight)
    train(UpscalerConfig(**{**config.__dict__, "steps": 1}), resumed)
    train(config, resumed, resume=True)
    from imggen_rt.export.checkpoint import load_checkpoint

    a, b = load_checkpoint(straight / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    onnx_path = tmp_path / "up.onnx"
    export(straight, onnx_path)
    model = ImageModel(onnx_path)
    assert (model.spec.scale, model.spec.channels) == (2, 3)
    card = model.spec.card  # the export writes the image card, receptive field measured
    assert card is not None and "CC-BY 4.0" in card.description
    assert card.receptive_field == model.spec.receptive_field and 3 <= card.receptive_field < 20
    report = evaluate(onnx_path, count=4)
    assert report["held_out_images"] == 4 and set(report["scores"]) == {
        "model",
        "lanczos",
        "bicubic",
    }
    for scores in report["scores"].values():
        assert 10 < scores["psnr"] < 60 and 0 < scores["ssim"] <= 1
    # the adversarial fine-tune: switched on at resume, the critic saved and resumed exactly
    adversarial = UpscalerConfig(**{**config.__dict__, "steps": 4, "adversarial": 0.01})
    train(adversarial, straight, resume=True, changes=("steps", "adversarial"))
    train(
        UpscalerConfig(**{**adversarial.__dict__, "steps": 3}),
        resumed,
        True,
        ("steps", "adversarial"),
    )
    train(adversarial, resumed, resume=True)
    a, b = load_checkpoint(straight / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["config"]["adversarial"] == 0.01 and a["step"] == 4
    for key in ("model", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
