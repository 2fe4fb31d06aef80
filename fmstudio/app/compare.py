"""Compare mode: two to four configurations trained side by side on the same target, seed and
model size, with one t-slider for all, a W2-vs-NFE chart and a table that fill in as they train.

Each configuration has its own training process (`ComparePanel` → `Controller`), so they train
in parallel and the OS shares the cores between them; the window only draws. The panels' axes
are linked and the one TimeBar moves every panel's particles and fields, so straight (ot, otcfm)
and curved (vp) paths are compared at the same t on the same noise. Any trained panel can be
reflowed into a new panel, which shows its trajectories straighten and its one- and two-step
Euler W2 fall.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app import export, style
from fmstudio.app.compare_panel import FINAL_POINTS, MODES, ComparePanel
from fmstudio.app.views import TimeBar
from fmstudio.app.views.plot import make_plot
from fmstudio.core.compare import folder_name, parse_configs, write_csv
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D

TABLE_COLUMNS = (
    "config",
    "step",
    "w2",
    "w2_euler1",
    "w2_euler2",
    "straightness",
    "path_energy",
    "nfe_dopri5",
    "nll",
    "steps_per_s",
)
"""The table: W2 from dopri5, and from one and two Euler steps (where reflow shines)."""
MEASURE_EVERY_MS = 5000
"""While training, each configuration is re-measured this often (W2 vs NFE, the table)..."""
LIVE_POINTS = 400
"""...on this many points (a measurement pauses that configuration's training for it)."""
MAX_CONFIGS = 4
REFLOW_PAIRS = 10000


def table_row(name: str, measured: dict) -> dict:
    """A table row from one measurement: the flow report plus the Euler 1- and 2-step W2."""
    euler = {r["steps"]: r["w2"] for r in measured["ladder"] if r["solver"] == "euler"}
    return {
        "config": name,
        **measured["table"],
        "w2_euler1": euler.get(1),
        "w2_euler2": euler.get(2),
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class CompareWindow(QMainWindow):
    """The comparison: panels, shared t, chart and table; `start`, `pause`, `measure`,
    `reflow(panel)`, `export_to(directory)`."""

    def __init__(self, base: TrainConfig, dataset: Dataset2D, spec: str = "ot,vp") -> None:
        super().__init__()
        self.setObjectName("compareWindow")
        self.setWindowTitle("fmstudio — compare paths")
        self.base, self.dataset = base, dataset
        self.panels: list[ComparePanel] = []
        self._scratch = tempfile.TemporaryDirectory(prefix="fmstudio-compare-")
        self._pending_reflows: dict[str, str] = {}  # saved parent directory → parent name
        self.error = QLabel()
        self.error.setObjectName("compareError")
        self.error.setStyleSheet("color:#ff8080")
        self.error.setWordWrap(True)
        layout = QVBoxLayout()
        layout.addLayout(self._build_run_row(spec))
        layout.addLayout(self._build_view_row())
        layout.addWidget(self.error)
        layout.addWidget(self._build_figure(), 1)
        self.time_bar = TimeBar()
        self.time_bar.timeChanged.connect(self._set_time)
        layout.addWidget(self.time_bar)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.timer = QTimer(self)
        self.timer.setInterval(MEASURE_EVERY_MS)
        self.timer.timeout.connect(self._measure_running)
        self.timer.start()
        self.resize(1500, 950)
        self.set_up()

    # ---- layout --------------------------------------------------------------------------

    def _build_run_row(self, spec: str) -> QHBoxLayout:
        self.spec = QLineEdit(spec)
        self.spec.setObjectName("compareConfigs")
        self.spec.setToolTip(
            "Two to four configurations, comma-separated: a path or preset with optional "
            "overrides, e.g. 'ot,vp,otcfm,ot:sigma_min=0.05'. All share the target, seed, "
            "model and steps of the main window's settings."
        )
        row = QHBoxLayout()
        row.addWidget(QLabel("Configurations"))
        row.addWidget(self.spec, 1)
        for name, text, slot, tip in (
            ("compareSetUp", "Set up", self.set_up, "Start fresh runs for these configurations"),
            ("compareStart", "Train", self.start, "Train every configuration"),
            ("comparePause", "Pause", self.pause, "Pause every configuration"),
            ("compareMeasure", "Measure", self.measure, "W2 vs NFE and the table, now"),
            (
                "compareExport",
                "Export…",
                self.export_dialog,
                "Write the figure (PNG and SVG: panels, chart and table), the chart (SVG), "
                "W2 vs NFE and the table (CSV) and every model",
            ),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
        return row

    def _build_view_row(self) -> QHBoxLayout:
        self.mode = QComboBox()
        self.mode.setObjectName("compareShow")
        self.mode.addItems(list(MODES))
        self.mode.setToolTip(
            "What every panel shows: learned trajectories (with the conditional paths as an "
            "option), model samples against the target, or the vector field at the slider's t "
            "(with the exact marginal field as an option)"
        )
        self.mode.currentTextChanged.connect(self.show_mode)
        self.reflow_pairs = QSpinBox()
        self.reflow_pairs.setObjectName("compareReflowPairs")
        self.reflow_pairs.setRange(256, 200_000)
        self.reflow_pairs.setSingleStep(1000)
        self.reflow_pairs.setValue(REFLOW_PAIRS)
        self.reflow_pairs.setToolTip("(noise, sample) pairs a reflow trains on")
        self.reflow_steps = QSpinBox()
        self.reflow_steps.setObjectName("compareReflowSteps")
        self.reflow_steps.setRange(1, 1_000_000)
        self.reflow_steps.setSingleStep(100)
        self.reflow_steps.setValue(self.base.steps)
        self.reflow_steps.setToolTip("Training steps of a reflow")
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        row.addWidget(self.mode)
        row.addStretch(1)
        row.addWidget(QLabel("Reflow (a panel's Reflow button): pairs"))
        row.addWidget(self.reflow_pairs)
        row.addWidget(QLabel("steps"))
        row.addWidget(self.reflow_steps)
        return row

    def _build_figure(self) -> QWidget:
        """The panels and, beside them, the chart and the table: what the figure export draws."""
        self.grid = QGridLayout()
        self.chart = make_plot(aspect_locked=False)
        self.chart.setObjectName("compareChart")
        self.chart.setLogMode(x=True)
        self.chart.setLabel("bottom", "NFE")
        self.chart.setLabel("left", "W2 to the target")
        self.chart.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)"
        self.chart.addLegend(offset=(-10, 10))
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        rows = self.table.verticalHeader().defaultSectionSize()
        header = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(header + MAX_CONFIGS * rows + 2 * self.table.frameWidth())
        top = QHBoxLayout()
        top.addLayout(self.grid, 3)
        top.addWidget(self.chart, 2)
        self.figure = QWidget()
        self.figure.setObjectName("compareFigure")
        self.figure.setAutoFillBackground(True)  # the exported figure keeps the dark background
        body = QVBoxLayout(self.figure)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(top, 1)
        body.addWidget(self.table)
        return self.figure

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
        for name, config in configs:
            self._add_panel(name).controller.new_run(config, self.dataset)
        self._refresh_results()

    def _add_panel(self, name: str) -> ComparePanel:
        panel = ComparePanel(name)
        panel.measuredChanged.connect(self._refresh_results)
        panel.reflowRequested.connect(self.reflow)
        panel.saved.connect(self._on_saved)
        panel.failed.connect(self._on_failed)
        panel.show_mode(self.mode.currentText())
        if self.panels:
            first = self.panels[0]
            for kind, view in panel.views.items():
                view.plot.setXLink(first.views[kind].plot)
                view.plot.setYLink(first.views[kind].plot)
        self.panels.append(panel)
        index = len(self.panels) - 1
        self.grid.addWidget(panel.widget, index // 2, index % 2)
        panel.set_time(self.time_bar.time())
        return panel

    def start(self) -> None:
        for panel in self.panels:
            panel.controller.start()

    def pause(self) -> None:
        for panel in self.panels:
            panel.controller.pause()

    def measure(self) -> None:
        for panel in self.panels:
            panel.measure(FINAL_POINTS)

    def show_mode(self, mode: str) -> None:
        """Trajectories, samples or the field, in every panel."""
        if self.mode.currentText() != mode:
            self.mode.setCurrentText(mode)  # comes back here through the signal
            return
        for panel in self.panels:
            panel.show_mode(mode)

    def _measure_running(self) -> None:
        for panel in self.panels:
            if panel.state == "training":
                panel.measure(LIVE_POINTS)

    def _set_time(self, t: float) -> None:
        for panel in self.panels:
            panel.set_time(t)

    def _on_failed(self, message: str) -> None:
        self.error.setText(message)

    # ---- reflow --------------------------------------------------------------------------

    def reflow(self, parent: ComparePanel) -> None:
        """Straighten a trained panel's flow in a new panel: the parent is saved to a scratch
        folder, and the new panel's process builds its pairs from it and trains at once."""
        name = f"reflow({parent.name})"
        if parent.step == 0:
            self.error.setText(f"Train {parent.name} first: reflow straightens a trained flow.")
        elif any(p.name == name for p in self.panels):
            self.error.setText(f"{name} is already here.")
        elif len(self.panels) >= MAX_CONFIGS:
            self.error.setText(
                f"At most {MAX_CONFIGS} panels: set up fewer configurations to make room for "
                "a reflow."
            )
        else:
            self.error.setText("")
            directory = str(Path(self._scratch.name) / folder_name(parent.name))
            self._pending_reflows[directory] = parent.name
            parent.controller.save_model(directory)

    def _on_saved(self, directory: str) -> None:
        parent = self._pending_reflows.pop(directory, None)
        if parent is None:
            return  # an export's save, not a reflow's
        panel = self._add_panel(f"reflow({parent})")
        panel.controller.reflow(directory, self.reflow_pairs.value(), self.reflow_steps.value())
        panel.controller.start()

    # ---- results -------------------------------------------------------------------------

    def _refresh_results(self) -> None:
        """Redraw the chart (one line per configuration and fixed-step solver family, rk4
        and euler) and the table from the latest measurements."""
        self.chart.clear()
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
        rows = self.table_rows()
        self.table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, key in enumerate(TABLE_COLUMNS):
                self.table.setItem(row, column, QTableWidgetItem(_cell(values.get(key))))
        self.table.resizeColumnsToContents()

    def table_rows(self) -> list[dict]:
        """The table's rows, in its column order."""
        rows = [table_row(p.name, p.measured) for p in self.panels if p.measured is not None]
        return [{key: row.get(key) for key in TABLE_COLUMNS} for row in rows]

    def ladder_rows(self) -> list[dict]:
        """Every configuration's W2 at every solver setting (the chart's data, and dopri5's)."""
        return [
            {"config": p.name, **r}
            for p in self.panels
            if p.measured is not None
            for r in p.measured["ladder"]
        ]

    def export_dialog(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Export the comparison into")
        if directory:
            try:
                self.export_to(directory)
            except (OSError, ValueError) as exc:
                self.error.setText(f"Cannot export: {exc}")

    def export_to(self, directory: str | Path) -> Path:
        """The figure (panels, chart and table) as PNG and SVG, the chart alone as SVG, the
        W2-vs-NFE data and the table as CSV, and every model (saved by its own process)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        export.save_image(self.figure, out / "compare.png")
        export.save_svg(self.figure, out / "compare.svg", title="fmstudio comparison")
        export.export_plot(self.chart, out / "w2_vs_nfe.svg")
        write_csv(out / "w2_vs_nfe.csv", self.ladder_rows())
        write_csv(out / "table.csv", self.table_rows())
        for panel in self.panels:
            panel.controller.save_model(str(out / folder_name(panel.name)))
        return out

    # ---- shutdown ------------------------------------------------------------------------

    def _stop_panels(self) -> None:
        for panel in self.panels:
            panel.controller.shutdown()
            self.grid.removeWidget(panel.widget)
            panel.widget.deleteLater()
        self.panels = []
        self._pending_reflows.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        self.time_bar.stop()
        for panel in self.panels:
            panel.controller.shutdown()
        self._scratch.cleanup()
        super().closeEvent(event)


def base_for_compare(config: TrainConfig) -> TrainConfig:
    """The main window's settings as the shared base (path and coupling come per config)."""
    return dataclasses.replace(config, coupling=None)
