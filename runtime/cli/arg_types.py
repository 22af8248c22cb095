"""Argument types shared by the verbs: a bad value is argparse's one-line usage error."""

from __future__ import annotations

import argparse


def add_format_argument(p: argparse.ArgumentParser) -> None:
    """--format for verbs that write image files under their inputs' names."""
    from ..image_jobs import IMAGE_SUFFIXES

    p.add_argument(
        "--format",
        choices=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES),
        help="output format (default: each input's own)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def port(text: str) -> int:
    """A TCP port to bind: 1..65535 (0 would bind a random one nobody can find)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port in 1..65535, got {value}")
    return value
