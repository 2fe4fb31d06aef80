"""The data panel: pick what the model learns (a preset, your own drawing, or an image).

It only shows state and emits intent; the main window owns the `DataSource`, the drawn points
and the file dialogs, and calls back `set_source`, `set_point_count` and `set_image_name`.
"""

from __future__ import annotations

import math
import os

from PySide6.QtCore import QModelIndex, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app.panels import forms
from fmstudio.app.thumbnails import preset_icon
from fmstudio.core.data import PRESETS
from fmstudio.core.session import SOURCE_KINDS, DataSource

THUMBNAIL_SIZE = 56
MIN_CELL = THUMBNAIL_SIZE + 14
PRESET_LABELS = {
    "8gaussians": "8 gaussians",
    "checkerboard": "checker\u00adboard",
    "swissroll": "swiss\u00adroll",
    "pinwheel": "pin\u00adwheel",
}
"""Captions with a space or soft hyphen (U+00AD) where a narrow cell may break a long name."""

SOURCE_BUTTONS = {
    "preset": ("sourcePreset", "Preset", "Train on a built-in toy dataset (pick one below)."),
    "drawing": (
        "sourceDraw",
        "Draw",
        "Train on points you paint on the plot with the brush; the target updates live.",
    ),
    "image": (
        "sourceImage",
        "Image",
        "Train on a picture used as a density: darker pixels get more points.",
    ),
}


def preset_label(name: str) -> str:
    """The caption under a thumbnail: breakable where a narrow cell needs it."""
    return PRESET_LABELS.get(name, name)


class _Gallery(QListWidget):
    """An icon grid that fills the dock's width and grows to show every preset.

    Cells stretch to share the width evenly and take a second caption line only when a name
    would not fit on one, so names are never elided and the list never scrolls inside itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.setFont(font)
        self._fit(self.width())

    def _fit(self, width: int) -> None:
        """Choose cell size and widget height for `width`."""
        avail = max(MIN_CELL, width - 2 * self.frameWidth() - 2)
        columns = max(1, avail // MIN_CELL)
        cell = avail // columns
        metrics = self.fontMetrics()
        names = [self.item(i).text().replace("\u00ad", "") for i in range(self.count())]
        one_line = all(metrics.horizontalAdvance(n) <= cell - 8 for n in names)
        height = THUMBNAIL_SIZE + (1 if one_line else 2) * metrics.lineSpacing() + 12
        self.setGridSize(QSize(cell, height))
        rows = max(1, math.ceil(self.count() / columns))
        self.setFixedHeight(rows * height + 2 * self.frameWidth() + 4)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit(event.size().width())

    def rowsInserted(self, parent: QModelIndex, start: int, end: int) -> None:
        super().rowsInserted(parent, start, end)
        self._fit(self.width())


class DataPanel(QWidget):
    """Source selector, preset gallery, drawing tools and image loader.

    Signals carry user intent only; none is emitted by the setters. A click on a preset emits
    just `presetChosen(name)`, which means "the source is now this preset" (no separate
    `sourceChanged`), so one click swaps the target once.
    """

    sourceChanged = Signal(str)
    """"preset" | "drawing" | "image", from the source buttons."""
    presetChosen = Signal(str)
    toolChanged = Signal(str)
    """The effective drawing tool: "brush" | "eraser" | "none" (always "none" off the drawing)."""
    brushSizeChanged = Signal(float)
    brushDensityChanged = Signal(int)
    jitterChanged = Signal(float)
    """The drawing's jitter (std of the noise added to drawn points)."""
    presetShapeChanged = Signal(float, float)
    """The preset's (noise, scale)."""
    undoRequested = Signal()
    clearRequested = Signal()
    importRequested = Signal()
    exportRequested = Signal()
    imageRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self._kind = "preset"
        self._preset = DataSource().name
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self._build_source_buttons())
        layout.addWidget(self._build_presets())
        self._preset_box = self._build_preset_shape()
        layout.addWidget(self._preset_box)
        self._draw_box = self._build_draw_tools()
        layout.addWidget(self._draw_box)
        self._image_box = self._build_image()
        layout.addWidget(self._image_box)
        layout.addStretch(1)
        self.set_point_count(0, False)
        self.set_image_name(None)
        self._apply_kind("preset")

    # -- construction --------------------------------------------------------------------------

    def _build_source_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(2)
        self._source_group = QButtonGroup(self)
        self._source_group.setExclusive(True)
        self._source_buttons: dict[str, QToolButton] = {}
        for kind, (name, text, tip) in SOURCE_BUTTONS.items():
            button = forms.tool_button(name, text, tip, checkable=True)
            button.setMinimumHeight(26)
            self._source_group.addButton(button)
            self._source_buttons[kind] = button
            button.clicked.connect(lambda _=False, k=kind: self._on_source_clicked(k))
            row.addWidget(button)
        return row

    def _build_presets(self) -> QListWidget:
        self._presets = forms.configure(
            _Gallery(),
            "presetList",
            "Built-in toy datasets. Click one to train on it; while training, the target is "
            "swapped live and the model keeps learning from where it is.",
        )
        lst = self._presets
        for name in PRESETS:
            item = QListWidgetItem(preset_icon(name, THUMBNAIL_SIZE), preset_label(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{name}: train on this preset")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            lst.addItem(item)
        lst.itemClicked.connect(self._on_preset_item)
        lst.itemActivated.connect(self._on_preset_item)
        return lst

    def _build_preset_shape(self) -> QGroupBox:
        box = QGroupBox("Preset")
        form = forms.form_layout()
        box.setLayout(form)
        self._noise = forms.float_spin(
            "setting_jitter",
            "Std of Gaussian noise added to every preset point: blurs sharp shapes (0 = the "
            "preset as it is).",
            0.0,
            1.0,
            0.0,
            step=0.05,
        )
        self._scale = forms.float_spin(
            "setting_scale",
            "Multiply the preset's points by this, about the origin where the noise N(0, I) "
            "sits: larger targets mean longer paths for the flow.",
            0.25,
            4.0,
            1.0,
            step=0.25,
        )
        forms.add_row(form, "Noise", self._noise)
        forms.add_row(form, "Scale", self._scale)
        for spin in (self._noise, self._scale):
            spin.valueChanged.connect(self._on_preset_shape)
        return box

    def _on_preset_shape(self) -> None:
        self.presetShapeChanged.emit(self._noise.value(), self._scale.value())

    def set_noise(self, kind: str, jitter: float, scale: float) -> None:
        """Show a session's noise settings for its source `kind`, without emitting."""
        values = {"preset": ((self._noise, jitter), (self._scale, scale))}
        values["drawing"] = ((self._jitter, jitter),)
        for spin, value in values.get(kind, ()):
            with QSignalBlocker(spin):
                spin.setValue(value)

    def preset_noise(self) -> float:
        return self._noise.value()

    def preset_scale(self) -> float:
        return self._scale.value()

    def _build_draw_tools(self) -> QGroupBox:
        box = QGroupBox("Drawing")
        outer = QVBoxLayout(box)
        outer.setContentsMargins(6, 6, 6, 6)
        buttons = QGridLayout()
        buttons.setSpacing(4)
        self._brush = forms.tool_button(
            "drawBrush",
            "Brush",
            "Paint points on the plot: each dab adds 'points per dab' points uniformly in the "
            "brush disc. Click again to put the brush down and pan/zoom instead.",
            checkable=True,
        )
        self._eraser = forms.tool_button(
            "drawEraser",
            "Eraser",
            "Remove drawn points within the brush radius. Click again to put it down.",
            checkable=True,
        )
        self._undo = forms.tool_button("drawUndo", "Undo", "Undo the last stroke or clear.")
        self._clear = forms.tool_button("drawClear", "Clear", "Remove every drawn point.")
        self._import = forms.tool_button(
            "importPoints", "Import…", "Load points from a .npy or .csv file (N×2)."
        )
        self._export = forms.tool_button(
            "exportPoints", "Export…", "Save the drawn points to a .npy or .csv file."
        )
        for i, button in enumerate(
            (self._brush, self._eraser, self._undo, self._clear, self._import, self._export)
        ):
            buttons.addWidget(button, i // 2, i % 2)
        self._brush.clicked.connect(lambda: self._on_tool_clicked(self._brush, self._eraser))
        self._eraser.clicked.connect(lambda: self._on_tool_clicked(self._eraser, self._brush))
        self._undo.clicked.connect(self.undoRequested)
        self._clear.clicked.connect(self.clearRequested)
        self._import.clicked.connect(self.importRequested)
        self._export.clicked.connect(self.exportRequested)
        outer.addLayout(buttons)

        form = forms.form_layout()
        self._size = forms.float_spin(
            "brushSize",
            "Brush radius in data units (the plot's axes). Points of a dab land inside it; "
            "the eraser removes points inside it.",
            0.05,
            2.0,
            0.3,
            step=0.05,
        )
        self._density = forms.int_spin(
            "brushDensity",
            "Points added per dab of the brush: higher paints denser regions, which the "
            "model then gives more probability mass.",
            1,
            200,
            20,
        )
        self._jitter = forms.float_spin(
            "drawJitter",
            "Std of Gaussian noise added to each drawn point every time it is drawn for a "
            "training batch: smooths a sparse drawing into a density. 0 = exact points.",
            0.0,
            1.0,
            0.05,
            step=0.01,
        )
        forms.add_row(form, "Brush radius", self._size)
        forms.add_row(form, "Points per dab", self._density)
        forms.add_row(form, "Jitter", self._jitter)
        self._size.valueChanged.connect(self.brushSizeChanged)
        self._density.valueChanged.connect(self.brushDensityChanged)
        self._jitter.valueChanged.connect(self.jitterChanged)
        outer.addLayout(form)
        self._count = forms.hint_label("drawCount")
        outer.addWidget(self._count)
        return box

    def _build_image(self) -> QGroupBox:
        box = QGroupBox("Image")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 6)
        self._load = forms.push_button(
            "loadImage",
            "Load image…",
            "Choose a picture (PNG, JPEG, …); its dark pixels become the target density.",
        )
        self._load.clicked.connect(self.imageRequested)
        self._image_name = forms.hint_label("imageName")
        layout.addWidget(self._load)
        layout.addWidget(self._image_name)
        return box

    # -- user intent ---------------------------------------------------------------------------

    def _on_source_clicked(self, kind: str) -> None:
        if kind == self._kind:
            return
        old_tool = self.tool()
        if kind == "drawing" and not (self._brush.isChecked() or self._eraser.isChecked()):
            self._brush.setChecked(True)  # choosing "Draw" means wanting to draw right away
        self._apply_kind(kind)
        self.sourceChanged.emit(kind)
        if self.tool() != old_tool:
            self.toolChanged.emit(self.tool())

    def _on_preset_item(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if name == self._preset and self._kind == "preset":
            return
        old_tool = self.tool()
        self._preset = name
        self._apply_kind("preset")
        self.presetChosen.emit(name)
        if self.tool() != old_tool:
            self.toolChanged.emit(self.tool())

    def _on_tool_clicked(self, clicked: QToolButton, other: QToolButton) -> None:
        if clicked.isChecked():
            other.setChecked(False)
        self.toolChanged.emit(self.tool())

    # -- state shown ---------------------------------------------------------------------------

    def _apply_kind(self, kind: str) -> None:
        """Show `kind` as the current source (buttons, gallery selection, tool groups)."""
        if kind not in SOURCE_KINDS:
            raise ValueError(f"unknown data source '{kind}'; choose one of {SOURCE_KINDS}")
        self._kind = kind
        with QSignalBlocker(self._source_group):
            self._source_buttons[kind].setChecked(True)
        with QSignalBlocker(self._presets):
            self._presets.clearSelection()
            if kind == "preset":
                for i in range(self._presets.count()):
                    item = self._presets.item(i)
                    if item.data(Qt.ItemDataRole.UserRole) == self._preset:
                        self._presets.setCurrentItem(item)
                        item.setSelected(True)
        self._preset_box.setVisible(kind == "preset")
        self._draw_box.setVisible(kind == "drawing")
        self._image_box.setVisible(kind == "image")

    def set_source(self, source: DataSource) -> None:
        """Reflect the main window's source (e.g. after loading a session); emits nothing."""
        if source.kind == "preset" or source.name in PRESETS:
            self._preset = source.name
        if source.image or source.kind == "image":
            self.set_image_name(source.image)
        self._apply_kind(source.kind)

    def set_point_count(self, n: int, can_undo: bool) -> None:
        """Show how many points are drawn; undo/clear/export are only offered when they apply."""
        if n == 0:
            text = "No points yet: pick the brush and drag on the plot."
        elif n < 2:
            text = f"{n} point (at least 2 needed to train)"
        else:
            text = f"{n:,} points"
        self._count.setText(text)
        self._undo.setEnabled(can_undo)
        self._clear.setEnabled(n > 0)
        self._export.setEnabled(n > 0)

    def set_image_name(self, name: str | None) -> None:
        """Show the chosen image's file name (the full path is in the tooltip)."""
        if not name:
            self._image_name.setText("No image loaded.")
            self._image_name.setToolTip("")
            return
        self._image_name.setText(os.path.basename(name) or name)
        self._image_name.setToolTip(name)

    # -- queries -------------------------------------------------------------------------------

    def source_kind(self) -> str:
        return self._kind

    def preset_name(self) -> str:
        """The preset shown as chosen (kept while another source is active)."""
        return self._preset

    def tool(self) -> str:
        """The effective tool: "none" unless the source is the drawing and a tool is down."""
        if self._kind != "drawing":
            return "none"
        if self._brush.isChecked():
            return "brush"
        return "eraser" if self._eraser.isChecked() else "none"

    def brush_size(self) -> float:
        return self._size.value()

    def brush_density(self) -> int:
        return self._density.value()

    def jitter(self) -> float:
        return self._jitter.value()
