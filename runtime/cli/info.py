"""`imggen-rt info MODEL`: the model card, the graph's inputs/outputs and its FLOPs."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "info",
        help="show a generator ONNX's model card, inputs/outputs and FLOPs",
        description="Read the model card from the ONNX metadata_props, check it against the "
        "graph, and print it with the graph's inputs/outputs and FLOPs per image.",
    )
    p.add_argument("model", type=Path, nargs="?", help="generator ONNX (default: bundled)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run)


def describe_model(path: Path) -> dict[str, Any]:
    from ..backend_factory import explain_auto
    from ..flops import count_flops
    from ..onnx_graph import graph_io, load_model, read_card

    model = load_model(path)
    card = read_card(model, path.name)
    inputs, outputs = graph_io(model)
    flops = count_flops(model)
    return {
        "path": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "size_bytes": path.stat().st_size,
        "opset": max(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0
        ),
        "card": card.to_dict(),
        "inputs": [t.to_dict() for t in inputs],
        "outputs": [t.to_dict() for t in outputs],
        "flops_per_image": sum(flops.values()),
        "flops_by_op": flops,
        "parameters": sum(math.prod(t.dims) for t in model.graph.initializer),
        "backend_auto": str(explain_auto(path)),
    }


def run(args: argparse.Namespace) -> int:
    from ..generator import default_model_path

    info = describe_model(args.model or default_model_path())
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    card = info["card"]
    table = Table(title=Path(info["path"]).name, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    h, w = card["resolution"]
    rows = [
        ("resolution", f"{h}x{w}, {card['channels']} channel(s)"),
        ("latent", str(card["latent_dim"])),
        ("output range", str(card["output_range"])),
        ("classes", ", ".join(card["class_names"]) or "none (unconditional)"),
        ("producer", card["producer"] or "?"),
        ("training data", card["training_data"] or "?"),
        ("parameters", f"{info['parameters'] / 1e6:.2f} M"),
        ("FLOPs / image", f"{info['flops_per_image'] / 1e9:.3f} G"),
        ("opset", str(info["opset"])),
        ("backend auto", info["backend_auto"]),
        ("sha256", info["sha256"][:16] + "..."),
    ]
    rows += [(f"input {t['name']}", _tensor(t)) for t in info["inputs"]]
    rows += [(f"output {t['name']}", _tensor(t)) for t in info["outputs"]]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0


def _tensor(t: dict[str, Any]) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in t["shape"])
    return f"{t['dtype']} ({dims})"
