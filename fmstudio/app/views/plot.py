"""The shared base of every view: a styled `pg.PlotWidget`, a control row, and lazy drawing.

Views keep the latest data they were given and draw it only while visible: a hidden tab costs
nothing per snapshot, and shows the newest picture as soon as it is opened. Each view names the
parts it draws (`"target"`, `"curves"`, ...); `request(part)` marks one stale and `_draw_<part>()`
redraws it, so a change of t never re-uploads a 10k-point target cloud.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fmstudio.app import style
from fmstudio.core.view_data import Bounds, noise_bounds

Color = tuple[int, int, int, int] | str | QColor

LOG_MANTISSAS = ((1.0,), (5.0,), (2.0,), (3.0,), (1.5, 4.0, 6.0, 8.0), (2.5, 7.0, 9.0))
"""Candidate ticks of a log axis within a decade, most readable first: decades, then 5, 2, 3."""
ENOUGH_TICKS = 5
"""Once this many ticks are in, finer candidates are not tried: 1, 2, 5, 10, 20 reads better
than 1, 1.5, 2, 3, 5, 7, 10."""


def log_ticks(
    lo: float, hi: float, pixels: float, min_gap: float, edge: float = 0.0
) -> list[float]:
    """log10 tick values in [lo, hi] (log10 units) at least `min_gap` pixels apart on an axis
    `pixels` long and `edge` pixels in from its ends: decades first, then 5, 2, 3 and finer
    steps where they fit.

    On a short axis this leaves a few well-spaced round numbers (1, 2, 5); over many decades it
    drops every other decade rather than letting the labels overlap; a long axis stops at
    `ENOUGH_TICKS`.
    """
    lo, hi = min(lo, hi), max(lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo <= 0 or pixels <= 0:
        return []
    per_unit = pixels / (hi - lo)
    first, last = lo + edge / per_unit - 1e-9, hi - edge / per_unit + 1e-9
    chosen: list[float] = []
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    for mantissas in LOG_MANTISSAS:
        if len(chosen) >= ENOUGH_TICKS:
            break
        for value in (d + math.log10(m) for d in decades for m in mantissas):
            if first <= value <= last and all(abs(value - c) * per_unit >= min_gap for c in chosen):
                chosen.append(value)
    return sorted(chosen)


class LogAxis(pg.AxisItem):
    """An axis whose log-scale ticks are plain numbers at readable steps (0.2, 0.5, 1, 2, 10).

    pyqtgraph's own label every 2…9 of a decade, crowded on a short axis, and write the
    decades as 10¹. On a linear scale it behaves like any axis.
    """

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.min_gap = 18.0 if orientation in ("left", "right") else 45.0
        """Least distance between labelled ticks, in pixels (labels are wider than tall)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        """Labels half a gap in from the ends: pyqtgraph drops one that would stick out."""
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        return [(1.0, log_ticks(minVal, maxVal, size, self.min_gap, self.min_gap / 2))]

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [f"{10.0**v * scale:.4g}" for v in values]


def make_plot(
    parent: QWidget | None = None,
    *,
    aspect_locked: bool = True,
    log_axes: Sequence[str] = (),
) -> pg.PlotWidget:
    """A PlotWidget in the app's colours: dark background, light axes, faint grid.

    Mouse pan/zoom and the context menu stay on (the user may inspect a corner); equal aspect
    keeps circles round, which matters for 2-D distributions and arrows. `log_axes` get a
    `LogAxis`, for the sides that may be shown on a log scale.
    """
    axes = {name: LogAxis(name) for name in log_axes}
    plot = pg.PlotWidget(parent=parent, background=style.BACKGROUND, axisItems=axes)
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(style.FOREGROUND, width=1))
        axis.setTextPen(pg.mkPen(style.FOREGROUND))
    item.showGrid(x=True, y=True, alpha=style.GRID_ALPHA)
    if aspect_locked:
        item.setAspectLocked(True, ratio=1.0)
    return plot


def set_plot_bounds(plot: pg.PlotWidget, bounds: Bounds | Sequence[float]) -> None:
    """Show exactly `bounds` (xmin, xmax, ymin, ymax); auto-range off so data never moves it."""
    xmin, xmax, ymin, ymax = (float(b) for b in bounds)
    vb = plot.getPlotItem().getViewBox()
    vb.disableAutoRange()
    vb.setRange(QRectF(xmin, ymin, xmax - xmin, ymax - ymin), padding=0.0)


def make_scatter(color: Color, size: float = 3.0, z: float = 0.0) -> pg.ScatterPlotItem:
    """A fast point cloud: pixel-sized dots, one shared brush, no outline."""
    item = pg.ScatterPlotItem(pxMode=True, size=size, pen=None, brush=pg.mkBrush(color))
    item.setZValue(z)
    return item


def make_curve(color: Color, connect: str = "all", z: float = 0.0) -> pg.PlotCurveItem:
    """A thin, non-antialiased curve: thousands of segments stay cheap to repaint."""
    item = pg.PlotCurveItem(pen=pg.mkPen(color, width=1), connect=connect, antialias=False)
    item.setZValue(z)
    return item


def clear_curve(item: pg.PlotCurveItem) -> None:
    item.setData(x=np.empty(0), y=np.empty(0))


def set_points(item: pg.ScatterPlotItem, points: np.ndarray | None) -> None:
    """Show an (N, 2) array in a scatter item, or nothing for None (non-finite rows dropped)."""
    if points is None or len(points) == 0:
        item.clear()
        return
    finite = points[np.isfinite(points).all(axis=1)]
    item.setData(x=finite[:, 0].copy(), y=finite[:, 1].copy())


def as_points(points: np.ndarray | None) -> np.ndarray | None:
    """A private float copy of an (N, 2) array: the caller may reuse its buffer later."""
    if points is None:
        return None
    array = np.array(points, dtype=np.float64, copy=True).reshape(-1, 2)
    return array


def make_check(name: str, text: str, tooltip: str, checked: bool) -> QCheckBox:
    """A layer toggle with a stable objectName (tests and settings find it by name)."""
    box = QCheckBox(text)
    box.setObjectName(name)
    box.setToolTip(tooltip)
    box.setChecked(checked)
    return box


def make_label(name: str, tooltip: str = "") -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    if tooltip:
        label.setToolTip(tooltip)
    return label


class PlotView(QWidget):
    """A control row above a plot, with per-part lazy drawing (see the module docstring).

    Subclasses create their items once in `__init__`, store incoming data, call
    `request(part)` and implement `_draw_<part>()`. `with_target=True` adds a faint target cloud
    behind everything, settable with `set_target`.
    """

    SHOWS_NOISE = False
    """Views of t ∈ [0, 1] (trajectories, field) fit the noise at t = 0 as well as the data."""

    def __init__(
        self,
        object_name: str,
        parent: QWidget | None = None,
        *,
        aspect_locked: bool = True,
        log_axes: Sequence[str] = (),
        with_target: bool = False,
        target_color: Color = style.TARGET,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.plot = make_plot(self, aspect_locked=aspect_locked, log_axes=log_axes)
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(4, 2, 4, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.controls)
        layout.addWidget(self.plot, 1)
        self._stale: list[str] = []
        self._target: np.ndarray | None = None
        self._bounds: tuple = ()
        self.target_item: pg.ScatterPlotItem | None = None
        if with_target:
            self.target_item = make_scatter(target_color, size=3.0, z=-10)
            self.plot.addItem(self.target_item)
        self.plot.getPlotItem().getViewBox().sigResized.connect(self._refit)

    def set_bounds(self, bounds: Bounds | Sequence[float]) -> None:
        """Fit the data box `bounds` (grown to the noise's for `SHOWS_NOISE` views) into the
        plot with the aspect kept: the spare room of a wide or tall plot goes to the sides.
        Linked panels share it.

        Lazy like the data: a hidden view (a page of a stack) has no size yet, and an
        aspect-locked range set then comes out far too wide when it is shown.
        """
        box = tuple(float(b) for b in bounds)
        self._bounds = noise_bounds(box) if self.SHOWS_NOISE else box
        self.request("bounds")

    def _draw_bounds(self) -> None:
        set_plot_bounds(self.plot, self._bounds)

    def _refit(self) -> None:
        """A new plot size: fit the box again. Linked panels hand each other their padded
        ranges as targets, so without this the range creeps outward with every resize."""
        if self._bounds:
            self.request("bounds")

    def set_target(self, points: np.ndarray | None) -> None:
        """The target cloud drawn faintly behind the view's own items (None clears it)."""
        self._target = as_points(points)
        self.request("target")

    def _draw_target(self) -> None:
        if self.target_item is not None:
            set_points(self.target_item, self._target)

    def request(self, *parts: str) -> None:
        """Mark parts stale and draw them now if visible, else on the next `showEvent`."""
        for part in parts:
            if part not in self._stale:
                self._stale.append(part)
        if self.isVisible():
            self._flush()

    def _flush(self) -> None:
        parts, self._stale = self._stale, []
        for part in parts:
            getattr(self, f"_draw_{part}")()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._flush()
