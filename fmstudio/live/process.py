"""The training process: an `Engine` served over a pipe, so training never shares a GIL with
the window.

Messages are `protocol.Command`s from the app, each run by the engine method `DISPATCH` names
(`Shutdown` ends the loop), and `protocol.Event`s back. Everything sent is fmstudio's own
dataclasses and numpy arrays between two processes of the same program (pickled by
multiprocessing); no user file is ever unpickled. While training, the process checks for
commands between chunks; while idle it sleeps in `poll`.

Every call into engine code (a command, a tick, the warm-up, the recovery after an error) is
guarded: an unexpected exception is reported as one `InternalError` event naming the log file
that holds its traceback (`trainer_log`), training stops, and the process goes on. Only a hard
crash ends the process, and then faulthandler's stack is in the same log.
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import torch

from fmstudio.core.threads import default_threads
from fmstudio.live import trainer_log
from fmstudio.live.engine import Engine
from fmstudio.live.protocol import (
    Bye,
    Command,
    InternalError,
    LoadModel,
    Measure,
    NewRun,
    Pause,
    Reflow,
    Sample,
    SaveModel,
    SetDataset,
    SetFieldBox,
    SetViews,
    Shutdown,
    Start,
    UpdateSettings,
)

WARM_UP_AFTER = 0.2
"""Seconds without a command before the idle process warms torch up."""


class _Tick(Command):
    """The loop's own call while training: one chunk of steps."""


class _WarmUp(Command):
    """The loop's own call at the first idle moment: pay torch's one-off costs."""


TICK, WARM_UP = _Tick(), _WarmUp()
DISPATCH: dict[type[Command], Callable[[Engine, Any], None]] = {
    NewRun: lambda engine, c: engine.new_run(c.config, c.dataset),
    LoadModel: lambda engine, c: engine.load_model(c.directory),
    Reflow: lambda engine, c: engine.reflow(c.directory, c.pairs, c.steps),
    Start: lambda engine, c: engine.start(),
    Pause: lambda engine, c: engine.pause(),
    UpdateSettings: lambda engine, c: engine.update_settings(c.changes),
    SetDataset: lambda engine, c: engine.set_dataset(c.dataset),
    SetViews: lambda engine, c: engine.set_views(c.parts),
    SetFieldBox: lambda engine, c: engine.set_field_box(c.box),
    Sample: lambda engine, c: engine.sample(c.request),
    SaveModel: lambda engine, c: engine.save_model(c.directory),
    Measure: lambda engine, c: engine.measure(c.n),
    _Tick: lambda engine, c: engine.tick(),
    _WarmUp: lambda engine, c: engine.warm_up(),
}
"""Each command and the engine method it runs: the one place a command becomes a call."""
NAMES: dict[type[Command], str] = {_Tick: "a training step", _WarmUp: "the warm-up"}
"""How an error message names the loop's own calls (a command: by its type)."""
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
    engine = Engine(conn.send)
    warm = False
    stalled = False
    try:
        with trainer_log.crash_log():
            while True:
                timeout = 0.0 if engine.busy and not stalled else None
                if not warm and engine.trainer is not None and not conn.poll(WARM_UP_AFTER):
                    warm = True  # once, at the first idle moment after the first picture
                    _call(engine, WARM_UP)
                while conn.poll(timeout):
                    command = conn.recv()
                    if isinstance(command, Shutdown):
                        conn.send(Bye())
                        return
                    _call(engine, command)
                    stalled, timeout = False, 0.0
                if engine.busy and not stalled:
                    stalled = not _call(engine, TICK)
    except GONE:
        return
    finally:
        conn.close()


def _call(engine: Engine, call: Command) -> bool:
    """Run one command, or one of the loop's own calls (`TICK`, `WARM_UP`), through
    `DISPATCH`; False when it raised (and was reported): a bug must not take the training
    process down with it."""
    handler = DISPATCH.get(type(call))
    if handler is None:
        engine.send(InternalError(f"Internal error: unknown command {call!r}"))
        return False
    try:
        handler(engine, call)
    except GONE:
        raise
    except Exception as exc:
        _recover(engine, call, exc)
        return False
    return True


def _recover(engine: Engine, call: Command, exc: Exception) -> None:
    """Report the error and stop training without publishing: the snapshot's pictures are
    guarded one by one in the engine, so what gets here failed outside them, and anything
    recomputed now could fail the same way; the window keeps the last good picture. An error
    in the recovery itself is only logged: the app has the first one, which matters."""
    then = "training paused" if engine.busy else ""
    where = NAMES.get(type(call), type(call).__name__)
    try:
        engine.send(InternalError(trainer_log.internal_error(where, exc, then)))
        engine.recover()
    except GONE:
        raise
    except Exception as again:
        trainer_log.internal_error(f"the recovery from an error in {where}", again)
