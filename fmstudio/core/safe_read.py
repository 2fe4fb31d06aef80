"""Opening a user's file without trusting it: a regular file, of a bounded size.

A path that should name a file may name a FIFO (opening it blocks until someone writes), a
device (`/dev/zero` never ends, `/dev/random` neither), a directory, or a file far larger than
what it claims to be. `open_regular` opens without blocking, checks what the descriptor it got
really is (so a swap of the path between a check and the open changes nothing), and refuses
anything but a regular file of at most `max_bytes`. `read_capped` reads such a file whole.
A file that grows while being read is cut at `max_bytes + 1` bytes, which the caller sees as
"too large". Every refusal is a `FileRefused` whose message is the reason without the path:
each layer wraps it in its own error class, which names the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


class FileRefused(ValueError):
    """A path that is not a regular file, or a file over its size limit (message: the reason)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def describe_size(count: int) -> str:
    """Bytes as a person reads them: '3.2 GiB', '512 KiB', '17 bytes'."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if count >= unit:
            return f"{count / unit:.1f} {name}"
    return f"{count} bytes"


def open_regular(path: str | os.PathLike[str], max_bytes: int) -> BinaryIO:
    """A binary handle on `path` if it is a regular file of at most `max_bytes`, else
    FileRefused; OSError (missing, unreadable) passes through for the caller to describe."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(os.fspath(path), flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{_kind(info.st_mode)}, expected a regular file")
        if info.st_size > max_bytes:
            raise FileRefused(
                f"{describe_size(info.st_size)}, more than the {describe_size(max_bytes)} "
                "such a file may hold"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`)."""
    with open_regular(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"grew past {describe_size(max_bytes)} while being read")
    return data


def regular_size(path: str | os.PathLike[str]) -> int:
    """The size of a regular file (following links), else FileRefused; OSError passes."""
    info = Path(path).stat()
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{_kind(info.st_mode)}, expected a regular file")
    return info.st_size
