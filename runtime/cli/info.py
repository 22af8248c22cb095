"""`imggen-rt info MODEL`: the model card, the graph's inputs/outputs and its FLOPs."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .import_model import add_contract_arguments, options_from_args


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "info",
        help="show a generator ONNX's model card, inputs/outputs and FLOPs",
        description="Read the model card from the ONNX metadata_props, check it against the "
        "graph, and print it with the graph's inputs/outputs and FLOPs per image. A model "
        "without a card shows the contract `imggen-rt import` would infer for it (the "
        "contract flags apply); nothing is written.",
    )
    p.add_argument("model", type=Path, nargs="?", help="generator ONNX (default: bundled)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    add_contract_arguments(p)
    p.set_defaults(run=run)


def describe_model(path: Path, options: Any = None) -> dict[str, Any]:
    """What `info` shows. A model without a card gets the contract the importer infers
    (`card_source: inferred`, with its evidence); nothing is written."""
    from ..backend_factory import explain_auto
    from ..card import PREFIX
    from ..flops import count_flops
    from ..importer import ImportOptions, infer_contract
    from ..onnx_graph import graph_io, load_model, metadata, read_card

    model = load_model(path)
    evidence: list[str] = []
    if any(key.startswith(PREFIX) for key in metadata(model)):
        card, source = read_card(model, path.name), "model"
    else:
        inferred = infer_contract(path, options or ImportOptions())
        card, source, evidence = inferred.card, "inferred", inferred.evidence
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
        "card_source": source,
        "evidence": evidence,
        "inputs": [t.to_dict() for t in inputs],
        "outputs": [t.to_dict() for t in outputs],
        "flops_per_image": sum(flops.values()),
        "flops_by_op": flops,
        "parameters": sum(math.prod(t.dims) for t in model.graph.initializer),
        "backend_auto": str(explain_auto(path)) if source == "model" else None,
    }


def describe_image_model(path: Path) -> dict[str, Any]:
    """What `info` shows for an image-to-image model: what the runtime probed or its card
    states, and the graph's size."""
    from ..image_model import ImageModel
    from ..onnx_graph import load_model

    image_model = ImageModel(path)
    described = image_model.describe()
    described.pop("engines")  # none loaded: info runs nothing
    card = image_model.spec.card
    return {
        "path": str(path),
        "kind": "image-to-image",
        **described,
        "description": card.description if card else "",
        "parameters": sum(math.prod(t.dims) for t in load_model(path).graph.initializer),
    }


def run(args: argparse.Namespace) -> int:
    from ..bundled import resolve_model
    from ..image_card import is_image_model
    from ..onnx_graph import graph_io, load_model

    path = resolve_model(args.model)
    if is_image_model(graph_io(load_model(path, load_weights=False))[0]):
        return _show_image_model(describe_image_model(path), args.json)
    info = describe_model(path, options_from_args(args))
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
        ("backend auto", info["backend_auto"] or "- (no card yet: `imggen-rt import` it)"),
        ("sha256", info["sha256"][:16] + "..."),
    ]
    roles = {spec["name"]: _role(spec) for spec in card["inputs"]}
    rows += [(f"input {t['name']}", f"{_tensor(t)}: {roles[t['name']]}") for t in info["inputs"]]
    out = card["output"]
    for t in info["outputs"]:
        if out["name"] in (None, t["name"]):
            rows.append(
                (f"output {t['name']}", f"{_tensor(t)}: {out['layout']}, {out['channel_order']}")
            )
    if info["card_source"] == "inferred":
        table.title = f"{table.title} (no card: the contract `imggen-rt import` would infer)"
        rows += [("why", line) for line in info["evidence"]]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0


def _role(spec: dict[str, Any]) -> str:
    detail = spec.get("encoding") or spec.get("mode") or ""
    if spec["role"] == "scalar":
        detail = f"default {spec['default']:g}"
    return f"{spec['role']} ({detail})" if detail else spec["role"]


def _tensor(t: dict[str, Any]) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in t["shape"])
    return f"{t['dtype']} ({dims})"


def _show_image_model(info: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{Path(info['path']).name} (image-to-image)", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    reach = info["receptive_field"]
    rows = [
        ("scale", f"x{info['scale']}"),
        ("channels", " -> ".join(map(str, info["channels"]))),
        (
            "input sides",
            f"a multiple of {info['multiple']}"
            + (f", static {info['static_tile']} px" if info["static_tile"] else ""),
        ),
        (
            "value ranges",
            "in {0[0]:g}:{0[1]:g}, out {1[0]:g}:{1[1]:g}".format(
                info["input_range"], info["output_range"]
            ),
        ),
        ("scalar knobs", ", ".join(f"{k}={v:g}" for k, v in info["scalars"].items()) or "none"),
        ("receptive field", "unknown" if reach is None else f"{reach} px"),
        ("tileable", "yes" if info["tileable"] else f"no: {info['not_tileable']}"),
        ("card", "yes" if info["card"] else "no (probed at load: `imggen-rt import` stores it)"),
        ("description", info["description"] or "-"),
        ("parameters", f"{info['parameters'] / 1e6:.3f} M"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0
