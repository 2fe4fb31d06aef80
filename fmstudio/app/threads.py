"""Every QThread the app starts is registered here, so shutdown (and tests) can find them all."""

from __future__ import annotations

import gc
import weakref

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject, QThread

_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()


def start_thread(worker: QObject, name: str) -> QThread:
    """Move `worker` to a new, registered, running QThread and return the thread."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    _THREADS.add(thread)
    thread.start()
    return thread


def stop_thread(thread: QThread, timeout_ms: int = 10_000) -> bool:
    """Ask the thread's event loop to quit and wait for it; True when it has finished."""
    if not thread.isRunning():
        return True
    thread.quit()
    return thread.wait(timeout_ms)


def live_threads() -> list[QThread]:
    return list(_THREADS)


class WorkerGuards:
    """While the app's threads run, Python's cyclic garbage is collected in the GUI thread only.

    The pump thread unpickles snapshots all the time, so automatic collection would often run
    in *its* thread, and a collected Qt/pyqtgraph object would be destroyed there: Qt then
    aborts ("Cannot create children for a parent that is in a different thread") or corrupts
    memory. pyqtgraph's GarbageCollector turns automatic collection off and collects on a GUI
    timer instead; this reference-counts it, so collection is back to normal once none runs.
    """

    _users = 0
    _collector: GarbageCollector | None = None

    @classmethod
    def acquire(cls) -> None:
        cls._users += 1
        if cls._collector is None:
            cls._collector = GarbageCollector(interval=0.5)

    @classmethod
    def release(cls) -> None:
        cls._users = max(0, cls._users - 1)
        if cls._users == 0 and cls._collector is not None:
            cls._collector.timer.stop()
            cls._collector = None
            gc.enable()
