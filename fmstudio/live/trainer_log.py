"""What went wrong in the training process, told twice: one line for the window, and the whole
traceback in a log file that the line names.

Each training process appends to its own file, `<temp>/fmstudio-logs/trainer-<pid>.log`, where
<temp> is `tempfile.gettempdir()` (TMPDIR, TEMP or TMP when set): it exists and is writable on
every platform without a new dependency, the system clears it, and the window knows its
process's pid even after the process has died, so a crash message can name the file too. The
file gets the traceback of every unexpected exception in engine code and, through
`faulthandler`, the Python stack of a hard crash (segfault, abort). Qt-free and torch-free: both
the training process and the window import it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

LOG_FOLDER = "fmstudio-logs"
"""The logs' folder in the temp directory: not `fmstudio`, which a script run from the temp
directory would import as an empty namespace package instead of the installed one."""


def log_path(pid: int | None = None) -> Path:
    """The log of the training process `pid` (this process by default)."""
    pid = os.getpid() if pid is None else pid
    return Path(tempfile.gettempdir()) / LOG_FOLDER / f"trainer-{pid}.log"


def internal_error(where: str, exc: BaseException, then: str = "") -> str:
    """Append `exc`'s traceback to this process's log; the one-line message for the window:
    where it happened, the exception's first line, what follows (`then`) and the log file."""
    detail = traceback.format_exception_only(exc)[0].strip().splitlines()[0]
    consequence = f"; {then}" if then else ""
    return f"Internal error in {where}: {detail}{consequence} ({_log_traceback(where, exc)})"


def _log_traceback(where: str, exc: BaseException) -> str:
    """Write the traceback; "details in <file>", or why it could not be written."""
    path = log_path()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {stamp} internal error in {where}\n")
            log.writelines(traceback.format_exception(exc))
    except OSError as error:
        return f"no details: cannot write {path}: {error.strerror or error}"
    return f"details in {path}"


@contextlib.contextmanager
def crash_log() -> Iterator[None]:
    """While the block runs, a hard crash writes its Python stack to this process's log; an
    empty log is removed at the end. Where faulthandler is on already (`python -X
    faulthandler`, pytest), whoever turned it on has chosen where crashes go: it is left be."""
    path = log_path()
    handle = None
    if not faulthandler.is_enabled():
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (faulthandler keeps it)
            faulthandler.enable(handle)
    try:
        yield
    finally:
        if handle is not None:
            faulthandler.disable()
            handle.close()
            remove_if_empty(path)


def remove_if_empty(path: Path) -> bool:
    """Remove a log with nothing in it (a process that ended without an error, or was killed
    before it could write); True when the log is gone or never was."""
    with contextlib.suppress(OSError):
        if path.stat().st_size > 0:
            return False
        path.unlink()
    return True


def crash_details(pid: int | None) -> str:
    """For the message about a dead process: " (details in <log>)" when its log holds something
    (faulthandler's stack of a crash), else "" (and the empty log is removed)."""
    if pid is None or remove_if_empty(log_path(pid)):
        return ""
    return f" (details in {log_path(pid)})"
