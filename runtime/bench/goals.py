"""The issue's goals, checked against one report: ratios measured side by side in one run."""

from __future__ import annotations

from typing import Any

SUBJECT = "auto"  # what a user gets by default


def _find(model: dict[str, Any], contender: str, batch: int) -> dict[str, Any] | None:
    found: dict[str, Any] | None = next(
        (r for r in model["results"] if r["contender"] == contender and r["batch"] == batch),
        None,
    )
    return found


def _median(r: dict[str, Any], key: str) -> float:
    return float(r[key]["median"])


def evaluate_goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per goal x model x batch that this report can judge."""
    goals: list[dict[str, Any]] = []

    def add(model: dict[str, Any], batch: int, goal: str, value: float, target: float) -> None:
        at_least = not goal.startswith("end to end")
        met = value >= target if at_least else value <= target
        goals.append(
            {
                "goal": goal,
                "model": model["label"],
                "batch": batch,
                "value": round(value, 3),
                "target": (">= " if at_least else "<= ") + f"{target:g}",
                "met": met,
            }
        )

    for model in report["models"]:
        for batch in model["config"]["batches"]:
            ours = _find(model, SUBJECT, batch)
            if ours is None:
                continue
            torch = _find(model, "torch-eager", batch)
            if torch is not None and (batch == 1 or batch >= 16):
                target = 3.0 if batch == 1 else 1.5
                value = _median(torch, "infer_ms") / _median(ours, "infer_ms")
                add(model, batch, "auto vs torch eager (inference speed-up)", value, target)
            direct = _find(model, "openvino-direct", batch)
            if direct is not None:
                value = _median(direct, "infer_ms") / _median(ours, "infer_ms")
                add(model, batch, "auto vs OpenVINO direct (inference speed)", value, 0.95)
            big = model["card"]["resolution"][0] >= 256
            if direct is not None and big and batch >= 16:
                value = _median(direct, "infer_ms") / _median(ours, "latency_ms")
                add(model, batch, "auto end to end vs OpenVINO FP32 direct", value, 3.0)
            torch_bf16 = _find(model, "torch-bf16", batch)
            if torch_bf16 is not None and big and batch >= 16:
                value = _median(torch_bf16, "infer_ms") / _median(ours, "latency_ms")
                add(model, batch, "auto end to end vs torch bf16 autocast", value, 1.5)
            if "infer_share_of_bf16_matmul" in ours and big and batch >= 16:
                share = float(ours["infer_share_of_bf16_matmul"])
                add(model, batch, "inference GFLOP/s share of measured bf16 matmul", share, 0.5)
            if batch >= 16:
                value = _median(ours, "latency_ms") / _median(ours, "infer_ms")
                add(model, batch, "end to end / inference alone", value, 1.1)
                if model["card"]["resolution"][0] >= 256:
                    add(
                        model,
                        batch,
                        "inference GFLOP/s share of measured matmul",
                        float(ours["infer_share_of_matmul"]),
                        0.8,
                    )
    return goals
