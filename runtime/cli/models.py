"""`imggen-rt models`: the generators shipped with the package, usable by name (`-m emoji64`)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "models",
        help="list the bundled generators (use them with -m NAME)",
        description="The generators shipped inside the package: every verb that takes -m "
        "MODEL takes one of these names as well as an ONNX path.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run)


def bundled_models() -> list[dict[str, Any]]:
    from ..bundled import BUNDLED, DEFAULT_MODEL
    from ..onnx_graph import card_of_file

    rows = []
    for model in BUNDLED.values():
        row: dict[str, Any] = {
            "name": model.name,
            "kind": model.kind,
            "default": model.name == DEFAULT_MODEL,
            "installed": model.installed,
            "summary": model.summary,
        }
        if model.installed and model.kind == "image-to-image":
            from ..image_model import ImageModel

            spec = ImageModel(model.path).spec
            row.update(resolution=f"x{spec.scale}", channels="RGB", classes=[])
        elif model.installed:
            card = card_of_file(model.path)
            row.update(
                resolution=f"{card.width}x{card.height}",
                channels={1: "grey", 3: "RGB", 4: "RGBA"}[card.channels],
                classes=list(card.class_names),
            )
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = bundled_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table("name", "size", "channels", "classes", "about")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        if not row["installed"]:
            table.add_row(name, "-", "-", "-", row["summary"] + " [not in this install]")
            continue
        classes = ", ".join(row["classes"]) or "-"
        table.add_row(name, row["resolution"], row["channels"], classes, row["summary"])
    Console().print(table)
    return 0
