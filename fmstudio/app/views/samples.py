"""Target vs model samples, and the canvas the user paints a custom target on.

Drawing goes through an event filter on the plot's viewport: while a tool is active a left
drag is consumed there (the ViewBox never sees it, so it cannot pan) and reported in data
coordinates. Right-click keeps the plot menu; tool "none" gives the mouse back to pan/zoom.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QGraphicsEllipseItem, QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import (
    PlotView,
    as_points,
    make_check,
    make_scatter,
    set_points,
)

TOOLS = ("none", "brush", "eraser")


class SamplesView(PlotView):
    """Pale target cloud behind orange model samples; also the brush/eraser canvas."""

    strokeStarted = Signal()
    strokeAt = Signal(float, float)
    strokeFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("samplesView", parent, with_target=True)
        assert self.target_item is not None
        self.samples_item = make_scatter(style.SAMPLES, size=3.0, z=0)
        self.plot.addItem(self.samples_item)
        self._samples: np.ndarray | None = None
        self._tool = "none"
        self._radius = 0.3
        self._stroking = False

        self.show_target = make_check(
            "samplesShowTarget", "target", "Show the target distribution (pale blue)", True
        )
        self.show_model = make_check(
            "samplesShowModel", "model", "Show samples drawn from the model (orange)", True
        )
        self.controls.addWidget(self.show_target)
        self.controls.addWidget(self.show_model)
        self.controls.addStretch(1)
        self.show_target.toggled.connect(self.target_item.setVisible)
        self.show_model.toggled.connect(self.samples_item.setVisible)

        self.cursor = QGraphicsEllipseItem()
        pen = pg.mkPen(style.BRUSH, width=1)
        pen.setCosmetic(True)
        self.cursor.setPen(pen)
        self.cursor.setZValue(100)
        self.cursor.setVisible(False)
        self.plot.getPlotItem().getViewBox().addItem(self.cursor, ignoreBounds=True)

        viewport = self.plot.viewport()
        viewport.setMouseTracking(True)
        viewport.installEventFilter(self)

    # data ---------------------------------------------------------------------------------

    def set_samples(self, points: np.ndarray | None) -> None:
        """Model samples (N, 2), or None to clear them (e.g. a new run)."""
        self._samples = as_points(points)
        self.request("samples")

    @property
    def samples(self) -> np.ndarray | None:
        """The model samples shown now (what "Export samples" writes when nothing was sampled)."""
        return self._samples

    def _draw_samples(self) -> None:
        set_points(self.samples_item, self._samples)

    # drawing tools ------------------------------------------------------------------------

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        """'brush' or 'eraser' capture left drags as strokes; 'none' restores pan/zoom."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; choose one of {list(TOOLS)}")
        if self._stroking and tool != self._tool:
            self._finish_stroke()
        self._tool = tool
        active = tool != "none"
        self.plot.getPlotItem().getViewBox().setMouseEnabled(x=not active, y=not active)
        viewport = self.plot.viewport()
        if active:
            viewport.setCursor(Qt.CursorShape.CrossCursor)
        else:
            viewport.unsetCursor()
            self.cursor.setVisible(False)

    def set_brush_radius(self, radius: float) -> None:
        """Brush/eraser radius in data units; the cursor circle follows it."""
        self._radius = max(float(radius), 0.0)
        if self.cursor.isVisible():
            center = self.cursor.rect().center()
            self._place_cursor(center.x(), center.y())

    def _place_cursor(self, x: float, y: float) -> None:
        r = self._radius
        self.cursor.setRect(x - r, y - r, 2 * r, 2 * r)
        self.cursor.setVisible(True)

    def _to_data(self, event: QMouseEvent) -> tuple[float, float]:
        scene = self.plot.mapToScene(event.position().toPoint())
        point: QPointF = self.plot.getPlotItem().getViewBox().mapSceneToView(scene)
        return float(point.x()), float(point.y())

    def _finish_stroke(self) -> None:
        self._stroking = False
        self.strokeFinished.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Turn left drags on the viewport into strokes while a tool is active."""
        if self._tool == "none" or watched is not self.plot.viewport():
            return super().eventFilter(watched, event)
        kind = event.type()
        if kind == QEvent.Type.Leave:
            self.cursor.setVisible(False)
            return False
        if kind not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        ):
            return False
        assert isinstance(event, QMouseEvent)
        x, y = self._to_data(event)
        left = event.button() == Qt.MouseButton.LeftButton
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick) and left:
            self._place_cursor(x, y)
            if not self._stroking:
                self._stroking = True
                self.strokeStarted.emit()
            self.strokeAt.emit(x, y)
            return True
        if kind == QEvent.Type.MouseMove:
            self._place_cursor(x, y)
            if self._stroking:
                self.strokeAt.emit(x, y)
                return True
            return False
        if kind == QEvent.Type.MouseButtonRelease and left and self._stroking:
            self._finish_stroke()
            return True
        return False

    def brush_center(self) -> Sequence[float] | None:
        """Where the cursor circle is (data units), or None when hidden; for tests."""
        if not self.cursor.isVisible():
            return None
        center = self.cursor.rect().center()
        return (center.x(), center.y())
