"""The one exception type for errors a user can cause."""

from __future__ import annotations


class ImggenError(ValueError):
    """Bad path, corrupt model, wrong shape, missing optional engine: a one-line message.

    The CLI prints the message (no traceback) and exits with status 2. It is a ValueError so
    callers that guard against bad input generically catch it too.
    """
