"""The one exception type for errors a user can cause."""

from __future__ import annotations


class ImggenError(Exception):
    """Bad path, corrupt model, wrong shape, missing optional engine: a one-line message.

    The CLI prints the message (no traceback) and exits with status 2.
    """
