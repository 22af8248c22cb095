"""Quality of the bundled default model, with its scale, written for the record.

Runs `imggen-rt eval` on a model (default: the bundled one) and writes
<out-dir>/quality.json and quality.md: the Fréchet distance in the shipped classifier's
features beside the real train-vs-test floor and an untrained generator, and the class
consistency of a conditional model. Needs the train extra and dataset-fashion-mnist.

    python benchmarks/bench_quality.py [MODEL] [-n 10000] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
from pathlib import Path

from imggen_rt.export.quality import evaluate, format_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?", help="generator ONNX (default: bundled)")
    parser.add_argument("-n", type=int, default=10_000, help="generated images")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    report = evaluate(args.model, n=args.n)
    report["model"] = Path(report["model"]).name  # no machine paths in committed results
    report["date"] = dt.date.today().isoformat()
    report["machine"] = f"{platform.machine()}, {platform.python_implementation()} "
    report["machine"] += platform.python_version()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    text = format_report(report)
    md = [
        "# Quality of the bundled model",
        "",
        f"`python benchmarks/bench_quality.py -n {args.n}` on {report['date']}.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| Fréchet distance, generated vs real test | {report['frechet_distance']:.3f} |",
        f"| floor: real train vs real test | {report['floor_train_vs_test']:.3f} |",
        f"| scale: untrained generator vs real test | {report['untrained_generator']:.3f} |",
        f"| classifier accuracy on real test images | {report['classifier_test_accuracy']:.2%} |",
    ]
    if report.get("class_consistency") is not None:
        md.append(f"| class consistency | {report['class_consistency']:.2%} |")
        md += ["", "| class | consistency |", "|---|---|"]
        md += [f"| {k} | {v:.2%} |" for k, v in report["class_consistency_by_class"].items()]
    md += ["", f"Features: {report['feature_space']}.", ""]
    (args.out_dir / "quality.md").write_text("\n".join(md))
    print(text)


if __name__ == "__main__":
    main()
