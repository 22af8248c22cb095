"""The reproducible inference benchmark suite: imggen-rt and its peers side by side.

Models: the bundled default (conditional Fashion-MNIST DCGAN, 1x32x32), and two DCGAN
generators with random weights made by the training side's own model code, g64 (3x64x64,
3.8 M parameters) and g256 (3x256x256, 8.0 M parameters), each exported to ONNX with its
training checkpoint kept beside it so torch eager runs on exactly the same weights. Random
weights time the same as trained ones: the work is in the shapes.

Every model is benchmarked with `imggen_rt.bench` at batch 1 and 16, all contenders
interleaved in one run; the results go to <out-dir>/suite.json, suite.md and suite.png.

    python benchmarks/bench_suite.py [--duration 5s] [--warmup 1s] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# g256 uses base 32 channels so it stays a model an edge box would run (8 M parameters).
SUITE_MODELS: dict[str, dict[str, Any]] = {
    "g64": {"resolution": 64, "channels": 3, "latent_dim": 128, "base_channels": 64},
    "g256": {"resolution": 256, "channels": 3, "latent_dim": 128, "base_channels": 32},
}
CACHE = Path(__file__).resolve().parent / ".models"
REPO = Path(__file__).resolve().parent.parent
# imggen-rt (auto: the fastest gated engine; FP32 OpenVINO and ORT; each lower-precision engine)
# and what a user would pick instead, FP32 and bf16.
SUITE_BACKENDS = (
    "auto",
    "ort",
    "openvino",
    "openvino-bf16",
    "openvino-int8",
    "torch-eager",
    "torch-bf16",
    "ort-default",
    "openvino-direct",
    "openvino-bf16-direct",
)


def without_machine_paths(value: Any) -> Any:
    """The report with this checkout's location left out of every string (engine paths, skip
    reasons): committed results name paths relative to the repository."""
    if isinstance(value, str):
        return value.replace(f"{REPO}/", "")
    if isinstance(value, dict):
        return {k: without_machine_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_machine_paths(v) for v in value]
    return value


def build_cpu_engines(model: Path) -> None:
    """bf16 and INT8 OpenVINO engines through the parity gate (a refusal is reported: that
    engine is then skipped in the run, and `auto` does not take it)."""
    from imggen_rt.engines.pipeline import BuildSpec, build
    from imggen_rt.errors import ImggenError

    for precision in ("bf16", "int8"):
        try:
            outcome = build(BuildSpec(model, target="openvino", precision=precision))
        except ImggenError as e:
            print(f"{model.name} {precision}: not built: {e}", file=sys.stderr)
            continue
        timing = outcome.manifest.timing
        print(
            f"{model.name} {precision}: {outcome.action}, {outcome.manifest.parity.summary()}; "
            f"{timing['fp32_ms'] / timing['engine_ms']:.2f}x FP32 OpenVINO at batch "
            f"{int(timing['batch'])}",
            file=sys.stderr,
        )


def make_suite_models(folder: Path) -> dict[str, tuple[Path, Path]]:
    """(ONNX, checkpoint) per suite model, made once with fixed torch seeds and then reused."""
    import torch

    from imggen_rt.export.checkpoint import save_checkpoint
    from imggen_rt.export.models import GanConfig, Generator
    from imggen_rt.export.onnx_export import card_for_checkpoint, export_generator

    made = {}
    for name, spec in SUITE_MODELS.items():
        onnx_path, ckpt_path = folder / f"{name}.onnx", folder / f"{name}.pt"
        made[name] = (onnx_path, ckpt_path)
        if onnx_path.is_file() and ckpt_path.is_file():
            continue
        torch.manual_seed(0)
        config = GanConfig(**spec)
        generator = Generator(config).eval()
        state = generator.state_dict()
        meta = {
            "step": 0,
            "train_config": {},
            "gan_config": config.to_dict(),
            "class_names": [],
            "data_name": "none (random weights, benchmark only)",
        }
        save_checkpoint({**meta, "generator": state, "generator_ema": state}, ckpt_path)
        card = card_for_checkpoint(meta, f"random-weight DCGAN {name} for benchmarks")
        export_generator(generator, card, onnx_path)
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", default="5s", help="timed seconds per contender and batch")
    p.add_argument("--warmup", default="1s", help="untimed seconds per contender and batch")
    p.add_argument("--batch", default="1,16", help="batch sizes (default 1,16)")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="where suite.json, suite.md and suite.png go (default benchmarks/results)",
    )
    p.add_argument("--models", default="default,g64,g256", help="which suite models to run")
    args = p.parse_args(argv)

    from imggen_rt.bench import BenchConfig, run_suite, write_outputs
    from imggen_rt.bench.config import parse_batches, parse_seconds
    from imggen_rt.generator import default_model_path

    made = make_suite_models(CACHE)
    paths: dict[str, tuple[Path, Path | None]] = {"default": (default_model_path(), None)}
    paths.update({name: (onnx, ckpt) for name, (onnx, ckpt) in made.items()})
    names = args.models.split(",")
    # The suite's own engine cache, which the contenders' worker processes inherit.
    os.environ["IMGGEN_RT_CACHE"] = str(CACHE / "engines")
    for name in names:
        build_cpu_engines(paths[name][0])
    configs = [
        BenchConfig(
            model=paths[name][0],
            label=name,
            backends=SUITE_BACKENDS,
            batches=parse_batches(args.batch),
            warmup_s=parse_seconds(args.warmup),
            duration_s=parse_seconds(args.duration),
            torch_checkpoint=paths[name][1],
        )
        for name in names
    ]
    report = without_machine_paths(run_suite(configs, progress=True))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_outputs(
        report,
        json_path=args.out_dir / "suite.json",
        markdown_path=args.out_dir / "suite.md",
        plot_path=args.out_dir / "suite.png",
    )
    print(json.dumps(report["goals"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
