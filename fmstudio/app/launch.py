"""Start the training process, cheaply: this module imports nothing heavy.

`fmstudio` starts the process first thing, so the child's imports (torch, ~3 s on a laptop CPU)
overlap the window's own start-up instead of following it.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def start_engine_process() -> tuple[BaseProcess, Connection]:
    """A new training process (spawned: never fork a process that runs Qt) and our end of its
    pipe."""
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child,), name="fmstudio-trainer", daemon=True)
    process.start()
    child.close()
    return process, conn


def _serve(conn: Connection) -> None:
    from fmstudio.app.process import serve  # imported in the child only

    serve(conn)
