"""One contender in its own process, driven by the benchmark over a pipe.

Each contender gets a process of its own so that its thread pools, allocator and peak RSS are
its own: ONNX Runtime, OpenVINO (TBB) and torch (OpenMP) each keep worker threads, and in one
process they would compete and share one RSS. Commands are JSON lines on stdin; answers go to
a private copy of the original stdout, and fd 1 is pointed at stderr so whatever a library
prints cannot corrupt the protocol.

    {"cmd": "run", "batch": B, "seconds": S, "min_reps": N} -> {"samples": {stage: [ms...]}}
    {"cmd": "probe", "out": PATH}                           -> {"ok": true} (writes .npy)
    {"cmd": "rss"}                                          -> {"peak_rss_bytes": int}
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def serve(spec: dict[str, Any], reply: TextIO) -> None:
    from ..errors import ImggenError, first_line
    from .contenders import make_contender, probe_inputs
    from .machine import peak_rss_bytes

    def send(obj: dict[str, Any]) -> None:
        reply.write(json.dumps(obj) + "\n")
        reply.flush()

    t0 = time.perf_counter()
    try:
        checkpoint = spec.get("torch_checkpoint")
        contender = make_contender(
            spec["name"],
            Path(spec["model"]),
            spec.get("threads"),
            Path(checkpoint) if checkpoint else None,
        )
    except ImggenError as e:
        send({"skipped": str(e)})
        return
    except Exception as e:  # a peer library failing in its own way is a skip, with its words
        first = first_line(e)
        send({"skipped": f"{type(e).__name__}: {first}"})
        return
    send({"ready": True, "load_s": time.perf_counter() - t0, "describe": contender.describe()})

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            contender.prepare(int(cmd["batch"]))
            samples: dict[str, list[float]] = {}
            deadline = time.perf_counter() + float(cmd["seconds"])
            reps = 0
            while reps < int(cmd.get("min_reps", 1)) or time.perf_counter() < deadline:
                for stage, ms in contender.step().items():
                    samples.setdefault(stage, []).append(ms)
                reps += 1
            send({"samples": samples})
        elif cmd["cmd"] == "probe":
            import numpy as np

            np.save(cmd["out"], contender.probe(probe_inputs(contender.card)))
            send({"ok": True})
        elif cmd["cmd"] == "rss":
            send({"peak_rss_bytes": peak_rss_bytes()})


def main() -> None:
    spec = json.loads(sys.argv[1])
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(spec, reply)


if __name__ == "__main__":
    main()
