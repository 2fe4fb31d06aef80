"""Compare mode driven as a person drives it: two configurations train, one slider, every panel's
views, the chart and table fill, the comparison exports, and a trained panel reflows."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QToolButton, QWidget

from fmstudio.app.compare_window import TABLE_COLUMNS, CompareWindow
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset
from fmstudio.core.io import load_flow

BASE = TrainConfig(
    dataset="moons",
    hidden=32,
    depth=2,
    batch_size=128,
    steps=150,
    lr=5e-3,
    ema_decay=0.99,
    warmup_steps=10,
    device="cpu",
)


def trained_window(qtbot, spec: str = "ot,vp") -> CompareWindow:
    window = CompareWindow(BASE, PresetDataset("moons"), spec)
    qtbot.addWidget(window)
    window.resize(1500, 950)  # the size it opens at on a desktop screen
    window.show()
    qtbot.waitUntil(
        lambda: all(p.trajectories.trajectories is not None for p in window.panels),
        timeout=60000,
    )
    qtbot.mouseClick(window.findChild(object, "compareStart"), Qt.MouseButton.LeftButton)
    wait_measured(qtbot, window)
    return window


def wait_measured(qtbot, window: CompareWindow, timeout: int = 120000) -> None:
    """Every panel finished and its final measurement in."""
    qtbot.waitUntil(
        lambda: all(
            p.state == "finished" and p.measured is not None and not p.measuring
            for p in window.panels
        ),
        timeout=timeout,
    )


def assert_legend_beside_the_curves(window: CompareWindow) -> None:
    """The chart's legend names every configuration and sits outside the plotted area."""
    item = window.chart.getPlotItem()
    legend = window.chart_legend
    names = [label.text for _, label in legend.items]
    assert all(any(p.name in name for name in names) for p in window.panels), names
    plotted = item.getViewBox().sceneBoundingRect()
    assert not legend.sceneBoundingRect().intersects(plotted)


def test_two_configurations_train_side_by_side_and_export(qtbot, tmp_path):
    window = trained_window(qtbot)
    assert [p.name for p in window.panels] == ["ot", "vp"]
    for panel in window.panels:
        assert panel.step == BASE.steps
        losses = panel.loss.losses()  # each panel's own live loss curve
        assert len(losses) == BASE.steps and np.isfinite(losses).all()

    window.time_bar.set_time(0.3)  # one slider moves every panel
    for panel in window.panels:
        x, y = panel.trajectories.particle_item.getData()
        expected = panel.trajectories.trajectories.at(0.3)
        assert np.allclose(np.c_[x, y], expected, atol=1e-5)

    assert window.table.rowCount() == 2
    assert window.table.item(0, 0).text() == "ot"
    assert len(window.chart.getPlotItem().listDataItems()) == 4  # rk4 and euler per config
    for panel in window.panels:  # W2 next to what two draws of the target score
        assert "(perfect " in panel.status.text()
        assert "steps/s avg" in panel.loss.status.text()  # the finished run's real rate
    assert_legend_beside_the_curves(window)

    out = window.export_to(tmp_path / "cmp")
    qtbot.waitUntil(
        lambda: all((out / n / "config.json").exists() for n in ("ot", "vp")), timeout=30000
    )
    with open(out / "table.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["config"] for r in rows] == ["ot", "vp"] and float(rows[1]["w2"]) > 0
    assert list(rows[0]) == list(TABLE_COLUMNS) and float(rows[0]["w2_euler1"]) > 0
    with open(out / "w2_vs_nfe.csv", newline="") as handle:
        ladder = list(csv.DictReader(handle))
    assert {r["config"] for r in ladder} == {"ot", "vp"}
    assert {r["solver"] for r in ladder} >= {"euler", "rk4", "dopri5"}
    assert "<svg" in (out / "w2_vs_nfe.svg").read_text()
    figure_svg = (out / "compare.svg").read_text()
    assert QSvgRenderer(str(out / "compare.svg")).isValid()
    for text in ("ot", "vp", "NFE", "straightness"):  # panels, chart and table, as vectors
        assert f">{text}" in figure_svg or f"{text}<" in figure_svg
    assert figure_svg.count("<path") > 1000  # the scatter points are shapes, not one bitmap
    with Image.open(out / "compare.png") as figure:
        assert figure.width >= 1000
    assert load_flow(out / "vp").sample(4, steps=2).x.shape == (4, 2)

    panel = window.panels[0]  # conditional vs marginal, for one configuration
    panel.trajectories.show_conditional.setChecked(True)
    qtbot.waitUntil(
        lambda: panel.trajectories.conditional_item.getData()[0] is not None, timeout=20000
    )

    window.close()
    assert all(not p.controller.process.is_alive() for p in window.panels)


def test_every_panel_shows_samples_and_the_field_at_the_shared_t(qtbot):
    window = trained_window(qtbot)
    window.mode.setCurrentText("samples")
    for panel in window.panels:
        assert panel.stack.currentWidget() is panel.samples
    qtbot.waitUntil(
        lambda: all(p.samples.samples_item.getData()[0].size > 0 for p in window.panels),
        timeout=20000,
    )
    for panel in window.panels:
        samples = panel.samples.samples
        assert samples.shape[1] == 2 and np.isfinite(samples).all()
        assert abs(samples.mean(axis=0) - panel.samples._target.mean(axis=0)).max() < 1.0

    window.mode.setCurrentText("field")
    qtbot.waitUntil(lambda: all(p.field._frames is not None for p in window.panels), timeout=20000)
    window.time_bar.set_time(0.25)
    for panel in window.panels:
        assert panel.field.time_label.text() == "t = 0.25"
        arrows = sum(
            len(i.getData()[0]) for i in panel.field.bin_items if i.getData()[0] is not None
        )
        assert arrows > 0

    panel = window.panels[1]  # the exact marginal field of eq. 8, for one configuration
    panel.field.show_marginal.setChecked(True)
    qtbot.waitUntil(
        lambda: panel.field._frames is not None and panel.field._frames.marginal is not None,
        timeout=20000,
    )
    assert panel.field.marginal_item.getData()[0] is not None
    assert window.panels[0].controller.views == frozenset({"field"})  # only what is shown
    window.close()


def test_reflow_adds_a_straighter_panel(qtbot, tmp_path):
    window = trained_window(qtbot)
    window.reflow_steps.setValue(150)
    window.reflow_pairs.setValue(2000)
    parent = window.panels[0]
    qtbot.mouseClick(parent.reflow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.panels) == 3, timeout=30000)
    child = window.panels[2]
    assert child.name == "reflow(ot)"
    wait_measured(qtbot, window)
    assert child.config.path == "icfm" and child.config.sigma == 0.0
    assert child.step == 150
    rows = {r["config"]: r for r in window.table_rows()}
    assert rows["reflow(ot)"]["straightness"] < 0.5 * rows["ot"]["straightness"]
    assert window.table.rowCount() == 3

    qtbot.mouseClick(parent.reflow_button, Qt.MouseButton.LeftButton)  # once per parent
    assert "already" in window.error.text()
    window.export_to(tmp_path / "with-reflow")
    qtbot.waitUntil(
        lambda: (tmp_path / "with-reflow" / "reflow_ot_" / "config.json").exists(),
        timeout=30000,
    )
    saved = json.loads((tmp_path / "with-reflow" / "reflow_ot_" / "config.json").read_text())
    assert saved["config"]["path"] == "icfm"
    window.close()


def test_a_failed_reflow_leaves_no_dead_panel(qtbot):
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,ve")
    qtbot.addWidget(window)
    window.show()
    qtbot.mouseClick(window.findChild(object, "compareStart"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(p.step > 0 for p in window.panels), timeout=60000)
    qtbot.mouseClick(window.findChild(object, "comparePause"), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.findChild(QToolButton, "compareReflow_ve"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "reflow(ve)" in window.error.text(), timeout=60000)
    message = window.error.text()
    assert "N(0, I)" in message and "path 've'" in message, message
    assert [p.name for p in window.panels] == ["ot", "ve"] and window.grid.count() == 2
    qtbot.waitUntil(lambda: window.findChild(QWidget, "comparePanel_reflow_ve_") is None)
    window.close()


def test_a_bad_configuration_list_or_an_untrained_reflow_is_reported(qtbot):
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,vp")
    qtbot.addWidget(window)
    window.reflow(window.panels[1])
    assert "Train vp first" in window.error.text()
    assert len(window.panels) == 2
    window.spec.setText("ot,nope")
    window.set_up()
    assert "unknown" in window.error.text()
    window.spec.setText("ot")
    window.set_up()
    assert "2 to 4" in window.error.text()
    assert [p.name for p in window.panels] == ["ot", "vp"]  # the running comparison is kept
    window.close()


def test_panels_give_the_picture_room_and_arrows_fill_it(qtbot):
    """On a 1366×768 laptop screen the picture is the panel's main part, fitted to the data,
    and the field's arrows cover all of it, not only the data square."""
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,vp,otcfm")
    qtbot.addWidget(window)
    window.resize(1366, 736)
    window.show()
    window.mode.setCurrentText("field")

    def arrows_fill(panel) -> bool:
        frames = panel.field._frames
        if frames is None:
            return False
        (x0, x1), (y0, _) = panel.field.plot.getViewBox().viewRange()
        cell = frames.xs[1] - frames.xs[0]
        covered = (frames.xs[-1] - frames.xs[0] + cell) / (x1 - x0)
        return 0.95 < covered < 1.05 and frames.ys[0] - cell < y0 + cell

    qtbot.waitUntil(lambda: all(arrows_fill(p) for p in window.panels), timeout=60000)
    for panel in window.panels:
        plot, loss = panel.field.plot, panel.loss
        assert plot.height() > 1.3 * loss.height(), (plot.height(), loss.height())
        (_, _), (y0, y1) = plot.getViewBox().viewRange()
        assert y1 - y0 < 1.6 * 6.0  # the noise's 3σ disc (moons fit inside) is the limit
    window.close()


def test_live_measurements_keep_to_their_share_of_the_time():
    from fmstudio.app.compare_panel import MeasureBudget

    budget = MeasureBudget(share=0.1, every=5.0)
    assert budget.due(0.0)
    budget.started(0.0)
    assert not budget.due(1.0)  # one at a time
    budget.finished(2.0)  # it took 2 s: the next waits 18 s, so measuring stays at 10%
    assert not budget.due(19.0) and budget.due(20.0)
    budget.started(20.0)
    budget.finished(20.1)  # a cheap one: the plain interval applies
    assert not budget.due(24.0) and budget.due(25.1)
