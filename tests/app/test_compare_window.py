"""Compare mode driven as a person drives it: two configurations train, one slider, the chart and
table fill, the comparison exports."""

from __future__ import annotations

import csv

import numpy as np
from PIL import Image

from fmstudio.app.compare import CompareWindow
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


def test_two_configurations_train_side_by_side_and_export(qtbot, tmp_path):
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,vp")
    qtbot.addWidget(window)
    window.show()
    assert [p.name for p in window.panels] == ["ot", "vp"]
    qtbot.waitUntil(
        lambda: all(p.view.trajectories is not None for p in window.panels), timeout=60000
    )
    window.start()
    qtbot.waitUntil(
        lambda: all(
            p.state == "finished" and p.measured and not p.measuring for p in window.panels
        ),
        timeout=120000,
    )
    assert all(p.step == BASE.steps for p in window.panels)

    window.time_bar.set_time(0.3)  # one slider moves every panel
    for panel in window.panels:
        x, y = panel.view.particle_item.getData()
        expected = panel.view.trajectories.at(0.3)
        assert np.allclose(np.c_[x, y], expected, atol=1e-5)

    assert window.table.rowCount() == 2
    assert window.table.item(0, 0).text() == "ot"
    assert len(window.chart.getPlotItem().listDataItems()) == 4  # rk4 and euler per config

    out = window.export_to(tmp_path / "cmp")
    qtbot.waitUntil(
        lambda: all((out / n / "config.json").exists() for n in ("ot", "vp")), timeout=30000
    )
    with open(out / "table.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["config"] for r in rows] == ["ot", "vp"] and float(rows[1]["w2"]) > 0
    assert "<svg" in (out / "w2_vs_nfe.svg").read_text()
    with Image.open(out / "compare.png") as figure:
        assert figure.width >= 1000
    assert load_flow(out / "vp").sample(4, steps=2).x.shape == (4, 2)

    panel = window.panels[0]  # conditional vs marginal, for one configuration
    panel.view.show_conditional.setChecked(True)
    qtbot.waitUntil(lambda: panel.view.conditional_item.getData()[0] is not None, timeout=20000)

    window.close()
    assert all(not p.controller.process.is_alive() for p in window.panels)


def test_a_bad_configuration_list_is_reported(qtbot):
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,vp")
    qtbot.addWidget(window)
    window.spec.setText("ot,nope")
    window.set_up()
    assert "unknown" in window.error.text()
    window.spec.setText("ot")
    window.set_up()
    assert "2 to 4" in window.error.text()
    assert [p.name for p in window.panels] == ["ot", "vp"]  # the running comparison is kept
    window.close()
