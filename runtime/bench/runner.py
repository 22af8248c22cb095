"""Runs the contenders side by side and turns their samples into one report (a dict).

Method, in the order it runs for each model:
1. every contender starts in its own worker process (load time recorded; one that cannot run
   here is listed as skipped with its one-line reason);
2. every contender computes the same two images; its max abs difference from the reference
   (plain ONNX Runtime) is recorded, and torch numbers are refused when its weights are not
   the ONNX's (difference > 1e-3);
3. per batch size: each contender warms up, then all are timed in interleaved rounds of about
   half a second each until every one has had `duration` seconds, so slow drifts in machine
   load hit them alike;
4. peak RSS per worker; cold start (import + load + first image) in a fresh process per
   imggen-rt backend; the machine's matmul and copy rates before and after.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import ImggenError
from .config import IMGGEN_BACKENDS, BenchConfig
from .contenders import STAGES
from .machine import describe_machine, measure_limits
from .stats import CV_WARNING, rounded, summarize

SCHEMA = "imggen-rt-bench/1"
ROUND_S = 0.5
# FP32 contenders only: `auto` may run a lower-precision engine.
REFERENCE_ORDER = ("ort-default", "ort", "openvino-direct", "openvino")
SAME_WEIGHTS_TOLERANCE = 1e-3
# Host work (latents, post-process) or copies above this share of an end-to-end iteration is
# flagged: the goal is seeds -> frames within 1.1x of inference alone.
BOUND_SHARE = 0.10


class Worker:
    """A contender's process: JSON commands in, JSON answers out."""

    def __init__(self, name: str, config: BenchConfig) -> None:
        self.name = name
        spec = {
            "name": name,
            "model": str(config.model),
            "threads": config.threads,
            "torch_checkpoint": str(config.torch_checkpoint) if config.torch_checkpoint else None,
        }
        # A file, not a pipe: a chatty library could fill a pipe nobody reads and block.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imggen_rt.bench.worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        hello = self._read()
        self.skipped: str | None = hello.get("skipped")
        self.load_s: float = float(hello.get("load_s", 0.0))
        self.describe: dict[str, Any] = hello.get("describe", {})

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"exit status {self.proc.returncode}"
            return {"skipped": f"worker died: {why}"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if "skipped" in answer:
            raise ImggenError(f"{self.name}: {answer['skipped']}")
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def run_suite(configs: Sequence[BenchConfig], progress: bool = False) -> dict[str, Any]:
    """The whole report for one or more models (see docs/bench_schema.md)."""
    from .goals import evaluate_goals

    machine = describe_machine()
    limits_before = measure_limits()
    models = [run_model(c, progress) for c in configs]
    limits_after = measure_limits()
    bf16 = [
        v for v in (limits_before["bf16_matmul_gflops"], limits_after["bf16_matmul_gflops"]) if v
    ]
    limits = {
        "matmul_gflops": max(
            limits_before["matmul_gflops"] or 0, limits_after["matmul_gflops"] or 0
        ),
        "bf16_matmul_gflops": max(bf16) if bf16 else None,
        "copy_gbps": max(limits_before["copy_gbps"] or 0, limits_after["copy_gbps"] or 0),
        "before": limits_before,
        "after": limits_after,
        "method": "float32 2048x2048 matmul with numpy's BLAS and bf16 with torch (best of 5, "
        "2n^3 FLOPs); "
        "np.copyto of 256 MiB on one thread (best of 5, read+write bytes); the higher of the "
        "measurements before and after the run",
    }
    for model in models:
        _add_machine_shares(model, limits)
    machine["load_average_1min_at_end"] = round(_loadavg(), 2)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "machine": machine,
        "limits": limits,
        "models": models,
    }
    report["goals"] = evaluate_goals(report)
    return report


def _loadavg() -> float:
    import os

    return os.getloadavg()[0]


def run_model(config: BenchConfig, progress: bool = False) -> dict[str, Any]:
    from ..flops import count_flops
    from ..onnx_graph import load_model, read_card

    onnx_model = load_model(config.model)
    card = read_card(onnx_model, config.model.name)
    flops = sum(count_flops(onnx_model).values())
    del onnx_model

    workers: dict[str, Worker] = {}
    skipped: dict[str, str] = {}
    contenders: dict[str, dict[str, Any]] = {}
    try:
        for name in config.backends:
            worker = Worker(name, config)
            if worker.skipped is not None:
                skipped[name] = worker.skipped
                worker.close()
                continue
            workers[name] = worker
            contenders[name] = {
                "kind": "imggen-rt" if name in IMGGEN_BACKENDS else "peer",
                "load_s": round(worker.load_s, 3),
                "describe": worker.describe,
            }
        _check_outputs(workers, contenders, skipped)
        results = _time_all(workers, config, progress)
        for name, worker in workers.items():
            contenders[name]["peak_rss_bytes"] = worker.ask(cmd="rss")["peak_rss_bytes"]
    finally:
        for worker in workers.values():
            worker.close()

    cold = {}
    if config.cold_start:
        for name in workers:
            if name in IMGGEN_BACKENDS:
                cold[name] = cold_start(config.model, name)
    return {
        "label": config.label or config.model.stem,
        "model": config.model.name,
        "card": {
            "resolution": [card.height, card.width],
            "channels": card.channels,
            "latent_dim": card.latent_dim,
            "classes": card.num_classes,
        },
        "flops_per_image": flops,
        "config": {
            "batches": list(config.batches),
            "warmup_s": config.warmup_s,
            "duration_s": config.duration_s,
            "round_s": ROUND_S,
            "threads": config.threads,
        },
        "contenders": contenders,
        "skipped": skipped,
        "results": results,
        "cold_start": cold,
    }


def _check_outputs(
    workers: dict[str, Worker], contenders: dict[str, dict[str, Any]], skipped: dict[str, str]
) -> None:
    """Every contender computes the same images; torch on other weights is refused."""
    outputs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, worker in workers.items():
            path = Path(tmp) / f"{name}.npy"
            worker.ask(cmd="probe", out=str(path))
            outputs[name] = np.load(path)
    reference = next((n for n in REFERENCE_ORDER if n in outputs), None)
    if reference is None:
        return
    for name, out in outputs.items():
        same_shape = out.shape == outputs[reference].shape
        diff = float(np.abs(out - outputs[reference]).max()) if same_shape else float("inf")
        contenders[name]["max_abs_diff"] = diff
        contenders[name]["diff_reference"] = reference
        contenders[name]["psnr_db"] = _psnr(outputs[reference], out) if same_shape else None
        if name == "torch-eager" and not diff <= SAME_WEIGHTS_TOLERANCE:
            skipped[name] = (
                f"the checkpoint's images differ from the ONNX's by {diff:.3g} "
                f"(> {SAME_WEIGHTS_TOLERANCE:g}): not the same weights"
            )
            workers.pop(name).close()
            del contenders[name]


def _psnr(reference: np.ndarray, test: np.ndarray) -> float | str:
    """PSNR over the reference's own span (the probe's images), 'inf' when identical."""
    from ..metrics import psnr

    span = float(reference.max() - reference.min()) or 1.0
    value = psnr(reference, test, span)
    return round(value, 1) if np.isfinite(value) else "inf"


def _time_all(
    workers: dict[str, Worker], config: BenchConfig, progress: bool
) -> list[dict[str, Any]]:
    rounds = max(1, math.ceil(config.duration_s / ROUND_S))
    slice_s = config.duration_s / rounds
    samples: dict[tuple[str, int], dict[str, list[float]]] = {}
    steps = len(config.batches) * (rounds + 1) * len(workers)
    bar = _progress(progress, config.label or config.model.stem, steps)
    try:
        for batch in config.batches:
            for worker in workers.values():
                worker.ask(cmd="run", batch=batch, seconds=config.warmup_s, min_reps=1)
                bar.advance()
            for _ in range(rounds):
                for name, worker in workers.items():
                    got = worker.ask(cmd="run", batch=batch, seconds=slice_s, min_reps=1)
                    into = samples.setdefault((name, batch), {})
                    for stage, ms in got["samples"].items():
                        into.setdefault(stage, []).extend(ms)
                    bar.advance()
    finally:
        bar.close()
    return [
        _result(name, batch, stage_ms, name in IMGGEN_BACKENDS)
        for (name, batch), stage_ms in samples.items()
    ]


def _result(
    name: str, batch: int, stage_ms: dict[str, list[float]], end_to_end: bool
) -> dict[str, Any]:
    total = summarize(stage_ms["total"])
    infer = summarize(stage_ms["infer"])
    stages = {s: (float(np.mean(stage_ms[s])) if s in stage_ms else None) for s in STAGES}
    warnings = []
    if total["cv"] > CV_WARNING:
        warnings.append(
            f"unstable: latency CV {total['cv']:.1%} > {CV_WARNING:.1%} (a busy machine?)"
        )
    host = (stages["latents"] or 0.0) + (stages["postprocess"] or 0.0)
    copies = (stages["h2d"] or 0.0) + (stages["d2h"] or 0.0)
    if end_to_end and host > BOUND_SHARE * total["mean"]:
        warnings.append(f"host-bound: latents + post-process take {host / total['mean']:.0%}")
    if copies > BOUND_SHARE * total["mean"]:
        warnings.append(f"copy-bound: host<->device copies take {copies / total['mean']:.0%}")
    return {
        "contender": name,
        "batch": batch,
        "scope": "seeds -> uint8 frames" if end_to_end else "inference alone",
        "iterations": total["n"],
        "images_per_s": round(batch * 1e3 / total["mean"], 2),
        "latency_ms": rounded(total),
        "infer_ms": rounded(infer),
        "stages_mean_ms": {k: (None if v is None else round(v, 4)) for k, v in stages.items()},
        "warnings": warnings,
    }


def _add_machine_shares(model: dict[str, Any], limits: dict[str, Any]) -> None:
    """Each result's inference GFLOP/s, and that as a share of the measured matmul rate."""
    flops = model["flops_per_image"]
    for r in model["results"]:
        seconds = r["infer_ms"]["median"] / 1e3
        gflops = flops * r["batch"] / seconds / 1e9 if seconds > 0 else 0.0
        r["infer_gflops"] = round(gflops, 2)
        r["infer_share_of_matmul"] = round(gflops / limits["matmul_gflops"], 4)
        if limits.get("bf16_matmul_gflops"):
            r["infer_share_of_bf16_matmul"] = round(gflops / limits["bf16_matmul_gflops"], 4)


COLD_START = """
import json, sys, time
t0 = time.perf_counter()
import imggen_rt
t1 = time.perf_counter()
gen = imggen_rt.load(sys.argv[1], backend=sys.argv[2])
t2 = time.perf_counter()
gen.generate(seeds=[0], batch_size=1)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_image_s": t3 - t2,
                  "backend": gen.backend.name}))
"""


def cold_start(model: Path, backend: str) -> dict[str, Any]:
    """import + load + first image in a fresh interpreter; also the process's whole wall time."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START, str(model), backend],
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {done.returncode}"}
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in got.items()}
    out["total_s"] = round(got["import_s"] + got["load_s"] + got["first_image_s"], 3)
    out["process_wall_s"] = round(wall, 3)
    return out


class _Bar:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _progress(show: bool, label: str, total: int) -> _Bar:
    if not show:
        return _Bar(None, None)
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    bar.start()
    return _Bar(bar, bar.add_task(f"bench {label}", total=total))
