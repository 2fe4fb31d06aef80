"""Driving the app the way a person does, for the app tests: mouse strokes and signal records."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def mouse(view, kind: QEvent.Type, x: float, y: float) -> None:
    """A real mouse event on the plot's viewport at data point (x, y)."""
    vb = view.plot.getPlotItem().getViewBox()
    pos = QPointF(view.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))
    viewport = view.plot.viewport()
    left = Qt.MouseButton.LeftButton
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else left
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else left
    event = QMouseEvent(
        kind, pos, viewport.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, event)


def drag(view, points: list[tuple[float, float]]) -> None:
    mouse(view, QEvent.Type.MouseButtonPress, *points[0])
    for point in points[1:]:
        mouse(view, QEvent.Type.MouseMove, *point)
    mouse(view, QEvent.Type.MouseButtonRelease, *points[-1])


class Recorder(QObject):
    """Records a cross-thread signal's emissions in the GUI thread.

    A lambda or plain function connected to another thread's signal runs in that thread;
    only a QObject's method gets a queued call. pytest-qt's `waitSignal` on such a signal would
    stop its timer from that thread, so tests wait on a Recorder with `waitUntil`.
    """

    def __init__(self, signal) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        signal.connect(self.receive)

    def receive(self, *args) -> None:
        self.calls.append(args)

    @property
    def last(self):
        return self.calls[-1][0] if self.calls and self.calls[-1] else None

    def values(self) -> list:
        return [args[0] if args else None for args in self.calls]
