"""The training process: an `Engine` served over a pipe, so training never shares a GIL with
the window.

Messages are (name, args) tuples from the app — an Engine command, or "shutdown" — and
(kind, payload) events back. Everything sent is fmstudio's own dataclasses and numpy arrays
between two processes of the same program (pickled by multiprocessing); no user file is ever
unpickled. While training, the process checks for commands between chunks; while idle it
sleeps in `poll`.

Every call into engine code (a command, a tick, the warm-up, the recovery after an error) is
guarded: an unexpected exception is reported as one `internal_error` event naming the log file
that holds its traceback (`trainer_log`), training stops, and the process goes on. Only a hard
crash ends the process, and then faulthandler's stack is in the same log.
"""

from __future__ import annotations

from multiprocessing.connection import Connection

import torch

from fmstudio.app import trainer_log
from fmstudio.app.engine import Engine
from fmstudio.core.threads import default_threads

WARM_UP_AFTER = 0.2
"""Seconds without a command before the idle process warms torch up."""
COMMANDS = (
    "new_run",
    "load_model",
    "reflow",
    "start",
    "pause",
    "update_settings",
    "set_dataset",
    "set_views",
    "set_field_box",
    "sample",
    "save_model",
    "measure",
)
HOST_CALLS = {"tick": "a training step", "warm_up": "the warm-up"}
"""Engine calls the loop itself makes, and how a message names them (a command by its name)."""
GONE = (EOFError, BrokenPipeError, ConnectionResetError)
"""The app's end of the pipe is closed: nothing left to serve or report to."""


def serve(conn: Connection, threads: int | None = None) -> None:
    """Run an Engine until "shutdown" (answered with "bye") or until the app goes away.

    A tick that raised is not retried until the next command: the engine may still say it is
    training if its recovery failed too, and the same error every chunk would flood the app.
    """
    # All cores but one: the other is the window's (2 torch threads and a busy GUI thread on 2
    # cores made one training step 25× slower in our measurements).
    torch.set_num_threads(threads or default_threads())
    engine = Engine(lambda kind, payload: conn.send((kind, payload)))
    warm = False
    stalled = False
    try:
        with trainer_log.crash_log():
            while True:
                timeout = 0.0 if engine.busy and not stalled else None
                if not warm and engine.trainer is not None and not conn.poll(WARM_UP_AFTER):
                    warm = True  # once, at the first idle moment after the first picture
                    _call(engine, "warm_up", ())
                while conn.poll(timeout):
                    name, args = conn.recv()
                    if name == "shutdown":
                        conn.send(("bye", None))
                        return
                    _call(engine, name, args)
                    stalled, timeout = False, 0.0
                if engine.busy and not stalled:
                    stalled = not _call(engine, "tick", ())
    except GONE:
        return
    finally:
        conn.close()


def _call(engine: Engine, name: str, args: tuple) -> bool:
    """Run one engine call; False when it raised (and was reported): a bug must not take the
    training process down with it."""
    if name not in COMMANDS and name not in HOST_CALLS:
        engine.send("internal_error", f"Internal error: unknown command {name!r}")
        return False
    try:
        getattr(engine, name)(*args)
    except GONE:
        raise
    except Exception as exc:
        _recover(engine, name, exc)
        return False
    return True


def _recover(engine: Engine, name: str, exc: Exception) -> None:
    """Report the error and stop training without publishing: the snapshot's pictures are
    guarded one by one in the engine, so what gets here failed outside them, and anything
    recomputed now could fail the same way; the window keeps the last good picture. An error
    in the recovery itself is only logged: the app has the first one, which matters."""
    then = "training paused" if engine.busy else ""
    try:
        where = HOST_CALLS.get(name, name)
        engine.send("internal_error", trainer_log.internal_error(where, exc, then))
        engine.recover()
    except GONE:
        raise
    except Exception as again:
        trainer_log.internal_error(f"the recovery from an error in {name}", again)
