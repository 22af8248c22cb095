"""Post-process chain benchmark: each op and a typical grading chain, imggen-rt vs the best
OpenCV / numpy way, on 16 x 3 x 256 x 256, interleaved in one run.

The typical chain: generator output (float NCHW in [-1, 1]) -> denormalise -> white balance
(5600 K) -> 33-point .cube LUT (tetrahedral) -> unsharp mask -> 8-bit. imggen-rt fuses the
first four into one pass and sharpens in a second; the peers do what one would write with
OpenCV and numpy, each op at its fastest (OpenCV's own threads on, images spread over a thread
pool where that helped). OpenCV has no 3D LUT, so the peers apply it with numpy: trilinear
on floats, or a gather from a 256^3 table expanded from the LUT beforehand (not timed).

Every contender's output is checked against imggen-rt's before timing (max difference
reported). Writes <out-dir>/post.json, post.md and post.png.

    python benchmarks/bench_post.py [--reps 15] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from imggen_rt.bench.machine import describe_machine
from imggen_rt.post import (
    Blur,
    Contrast,
    Exposure,
    Lut,
    PostChain,
    Resize,
    Saturation,
    Sharpen,
    parse_post,
    white_balance_gains,
)
from imggen_rt.post import reference as ref
from imggen_rt.postprocess import _postproc

SHAPE = (16, 3, 256, 256)
CHAIN = "temperature=5600,lut=teal-orange,sharpen=0.6:1.0"
POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)

Fn = Callable[[], Any]


def per_image(frames: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply an OpenCV call to each image over a thread pool (cv2 releases the GIL)."""
    return np.stack(list(POOL.map(fn, frames)))


# --- the peers' building blocks -----------------------------------------------------------------


def cv_denormalize(x: np.ndarray) -> np.ndarray:
    """The fastest OpenCV denormalise of bench_postproc: merge planes, convertScaleAbs (RGB)."""
    return per_image(
        x,
        lambda img: cv2.convertScaleAbs(
            cv2.merge([img[0], img[1], img[2]]), alpha=127.5, beta=127.5
        ),
    )


def cv_gains(frames: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    return per_image(frames, lambda f: cv2.multiply(f, gains, dtype=cv2.CV_8U))  # type: ignore[arg-type]


def lut_table_256(lut: Lut) -> np.ndarray:
    """Every 8-bit RGB input's output, precomputed (16.7 M entries): the fastest numpy LUT."""
    axis = np.arange(256, dtype=np.float32) / 255
    table = np.empty((256, 256, 256, 3), np.uint8)
    for b in range(256):  # one blue slice at a time keeps memory small
        g, r = np.meshgrid(axis, axis, indexing="ij")
        rgb = np.stack([r, g, np.full_like(r, axis[b])], axis=-1)[None]
        table[b] = ref.quantize(ref.apply_lut(rgb, lut))[0]
    return table


def gather_lut(frames: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table[frames[..., 2], frames[..., 1], frames[..., 0]]


def float_lut(frames: np.ndarray, lut: Lut) -> np.ndarray:
    return ref.quantize(ref.apply_lut(frames.astype(np.float32) / 255, lut))


def cv_sharpen(frames: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    def one(f: np.ndarray) -> np.ndarray:
        soft = cv2.GaussianBlur(f, (0, 0), sigma)
        return cv2.addWeighted(f, 1 + amount, soft, -amount, 0)

    return per_image(frames, one)


# --- the cases ------------------------------------------------------------------------------


def cases(x: np.ndarray, frames: np.ndarray) -> list[dict[str, Any]]:
    """Each: a name, imggen-rt's call and the peers' calls (name -> fn)."""
    lut = Lut.from_file("teal-orange")
    print("expanding the LUT to a 256^3 table for the numpy gather peer (not timed)...")
    table = lut_table_256(lut)
    wb = white_balance_gains(5600)
    gains = (wb.r, wb.g, wb.b)
    sat = 1.3

    def cv_saturation(f: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return cv2.addWeighted(f, sat, gray, 1 - sat, 0)

    contrast_lut = np.clip((np.arange(256) - 128) * 1.2 + 128.5, 0, 255).astype(np.uint8)
    exposure_lut = np.clip(np.arange(256) * 2**0.5 + 0.5, 0, 255).astype(np.uint8)
    chain = parse_post(CHAIN)

    def cv_chain() -> np.ndarray:
        u8 = cv_denormalize(x)
        u8 = cv_gains(u8, gains)
        u8 = gather_lut(u8, table)
        return cv_sharpen(u8, 0.6, 1.0)

    def chain_lut_float() -> np.ndarray:
        u8 = cv_gains(cv_denormalize(x), gains)
        return cv_sharpen(float_lut(u8, lut), 0.6, 1.0)

    one = lambda op: PostChain([op])  # noqa: E731
    exposure, contrast, saturation = one(Exposure(0.5)), one(Contrast(1.2)), one(Saturation(sat))
    lut_only, blur, sharpen = one(lut), one(Blur(1.5)), one(Sharpen(0.6, 1.0))
    up, down = one(Resize(512, 512, "lanczos")), one(Resize(128, 128, "area"))
    return [
        {
            "name": "chain: denormalise + white balance + LUT + sharpen + quantise",
            "input": "float NCHW",
            "ours": lambda: chain.run(x, -1.0, 1.0),
            "peers": {
                "opencv + numpy LUT gather": cv_chain,
                "opencv + numpy trilinear LUT": chain_lut_float,
            },
        },
        {
            "name": "denormalise only",
            "input": "float NCHW",
            "ours": lambda: _postproc.denormalize(x, -1.0, 1.0),
            "peers": {"opencv merge + convertScaleAbs": lambda: cv_denormalize(x)},
        },
        {
            "name": "exposure +0.5",
            "input": "uint8 NHWC",
            "ours": lambda: exposure.apply(frames),
            "peers": {
                "cv2.LUT (256 entries)": lambda: per_image(
                    frames, lambda f: cv2.LUT(f, exposure_lut)
                )
            },
        },
        {
            "name": "contrast 1.2",
            "input": "uint8 NHWC",
            "ours": lambda: contrast.apply(frames),
            "peers": {
                "cv2.LUT (256 entries)": lambda: per_image(
                    frames, lambda f: cv2.LUT(f, contrast_lut)
                )
            },
        },
        {
            "name": "saturation 1.3",
            "input": "uint8 NHWC",
            "ours": lambda: saturation.apply(frames),
            "peers": {"cvtColor gray + addWeighted": lambda: per_image(frames, cv_saturation)},
        },
        {
            "name": "white balance 5600 K",
            "input": "uint8 NHWC",
            "ours": lambda: one(wb).apply(frames),
            "peers": {"cv2.multiply": lambda: cv_gains(frames, gains)},
        },
        {
            "name": "3D LUT 33 (tetrahedral)",
            "input": "uint8 NHWC",
            "ours": lambda: lut_only.apply(frames),
            "peers": {
                "numpy 256^3 gather": lambda: gather_lut(frames, table),
                "numpy tetrahedral": lambda: float_lut(frames, lut),
            },
        },
        {
            "name": "Gaussian blur sigma 1.5",
            "input": "uint8 NHWC",
            "ours": lambda: blur.apply(frames),
            "peers": {
                "cv2.GaussianBlur": lambda: per_image(
                    frames, lambda f: cv2.GaussianBlur(f, (0, 0), 1.5)
                )
            },
        },
        {
            "name": "unsharp mask 0.6 / 1.0",
            "input": "uint8 NHWC",
            "ours": lambda: sharpen.apply(frames),
            "peers": {"GaussianBlur + addWeighted": lambda: cv_sharpen(frames, 0.6, 1.0)},
        },
        {
            "name": "resize 256 -> 512 Lanczos",
            "input": "uint8 NHWC",
            "ours": lambda: up.apply(frames),
            "peers": {
                "cv2.resize LANCZOS4": lambda: per_image(
                    frames, lambda f: cv2.resize(f, (512, 512), interpolation=cv2.INTER_LANCZOS4)
                )
            },
        },
        {
            "name": "resize 256 -> 128 area",
            "input": "uint8 NHWC",
            "ours": lambda: down.apply(frames),
            "peers": {
                "cv2.resize AREA": lambda: per_image(
                    frames, lambda f: cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA)
                )
            },
        },
    ]


OCIO_CONFIG = "ocio://studio-config-latest"
ACES_VIEW = ("sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")


def ocio_cases(x: np.ndarray) -> list[dict[str, Any]]:
    """OpenColorIO transforms: the chain's baked, fused pass vs OCIO's CPU processor
    (`applyRGB`) on the same values, given to OCIO as float NHWC in [0, 1] (made untimed) and
    quantised the way imggen-rt does. Empty when PyOpenColorIO is not installed."""
    try:
        import PyOpenColorIO as ocio
    except ImportError:
        print("PyOpenColorIO not installed: OCIO cases skipped (pip install opencolorio)")
        return []
    config = ocio.Config.CreateFromFile(OCIO_CONFIG)
    unit = np.ascontiguousarray((x.transpose(0, 2, 3, 1) + 1) / 2, np.float32)
    work = np.empty_like(unit)

    def applied(processor: Any) -> Fn:
        cpu = processor.getDefaultCPUProcessor()

        def run() -> np.ndarray:
            np.copyto(work, unit)
            cpu.applyRGB(work)
            return np.clip(work * 255 + 0.5, 0, 255).astype(np.uint8)

        return run

    display = ocio.DisplayViewTransform(src="ACEScg", display=ACES_VIEW[0], view=ACES_VIEW[1])
    to_acescg = parse_post("ocio=sRGB - Texture:ACEScg", OCIO_CONFIG)
    to_display = parse_post(f"ocio-display={':'.join(ACES_VIEW)}:ACEScg", OCIO_CONFIG)
    return [
        {
            "name": "OCIO sRGB - Texture -> ACEScg (65^3 bake, fused)",
            "input": "float NCHW",
            "ocio": True,
            "ours": lambda: to_acescg.run(x, -1.0, 1.0),
            "peers": {"OCIO applyRGB": applied(config.getProcessor("sRGB - Texture", "ACEScg"))},
        },
        {
            "name": "OCIO ACEScg -> ACES 2.0 SDR view (shaper + 65^3 bake, fused)",
            "input": "float NCHW",
            "ocio": True,
            "ours": lambda: to_display.run(x, -1.0, 1.0),
            "peers": {"OCIO applyRGB": applied(config.getProcessor(display))},
        },
    ]


def time_ms(fn: Fn) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def run(reps: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    # Smooth content like a generator's (not white noise), so filters see real images.
    x = np.stack(
        [
            cv2.GaussianBlur(img, (0, 0), 2)
            for img in rng.uniform(-1, 1, (SHAPE[0], SHAPE[2], SHAPE[3], 3)).astype(np.float32)
        ]
    )
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2) * 2.5).clip(-1, 1)
    frames = _postproc.denormalize(x, -1.0, 1.0)
    results = []
    for case in [*cases(x, frames), *ocio_cases(x)]:
        ours = case["ours"]()
        contenders: dict[str, Fn] = {"imggen-rt": case["ours"], **case["peers"]}
        diffs = {
            name: int(np.abs(np.asarray(fn()).astype(np.int16) - ours).max())
            for name, fn in case["peers"].items()
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(2):  # warm-up
            for fn in contenders.values():
                fn()
        for _ in range(reps):  # interleaved: noise hits all alike
            for name, fn in contenders.items():
                times[name].append(time_ms(fn))
        medians = {name: statistics.median(ms) for name, ms in times.items()}
        best_peer = min(case["peers"], key=lambda n: medians[n])
        entry = {
            "case": case["name"],
            "input": case["input"],
            "median_ms": {k: round(v, 3) for k, v in medians.items()},
            "max_diff_vs_imggen_rt": diffs,
            "best_peer": best_peer,
            "speedup_vs_best_peer": round(medians[best_peer] / medians["imggen-rt"], 2),
        }
        if case.get("ocio"):
            entry["ocio"] = True
        print(f"{entry['case']}: {entry['speedup_vs_best_peer']}x vs {best_peer}")
        results.append(entry)
    ocio = [r for r in results if r.get("ocio")]
    return {
        "shape": list(SHAPE),
        "chain": CHAIN,
        "reps": reps,
        "machine": {
            **describe_machine(),
            "opencv": cv2.__version__,
            "opencv_threads": cv2.getNumThreads(),
            "ext_openmp_threads": _postproc.openmp_threads(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
        "results": results,
        "goal": {
            "fused chain vs best OpenCV chain": ">= 2x",
            "met": results[0]["speedup_vs_best_peer"] >= 2.0,
        },
        "ocio_goal": {
            "baked OCIO vs OCIO applyRGB": ">= 3x at <= 1 level",
            "met": bool(ocio)
            and all(
                r["speedup_vs_best_peer"] >= 3.0 and max(r["max_diff_vs_imggen_rt"].values()) <= 1
                for r in ocio
            ),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Post-process ops and chain, {report['shape']} "
        f"(median ms, {report['reps']} interleaved rounds)",
        "",
        f"Chain: `{report['chain']}` from float NCHW generator output. Goal: fused chain >= 2x "
        f"the best OpenCV chain: **{'met' if report['goal']['met'] else 'not met'}**. "
        "OpenColorIO transforms baked into the fused pass vs OCIO's own CPU processor "
        f"(config `{OCIO_CONFIG}`): goal >= 3x at <= 1 level: "
        f"**{'met' if report.get('ocio_goal', {}).get('met') else 'not met'}**.",
        "",
        "| case | input | imggen-rt ms | best peer | peer ms | speed-up | max diff (levels) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in report["results"]:
        peer = r["best_peer"]
        lines.append(
            f"| {r['case']} | {r['input']} | {r['median_ms']['imggen-rt']} | {peer} | "
            f"{r['median_ms'][peer]} | {r['speedup_vs_best_peer']}x | "
            f"{r['max_diff_vs_imggen_rt'][peer]} |"
        )
    m = report["machine"]
    lines += [
        "",
        "Max diff: the largest difference from imggen-rt's output in 8-bit levels. The peers",
        "round to 8 bits after every step (imggen-rt once, at the end of the fused pass), and",
        "OpenCV's gray for saturation is BT.601 luma where imggen-rt uses BT.709.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('usable_cpus', '?')} usable CPUs, OpenCV "
        f"{m['opencv']} ({m['opencv_threads']} threads), extension OpenMP threads "
        f"{m['ext_openmp_threads']}, 1-min load {m['load_average_1min_at_end']} at the end.",
        "",
        "Reproduce: `python benchmarks/bench_post.py`.",
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["results"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1))
    speedups = [r["speedup_vs_best_peer"] for r in rows]
    ax.barh([r["case"] for r in rows][::-1], speedups[::-1], color="tab:blue")
    ax.axvline(1.0, color="gray", linewidth=1)
    ax.axvline(2.0, color="tab:red", linestyle="--", linewidth=1, label="chain goal (2x)")
    ax.set_xlabel("speed-up of imggen-rt over the best OpenCV/numpy peer (same run)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--from-json", type=Path, help="redraw the markdown and plot from a report")
    args = p.parse_args()
    report = run(args.reps) if args.from_json is None else json.loads(args.from_json.read_text())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "post.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "post.md").write_text(markdown(report))
    plot(report, args.out_dir / "post.png")
    print(f"wrote post.json, post.md and post.png to {args.out_dir}")


if __name__ == "__main__":
    main()
