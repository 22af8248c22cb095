"""Tiled image-to-image inference with the bundled x2 upscaler: throughput against a
whole-frame run and on this CPU's bf16 engine, memory against the frame size, video rates, and
the upscaler's quality against Lanczos and bicubic.

Throughput: frames making 1920x1080 output through `ImageModel`, interleaved in one run:
whole-frame on ONNX Runtime (one tile the size of the frame), tiled on ONNX Runtime (256 and
512 px tiles, the overlap the model's receptive field) and tiled on the static-shape OpenVINO
bf16 engine per tile size (CPUs with bf16 in hardware). Memory: peak RSS (VmHWM) of a fresh
process enhancing one 8-bit frame as `enhance` does, tiled at 1920x1080 and at 3840x2160
output (and whole-frame at 3840x2160, for contrast). Video: `imggen-rt video --size 1920x1080`
frames/s with the upscaler on the generator's frames (`model=upscaler`: 32 -> 64 px, then
Lanczos) and on 960x540 frames (`resize=960x540,model=upscaler`: the learned x2 makes the
1080p frame), on ONNX Runtime and with the engine. Quality: `imggen-rt eval upscaler` (PSNR
and SSIM on the held-out emoji) and a before/after picture. Writes <out-dir>/enhance.json,
.md and .png.

    python benchmarks/bench_enhance.py [--reps 3] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def frame(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (3, height, width)).astype(np.float32)


def throughput(model_path: Path, reps: int, cache: Path) -> dict[str, Any]:
    from imggen_rt.backends.platform import cpu_supports
    from imggen_rt.image_model import ImageModel

    on_ort = ImageModel(model_path)
    x = frame(960, 540)  # -> 1920x1080
    contenders = {
        "whole_frame": (on_ort, on_ort.tile_spec(960, 0)),
        "tiled_256": (on_ort, on_ort.tile_spec(256)),
        "tiled_512": (on_ort, on_ort.tile_spec(512)),
    }
    if cpu_supports("bf16") is None:
        engine = ImageModel(model_path, engine="openvino", build=print, cache_dir=cache)
        contenders["engine_bf16_256"] = (engine, engine.tile_spec(256))
        contenders["engine_bf16_512"] = (engine, engine.tile_spec(512))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for model, spec in contenders.values():
        model.run(x, spec)  # warm-up (and the engines' builds)
    for _ in range(reps):
        for name, (model, spec) in contenders.items():
            start = time.perf_counter()
            model.run(x, spec)
            times[name].append(time.perf_counter() - start)
    fps = {name: 1 / statistics.median(t) for name, t in times.items()}
    return {
        "overlap": on_ort.spec.default_overlap,
        "frames_per_s": {k: round(v, 3) for k, v in fps.items()},
        "vs_whole_frame": {
            name: round(rate / fps["whole_frame"], 3)
            for name, rate in fps.items()
            if name != "whole_frame"
        },
        "reps": reps,
    }


def video_fps(chain: str, engine: bool, cache: Path, frames_per_seed: int = 48) -> float:
    """frames/s `imggen-rt video` reports for a 1080p walk with `chain`; engine=False keeps
    the upscaler on ONNX Runtime (no engine built or cached)."""
    env = {**os.environ, "IMGGEN_RT_CACHE": str(cache)}
    env["IMGGEN_RT_ENGINE_BUILD"] = "first-use" if engine else "never"
    with tempfile.TemporaryDirectory() as folder:
        args = [
            "video", "--seeds", "1,7", "--frames-per-seed", str(frames_per_seed),
            "--size", "1920x1080", "--post", chain, "-o", str(Path(folder) / "walk.mp4"),
            "--no-progress",
        ]  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "imggen_rt.cli.main", *args],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
    found = re.search(r"([0-9.]+) fps", done.stdout)
    if not found:
        raise RuntimeError(f"no fps in: {done.stdout}")
    return float(found.group(1))


def video_rates(cache: Path) -> dict[str, dict[str, float]]:
    from imggen_rt.backends.platform import cpu_supports

    rates: dict[str, dict[str, float]] = {}
    for chain in ("model=upscaler", "resize=960x540,model=upscaler"):
        rates[chain] = {"onnxruntime": video_fps(chain, False, cache)}
        if cpu_supports("bf16") is None:
            video_fps(chain, True, cache, 2)  # builds (first use) and caches the engine
            rates[chain]["bf16_engine"] = video_fps(chain, True, cache)
    return rates


def peak_rss_mib(model_path: Path, width: int, height: int, tile: int) -> float:
    """Peak RSS of a fresh process that enhances one frame of width x height input: VmHWM,
    the high-water mark of the process's own memory (getrusage's maxrss would carry over the
    parent's peak across the fork and exec)."""
    code = (
        "import re, numpy as np\n"
        "from imggen_rt.enhance import enhance_image\n"
        "from imggen_rt.image_model import ImageModel\n"
        f"m = ImageModel({str(model_path)!r})\n"
        "rng = np.random.default_rng(1)\n"
        f"image = rng.integers(0, 256, ({height}, {width}, 3), dtype=np.uint8)\n"
        f"tiling = m.tile_spec({tile}, {None if tile < max(width, height) else 0})\n"
        "enhance_image(image, m, tiling)\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(int(done.stdout.split()[-1]) / 1024, 1)


def upscaler_quality(path: Path, picture: Path) -> dict[str, Any]:
    """The upscaler on the held-out emoji (x2 from 64 px renders) against Lanczos and bicubic,
    and a before/after picture: low input (pixels doubled), Lanczos, the upscaler, the real
    128 px render, at 1:1."""
    import cv2

    from imggen_rt.enhance import enhance_image
    from imggen_rt.export.upscaler import evaluate, load_pairs
    from imggen_rt.grid import contact_sheet
    from imggen_rt.image_model import ImageModel

    report = evaluate(path)
    low, high = load_pairs("heldout", 4, seed=3)
    model = ImageModel(path)
    rows = []
    for lo, hi in zip(low, high, strict=True):
        image = lo.transpose(1, 2, 0)
        doubled = cv2.resize(image, (128, 128), interpolation=cv2.INTER_NEAREST)
        lanczos = cv2.resize(image, (128, 128), interpolation=cv2.INTER_LANCZOS4)
        learned = enhance_image(image, model, model.tile_spec(64))
        rows += [doubled, lanczos, learned, hi.transpose(1, 2, 0)]
    sheet = contact_sheet(np.stack(rows), columns=4)
    cv2.imwrite(str(picture), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return report


def markdown(report: dict[str, Any]) -> str:
    t, m = report["throughput_1080p"], report["peak_rss_mib"]
    fps, ratio = t["frames_per_s"], t["vs_whole_frame"]
    names = {
        "whole_frame": "whole frame, ONNX Runtime",
        "tiled_256": f"256 px tiles, {t['overlap']} px overlap, ONNX Runtime",
        "tiled_512": f"512 px tiles, {t['overlap']} px overlap, ONNX Runtime",
        "engine_bf16_256": "256 px tiles, OpenVINO bf16 engine (static shape)",
        "engine_bf16_512": "512 px tiles, OpenVINO bf16 engine (static shape)",
    }
    lines = [
        "# Tiled image-to-image inference",
        "",
        f"The bundled x2 upscaler ({report['model']}) on {report['cpu']}; "
        f"`python benchmarks/bench_enhance.py` on {report['date']}.",
        *(["", f"Conditions: {report['note']}"] if report.get("note") else []),
        "",
        "| 1920x1080 output | frames/s | vs whole frame |",
        "|---|---|---|",
    ]
    for name, rate in fps.items():
        lines.append(f"| {names[name]} | {rate} | {ratio.get(name, 1.0)}x |")
    lines += [
        "",
        "| peak RSS | MiB |",
        "|---|---|",
        f"| tiled, 1920x1080 output | {m['tiled_1080p']} |",
        f"| tiled, 3840x2160 output | {m['tiled_2160p']} ({report['rss_2160p_vs_1080p']}x; "
        "goal <= 1.2x) |",
        f"| whole frame, 3840x2160 output | {m['whole_2160p']} |",
        "",
        "Goal: tiled >= 0.9x whole frame. The tiles' overlap is computed twice (256 px tiles "
        "over a 960x540 input do about 1.2x the whole frame's pixels, 512 px tiles 1.1x). Peak "
        "RSS counts the process (Python, numpy, ONNX Runtime) as well as the frames.",
        "",
        "## `imggen-rt video --seeds 1,7 --size 1920x1080` (frames/s, encode included)",
        "",
        "| --post | ONNX Runtime | bf16 engine |",
        "|---|---|---|",
    ]
    for chain, rates in report["video_fps_1080p"].items():
        engine = rates.get("bf16_engine", "n/a")
        lines.append(f"| `{chain}` | {rates['onnxruntime']} | {engine} |")
    lines += [
        "",
        "`model=upscaler` enlarges the generator's 32 px frames to 64 px and Lanczos does the "
        "rest (frames under one tile stay on ONNX Runtime); `resize=960x540,model=upscaler` "
        "makes each 1080p frame with the learned x2.",
        "",
    ]
    quality = report.get("upscaler")
    if quality:
        scores = quality["scores"]
        lines += [
            "## The bundled upscaler (`imggen-rt eval upscaler`)",
            "",
            f"Held-out emoji ({quality['held_out_images']}, rendered at 128 px, input the "
            "area-downscaled 64 px):",
            "",
            "| | PSNR dB | SSIM |",
            "|---|---|---|",
            *(f"| {name} | {v['psnr']} | {v['ssim']} |" for name, v in scores.items()),
            "",
            f"Gain over Lanczos: {quality['gain_over_lanczos_db']} dB (goal >= 1.5 dB). Columns "
            "of [enhance.png](enhance.png): input (pixels doubled), Lanczos, the upscaler, the "
            "real render.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    import datetime as dt

    from imggen_rt.bench.machine import describe_machine
    from imggen_rt.bundled import resolve_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--note", default="", help="what else ran on the machine, for the record")
    args = p.parse_args()
    model = resolve_model("upscaler")
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        report: dict[str, Any] = {
            "model": "bilinear + residual: Conv 3->32, 4 residual blocks of two Conv 32->32, "
            "Conv 32->12, PixelShuffle 2; trained here",
            "cpu": describe_machine()["cpu"],
            "date": dt.date.today().isoformat(),
            "note": args.note,
            "throughput_1080p": throughput(model, args.reps, cache),
            "peak_rss_mib": {
                "tiled_1080p": peak_rss_mib(model, 960, 540, 256),
                "tiled_2160p": peak_rss_mib(model, 1920, 1080, 256),
                "whole_2160p": peak_rss_mib(model, 1920, 1080, 1920),
            },
            "video_fps_1080p": video_rates(cache),
        }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report["upscaler"] = upscaler_quality(model, args.out_dir / "enhance.png")
    rss = report["peak_rss_mib"]
    report["rss_2160p_vs_1080p"] = round(rss["tiled_2160p"] / rss["tiled_1080p"], 3)
    (args.out_dir / "enhance.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "enhance.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
