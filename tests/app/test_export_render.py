"""The comparison figure's SVG (a whole widget through Qt's SVG generator) drawn alike by Qt
and by librsvg, which has no non-scaling strokes."""

from __future__ import annotations

from pictures import renderers_agree
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QPushButton

from fmstudio.app.compare_window import CompareWindow
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset

BASE = TrainConfig(dataset="moons", hidden=32, depth=2, steps=50, device="cpu")


def arrows_drawn(panel) -> bool:
    """Whether the panel's field view holds arrows (segments in its speed-binned curves)."""
    xs = [item.getData()[0] for item in panel.field.bin_items]
    return any(x is not None and len(x) > 0 for x in xs)


def test_the_compare_figure_svg_draws_its_fields_right_in_another_renderer(
    qtbot, tmp_path, monkeypatch
):
    window = CompareWindow(BASE, PresetDataset("moons"), "ot,vp")
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    window.findChild(QComboBox, "compareShow").setCurrentText("field")
    qtbot.waitUntil(lambda: all(arrows_drawn(p) for p in window.panels), timeout=60000)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(tmp_path))
    qtbot.mouseClick(window.findChild(QPushButton, "compareExport"), Qt.MouseButton.LeftButton)
    renderers_agree(tmp_path / "compare.svg")
    renderers_agree(tmp_path / "w2_vs_nfe.svg")
    window.close()
