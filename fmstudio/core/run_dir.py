"""A run directory saved as a whole: a crash at any moment leaves the last complete save.

A checkpoint is several files (`io` lists them) that only make sense together: the weights of
one save beside the config of another load neither way. Writing each file atomically is not
enough, so a save is a small redo log:

1. every file of the new save is written into `DIR/.pending/`, fsynced, with a `MANIFEST`
   naming them (a crash here leaves the old save untouched; the next save or resume deletes
   the leftover `.pending`);
2. `.pending` is renamed to `.commit` in one `os.replace`: the commit point;
3. each file is moved from `.commit/` over its name in `DIR` (one rename each), checkpoint
   files the new save does not have are deleted (a non-resumable save over a resumable one
   must not leave the old training state behind), then `.commit` is removed.

A crash during step 3 leaves the new save split between `DIR` and `DIR/.commit/`: `recover`
(run before every save and every resume) finishes the moves, and a reader that cannot write
(`locate`) reads each file from `.commit/` where it is still there, so it sees the new save
whole. Files of older versions (no `.pending`/`.commit`) load as before.

`RunLock` keeps a second process from writing the same directory (two trainers with one
`--out` used to both exit 0 leaving a mix of files): an advisory `flock` on the directory
itself (no lock file to leave behind), held by the CLI for a whole run and by every save.
Where `fcntl` does not exist (Windows) the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PENDING = ".pending"
COMMITTED = ".commit"
MANIFEST = "MANIFEST"

Writer = Callable[[BinaryIO], None]


class RunDirError(OSError):
    """A run directory that cannot be written: locked by another process, or not ours to
    overwrite; the message names the directory."""


def _fsync_dir(directory: Path) -> None:
    """Make renames inside `directory` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_real_dir(path: Path) -> bool:
    """A directory that is not a symlink (a planted link must not redirect our moves)."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def write_run(
    directory: str | os.PathLike, files: dict[str, Writer], owned: tuple[str, ...]
) -> None:
    """Save `files` (name -> writer) into `directory` as one unit (steps 1-3 above).

    `owned` names every file a save may write; those of them not in `files` are deleted when
    the save lands, so the directory never mixes two saves. The caller holds `RunLock`, or
    `write_run` takes it for the duration of the save.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with RunLock(directory):
        recover(directory)
        pending = directory / PENDING
        pending.mkdir()
        for name, write in files.items():
            with open(pending / name, "xb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
        manifest = {"files": sorted(files), "owned": sorted(owned)}
        (pending / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        _fsync_dir(pending)
        os.replace(pending, directory / COMMITTED)
        _fsync_dir(directory)
        _finish(directory)


def _finish(directory: Path) -> None:
    """Step 3: move a committed save into place; safe to repeat after a crash part-way."""
    committed = directory / COMMITTED
    manifest = json.loads((committed / MANIFEST).read_text(encoding="utf-8"))
    names = set(manifest["files"])
    for name in manifest["files"]:
        if (committed / name).exists():
            os.replace(committed / name, directory / name)
    for name in set(manifest["owned"]) - names:
        (directory / name).unlink(missing_ok=True)
    _fsync_dir(directory)
    (committed / MANIFEST).unlink()
    committed.rmdir()
    _fsync_dir(directory)


def recover(directory: str | os.PathLike) -> None:
    """Finish a save that reached its commit point; drop one that did not. Also removes the
    temp files of atomic writes a killed process left behind. Needs write access."""
    directory = Path(directory)
    committed, pending = directory / COMMITTED, directory / PENDING
    for leftover in (committed, pending):
        if leftover.is_symlink() or (leftover.exists() and not _is_real_dir(leftover)):
            raise RunDirError(f"{leftover}: not a directory fmstudio wrote; remove it")
    if committed.exists():
        if (committed / MANIFEST).is_file():
            _finish(directory)
        elif not any(committed.iterdir()):  # cut between the last two steps of `_finish`
            committed.rmdir()
        else:  # cannot happen through write_run; refuse to guess
            raise RunDirError(f"{committed}: an interrupted save without its manifest")
    if pending.exists():
        shutil.rmtree(pending)
    for stale in directory.glob(".*.tmp"):  # atomic_write's temp files of killed writes
        stale.unlink(missing_ok=True)


def try_recover(directory: str | os.PathLike) -> None:
    """`recover` an interrupted save where the directory is writable and nobody is writing
    it; otherwise readers read it through `locate`. A clean directory is left untouched."""
    directory = Path(directory)
    if not any(os.path.lexists(directory / name) for name in (COMMITTED, PENDING)):
        return
    with contextlib.suppress(OSError), RunLock(directory):
        recover(directory)


def locate(directory: str | os.PathLike, name: str) -> Path:
    """Where the current save's file `name` is: in `.commit/` while a committed save is
    being moved into place (a reader sees the new save whole), else in the directory."""
    directory = Path(directory)
    committed = directory / COMMITTED / name
    in_commit = _is_real_dir(directory / COMMITTED) and (directory / COMMITTED / MANIFEST).is_file()
    if in_commit and committed.exists():
        return committed
    return directory / name


_held: dict[Path, int] = {}
"""Directories whose lock this process holds, with a nesting count (flock is per open file:
a second flock of the same file from this process would block on itself)."""


class RunLock:
    """An exclusive advisory lock on a run directory for the duration of a `with` block."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._key = self.directory.resolve()
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if self._key in _held:
            _held[self._key] += 1
            return self
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; writes are still atomic
            _held[self._key] = 1
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunDirError(
                f"{self.directory}: another fmstudio process is writing this run"
            ) from None
        self._fd = fd
        _held[self._key] = 1
        return self

    def __exit__(self, *exc: object) -> None:
        _held[self._key] -= 1
        if _held[self._key]:
            return
        del _held[self._key]
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
