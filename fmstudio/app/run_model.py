"""One run as a window sees it: the model that owns the training process's controller, the
run's state, step and info, and whether its model is saved.

The main window, image mode and each compare panel bind to a `RunModel` (after napari's
Qt-free models and the controls that subscribe to them): it takes every event of the training
process, keeps what they say, and re-emits them for the views, a snapshot only after the step it
carries has been applied. A window sends commands through it (`run.send(Start())`) and reads
`state`, `step` and `info` from it; none takes snapshots out of the mailbox or tracks the step
on its own. File actions save and open models through it too.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from PySide6.QtCore import QObject, Signal, Slot

from fmstudio.app.controller import Controller
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import Dataset2D
from fmstudio.core.view_data import Snapshot
from fmstudio.live.protocol import Command, NewRun, RunInfo, RunState, SaveModel


class RunModel(QObject):
    """The run in one training process: state, step, info, saved step; commands go through
    `send`. Signals arrive in the GUI thread, after the model has applied what they say."""

    runStarted = Signal(object)  # RunInfo
    targetChanged = Signal(object)  # RunInfo
    stateChanged = Signal(object)  # RunState
    snapshot = Signal(object)  # Snapshot
    sampled = Signal(object)  # SampleRun
    saved = Signal(str)
    measured = Signal(object)  # Measurement
    failed = Signal(str)
    processEnded = Signal()
    """The training process died (reported through `failed`): the model went with it."""

    def __init__(
        self,
        parent: QObject | None = None,
        engine: tuple[BaseProcess, Connection] | None = None,
    ) -> None:
        """`engine`: a training process started earlier (`launch.start_engine_process`)."""
        super().__init__(parent)
        self.state = RunState.IDLE
        self.step = 0
        self.info: RunInfo | None = None
        self.lost = False
        """The process died with the model: the next Train starts a fresh one first."""
        self._saved_step: int | None = 0
        """The step at which the model was last saved. A fresh model has nothing to lose and
        an opened one is on disk, so a new run takes the step of its first snapshot (None
        until then)."""
        self.controller = Controller(self, engine)
        c = self.controller
        c.runStarted.connect(self._on_run_started)
        c.targetChanged.connect(self._on_target_changed)
        c.snapshotReady.connect(self._on_snapshot_ready)
        c.stateChanged.connect(self._on_state)
        c.processEnded.connect(self._on_process_ended)
        c.sampled.connect(self.sampled)
        c.saved.connect(self.saved)
        c.measured.connect(self.measured)
        c.failed.connect(self.failed)

    # ---- commands ----------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        self.controller.send(command)

    def new_run(self, config: TrainConfig, dataset: Dataset2D | None) -> None:
        """A fresh model: step 0 at once (the window shows it before the process answers)."""
        self.step = 0
        self.send(NewRun(config, dataset))

    def save_model(self, directory: str) -> None:
        self.send(SaveModel(directory))

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        return self.controller.shutdown(timeout_ms)

    # ---- what the run is ---------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.state is RunState.TRAINING

    @property
    def has_steps(self) -> bool:
        """Trained, or training: what shapes the model can no longer change."""
        return self.step > 0 or self.training

    def unsaved(self) -> bool:
        """Whether dropping the model would lose training."""
        return self._saved_step is not None and self.step > self._saved_step

    def mark_saved(self) -> None:
        """The model is on disk at its current step."""
        self._saved_step = self.step

    # ---- events ------------------------------------------------------------------------------

    @Slot(object)
    def _on_run_started(self, info: RunInfo) -> None:
        self.info = info
        self.lost = False
        self._saved_step = None
        self.runStarted.emit(info)

    @Slot(object)
    def _on_target_changed(self, info: RunInfo) -> None:
        self.info = info
        self.targetChanged.emit(info)

    @Slot()
    def _on_snapshot_ready(self) -> None:
        item: Snapshot | None = self.controller.mailbox.take()
        if item is None:
            return
        self.step = item.step
        if self._saved_step is None:
            self._saved_step = item.step
        self.snapshot.emit(item)

    @Slot(object)
    def _on_state(self, state: RunState) -> None:
        self.state = state
        self.stateChanged.emit(state)

    @Slot()
    def _on_process_ended(self) -> None:
        self.lost = True
        self.step = 0
        self.processEnded.emit()


class BoundToRun:
    """What a window or panel bound to a `RunModel` (its `run`) reads from it, under the names
    scripts and tests use: `state`, `step` and the `controller` that reaches the process."""

    run: RunModel

    @property
    def state(self) -> RunState:
        return self.run.state

    @property
    def step(self) -> int:
        return self.run.step

    @property
    def controller(self) -> Controller:
        return self.run.controller
