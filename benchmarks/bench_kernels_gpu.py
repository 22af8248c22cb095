"""The extension's CUDA kernels on a GPU: time per call, and equality with the CPU loops.

Each kernel (denormalize_cuda, point_cuda with a LUT program, separable_filter_cuda,
unsharp_cuda, blend_cuda, otsu_masks_cuda) runs on CuPy arrays of 16x3x256x256 and
16x3x1080x1920 values (float NCHW for the float sources, uint8 NHWC frames for the rest). GPU
time is CUDA events around back-to-back launches on one stream; host time is the wall time per
call of the same loop. Every output is compared with the CPU function's output on the same
input: they must be equal (the gamma case, whose powf is CUDA's own, within one level).

    python benchmarks/bench_kernels_gpu.py [--out DIR] [--sizes small,hd] [--reps N]

Writes DIR/bench_kernels_gpu.json and DIR/bench_kernels_gpu.md (DIR: $OUT, else
benchmarks/results). Without CuPy or a CUDA device it says so and exits 0; a mismatch or an
error exits 1; a module that cannot run the kernels on a present device exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES = {"small": (16, 256, 256), "hd": (16, 1080, 1920)}
JSON_NAME, MD_NAME = "bench_kernels_gpu.json", "bench_kernels_gpu.md"


def default_out() -> Path:
    env = os.environ.get("OUT")
    return Path(env) if env else Path(__file__).resolve().parent / "results"


def write(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / JSON_NAME).write_text(json.dumps(report, indent=2) + "\n")
    (out / MD_NAME).write_text(markdown(report))
    print(f"wrote {out / JSON_NAME} and {out / MD_NAME}")


def markdown(report: dict[str, Any]) -> str:
    lines = ["# CUDA kernels vs CPU loops", ""]
    if report.get("skipped"):
        return "\n".join([*lines, f"Skipped: {report['skipped']}", ""])
    env = report["environment"]
    lines += [
        f"Device: {env.get('device')} (sm_{env.get('sm')}), driver {env.get('driver')}, "
        f"CuPy {env.get('cupy')}; module built for {env.get('module_archs')}, "
        f"OpenMP threads {env.get('openmp_threads')}.",
        "",
        "GPU ms: CUDA events over back-to-back launches (median of rounds); host us: wall time "
        "per call; GB/s: bytes read + written per GPU time; equal: GPU output == CPU output.",
        "",
        "| kernel | case | size | GPU ms | host us | GB/s | CPU ms | equal | max diff | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        if r.get("error"):
            lines.append(
                f"| {r['kernel']} | {r['case']} | {r['size']} | - | - | - | - | - | - | "
                f"ERROR: {r['error'].splitlines()[-1][:120]} |"
            )
            continue
        lines.append(
            f"| {r['kernel']} | {r['case']} | {r['size']} | {r['gpu_ms']:.4f} | "
            f"{r['host_us']:.1f} | {r['gb_per_s']:.1f} | {r['cpu_ms']:.2f} | {r['equal']} | "
            f"{r['max_abs_diff']} (<= {r['tolerance']}) | {'yes' if r['ok'] else 'NO'} |"
        )
    s = report["summary"]
    lines += ["", f"{s['ok']} of {s['cases']} cases ok; {s['errors']} errors.", ""]
    return "\n".join(lines)


def load_postproc() -> Any:
    """imggen_rt._postproc, or the .so named by IMGGEN_POSTPROC_SO (no package import)."""
    so = os.environ.get("IMGGEN_POSTPROC_SO")
    if so:
        import importlib.machinery
        import importlib.util

        loader = importlib.machinery.ExtensionFileLoader("_postproc", so)
        spec = importlib.util.spec_from_file_location("_postproc", so, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    from imggen_rt import _postproc

    return _postproc


# ---- inputs ------------------------------------------------------------------------------


def gaussian_taps(n: int, sigma: float, np: Any) -> tuple[Any, Any]:
    """A Gaussian with reflected borders (as imggen_rt.post.filters), built here so the bench
    needs no OpenCV."""
    r = max(1, int(3.0 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    idx = np.arange(n)[:, None] + np.arange(-r, r + 1)[None, :]
    idx = np.where(idx < 0, -idx, idx)
    idx = np.where(idx >= n, 2 * n - 2 - idx, idx)
    return np.ascontiguousarray(idx, np.int32), np.ascontiguousarray(np.tile(k, (n, 1)))


def area_half_taps(n: int, np: Any) -> tuple[Any, Any]:
    """2x area downscale: output i averages inputs 2i and 2i + 1."""
    out = n // 2
    idx = np.stack([2 * np.arange(out), 2 * np.arange(out) + 1], axis=1).astype(np.int32)
    return idx, np.full((out, 2), 0.5, np.float32)


def program(np: Any, gamma: bool) -> tuple[Any, list[Any]]:
    """Exposure gains, contrast, saturation, a colour matrix, a 33-point tetrahedral LUT (and
    gamma): rows of (kind, LUT index, 12 parameters) as imggen_rt.post.ops writes them."""
    rng = np.random.default_rng(7)
    rows = [
        (0, 0, [1.2, 1.05, 0.9]),
        (2, 0, [1.1, 0.5]),
        (3, 0, [1.3]),
        (5, 0, [0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.0, 0.1, 0.9]),
        (6, 0, [0.0, 0.0, 0.0, 32.0, 32.0, 32.0, 1.0]),
    ]
    if gamma:
        rows.append((4, 0, [1.0 / 1.4]))
    prog = np.zeros((len(rows), 14), np.float32)
    for i, (kind, lut, params) in enumerate(rows):
        prog[i, 0], prog[i, 1] = kind, lut
        prog[i, 2 : 2 + len(params)] = params
    lut_table = np.zeros((33, 33, 33, 4), np.float32)
    lut_table[..., :3] = rng.random((33, 33, 33, 3), dtype=np.float32)
    return prog, [lut_table]


# ---- one case ----------------------------------------------------------------------------


def time_gpu(cp: Any, launch: Callable[[int], None], stream: Any, reps: int) -> tuple[float, float]:
    """(median GPU ms per call over 3 rounds of `reps` launches, host us per call)."""
    for _ in range(3):
        launch(stream.ptr)
    stream.synchronize()
    gpu, host = [], []
    for _ in range(3):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        t0 = time.perf_counter()
        start.record(stream)
        for _ in range(reps):
            launch(stream.ptr)
        end.record(stream)
        t1 = time.perf_counter()
        end.synchronize()
        gpu.append(cp.cuda.get_elapsed_time(start, end) / reps)
        host.append((t1 - t0) / reps * 1e6)
    return statistics.median(gpu), statistics.median(host)


class CAI:
    """Only __cuda_array_interface__ (the extension's other import path)."""

    def __init__(self, a: Any) -> None:
        self.__cuda_array_interface__ = a.__cuda_array_interface__


def run_case(
    cp: Any,
    np: Any,
    kernel: str,
    case: str,
    size: str,
    cpu: Callable[[], Any],
    gpu: Callable[[Callable[[Any], Any], int], None],
    out: Any,
    nbytes: int,
    reps: int,
    tolerance: int = 0,
) -> dict[str, Any]:
    """cpu() -> expected host array; gpu(wrap, stream) launches into `out` (a CuPy array)."""
    r: dict[str, Any] = {"kernel": kernel, "case": case, "size": size, "tolerance": tolerance}
    device = cp.cuda.Device()
    try:
        device.synchronize()  # the inputs' copies (CuPy's stream) before this case's stream
        t0 = time.perf_counter()
        expected = cpu()
        r["cpu_ms"] = (time.perf_counter() - t0) * 1e3
        stream = cp.cuda.Stream(non_blocking=True)
        wrap: Callable[[Any], Any] = lambda a: a  # noqa: E731 - CuPy arrays as they are (DLPack)
        try:
            out.fill(0)
            device.synchronize()
            gpu(wrap, stream.ptr)
            stream.synchronize()
            r["interface"] = "dlpack"
        except Exception as e:
            r["dlpack_error"] = f"{type(e).__name__}: {e}"
            wrap = CAI
            out.fill(0)
            device.synchronize()
            gpu(wrap, stream.ptr)
            stream.synchronize()
            r["interface"] = "cuda_array_interface"
        got = cp.asnumpy(out)
        diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
        r["equal"] = bool(np.array_equal(got, expected))
        r["max_abs_diff"] = int(diff.max()) if diff.size else 0
        r["n_diff"] = int(np.count_nonzero(diff))
        r["ok"] = r["max_abs_diff"] <= tolerance and got.shape == expected.shape
        r["gpu_ms"], r["host_us"] = time_gpu(cp, lambda s: gpu(wrap, s), stream, reps)
        r["gb_per_s"] = nbytes / (r["gpu_ms"] * 1e-3) / 1e9
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        r["ok"] = False
    status = "ok" if r["ok"] else ("ERROR" if "error" in r else "MISMATCH")
    detail = (
        f"gpu {r['gpu_ms']:.4f} ms, host {r['host_us']:.1f} us, {r['gb_per_s']:.1f} GB/s, "
        f"max diff {r['max_abs_diff']}"
        if "gpu_ms" in r
        else r.get("error", "").splitlines()[0]
    )
    print(f"  {status:8s} {kernel:22s} {case:14s} {size:6s} {detail}", flush=True)
    return r


def float_cases(pp: Any, cp: Any, np: Any, size: str, reps: int) -> tuple[list[Any], Any]:
    """denormalize and point on float NCHW generator output (20% beyond [-1, 1]); also returns
    the 8-bit frames of that output for the frame cases."""
    n, h, w = SIZES[size]
    rng = np.random.default_rng(11)
    x32 = (rng.random((n, 3, h, w), dtype=np.float32) * 2.4 - 1.2).astype(np.float32)
    x16 = x32.astype(np.float16)
    d32, d16 = cp.asarray(x32), cp.asarray(x16)
    out3 = cp.empty((n, h, w, 3), cp.uint8)
    results = []
    for name, host, dev, order in (("f32 rgb", x32, d32, "rgb"), ("f16 bgr", x16, d16, "bgr")):
        results.append(
            run_case(
                cp, np, "denormalize_cuda", name, size,
                lambda host=host, order=order: pp.denormalize(host, -1.0, 1.0, order),
                lambda wrap, s, dev=dev, order=order: pp.denormalize_cuda(
                    wrap(dev), -1.0, 1.0, order, wrap(out3), s
                ),
                out3, host.nbytes + out3.nbytes, reps,
            )
        )  # fmt: skip
    for gamma in (False, True):
        prog, luts = program(np, gamma)
        dluts = [cp.asarray(t) for t in luts]
        results.append(
            run_case(
                cp, np, "point_cuda", "f32 lut+gamma" if gamma else "f32 lut", size,
                lambda prog=prog, luts=luts: pp.point(x32, prog, luts, "rgb", -1.0, 1.0),
                lambda wrap, s, prog=prog, dluts=dluts: pp.point_cuda(
                    wrap(d32), prog, [wrap(t) for t in dluts], "rgb", -1.0, 1.0, wrap(out3), s
                ),
                out3, x32.nbytes + out3.nbytes, reps, tolerance=1 if gamma else 0,
            )
        )  # fmt: skip
    return results, pp.denormalize(x32, -1.0, 1.0, "rgb")


def frame_cases(pp: Any, cp: Any, np: Any, size: str, reps: int, frames: Any) -> list[Any]:
    """point, separable_filter, unsharp, blend and otsu_masks on uint8 NHWC frames."""
    n, h, w = SIZES[size]
    rng = np.random.default_rng(12)
    dframes = cp.asarray(frames)
    out3 = cp.empty((n, h, w, 3), cp.uint8)
    prog, luts = program(np, False)
    dluts = [cp.asarray(t) for t in luts]
    results = [
        run_case(
            cp, np, "point_cuda", "u8 lut", size,
            lambda: pp.point(frames, prog, luts, "bgr"),
            lambda wrap, s: pp.point_cuda(
                wrap(dframes), prog, [wrap(t) for t in dluts], "bgr", -1.0, 1.0, wrap(out3), s
            ),
            out3, frames.nbytes + out3.nbytes, reps,
        )
    ]  # fmt: skip

    blur_x, blur_y = gaussian_taps(w, 2.0, np), gaussian_taps(h, 2.0, np)
    half_x, half_y = area_half_taps(w, np), area_half_taps(h, np)
    for name, (ix, wx), (iy, wy) in (("blur s=2", blur_x, blur_y), ("area 1/2", half_x, half_y)):
        tables = [cp.asarray(t) for t in (ix, wx, iy, wy)]
        tmp = cp.empty((n, h, len(ix), 3), cp.float32)
        fout = cp.empty((n, len(iy), len(ix), 3), cp.uint8)
        results.append(
            run_case(
                cp, np, "separable_filter_cuda", name, size,
                lambda ix=ix, wx=wx, iy=iy, wy=wy: pp.separable_filter(frames, ix, wx, iy, wy),
                lambda wrap, s, tables=tables, tmp=tmp, fout=fout: pp.separable_filter_cuda(
                    wrap(dframes), *[wrap(t) for t in tables], wrap(tmp), wrap(fout), s
                ),
                fout, frames.nbytes + 2 * tmp.nbytes + fout.nbytes, reps,
            )
        )  # fmt: skip

    blurred = pp.separable_filter(frames, *blur_x, *blur_y)
    dblurred = cp.asarray(blurred)
    results.append(
        run_case(
            cp, np, "unsharp_cuda", "a=0.7 t=2", size,
            lambda: pp.unsharp(frames, blurred, 0.7, 2.0),
            lambda wrap, s: pp.unsharp_cuda(
                wrap(dframes), wrap(dblurred), 0.7, 2.0, wrap(out3), s
            ),
            out3, 3 * frames.nbytes, reps,
        )
    )  # fmt: skip
    mask = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    dmask = cp.asarray(mask)
    results.append(
        run_case(
            cp, np, "blend_cuda", "random mask", size,
            lambda: pp.blend(frames, blurred, mask),
            lambda wrap, s: pp.blend_cuda(
                wrap(dframes), wrap(dblurred), wrap(dmask), wrap(out3), s
            ),
            out3, 3 * frames.nbytes + mask.nbytes, reps,
        )
    )  # fmt: skip
    hist = cp.empty((n, 256), cp.uint32)
    mout = cp.empty((n, h, w), cp.uint8)
    for dark in (False, True):
        results.append(
            run_case(
                cp, np, "otsu_masks_cuda", "dark" if dark else "light", size,
                lambda dark=dark: pp.otsu_masks(blurred, dark),
                lambda wrap, s, dark=dark: pp.otsu_masks_cuda(
                    wrap(dblurred), dark, wrap(hist), wrap(mout), s
                ),
                mout, 2 * blurred.nbytes + 2 * mout.nbytes, reps,
            )
        )  # fmt: skip
    return results


def cases(pp: Any, cp: Any, np: Any, size: str, reps: int) -> list[Any]:
    results, frames = float_cases(pp, cp, np, size, reps)
    cp.get_default_memory_pool().free_all_blocks()
    return results + frame_cases(pp, cp, np, size, reps, frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON + markdown")
    parser.add_argument("--sizes", default="small,hd", help="small (16x3x256x256), hd (1080p)")
    parser.add_argument("--reps", type=int, default=0, help="launches per timing round")
    args = parser.parse_args(argv)
    out = args.out or default_out()
    report: dict[str, Any] = {"tool": "bench_kernels_gpu", "python": platform.python_version()}

    try:
        import numpy as np
    except ImportError:
        print("bench_kernels_gpu: numpy is not installed; nothing to run.")
        report["skipped"] = "numpy not installed"
        write(out, report)
        return 0
    try:
        import cupy as cp
    except ImportError as e:
        print(f"bench_kernels_gpu: no cupy ({e}); the CUDA kernels need CuPy arrays. Skipped.")
        report["skipped"] = f"no cupy: {e}"
        write(out, report)
        return 0
    try:
        devices = cp.cuda.runtime.getDeviceCount()
    except Exception as e:
        devices, report["device_error"] = 0, f"{type(e).__name__}: {e}"
    if devices == 0:
        why = report.get("device_error", "no CUDA device")
        print(f"bench_kernels_gpu: no CUDA device ({why}). Skipped.")
        report["skipped"] = f"no CUDA device: {why}"
        write(out, report)
        return 0

    try:
        pp = load_postproc()
    except Exception as e:
        print(f"bench_kernels_gpu: cannot import imggen_rt._postproc: {type(e).__name__}: {e}")
        report["error"] = f"import: {type(e).__name__}: {e}"
        write(out, report)
        return 2
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    report["environment"] = {
        "device": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "sm": f"{props['major']}{props['minor']}",
        "driver": cp.cuda.runtime.driverGetVersion(),
        "cupy": cp.__version__,
        "numpy": np.__version__,
        "module": Path(getattr(pp, "__file__", "?")).name,  # no machine path in results
        "module_archs": pp.cuda_architectures(),
        "module_devices": pp.cuda_device_count(),
        "openmp_threads": pp.openmp_threads(),
    }
    print(f"bench_kernels_gpu: {report['environment']}")
    if not pp.built_with_cuda() or pp.cuda_device_count() == 0:
        why = "built without CUDA" if not pp.built_with_cuda() else "sees no usable device"
        print(f"bench_kernels_gpu: CuPy sees {devices} device(s) but the module {why}.")
        report["error"] = f"module {why}"
        write(out, report)
        return 2

    results = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        reps = args.reps or (20 if size == "small" else 5)
        print(f"size {size} {SIZES[size]}, {reps} launches per round:", flush=True)
        try:
            results += cases(pp, cp, np, size, reps)
        except Exception as e:
            error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
            results.append(
                {"kernel": "*", "case": "setup", "size": size, "ok": False, "error": error}
            )
            print(f"  ERROR setting up {size}: {type(e).__name__}: {e}")
        cp.get_default_memory_pool().free_all_blocks()
    report["results"] = results
    n_ok = sum(bool(r.get("ok")) for r in results)
    n_err = sum("error" in r for r in results)
    report["summary"] = {"cases": len(results), "ok": n_ok, "errors": n_err}
    write(out, report)
    print(f"bench_kernels_gpu: {n_ok} of {len(results)} cases ok, {n_err} errors")
    return 0 if n_ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
