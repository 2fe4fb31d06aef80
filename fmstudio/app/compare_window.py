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
import functools
import tempfile
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QColor
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
from fmstudio.app.screen import fit_to_screen
from fmstudio.app.views import TimeBar
from fmstudio.app.views.plot import make_plot
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.config_text import folder_name, parse_configs
from fmstudio.core.data import Dataset2D
from fmstudio.core.tables import write_csv
from fmstudio.live.protocol import Measurement, Pause, Reflow, SaveModel, Start

TABLE_COLUMNS = (
    "config",
    "step",
    "w2",
    "w2_floor",
    "w2_euler1",
    "w2_euler2",
    "straightness",
    "path_energy",
    "nfe_dopri5",
    "nll",
    "steps_per_s",
)
"""The table: W2 from dopri5 and the floor two draws of the target score at its size, and W2
from one and two Euler steps (where reflow shines)."""
MEASURE_EVERY_MS = 5000
"""While training, each configuration is re-measured at most this often (W2 vs NFE, the
table)..."""
LIVE_POINTS = 400
"""...on this many points. A measurement pauses that configuration's training (4 s for the
default model on one core, 1.6 s for a small one, more while runs share the cores: measuring
every 5 s left the training 20% of its time or less), so each panel keeps its measurements
within `compare_panel.MEASURE_SHARE` of its time (10%: the next starts ten times the last
one's cost after it)."""
MEASURE_CHECK_MS = 1000
"""How often the window looks for configurations whose next live measurement is due."""
LEGEND_COLUMNS = 3
SOLVER_LINES = (("rk4", Qt.PenStyle.SolidLine), ("euler", Qt.PenStyle.DashLine))
"""The chart's line per fixed-step solver family, for every configuration."""
MAX_CONFIGS = 4
PREFERRED_SIZE = (1500, 950)
"""Where the screen allows; `screen.fit_to_screen` shrinks it to a smaller screen."""
REFLOW_PAIRS = 10000


class RowLegend(pg.LegendItem):
    """A legend placed by its parent's layout (a row of the chart under its NFE axis) rather
    than floating over the plot: a change of entries asks that layout for room, where pyqtgraph's
    own would move it to the parent's top-left corner, over the curves."""

    def updateSize(self) -> None:
        self.updateGeometry()


def _color(index: int) -> QColor:
    """The colour of the configuration at `index`, in the chart and its legend."""
    return pg.mkColor(style.COMPARE_COLORS[index % len(style.COMPARE_COLORS)])


def table_row(name: str, measured: Measurement) -> dict:
    """A table row from one measurement: the flow report plus the Euler 1- and 2-step W2."""
    euler = {r["steps"]: r["w2"] for r in measured.ladder if r["solver"] == "euler"}
    return {
        "config": name,
        **measured.table,
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
        self.timer.setInterval(MEASURE_CHECK_MS)
        self.timer.timeout.connect(self._measure_running)
        self.timer.start()
        fit_to_screen(self, PREFERRED_SIZE)
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
        self.chart = make_plot(aspect_locked=False, log_axes=("bottom",))
        self.chart.setObjectName("compareChart")
        self.chart.setLogMode(x=True)
        self.chart.setLabel("bottom", "NFE")
        self.chart.setLabel("left", "W2 to the target")
        self.chart.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)"
        self.chart_legend = self._build_legend()
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        rows = self.table.verticalHeader().defaultSectionSize()
        header = self.table.horizontalHeader().sizeHint().height()
        frame = 2 * self.table.frameWidth()
        # Room for every configuration where the screen allows, two rows (and a scroll bar)
        # on a laptop's 768 px, so the window never needs more height than the screen has.
        self.table.setMaximumHeight(header + MAX_CONFIGS * rows + frame)
        self.table.setMinimumHeight(header + 2 * rows + frame)
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

    def _build_legend(self) -> RowLegend:
        """The chart's legend in a row of its own under the NFE axis: a colour per
        configuration and a line style per solver, clear of the curves (which fill the plot)
        and part of the chart's own export."""
        legend = RowLegend(colCount=LEGEND_COLUMNS, labelTextColor=style.FOREGROUND)
        item = self.chart.getPlotItem()
        item.layout.addItem(legend, 4, 1)  # the rows above: title, top axis, plot, NFE axis
        return legend

    def _fill_legend(self) -> None:
        """One entry per measured configuration, then what each line style means."""
        self.chart_legend.clear()
        entries = [(_color(i), Qt.PenStyle.SolidLine, p.name) for i, p in self._measured()]
        if entries:
            entries += [(style.FOREGROUND, dash, solver) for solver, dash in SOLVER_LINES]
        for color, dash, name in entries:
            line = pg.PlotDataItem(pen=pg.mkPen(color, width=2, style=dash))
            self.chart_legend.addItem(line, name)

    def _measured(self) -> list[tuple[int, ComparePanel]]:
        """(index, panel) of the panels measured so far; the index picks the colour."""
        return [(i, p) for i, p in enumerate(self.panels) if p.measured is not None]

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
            self._add_panel(name).run.new_run(config, self.dataset)
        self._refresh_results()

    def _add_panel(self, name: str) -> ComparePanel:
        panel = ComparePanel(name, measure_every=MEASURE_EVERY_MS / 1000)
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
        self._place_panels()
        panel.set_time(self.time_bar.time())
        return panel

    def _place_panels(self) -> None:
        """Up to three panels side by side, four as 2 × 2: one row keeps every picture as tall
        as the window allows (on a 1366 × 768 screen two rows left them about 120 px high)."""
        columns = len(self.panels) if len(self.panels) <= 3 else 2
        for index, panel in enumerate(self.panels):
            self.grid.removeWidget(panel.widget)
            self.grid.addWidget(panel.widget, index // columns, index % columns)

    def start(self) -> None:
        for panel in self.panels:
            panel.run.send(Start())

    def pause(self) -> None:
        for panel in self.panels:
            panel.run.send(Pause())

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
        """Measure each training configuration whose budget allows (`ComparePanel.budget`)."""
        for panel in self.panels:
            if panel.live_measure_due():
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
            parent.run.send(SaveModel(directory))

    def _on_saved(self, directory: str) -> None:
        parent = self._pending_reflows.pop(directory, None)
        if parent is None:
            return  # an export's save, not a reflow's
        panel = self._add_panel(f"reflow({parent})")
        panel.failed.connect(functools.partial(self._on_reflow_failed, panel))
        panel.run.send(Reflow(directory, self.reflow_pairs.value(), self.reflow_steps.value()))
        panel.run.send(Start())

    def _on_reflow_failed(self, panel: ComparePanel, message: str) -> None:
        """A reflow that never started (its parent's prior is not N(0, I), its process died)
        takes its panel away again, so no dead panel holds one of the slots; the error line
        (`_on_failed`, called first) keeps the message."""
        if panel.config is None and panel in self.panels:
            self.panels.remove(panel)
            self._discard(panel)
            self._place_panels()  # close the gap it leaves in the grid
            self._refresh_results()

    # ---- results -------------------------------------------------------------------------

    def _refresh_results(self) -> None:
        """Redraw the chart (one line per configuration and fixed-step solver family, rk4
        and euler), its legend and the table from the latest measurements."""
        self.chart.clear()
        for index, panel in self._measured():
            color = _color(index)
            for solver, dash in SOLVER_LINES:
                points = [
                    (r["nfe"], r["w2"])
                    for r in panel.measured.ladder
                    if r["solver"] == solver and r["w2"] is not None
                ]
                if points:
                    nfe, w2 = zip(*points, strict=True)
                    pen = pg.mkPen(color, width=2, style=dash)
                    self.chart.plot(nfe, w2, pen=pen, symbol="o", symbolSize=5, symbolBrush=color)
        self._fill_legend()
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
            for r in p.measured.ladder
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
            panel.run.send(SaveModel(str(out / folder_name(panel.name))))
        return out

    def save_screenshot(self, path: str | Path) -> Path:
        """The whole window as PNG (the scripted start's `--screenshot`)."""
        return export.save_image(self, path)

    # ---- shutdown ------------------------------------------------------------------------

    def _stop_panels(self) -> None:
        for panel in self.panels:
            self._discard(panel)
        self.panels = []
        self._pending_reflows.clear()

    def _discard(self, panel: ComparePanel) -> None:
        """End a panel's process and take it off the grid; Qt deletes it once its signals
        are done (a failed reflow's panel goes from inside its own `failed`)."""
        panel.run.shutdown()
        self.grid.removeWidget(panel.widget)
        panel.widget.deleteLater()
        panel.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        self.time_bar.stop()
        for panel in self.panels:
            panel.run.shutdown()
        self._scratch.cleanup()
        super().closeEvent(event)


def base_for_compare(config: TrainConfig) -> TrainConfig:
    """The main window's settings as the shared base (path and coupling come per config)."""
    return dataclasses.replace(config, coupling=None)
