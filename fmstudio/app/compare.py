"""Compare mode: two to four configurations trained side by side on the same target, seed and
model size, with one t-slider for all, a W2-vs-NFE chart and a table that fill in as they train.

Each configuration has its own training process (`Controller`), so they train in parallel and
the OS shares the cores between them; the window only draws. The panels' axes are linked and
the one TimeBar moves every panel's particles, so straight (ot, otcfm) and curved (vp) paths are
compared at the same t on the same noise.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app import export, style
from fmstudio.app.controller import Controller
from fmstudio.app.views import TimeBar, TrajectoryView
from fmstudio.app.views.plot import make_plot
from fmstudio.core.compare import folder_name, parse_configs, write_csv
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D

TABLE_COLUMNS = ("config", "step", "w2", "straightness", "path_energy", "nfe_dopri5", "nll")
MEASURE_EVERY_MS = 5000
"""While training, each configuration is re-measured this often (W2 vs NFE, the table)..."""
LIVE_POINTS = 400
"""...on this many points (a measurement pauses that configuration's training for it)..."""
FINAL_POINTS = 1000
"""...and on this many when it finishes or Measure is pressed."""
MAX_CONFIGS = 4


class ComparePanel(QObject):
    """One configuration: its training process, its trajectory view and its status line."""

    measuredChanged = Signal()

    def __init__(self, name: str, config: TrainConfig, dataset: Dataset2D) -> None:
        super().__init__()
        self.name = name
        self.view = TrajectoryView(max_curves=150)
        self.view.setObjectName(f"comparePanel_{folder_name(name)}")
        self.status = QLabel(name)
        self.status.setObjectName(f"compareStatus_{folder_name(name)}")
        self.state = "idle"
        self.step = 0
        self.loss = float("nan")
        self.measured: dict | None = None
        self.measuring = False
        self.controller = Controller(self)
        self._views()
        self.view.show_conditional.toggled.connect(self._views)
        self.controller.runStarted.connect(self._on_run)
        self.controller.snapshotReady.connect(self._on_snapshot)
        self.controller.stateChanged.connect(self._on_state)
        self.controller.measured.connect(self._on_measured)
        self.controller.failed.connect(self._on_failed)
        self.controller.new_run(config, dataset)

    def _views(self) -> None:
        """Trajectories, and the conditional paths of coupled pairs when that box is checked."""
        parts = {"trajectories"} | (
            {"conditional"} if self.view.show_conditional.isChecked() else set()
        )
        self.controller.set_views(frozenset(parts))

    def measure(self, n: int) -> None:
        """Ask for a measurement unless one is still being computed (they take seconds)."""
        if not self.measuring:
            self.measuring = True
            self.controller.measure(n)

    def _on_run(self, info) -> None:
        self.view.set_target(info.target)
        self.view.set_bounds(info.bounds)

    def _on_snapshot(self) -> None:
        item = self.controller.mailbox.take()
        if item is None:
            return
        self.step = item.step
        if len(item.losses):
            self.loss = float(item.losses[-1])
        if item.trajectories is not None:
            self.view.set_trajectories(item.trajectories)
        if item.conditional is not None:
            self.view.set_conditional(item.conditional)
        self._show_status()

    def _on_state(self, state: str) -> None:
        self.state = state
        if state == "finished":
            self.measuring = False  # the final measurement goes ahead of any pending one
            self.measure(FINAL_POINTS)
        self._show_status()

    def _on_failed(self, message: str) -> None:
        self.measuring = False
        self.status.setToolTip(message)

    def _on_measured(self, result: dict) -> None:
        self.measuring = False
        self.measured = result
        self._show_status()
        self.measuredChanged.emit()

    def _show_status(self) -> None:
        w2 = "" if self.measured is None else f" · W2 {self.measured['table']['w2']:.3f}"
        self.status.setText(f"<b>{self.name}</b> · step {self.step:,} · {self.state}{w2}")


class CompareWindow(QMainWindow):
    """The comparison: panels, shared t, chart and table; `start`, `pause`, `measure`,
    `export_to(directory)`."""

    def __init__(self, base: TrainConfig, dataset: Dataset2D, spec: str = "ot,vp") -> None:
        super().__init__()
        self.setObjectName("compareWindow")
        self.setWindowTitle("fmstudio — compare paths")
        self.base, self.dataset = base, dataset
        self.panels: list[ComparePanel] = []
        self.spec = QLineEdit(spec)
        self.spec.setObjectName("compareConfigs")
        self.spec.setToolTip(
            "Two to four configurations, comma-separated: a path or preset with optional "
            "overrides, e.g. 'ot,vp,otcfm,ot:sigma_min=0.05'. All share the target, seed, "
            "model and steps of the main window's settings."
        )
        self.error = QLabel()
        self.error.setObjectName("compareError")
        self.error.setStyleSheet("color:#ff8080")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Configurations"))
        buttons.addWidget(self.spec, 1)
        for name, text, slot, tip in (
            ("compareSetUp", "Set up", self.set_up, "Start fresh runs for these configurations"),
            ("compareStart", "Train", self.start, "Train every configuration"),
            ("comparePause", "Pause", self.pause, "Pause every configuration"),
            ("compareMeasure", "Measure", self.measure, "W2 vs NFE and the table, now"),
            (
                "compareExport",
                "Export…",
                self.export_dialog,
                "Write the window (PNG), the chart (SVG), the table (CSV) and every model",
            ),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        self.grid = QGridLayout()
        self.time_bar = TimeBar()
        self.time_bar.timeChanged.connect(self._set_time)
        self.chart = make_plot(aspect_locked=False)
        self.chart.setObjectName("compareChart")
        self.chart.setLogMode(x=True)
        self.chart.setLabel("bottom", "NFE")
        self.chart.setLabel("left", "W2 to the target")
        self.chart.addLegend(offset=(-10, 10))
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        side = QVBoxLayout()
        side.addWidget(self.chart, 3)
        side.addWidget(self.table, 2)
        body = QHBoxLayout()
        body.addLayout(self.grid, 3)
        body.addLayout(side, 2)
        layout = QVBoxLayout()
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addLayout(body, 1)
        layout.addWidget(self.time_bar)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.timer = QTimer(self)
        self.timer.setInterval(MEASURE_EVERY_MS)
        self.timer.timeout.connect(self._measure_running)
        self.timer.start()
        self.resize(1500, 900)
        self.set_up()

    # ---- configurations ------------------------------------------------------------------

    def set_up(self) -> None:
        """Fresh runs for the configurations in the text field (the old ones are stopped)."""
        try:
            configs = parse_configs(self.spec.text(), self.base)
        except ConfigError as exc:
            self.error.setText(str(exc))
            return
        if not 2 <= len(configs) <= MAX_CONFIGS:
            self.error.setText(f"compare 2 to {MAX_CONFIGS} configurations, got {len(configs)}")
            return
        self.error.setText("")
        self._stop_panels()
        for index, (name, config) in enumerate(configs):
            panel = ComparePanel(name, config, self.dataset)
            panel.measuredChanged.connect(self._refresh_results)
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(panel.status)
            column.addWidget(panel.view, 1)
            self.grid.addWidget(box, index // 2, index % 2)
            if self.panels:
                panel.view.plot.setXLink(self.panels[0].view.plot)
                panel.view.plot.setYLink(self.panels[0].view.plot)
            self.panels.append(panel)
        self._refresh_results()

    def start(self) -> None:
        for panel in self.panels:
            panel.controller.start()

    def pause(self) -> None:
        for panel in self.panels:
            panel.controller.pause()

    def measure(self) -> None:
        for panel in self.panels:
            panel.measure(FINAL_POINTS)

    def _measure_running(self) -> None:
        for panel in self.panels:
            if panel.state == "training":
                panel.measure(LIVE_POINTS)

    def _set_time(self, t: float) -> None:
        for panel in self.panels:
            panel.view.set_time(t)

    # ---- results -------------------------------------------------------------------------

    def _refresh_results(self) -> None:
        """Redraw the chart (one line per configuration and fixed-step solver family, rk4
        and euler) and the table from the latest measurements."""
        self.chart.clear()
        rows = [p for p in self.panels if p.measured is not None]
        self.table.setRowCount(len(rows))
        for index, panel in enumerate(self.panels):
            color = pg.mkColor(style.COMPARE_COLORS[index % len(style.COMPARE_COLORS)])
            if panel.measured is None:
                continue
            for solver, dash in (("rk4", None), ("euler", pg.QtCore.Qt.PenStyle.DashLine)):
                points = [
                    (r["nfe"], r["w2"])
                    for r in panel.measured["ladder"]
                    if r["solver"] == solver and r["w2"] is not None
                ]
                if points:
                    nfe, w2 = zip(*points, strict=True)
                    pen = pg.mkPen(color, width=2, style=dash or pg.QtCore.Qt.PenStyle.SolidLine)
                    self.chart.plot(nfe, w2, pen=pen, symbol="o", symbolSize=5,
                                    symbolBrush=color, name=f"{panel.name} {solver}")  # fmt: skip
        for row, panel in enumerate(rows):
            values = {"config": panel.name, **panel.measured["table"]}
            for column, key in enumerate(TABLE_COLUMNS):
                value = values.get(key)
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def table_rows(self) -> list[dict]:
        return [
            {"config": p.name, **p.measured["table"]} for p in self.panels if p.measured is not None
        ]

    def export_dialog(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Export the comparison into")
        if directory:
            try:
                self.export_to(directory)
            except (OSError, ValueError) as exc:
                self.error.setText(f"Cannot export: {exc}")

    def export_to(self, directory: str | Path) -> Path:
        """The comparison figure (PNG and SVG chart), the table (CSV) and every model."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        export.save_image(self, out / "compare.png")
        export.export_plot(self.chart, out / "w2_vs_nfe.svg")
        write_csv(out / "table.csv", self.table_rows())
        for panel in self.panels:
            panel.controller.save_model(str(out / folder_name(panel.name)))
        return out

    # ---- shutdown ------------------------------------------------------------------------

    def _stop_panels(self) -> None:
        for panel in self.panels:
            panel.controller.shutdown()
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.panels = []

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        self.time_bar.stop()
        for panel in self.panels:
            panel.controller.shutdown()
        super().closeEvent(event)


def base_for_compare(config: TrainConfig) -> TrainConfig:
    """The main window's settings as the shared base (path and coupling come per config)."""
    return dataclasses.replace(config, coupling=None)
