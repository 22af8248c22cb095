"""`imggen-rt <verb>`: each verb lives in its own module with `add_parser` and `run`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ImggenError
from . import (
    bench,
    build,
    enhance,
    generate,
    import_model,
    info,
    models,
    postprocess,
    serve,
    training,
    triton,
    video,
)

VERBS = (
    generate,
    postprocess,
    enhance,
    info,
    models,
    import_model,
    build,
    bench,
    serve,
    triton,
    video,
    *training.VERBS,
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="imggen-rt",
        description="Generate images from a generator ONNX, fast and reproducibly by seed; "
        "train and export such generators (train extra).",
    )
    parser.add_argument("--version", action="version", version=f"imggen-rt {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(verbs)
    return parser


# Options whose values may start with '-' (a range such as -1:1), which argparse would take for
# an option of its own: `--output-range -1:1` is read as `--output-range=-1:1`.
DASHED_VALUES = ("--output-range", "--input-range")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_join_dashed_values(sys.argv[1:] if argv is None else argv))
    try:
        result: int = args.run(args)
    except ImggenError as e:
        print(f"imggen-rt: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imggen-rt: interrupted", file=sys.stderr)
        return 130
    return result


def _join_dashed_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in DASHED_VALUES:
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
