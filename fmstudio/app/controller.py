"""The GUI's handle on training: it starts the training process and turns its events into Qt
signals.

Commands go down a pipe to the process (`process.serve`); a small pump thread reads the events
coming back and re-emits them as signals of this object, which live in the GUI thread, so every
slot runs there. Snapshots go through a one-slot `Mailbox`: the newest is merged into any the
GUI has not drawn yet, and `snapshotReady` is emitted only when the box was empty, so the GUI
draws the newest state and no queue can build up behind a slow frame.

Commands are `protocol.Command`s (`send(Start())`), events `protocol.Event`s, each turned into
one signal by the table in `_on_event`. Shutdown (`Shutdown` → the process answers `Bye` once
every command sent before it has run, a model save included) happens before anything is
deleted, so closing the window while training never loses a file or leaves a thread or a
process behind: a process deaf to `Shutdown` is
terminated, then killed, and the pump stops on request whatever the process does. If the process
dies, the next command starts a new one and the window says what happened: the exit code or the
signal that killed it, and the first internal error the process reported before it died (a death
is usually its consequence) or else the log file where faulthandler wrote the crash's stack
(`trainer_log`).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from signal import Signals

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

from fmstudio.app.threads import WorkerGuards, start_thread, stop_thread
from fmstudio.core.view_data import Snapshot
from fmstudio.live import trainer_log
from fmstudio.live.launch import start_engine_process
from fmstudio.live.protocol import (
    Bye,
    Command,
    Event,
    Failed,
    InternalError,
    Measured,
    Part,
    RunStarted,
    RunState,
    Sampled,
    Saved,
    SetViews,
    Shutdown,
    SnapshotReady,
    StateChanged,
    TargetChanged,
)

JOIN_SECONDS = 15.0
EXIT_SECONDS = 5.0
"""How long a process whose pipe has closed gets to exit before its exit code is read: a crash
closes the pipe as the process ends, a Python-level death some time before."""
POLL_SECONDS = 0.1
"""The pump's longest wait between two checks of its stop flag."""


class Mailbox:
    """A one-slot, thread-safe box: `put` merges into an untaken snapshot; `take` empties it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: Snapshot | None = None

    def put(self, item: Snapshot) -> bool:
        """Store the newest snapshot; True when the box was empty (the GUI needs a signal)."""
        with self._lock:
            empty = self._item is None
            self._item = item if empty else item.merged_after(self._item)
            return empty

    def take(self) -> Snapshot | None:
        with self._lock:
            item, self._item = self._item, None
            return item


class Pump(QObject):
    """Reads the process's events in its own thread until `Bye`, the pipe closes, or `stop()`.

    It waits in `poll` with a timeout rather than in `recv`, so it can always be stopped: a
    process that neither answers nor dies (stuck in a read, or slow to exit while it frees
    gigabytes) must not keep this thread running, since Qt aborts the whole app when a
    running QThread is destroyed."""

    event = Signal(object)
    snapshotReady = Signal()
    ended = Signal(int)
    """This pump's `serial`: the controller heeds its current pump's end only. (An int, not the
    Pump: a queued signal holding a QObject of another thread outlives it at exit.)"""
    _count = itertools.count()

    def __init__(self, conn, mailbox: Mailbox) -> None:
        super().__init__()
        self.conn = conn
        self.mailbox = mailbox
        self.serial = next(Pump._count)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Make `run` return within `POLL_SECONDS` (called from the GUI thread)."""
        self._stopping.set()

    @Slot()
    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if not self.conn.poll(POLL_SECONDS):
                    continue
                event = self.conn.recv()
                if isinstance(event, Bye):
                    break
                if isinstance(event, SnapshotReady):
                    if self.mailbox.put(event.snapshot):
                        self.snapshotReady.emit()
                else:
                    self.event.emit(event)
        except (EOFError, OSError):
            pass
        self.ended.emit(self.serial)


class Controller(QObject):
    """Starts the training process and talks to it; its signals arrive in the GUI thread."""

    runStarted = Signal(object)  # RunInfo
    targetChanged = Signal(object)  # RunInfo
    snapshotReady = Signal()
    stateChanged = Signal(object)  # RunState
    failed = Signal(str)
    sampled = Signal(object)  # SampleRun
    saved = Signal(str)
    measured = Signal(object)  # Measurement
    processEnded = Signal()
    """The training process died (reported through `failed`): its run is gone with it."""

    def __init__(
        self,
        parent: QObject | None = None,
        engine: tuple[BaseProcess, Connection] | None = None,
    ) -> None:
        """`engine`: a training process started earlier (`launch.start_engine_process`)."""
        super().__init__(parent)
        self.mailbox = Mailbox()
        self.views: frozenset[Part] | None = None
        self.thread: QThread | None = None
        self._closing = False
        WorkerGuards.acquire()
        self._start_process(engine)

    def _start_process(self, engine: tuple[BaseProcess, Connection] | None = None) -> None:
        self.process, self.conn = engine or start_engine_process()
        self.first_error: str | None = None
        """The first internal error this process reported (kept for its death's message)."""
        self._death_reported = False
        self.pump = Pump(self.conn, self.mailbox)
        self.pump.event.connect(self._on_event)
        self.pump.snapshotReady.connect(self.snapshotReady)
        self.pump.ended.connect(self._on_ended)
        self.thread = start_thread(self.pump, "fmstudio-pump")
        QMetaObject.invokeMethod(self.pump, "run", Qt.ConnectionType.QueuedConnection)
        if self.views is not None:
            self.send(SetViews(self.views))

    def send(self, command: Command) -> None:
        """Send a command to the training process (a new one if it died: the pictures the
        views want go first)."""
        if isinstance(command, SetViews):
            self.views = frozenset(command.parts)
        if self.process is None or not self.process.is_alive():
            if self._closing:
                return
            self._restart()
        try:
            self.conn.send(command)
        except (BrokenPipeError, OSError):
            self.failed.emit("The training process is gone; it will be restarted.")

    def _restart(self) -> None:
        """A new training process after the old one died (reported now if its pump's end
        has not been handled yet)."""
        self._report_death()
        self._stop_pump()
        self.conn.close()
        self._start_process()

    def _stop_pump(self) -> bool:
        """End the pump thread; True when it ended in time (then `thread` is None). One that
        did not is kept: destroying a running QThread aborts the app."""
        self.pump.stop()
        if self.thread is not None and stop_thread(self.thread, int(JOIN_SECONDS * 1000)):
            self.thread = None
        return self.thread is None

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        signals = {
            RunStarted: lambda e: self.runStarted.emit(e.info),
            TargetChanged: lambda e: self.targetChanged.emit(e.info),
            StateChanged: lambda e: self.stateChanged.emit(e.state),
            Failed: lambda e: self.failed.emit(e.message),
            InternalError: lambda e: self.failed.emit(e.message),
            Sampled: lambda e: self.sampled.emit(e.run),
            Saved: lambda e: self.saved.emit(e.directory),
            Measured: lambda e: self.measured.emit(e.measurement),
        }
        if isinstance(event, InternalError) and self.first_error is None:
            self.first_error = event.message
        emit = signals.get(type(event))
        if emit is not None:
            emit(event)

    @Slot(int)
    def _on_ended(self, serial: int) -> None:
        """A pump's pipe closed: unless we are closing, or this is the pump of a process
        already replaced, the process died."""
        if not self._closing and serial == self.pump.serial:
            self._report_death()

    def _report_death(self) -> None:
        """Say (once per process) how the process ended and what it reported before: a death is
        usually the consequence of that first error, else faulthandler's log has the stack."""
        if self._death_reported or self.process is None:
            return
        self._death_reported = True
        self.process.join(EXIT_SECONDS)
        cause = (
            f" after: {self.first_error}"
            if self.first_error
            else trainer_log.crash_details(self.process.pid)
        )
        self.failed.emit(
            f"The training process stopped unexpectedly ({_exit_status(self.process)})"
            f"{cause}; its model is lost and the next action starts a new process."
        )
        self.processEnded.emit()
        self.stateChanged.emit(RunState.IDLE)

    # ---- shutdown ------------------------------------------------------------------------

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """End the training process (after every command already sent) and the pump thread.

        True when both ended in time (a process that does not is terminated). Safe to call
        more than once (closeEvent and aboutToQuit both call it).
        """
        if self._closing:
            return True
        self._closing = True
        ok = True
        if self.process is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.conn.send(Shutdown())
            self.process.join(timeout_ms / 1000)
            if self.process.is_alive():
                ok = False
                self.process.terminate()
                self.process.join(EXIT_SECONDS)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(EXIT_SECONDS)
            trainer_log.remove_if_empty(trainer_log.log_path(self.process.pid))
        ok = self._stop_pump() and ok
        self.conn.close()
        WorkerGuards.release()
        return ok


def _exit_status(process: BaseProcess) -> str:
    """'exit code 3', or for a signal 'killed by SIGKILL, exit code -9'."""
    code = process.exitcode
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {Signals(-code).name}, exit code {code}"
    return f"exit code {code}"
