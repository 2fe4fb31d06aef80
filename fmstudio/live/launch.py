"""Start the training process, cheaply: this module imports nothing heavy.

`fmstudio` starts the process first thing, so the child's imports (torch, ~3 s on a laptop CPU)
overlap the window's own start-up instead of following it.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

PRELOAD = "fmstudio.live.process"
"""What the fork server imports once for every training process it forks (torch with it)."""


def start_engine_process() -> tuple[BaseProcess, Connection]:
    """A new training process and our end of its pipe.

    Never forked from this process, which runs Qt: on Linux it is forked from a small fork
    server that has imported torch once (`_context`), so a process after the first starts in
    a fraction of a second instead of the ~3 s torch takes to import; elsewhere it is spawned.
    """
    ctx = _context()
    conn, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child,), name="fmstudio-trainer", daemon=True)
    process.start()
    child.close()
    return process, conn


def _context() -> mp.context.BaseContext:
    """The fork server where the platform has one (it preloads the training process's
    imports), else spawn."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD])
    return ctx


def _serve(conn: Connection) -> None:
    from fmstudio.live.process import serve  # imported in the child only

    serve(conn)
