"""`imggen-rt import FOREIGN.onnx -o MODEL.onnx`: a card for a generator written elsewhere."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "import",
        help="add a model card to a generator ONNX exported elsewhere",
        description="Infer a generator's I/O contract from its graph (each input's role from "
        "its dtype, shape and name; the class count from its embedding table; the output's "
        "layout and value range by running fixed seeds on ONNX Runtime), print it with the "
        "evidence for each decision, and write a copy with the card (the input is never "
        "changed). Where the evidence is silent or contradictory, the error names the flag "
        "that settles it; flags always win over inference.",
    )
    add_contract_arguments(p)
    p.add_argument("model", type=Path, help="the generator ONNX to import")
    p.add_argument("-o", "--out", type=Path, required=True, help="the copy to write, with card")
    p.add_argument("--description", default="", help="free text for the model card")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(run=run)


def add_contract_arguments(p: Any) -> None:
    """The flags that state what the graph cannot (shared with `imggen-rt info`)."""
    g = p.add_argument_group("the contract, where the graph does not say")
    g.add_argument("--latent", metavar="NAME", help="the latent input")
    g.add_argument(
        "--class", dest="class_input", metavar="NAME[:ids|onehot]", help="the class input"
    )
    g.add_argument("--classes", help="class names, comma-separated, in class-id order")
    g.add_argument(
        "--noise",
        action="append",
        default=[],
        metavar="[NAME:]normal|zeros",
        help="noise inputs drawn per image from its seed (normal) or zeros; repeatable",
    )
    g.add_argument(
        "--scalar",
        action="append",
        default=[],
        metavar="NAME=DEFAULT",
        help="a knob input and its default, e.g. psi=0.7; repeatable",
    )
    g.add_argument("--output", metavar="NAME", help="the image output (several 4-D outputs)")
    g.add_argument("--layout", choices=("nchw", "nhwc"), help="the output's axis order")
    g.add_argument("--channel-order", choices=("rgb", "bgr"), help="the output's channel order")
    g.add_argument(
        "--colour-space",
        metavar="NAME",
        help="the output's OpenColorIO colour space, recorded in the card for ocio ops and EXR "
        "output (default: sRGB - Texture, what generators make)",
    )
    g.add_argument(
        "--output-range",
        default="auto",
        metavar="auto|-1:1|0:1|0:255|LOW:HIGH",
        help="the output's value range (auto: probed)",
    )


def class_names(text: str | None) -> tuple[str, ...] | None:
    """--classes a,b,c -> ("a", "b", "c"); None when not given."""
    if text is None:
        return None
    return tuple(n.strip() for n in text.split(",") if n.strip())


def options_from_args(args: argparse.Namespace) -> Any:
    from ..importer import ImportOptions

    return ImportOptions(
        latent=args.latent,
        class_input=args.class_input,
        class_names=class_names(args.classes),
        noise=tuple(args.noise),
        scalars=tuple(args.scalar),
        output=args.output,
        layout=args.layout,
        channel_order=args.channel_order,
        output_range=args.output_range,
        description=getattr(args, "description", ""),
        colour_space=getattr(args, "colour_space", None) or "",
    )


def run(args: argparse.Namespace) -> int:
    from ..importer import describe, import_model

    inferred = import_model(args.model, args.out, options_from_args(args))
    if args.json:
        print(json.dumps(inferred.card.to_dict(), indent=2))
        return 0
    for line in describe(inferred):
        print(line)
    print(f"wrote {args.out} (card version 2)")
    return 0
