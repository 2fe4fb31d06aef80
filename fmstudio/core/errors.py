"""The checkpoint error, on its own so the modules that check a checkpoint's parts
(`state_checks`, `run_dir`) and the one that reads it (`io`) can all raise it."""

from __future__ import annotations

import os


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, hostile or does not match its config."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
