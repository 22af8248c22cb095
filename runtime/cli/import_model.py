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
        "that settles it; flags always win over inference. An image-to-image model (one NCHW "
        "image input: an upscaler, a restorer) gets an image card instead: its scale, "
        "spatial multiple, receptive field and tileability measured, its value ranges from "
        "the flags below (0:1 unless given).",
    )
    add_contract_arguments(p)
    image = p.add_argument_group("image-to-image models")
    image.add_argument(
        "--input-range",
        metavar="LOW:HIGH",
        help="the values the model takes (default 0:1, the Real-ESRGAN convention)",
    )
    image.add_argument(
        "--receptive-field",
        type=int,
        metavar="PX",
        help="context pixels per side each output pixel needs (default: measured); stating "
        "it also declares the model tileable",
    )
    image.add_argument(
        "--not-tileable",
        metavar="REASON",
        help="the model must see whole frames (e.g. 'global colour statistics')",
    )
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
        help="the output's value range (auto: probed for generators, 0:1 for image models)",
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
    from ..image_card import is_image_model
    from ..importer import describe, import_model
    from ..onnx_graph import graph_io, load_model

    if is_image_model(graph_io(load_model(args.model, load_weights=False))[0]):
        return _import_image_model(args)

    inferred = import_model(args.model, args.out, options_from_args(args))
    if args.json:
        print(json.dumps(inferred.card.to_dict(), indent=2))
        return 0
    for line in describe(inferred):
        print(line)
    print(f"wrote {args.out} (card version 2)")
    return 0


def _import_image_model(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from ..errors import ImggenError
    from ..image_card import ImageCard, write_image_card
    from ..image_model import ImageModel
    from .enhance import value_range
    from .knob_args import parse_knobs

    def given_range(text: str | None, flag: str) -> tuple[float, float] | None:
        if text is None or text == "auto":
            return None
        try:
            return value_range(text)
        except argparse.ArgumentTypeError as e:
            raise ImggenError(f"{flag}: {e}") from None

    if args.receptive_field is not None and args.not_tileable:
        raise ImggenError("--receptive-field declares the model tileable: drop --not-tileable")
    ranges = (
        given_range(args.input_range, "--input-range"),
        given_range(args.output_range, "--output-range"),
    )
    model = ImageModel(args.model, *ranges, scalars=parse_knobs(args.scalar))
    s = model.spec
    card = replace(
        s.card or ImageCard(),
        input_range=s.input_range,
        output_range=s.output_range,
        receptive_field=s.receptive_field,
        not_tileable=s.not_tileable,
        description=args.description or (s.card.description if s.card else ""),
        scalars=s.scalars,
    )
    if args.receptive_field is not None:
        card = replace(card, receptive_field=args.receptive_field, not_tileable="")
    if args.not_tileable:
        card = replace(card, not_tileable=args.not_tileable)
    write_image_card(args.model, args.out, card)
    if args.json:
        print(json.dumps({**model.describe(), "card": asdict(card)}, indent=2))
        return 0
    measured = "stated" if args.receptive_field is not None else "measured"
    reach = "unknown" if card.receptive_field is None else f"{card.receptive_field} px"
    print(
        f"image-to-image model: x{s.scale}, {s.channels} -> {s.out_channels} channels, "
        f"input sides a multiple of {s.multiple}"
        + (f", static {s.static_side} px tiles" if s.static_side else "")
    )
    print(
        f"receptive field: {reach} ({measured}); "
        + (f"not tileable: {card.not_tileable}" if card.not_tileable else "tileable")
    )
    for name, value in card.scalars.items():
        print(f"scalar {name}: default {value:g}")
    for name, (low, high) in (("input", card.input_range), ("output", card.output_range)):
        print(
            f"{name} range: {low:g}:{high:g}"
            + (
                " (assumed: set it if the model differs)"
                if ranges[name == "output"] is None and s.card is None
                else ""
            )
        )
    print(f"wrote {args.out} (image-model card)")
    return 0
