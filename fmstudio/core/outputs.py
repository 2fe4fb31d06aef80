"""Where a command writes: never over a user's work by surprise, never half a result.

- A run directory (`train`, `reflow`, `compare --out`) must be new or empty; one that holds
  something is replaced only with `--overwrite` (and then only at the first save: until then
  the old run still loads). A run never writes into the folder it reads from (`reflow`).
- A result file (`sample --out x.npy`, `data --out`) must not exist, unless `--overwrite`.
- A result folder (`sample --out DIR` of an image run) is written beside its final name and
  renamed into place whole (`replace_dir`).
- The metrics log is appended to only if it is a regular file (`open_log`): a symlink
  planted at `metrics.jsonl` is not followed.
- `signals_held` keeps Ctrl-C and SIGTERM from cutting a save in two.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO


class OutputRefused(ValueError):
    """An output path that would overwrite something without `--overwrite`, or that cannot
    be one (a file where a folder is needed, an empty name); the message names it."""


def check_name(path: Path | str, flag: str = "--out") -> Path:
    """`--out ""` is not "the current folder": refuse an empty name."""
    if not str(path).strip():
        raise OutputRefused(f"{flag} is empty: name a file or folder")
    return Path(path)


def claim_run_dir(path: Path, overwrite: bool, hint: str = "") -> None:
    """Refuse to write a run into `path` unless it is new, an empty folder, or `overwrite`."""
    if path.exists() and not path.is_dir():
        raise OutputRefused(f"{path} is a file, not a folder")
    if overwrite or not path.is_dir() or not any(path.iterdir()):
        return
    what = "holds a run" if (path / "config.json").exists() else "is not empty"
    raise OutputRefused(f"{path} {what}; pass --overwrite to replace it{hint}")


def claim_file(path: Path, overwrite: bool) -> None:
    """Refuse to replace an existing file (or anything that is not a file) without `overwrite`."""
    if path.is_dir():
        raise OutputRefused(f"{path} is a folder, expected a file name")
    if path.exists() and not overwrite:
        raise OutputRefused(f"{path} exists; pass --overwrite to replace it")


def same_place(a: Path, b: Path) -> bool:
    """Whether two paths name the same folder (or would, once created)."""
    return a.resolve() == b.resolve()


def replace_dir(target: Path, fill: Callable[[Path], None]) -> None:
    """Call `fill(folder)` on a new folder beside `target`, then put it in `target`'s place
    (an existing `target` is moved aside first and deleted after): a failure part-way leaves
    `target` as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    fresh = target.with_name(f".{target.name}.{token}.new")
    fresh.mkdir()
    try:
        fill(fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.{token}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


def open_log(path: Path) -> TextIO:
    """`path` opened for appending, if it is a regular file or absent (a symlink or device
    at its name is refused, not followed)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if path.is_symlink():
            raise OutputRefused(f"{path} is a symbolic link; remove it or the link") from None
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputRefused(f"{path} is not a regular file")
    return os.fdopen(fd, "a", encoding="utf-8")


@contextlib.contextmanager
def signals_held(reraise: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (a second Ctrl-C during a save used to
    end in a traceback and no config.json); one that came meanwhile is raised after it as
    KeyboardInterrupt when `reraise`, else dropped. Main thread only, as signals are."""
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: caught.append(signum)) for sig in held
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught and reraise:
        raise KeyboardInterrupt
