"""A real training process with broken engine code, for the app tests: what a bug in a picture or
a hard crash does to the process and to the message the window shows. Qt-free: the spawned child
imports this module (it is on the path the parent passes down) and nothing of the window's."""

from __future__ import annotations

import faulthandler
import multiprocessing as mp
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def start_faulty_process(broken: dict[str, str]) -> tuple[BaseProcess, Connection]:
    """A training process whose Engine methods named in `broken` fail: "raise" raises a
    RuntimeError naming the method, "segfault" crashes the interpreter, "hang" never returns
    and ignores SIGTERM (a process stuck where a polite stop cannot reach it)."""
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, broken), name="faulty-trainer", daemon=True)
    process.start()
    child.close()
    return process, conn


def _serve(conn: Connection, broken: dict[str, str]) -> None:
    from fmstudio.live import process
    from fmstudio.live.engine import Engine

    faults = {"segfault": _segfault, "hang": _hang}
    for name, how in broken.items():
        setattr(Engine, name, faults.get(how) or _raiser(name))
    process.serve(conn)


def _raiser(name: str):
    def method(self, *args) -> None:
        raise RuntimeError(f"{name} is broken")

    return method


def _segfault(self, *args) -> None:
    faulthandler._sigsegv()


def _hang(self, *args) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from fmstudio.live.protocol import StateChanged

    self.send(StateChanged("hanging"))
    time.sleep(600)
