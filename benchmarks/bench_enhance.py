"""Tiled image-to-image inference: throughput against a whole-frame run, and memory against the
frame size, for an x2 convolutional upscaler (random weights: the work is in the shapes).

The model: Conv 3->32, four Conv 32->32 + ReLU, Conv 32->12, DepthToSpace(2) (an ESRGAN-like
body without the dense blocks), built with the `onnx` helper and run by `imggen-rt`'s
`ImageModel` on ONNX Runtime (CPU). Throughput: frames making 1920x1080 output, whole-frame (one
tile the size of the frame) and tiled (256 px tiles, 16 px overlap), interleaved in one run.
Memory: peak RSS of a fresh process enhancing one frame tiled at 1920x1080 and at 3840x2160
output (and whole-frame at 3840x2160, for contrast). Quality: the bundled upscaler's PSNR on
the held-out emoji against Lanczos and bicubic, and a before/after picture. Writes
<out-dir>/enhance.json, .md and .png.

    python benchmarks/bench_enhance.py [--reps 3] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WIDTH = 32


def build_model(path: Path, seed: int = 0) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    shapes = [(WIDTH, 3), *[(WIDTH, WIDTH)] * 4, (12, WIDTH)]
    inits, nodes, src = [], [], "image"
    for i, (c_out, c_in) in enumerate(shapes):
        w = rng.normal(0, (2 / (9 * c_in)) ** 0.5, (c_out, c_in, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("Conv", [src, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        src = f"c{i}"
        if 0 < i < len(shapes) - 1:
            nodes.append(helper.make_node("Relu", [src], [f"r{i}"]))
            src = f"r{i}"
    nodes.append(helper.make_node("DepthToSpace", [src], ["d"], blocksize=2))
    nodes.append(helper.make_node("Sigmoid", ["d"], ["out"]))
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "upscaler_x2", [x], [y], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def frame(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (3, height, width)).astype(np.float32)


def throughput(model_path: Path, reps: int) -> dict[str, Any]:
    from imggen_rt.image_model import ImageModel

    model = ImageModel(model_path)
    x = frame(960, 540)  # -> 1920x1080
    contenders = {
        "whole_frame": model.tile_spec(960, 0),
        "tiled_256_overlap_16": model.tile_spec(256, 16),
        "tiled_512_overlap_16": model.tile_spec(512, 16),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for spec in contenders.values():
        model.run(x, spec)  # warm-up
    for _ in range(reps):
        for name, spec in contenders.items():
            start = time.perf_counter()
            model.run(x, spec)
            times[name].append(time.perf_counter() - start)
    fps = {name: 1 / statistics.median(t) for name, t in times.items()}
    return {
        "frames_per_s": {k: round(v, 3) for k, v in fps.items()},
        "tiled_vs_whole": {
            name: round(rate / fps["whole_frame"], 3)
            for name, rate in fps.items()
            if name != "whole_frame"
        },
        "reps": reps,
    }


def peak_rss_mib(model_path: Path, width: int, height: int, tile: int) -> float:
    """Peak RSS of a fresh process that enhances one frame of width x height input."""
    code = (
        "import resource, numpy as np\n"
        "from imggen_rt.image_model import ImageModel\n"
        f"m = ImageModel({str(model_path)!r})\n"
        f"x = np.random.default_rng(1).uniform(0, 1, (3, {height}, {width})).astype(np.float32)\n"
        f"m.run(x, m.tile_spec({tile}, {16 if tile < max(width, height) else 0}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(int(done.stdout.split()[-1]) / 1024, 1)


def upscaler_quality(picture: Path) -> dict[str, Any]:
    """The bundled upscaler on the held-out emoji (x2 from 64 px renders) against Lanczos and
    bicubic, and a before/after picture: low input (pixels doubled), Lanczos, the upscaler, the
    real 128 px render, at 1:1."""
    import cv2

    from imggen_rt.bundled import resolve_model
    from imggen_rt.export.upscaler import evaluate, load_pairs
    from imggen_rt.grid import contact_sheet
    from imggen_rt.image_model import ImageModel

    path = resolve_model("upscaler")
    report = evaluate(path)
    low, high = load_pairs("heldout", 4, seed=3)
    model = ImageModel(path)
    rows = []
    for lo, hi in zip(low, high, strict=True):
        image = lo.transpose(1, 2, 0)
        doubled = cv2.resize(image, (128, 128), interpolation=cv2.INTER_NEAREST)
        lanczos = cv2.resize(image, (128, 128), interpolation=cv2.INTER_LANCZOS4)
        ours = model.run(lo.astype(np.float32) / 255, model.tile_spec(64, 0))
        learned = np.clip(ours * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
        rows += [doubled, lanczos, learned, hi.transpose(1, 2, 0)]
    sheet = contact_sheet(np.stack(rows), columns=4)
    cv2.imwrite(str(picture), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return report


def markdown(report: dict[str, Any]) -> str:
    t, m = report["throughput_1080p"], report["peak_rss_mib"]
    fps = t["frames_per_s"]
    lines = [
        "# Tiled image-to-image inference",
        "",
        f"x2 convolutional upscaler ({report['model']}), ONNX Runtime on the CPU; "
        f"`python benchmarks/bench_enhance.py` on {report['date']}.",
        "",
        "| | value |",
        "|---|---|",
        f"| 1920x1080 output, whole frame | {fps['whole_frame']} frames/s |",
        f"| 1920x1080 output, 256 px tiles, 16 px overlap | {fps['tiled_256_overlap_16']} "
        f"frames/s ({t['tiled_vs_whole']['tiled_256_overlap_16']}x whole frame) |",
        f"| 1920x1080 output, 512 px tiles, 16 px overlap | {fps['tiled_512_overlap_16']} "
        f"frames/s ({t['tiled_vs_whole']['tiled_512_overlap_16']}x whole frame) |",
        f"| peak RSS, tiled, 1920x1080 output | {m['tiled_1080p']} MiB |",
        f"| peak RSS, tiled, 3840x2160 output | {m['tiled_2160p']} MiB "
        f"({report['rss_2160p_vs_1080p']}x; goal <= 1.2x) |",
        f"| peak RSS, whole frame, 3840x2160 output | {m['whole_2160p']} MiB |",
        "",
        "Goal: tiled >= 0.9x whole frame. The tiles' overlap is computed twice: 256 px tiles "
        "over a 960x540 input (balanced to 218x202) do 1.27x the whole frame's pixels, 512 px "
        "tiles (496x286) 1.09x. Peak RSS counts the process (Python, numpy, ONNX Runtime) as "
        "well as the frames; the input and output frames themselves grow with the frame size "
        "in both modes. "
        "",
    ]
    quality = report.get("upscaler")
    if quality:
        psnr = quality["psnr_db"]
        lines += [
            "## The bundled upscaler (x2, L1, trained on Twemoji renders)",
            "",
            f"Held-out emoji ({quality['held_out_images']}, rendered at 128 px, input the "
            "area-downscaled 64 px):",
            "",
            "| | PSNR dB |",
            "|---|---|",
            f"| upscaler | {psnr['model']} |",
            f"| Lanczos | {psnr['lanczos']} |",
            f"| bicubic | {psnr['bicubic']} |",
            "",
            f"Gain over Lanczos: {quality['gain_over_lanczos_db']} dB (goal >= 1.5 dB). Columns "
            "of [enhance.png](enhance.png): input (pixels doubled), Lanczos, the upscaler, the "
            "real render.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    import datetime as dt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = build_model(Path(folder) / "upscaler_x2.onnx")
        report: dict[str, Any] = {
            "model": f"Conv 3->{WIDTH}, 4x Conv {WIDTH}->{WIDTH} + ReLU, Conv {WIDTH}->12, "
            "DepthToSpace 2, random weights",
            "date": dt.date.today().isoformat(),
            "throughput_1080p": throughput(model, args.reps),
            "peak_rss_mib": {
                "tiled_1080p": peak_rss_mib(model, 960, 540, 256),
                "tiled_2160p": peak_rss_mib(model, 1920, 1080, 256),
                "whole_2160p": peak_rss_mib(model, 1920, 1080, 1920),
            },
        }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report["upscaler"] = upscaler_quality(args.out_dir / "enhance.png")
    rss = report["peak_rss_mib"]
    report["rss_2160p_vs_1080p"] = round(rss["tiled_2160p"] / rss["tiled_1080p"], 3)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "enhance.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "enhance.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
