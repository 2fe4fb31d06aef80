"""Every QThread the app starts is registered here, so shutdown (and tests) can find them all."""

from __future__ import annotations

import gc
import sys
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
    """Process settings that keep a GUI thread and a Python worker thread out of each other's
    way; on while any worker runs, restored when the last one stops.

    - Garbage collection only in the GUI thread: the worker allocates tensors all the time, so
      automatic collection would mostly run in *its* thread, and a collected Qt/pyqtgraph object
      would be destroyed there (Qt then aborts or corrupts memory). pyqtgraph's GarbageCollector
      turns automatic collection off and collects on a GUI timer instead.
    - A 1 ms GIL switch interval instead of 5 ms: the worker needs the GIL for a moment between
      torch kernels, and waiting up to 5 ms for the drawing thread each time cost training
      a third of its speed in the app (benchmarks/bench_ui.py).
    """

    SWITCH_INTERVAL = 0.001
    _users = 0
    _collector: GarbageCollector | None = None
    _switch_interval = 0.005

    @classmethod
    def acquire(cls) -> None:
        cls._users += 1
        if cls._collector is None:
            cls._collector = GarbageCollector(interval=0.5)
            cls._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(cls.SWITCH_INTERVAL)

    @classmethod
    def release(cls) -> None:
        cls._users = max(0, cls._users - 1)
        if cls._users == 0 and cls._collector is not None:
            cls._collector.timer.stop()
            cls._collector = None
            gc.enable()
            sys.setswitchinterval(cls._switch_interval)
