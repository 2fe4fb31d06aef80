"""Start the training process, cheaply: this module imports nothing heavy.

`fmstudio` starts the first process first thing, spawned, so the child's imports (torch and
the engine, ~2 s on 2 CPU cores) overlap the window's own start-up instead of delaying it.
Later processes (compare mode starts one per configuration, a dead one is replaced) fork from
a fork server that has imported all of that once: they start in a fraction of a second. The
server itself is started in the background some seconds after the first process, so that its
own imports do not compete with the first picture for the cores.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

PRELOAD = "fmstudio.live.process"
"""What the fork server imports once for every training process it forks (torch with it)."""
SERVER_AFTER = 8.0
"""Seconds after the first training process before the fork server starts loading."""

_server_ready = threading.Event()
_server_lock = threading.Lock()
_server_timer: threading.Timer | None = None


def start_engine_process() -> tuple[BaseProcess, Connection]:
    """A new training process and our end of its pipe. Never forked from this process, which
    runs Qt: forked from the fork server once it is ready (Linux), else spawned."""
    ctx = _forkserver() if _server_ready.is_set() else mp.get_context("spawn")
    conn, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child,), name="fmstudio-trainer", daemon=True)
    process.start()
    child.close()
    _warm_server_later()
    return process, conn


def _forkserver() -> mp.context.BaseContext:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD])
    return ctx


def _warm_server_later() -> None:
    """Start the fork server (once, in a daemon thread, after `SERVER_AFTER` seconds) where
    the platform has one."""
    global _server_timer
    if "forkserver" not in mp.get_all_start_methods():
        return
    with _server_lock:
        if _server_timer is None:
            _server_timer = threading.Timer(SERVER_AFTER, _start_server)
            _server_timer.daemon = True
            _server_timer.start()


def _start_server() -> None:
    from multiprocessing import forkserver

    _forkserver()  # sets the preload before the server starts
    try:
        forkserver.ensure_running()
    except OSError:
        return  # no fork server here: processes stay spawned
    _server_ready.set()


def _serve(conn: Connection) -> None:
    from fmstudio.live.process import serve  # imported in the child only

    serve(conn)
