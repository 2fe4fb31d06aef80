"""The GUI thread's handle on the training worker: it owns the thread and sends commands.

Every command is a signal connected to a worker slot. The worker lives in another thread, so
Qt queues the call and it runs between two training chunks. The controller also owns shutdown:
stop, quit the thread's event loop, wait — before anything is deleted — so closing the window
while training never leaves a running QThread behind.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QThread, Signal

from fmstudio.app.threads import WorkerGuards, start_thread, stop_thread
from fmstudio.app.worker import Mailbox, TrainingWorker
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import Dataset2D


class Controller(QObject):
    """Commands go out as queued signals; the worker's signals are re-exposed as attributes."""

    _warm_up = Signal()
    _new_run = Signal(object, object)
    _load_model = Signal(str)
    _start = Signal()
    _pause = Signal()
    _settings = Signal(dict)
    _dataset = Signal(object)
    _views = Signal(object)
    _sample = Signal(dict)
    _save = Signal(str)
    _stop = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        WorkerGuards.acquire()
        self.mailbox = Mailbox()
        self.worker = TrainingWorker(self.mailbox)
        w = self.worker
        for signal, slot in (
            (self._warm_up, w.warm_up),
            (self._new_run, w.new_run),
            (self._load_model, w.load_model),
            (self._start, w.start),
            (self._pause, w.pause),
            (self._settings, w.update_settings),
            (self._dataset, w.set_dataset),
            (self._views, w.set_views),
            (self._sample, w.sample),
            (self._save, w.save_model),
        ):
            signal.connect(slot)
        # Blocking: shutdown returns only after every command queued before it (a save, say)
        # has run and the training timer is stopped in its own thread.
        self._stop.connect(w.stop, Qt.ConnectionType.BlockingQueuedConnection)
        self.runStarted = w.runStarted
        self.targetChanged = w.targetChanged
        self.snapshotReady = w.snapshotReady
        self.stateChanged = w.stateChanged
        self.failed = w.failed
        self.sampled = w.sampled
        self.saved = w.saved
        self.thread: QThread | None = start_thread(w, "fmstudio-trainer")
        self._warm_up.emit()

    def new_run(self, config: TrainConfig, dataset: Dataset2D) -> None:
        self._new_run.emit(config, dataset)

    def load_model(self, directory: str) -> None:
        self._load_model.emit(directory)

    def start(self) -> None:
        self._start.emit()

    def pause(self) -> None:
        self._pause.emit()

    def update_settings(self, changes: dict) -> None:
        self._settings.emit(dict(changes))

    def set_dataset(self, dataset: Dataset2D) -> None:
        self._dataset.emit(dataset)

    def set_views(self, views: frozenset[str]) -> None:
        self._views.emit(frozenset(views))

    def sample(self, request: dict) -> None:
        self._sample.emit(dict(request))

    def save_model(self, directory: str) -> None:
        self._save.emit(directory)

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Stop training and end the worker thread; True when it ended within the timeout.

        Safe to call more than once (closeEvent and aboutToQuit both call it).
        """
        if self.thread is None:
            return True
        if self.thread.isRunning():
            self._stop.emit()
        finished = stop_thread(self.thread, timeout_ms)
        if finished:
            self.thread = None
            WorkerGuards.release()
        return finished
