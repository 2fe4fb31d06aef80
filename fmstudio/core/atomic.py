"""Atomic file writes: a reader, a crash or Ctrl-C never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call `write(handle)` on a new temp file beside `path`, fsync it, then rename it over `path`.

    The temp file lives in the same directory so `os.replace` is a single rename on the same
    file system; it is created with the usual permissions (umask applies) and removed on error.
    An OSError names `path` (a full disk, a read-only folder), not the temp file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # name the file the user asked for, not our temp file
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(target)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
