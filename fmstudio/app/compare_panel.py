"""One configuration of compare mode: its training process and its live views.

Each panel shows one of its trajectories, samples or field views at a time (the window picks
which, the same for every panel, so they compare like with like), a compact loss curve under
it, and a status line with the step, state and the latest W2. Only the picture shown is
computed by the panel's training process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app.run_model import BoundToRun, RunModel
from fmstudio.app.views import FieldView, LossView, SamplesView, TrajectoryView
from fmstudio.core.config_text import folder_name
from fmstudio.core.view_data import Snapshot
from fmstudio.live.protocol import Measure, Measurement, Part, RunState, SetFieldBox, SetViews

MODES = ("trajectories", "samples", "field")
"""What a panel can show; the window's "Show" choice applies to every panel."""
FINAL_POINTS = 1000
"""Points of the measurement taken when a configuration finishes."""
MEASURE_SHARE = 0.1
"""Live measurements may take at most this share of a configuration's wall clock: one pauses
its training for seconds (more while several runs share the cores), so after one that took c
seconds the next starts no sooner than c / share after it (`MeasureBudget`)."""
PICTURE_STRETCH = 3
"""The picture gets this many times the loss strip's share of a panel's height."""


@dataclass
class MeasureBudget:
    """When the next live measurement may start: one at a time, at most every `every` seconds,
    and no more often than keeps measuring within `share` of the time."""

    share: float
    every: float
    next_at: float = 0.0
    _started: float | None = None

    def due(self, now: float) -> bool:
        return self._started is None and now >= self.next_at

    def started(self, now: float) -> None:
        self._started = now

    def finished(self, now: float) -> None:
        """A measurement ended (or failed): the next waits as long as this one's cost allows."""
        if self._started is not None:
            cost = now - self._started
            self.next_at = self._started + max(self.every, cost / self.share)
            self._started = None


class ComparePanel(BoundToRun, QObject):
    """One configuration: its run (`RunModel`), views, loss and status; `widget` is what to
    lay out.

    Start it with `run.new_run(...)` or `run.send(Reflow(...))`.
    """

    measuredChanged = Signal()
    reflowRequested = Signal(object)  # this panel
    saved = Signal(str)
    failed = Signal(str)  # the message, named by the configuration

    def __init__(self, name: str, measure_every: float = 5.0) -> None:
        """`measure_every`: the shortest interval between live measurements (seconds)."""
        super().__init__()
        self.name = name
        self.measured: Measurement | None = None
        self.measuring = False
        self.budget = MeasureBudget(MEASURE_SHARE, measure_every)
        self.config = None
        self.views = {
            "trajectories": TrajectoryView(),
            "samples": SamplesView(),
            "field": FieldView(),
        }
        self.loss = LossView(compact=True)
        self.stack = QStackedWidget()
        for view in self.views.values():
            self.stack.addWidget(view)
        self.status = QLabel(name)
        self.status.setMinimumWidth(10)  # a long status is clipped, not widening the panel
        self.reflow_button = QToolButton()
        self.reflow_button.setText("Reflow")
        self.reflow_button.setToolTip(
            "Straighten this flow: train a new panel on its own (noise, sample) pairs with the "
            "straight path, from its weights (rectified flow)"
        )
        self.widget = QWidget()
        slug = folder_name(name)
        for widget, role in (
            (self.widget, "comparePanel"),
            (self.status, "compareStatus"),
            (self.reflow_button, "compareReflow"),
        ):
            widget.setObjectName(f"{role}_{slug}")
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        header.addWidget(self.reflow_button)
        column = QVBoxLayout(self.widget)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(header)
        column.addWidget(self.stack, PICTURE_STRETCH)
        column.addWidget(self.loss, 1)
        self.mode = MODES[0]

        self.run = RunModel(self)
        self._views()
        self.trajectories.show_conditional.toggled.connect(self._views)
        self.field.show_marginal.toggled.connect(self._views)
        self.reflow_button.clicked.connect(self._on_reflow_clicked)
        self.field.boxChanged.connect(self._send_field_box)
        self.run.runStarted.connect(self._on_run)
        self.run.snapshot.connect(self._on_snapshot)
        self.run.stateChanged.connect(self._on_state)
        self.run.measured.connect(self._on_measured)
        self.run.failed.connect(self._on_failed)
        self.run.saved.connect(self.saved)

    def _send_field_box(self, box: tuple) -> None:
        self.run.send(SetFieldBox(tuple(box)))

    @property
    def trajectories(self) -> TrajectoryView:
        return self.views["trajectories"]

    @property
    def samples(self) -> SamplesView:
        return self.views["samples"]

    @property
    def field(self) -> FieldView:
        return self.views["field"]

    def show_mode(self, mode: str) -> None:
        """Show trajectories, samples or the field (and compute only that picture)."""
        if mode not in MODES:
            raise ValueError(f"unknown view {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        self.stack.setCurrentWidget(self.views[mode])
        self._views()

    def _views(self) -> None:
        """The parts the shown view needs: its picture, plus the conditional paths or the
        exact marginal field when their boxes are checked."""
        parts = {Part(self.mode)}
        if self.mode == "trajectories" and self.trajectories.show_conditional.isChecked():
            parts.add(Part.CONDITIONAL)
        if self.mode == "field" and self.field.show_marginal.isChecked():
            parts.add(Part.MARGINAL)
        self.run.send(SetViews(frozenset(parts)))

    def set_time(self, t: float) -> None:
        self.trajectories.set_time(t)
        self.field.set_time(t)

    def measure(self, n: int) -> None:
        """Ask for a measurement unless one is still being computed (they take seconds)."""
        if not self.measuring:
            self.measuring = True
            self.budget.started(time.monotonic())
            self.run.send(Measure(n))

    def live_measure_due(self) -> bool:
        """Whether a live measurement may start now: training, and within `MEASURE_SHARE`."""
        return self.state is RunState.TRAINING and self.budget.due(time.monotonic())

    def _on_reflow_clicked(self) -> None:
        self.reflowRequested.emit(self)

    def _on_run(self, info) -> None:
        self.config = info.config
        self.loss.reset()
        for view in self.views.values():
            view.set_target(info.target)
            view.set_bounds(info.bounds)

    def _on_snapshot(self, item: Snapshot) -> None:
        self.loss.add_snapshot(item)
        if item.trajectories is not None:
            self.trajectories.set_trajectories(item.trajectories)
        if item.conditional is not None:
            self.trajectories.set_conditional(item.conditional)
        if item.samples is not None:
            self.samples.set_samples(item.samples)
        if item.field is not None:
            self.field.set_frames(item.field)
        self._show_status()

    def _on_state(self, state: RunState) -> None:
        if state is RunState.FINISHED:
            self.measuring = False  # the final measurement goes ahead of any pending one
            self.measure(FINAL_POINTS)
        self._show_status()

    def _on_failed(self, message: str) -> None:
        self.measuring = False
        self.budget.finished(time.monotonic())
        self.status.setToolTip(message)
        self.failed.emit(f"{self.name}: {message}")

    def _on_measured(self, result: Measurement) -> None:
        self.measuring = False
        self.budget.finished(time.monotonic())
        self.measured = result
        self._show_status()
        self.measuredChanged.emit()

    def _show_status(self) -> None:
        self.status.setText(f"<b>{self.name}</b> · step {self.step:,} · {self.state}{self._w2()}")

    def _w2(self) -> str:
        """The latest W2, and what draws of the target score at that size (a perfect model):
        the model is as good as W2 can tell when the two meet."""
        if self.measured is None:
            return ""
        table = self.measured.table
        floor = table.get("w2_floor")
        return f" · W2 {table['w2']:.3f}" + ("" if floor is None else f" (perfect {floor:.3f})")
