"""Every QThread the app starts is registered here, so shutdown (and tests) can find them all."""

from __future__ import annotations

import weakref

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
