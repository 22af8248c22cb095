"""Dynamic batching measured: `imggen-rt serve` under wrk at several concurrencies.

Two servers on the same model, one after the other: batching (--max-batch 16 --max-wait-ms 5)
and batch 1 (--max-batch 1 --max-wait-ms 0). For each, Debian's `wrk` posts one-image PNG
requests at concurrency 1, 8 and 32 and reports requests/s and the latency distribution.
Writes <out-dir>/serve.json and serve.md. wrk and the server share this machine's cores, so
the absolute numbers undersell a real deployment; the batching/batch-1 ratio is the result.

    python benchmarks/bench_serve.py [MODEL] [--duration 10] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

MODES = {
    "batching": ["--max-batch", "16", "--max-wait-ms", "5"],
    "batch-1": ["--max-batch", "1", "--max-wait-ms", "0"],
}
CONCURRENCY = (1, 8, 32)
LUA = """wrk.method = "POST"
wrk.body = '{"seeds": [7]}'
wrk.headers["Content-Type"] = "application/json"
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: str | None, options: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "imggen_rt.cli.main", "serve", "--port", str(port), *options]
    if model:
        cmd += ["-m", model]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def parse_wrk(text: str) -> dict[str, float]:
    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}  # type: ignore[union-attr]
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        result[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="generator ONNX (default: bundled)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA)
        for mode, options in MODES.items():
            proc, url = start_server(args.model, options)
            try:
                results[mode] = {}
                for c in CONCURRENCY:
                    cmd = ["wrk", "-t1", f"-c{c}", f"-d{args.duration}s", "--latency"]
                    out = subprocess.run(
                        [*cmd, "-s", str(script), f"{url}/v1/generate"],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    results[mode][str(c)] = parse_wrk(out)
                    print(mode, c, results[mode][str(c)], flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)

    b32, one32 = results["batching"]["32"], results["batch-1"]["32"]
    summary = {
        "throughput_ratio_c32": b32["requests_per_s"] / one32["requests_per_s"],
        "p99_ratio_c32": b32["p99_ms"] / one32["p99_ms"],
    }
    report = {
        "benchmark": "serve",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        "model": Path(args.model).name if args.model else "bundled default",
        "duration_s": args.duration,
        "modes": MODES,
        "results": results,
        "summary": summary,
        "goal": "batching >= 3x throughput at concurrency 32 with p99 <= 2x the batch-1 p99",
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "serve.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Serving benchmark",
        "",
        f"`python benchmarks/bench_serve.py --duration {args.duration}` on {report['date']}, "
        f"{report['machine']} (wrk and the server share them). One-image PNG requests.",
        "",
        "| mode | concurrency | req/s | p50 ms | p90 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, by_c in results.items():
        for c, r in by_c.items():
            lines.append(
                f"| {mode} | {c} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']:.0f} |"
            )
    lines += [
        "",
        f"At concurrency 32: batching gives {summary['throughput_ratio_c32']:.2f}x the batch-1 "
        f"throughput at {summary['p99_ratio_c32']:.2f}x its p99 (goal: >= 3x at <= 2x).",
        "",
    ]
    (args.out_dir / "serve.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
