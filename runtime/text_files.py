"""Reading a user's text file (a chain, a .cube look) with bounds: a regular file, of at most
`max_bytes`, in UTF-8. /dev/zero, a 2 GB file or Latin-1 bytes are one line, never a hang, an
out-of-memory kill or a traceback."""

from __future__ import annotations

import stat
from pathlib import Path

from .errors import ImggenError


def read_text_file(path: Path, max_bytes: int, what: str, encoding: str = "utf-8") -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ImggenError(f"{what} {path} is not a regular file")
        if info.st_size > max_bytes:
            raise ImggenError(
                f"{what} {path} is {info.st_size / 2**20:.1f} MiB; at most "
                f"{max_bytes / 2**20:.0f} MiB"
            )
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # a file that grew since stat still stops here
    except FileNotFoundError:
        raise ImggenError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise ImggenError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > max_bytes:
        raise ImggenError(f"{what} {path} is larger than {max_bytes / 2**20:.0f} MiB")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ImggenError(f"{what} {path} is not UTF-8 text (byte {e.start})") from None


def clip(text: str, limit: int = 60) -> str:
    """`text` quoted for an error message, cut to `limit` characters (a 50 MB line is not
    echoed back)."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else quoted[: limit - 3] + "..."
