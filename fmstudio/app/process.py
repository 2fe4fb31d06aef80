"""The training process: an `Engine` served over a pipe, so training never shares a GIL with
the window.

Messages are (name, args) tuples from the app — an Engine command, or "shutdown" — and
(kind, payload) events back. Everything sent is fmstudio's own dataclasses and numpy arrays
between two processes of the same program (pickled by multiprocessing); no user file is ever
unpickled. While training, the process checks for commands between chunks; while idle it
sleeps in `poll`. An unexpected exception in a command is reported as a `failed` event and the
process goes on.
"""

from __future__ import annotations

import os
import traceback
from multiprocessing.connection import Connection

import torch

from fmstudio.app.engine import Engine

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
    "sample",
    "save_model",
    "measure",
)


def torch_threads() -> int:
    """All cores but one: the other is the window's (2 torch threads and a busy GUI thread on
    2 cores made one training step 25× slower in our measurements)."""
    return max(1, (os.cpu_count() or 2) - 1)


def serve(conn: Connection, threads: int | None = None) -> None:
    """Run an Engine until "shutdown" (answered with "bye") or until the app goes away."""
    torch.set_num_threads(threads or torch_threads())
    engine = Engine(lambda kind, payload: conn.send((kind, payload)))
    warm = False
    try:
        while True:
            timeout = 0.0 if engine.busy else None
            if not warm and engine.trainer is not None and not conn.poll(WARM_UP_AFTER):
                engine.warm_up()  # the first idle moment, after the first picture is out
                warm = True
            while conn.poll(timeout):
                name, args = conn.recv()
                if name == "shutdown":
                    conn.send(("bye", None))
                    return
                _call(engine, name, args)
                timeout = 0.0
            if engine.busy:
                _call(engine, "tick", ())
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the app is gone: nothing left to report to
    finally:
        conn.close()


def _call(engine: Engine, name: str, args: tuple) -> None:
    if name not in (*COMMANDS, "tick"):
        engine.send("failed", f"internal error: unknown command {name!r}")
        return
    try:
        getattr(engine, name)(*args)
    except Exception as exc:  # a bug must not take the training process down with it
        detail = "".join(traceback.format_exception_only(exc)).strip()
        engine.send("failed", f"internal error in {name}: {detail}")
        if engine.busy:
            engine.pause()
