"""The one exception type for errors a user can cause."""

from __future__ import annotations


class ImggenError(ValueError):
    """Bad path, corrupt model, wrong shape, missing optional engine: a one-line message.

    The CLI prints the message (no traceback) and exits with status 2. It is a ValueError so
    callers that guard against bad input generically catch it too.
    """


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (libraries put tracebacks, remote
    stacks and hints after it), or the exception's type name when it has no message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
