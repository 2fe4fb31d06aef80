"""The training loss: a faint raw curve, its smoothed trend, and a one-line progress readout."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import PlotView, make_check, make_label
from fmstudio.core.view_data import Smoother, smoothed

STATUS_TAIL = 5000
COMPACT_FONT_PT = 7
"""Tick labels of the compact strip: small, so a 60-pixel axis still holds three of them."""
COMPACT_TICK_GAP = 14.0
"""Least pixels between the compact strip's labelled loss ticks (the font's height and a bit)."""


def progress_text(step: int, total: int, rate: float, seconds: float) -> str:
    """The readout of a run's progress: the live rate while it runs; once finished, the steps
    it took, in how long, and its average (not the 0 steps/s of a stopped clock)."""
    speed = f"{rate:,.{1 if 0 < rate < 10 else 0}f} steps/s"  # 3.9 says more than 4
    if total > 0 and step >= total:
        return f"finished · {step:,} steps in {seconds:,.0f} s · {speed} avg"
    return f"step {step:,} / {total:,} · {speed}"


class LossBuffer:
    """A growable float array (amortised doubling), so appending a chunk is O(chunk)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, start: int, values: np.ndarray) -> None:
        """Write values for indices [start, start + len); an earlier start truncates first.

        A gap (start beyond the end, e.g. a dropped snapshot) is filled with NaN so that step
        numbers stay aligned with indices.
        """
        start = max(0, int(start))
        values = np.asarray(values, dtype=np.float64).ravel()
        end = start + len(values)
        if end > len(self._data):
            grown = np.empty(max(end, 2 * len(self._data)), dtype=np.float64)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        if start > self._size:
            self._data[self._size : start] = np.nan
        self._data[start:end] = values
        self._size = end

    def clear(self) -> None:
        self._size = 0

    def view(self) -> np.ndarray:
        """The filled part, without copying (callers must not keep or mutate it)."""
        return self._data[: self._size]


class LossView(PlotView):
    """Loss vs step on a log scale; the smoothed curve is what to read, the raw one the noise."""

    COMPACT_HEIGHT = (64, 120)
    """Least and most height of the compact strip: the picture above it takes the rest."""
    COMPACT_REDRAW_MS = 200

    def __init__(self, parent: QWidget | None = None, compact: bool = False) -> None:
        """`compact`: a short strip with only the status line above it (compare panels)."""
        super().__init__("lossView", parent, aspect_locked=False, log_axes=("left",))
        self._buffer = LossBuffer()
        self._smoother = Smoother()
        self._progress: tuple[int, int, float, float] | None = None
        self._y_range: tuple[float, float] | None = None

        self.log_box = make_check(
            "lossLogScale", "log scale", "Show the loss on a logarithmic axis", True
        )
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setObjectName("lossSmoothing")
        self.smoothing.setToolTip(
            "Exponential moving-average weight for the bright curve (0 = raw, 0.999 = very smooth)"
        )
        self.smoothing.setRange(0.0, 0.999)
        self.smoothing.setDecimals(3)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setValue(0.9)
        self.smoothing.setPrefix("smoothing ")
        self.status = make_label("lossStatus", "Training progress, speed and the smoothed loss")
        self.status.setMinimumWidth(10)
        item = self.plot.getPlotItem()
        self._redraw: QTimer | None = None
        if compact:  # the log box and smoothing stay unparented and unshown, at their defaults
            self.setMinimumHeight(self.COMPACT_HEIGHT[0])
            self.setMaximumHeight(self.COMPACT_HEIGHT[1])
            # Up to four of these redraw side by side: 5 times a second each is plenty.
            self._redraw = QTimer(self, singleShot=True, interval=self.COMPACT_REDRAW_MS)
            self._redraw.timeout.connect(self._redraw_curves)
            self._compact_axes()
        else:
            self.controls.addWidget(self.log_box)
            self.controls.addWidget(self.smoothing)
            self.controls.addStretch(1)
            item.setLabel("bottom", "step")
            item.setLabel("left", "loss")
        self.controls.addWidget(self.status)
        item.setLogMode(y=True)
        self.raw_curve = self._make_curve(style.LOSS, z=0)
        self.smooth_curve = self._make_curve(style.LOSS_SMOOTH, z=1)

        self.log_box.toggled.connect(self._on_log_toggled)
        self.smoothing.valueChanged.connect(self._on_smoothing_changed)
        self._update_status()

    def _compact_axes(self) -> None:
        """A strip under a picture: a narrow loss axis with a few small labels, and no step
        axis (the strip spans the run, and the status line above says the step)."""
        item = self.plot.getPlotItem()
        font = QFont()
        font.setPointSize(COMPACT_FONT_PT)
        left = item.getAxis("left")
        left.min_gap = COMPACT_TICK_GAP
        left.setStyle(tickFont=font, tickTextOffset=2, tickLength=-4)
        left.setWidth(30)
        item.hideAxis("bottom")

    def _make_curve(self, color: tuple[int, int, int, int], z: float) -> pg.PlotDataItem:
        """Peak downsampling keeps spikes visible; clip-to-view skips off-screen steps."""
        curve = self.plot.plot(pen=pg.mkPen(color, width=1), antialias=False)
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
        curve.setZValue(z)
        return curve

    def append(self, loss_start: int, losses: np.ndarray) -> None:
        """Add the losses of steps [loss_start, loss_start + len); a restart (0) truncates."""
        self._buffer.append(loss_start, losses)
        if self._redraw is None:
            self.request("curves")
        elif not self._redraw.isActive():
            self._redraw.start()
        self._update_status()

    def _redraw_curves(self) -> None:
        self.request("curves")

    def add_snapshot(self, item) -> None:
        """A snapshot's new losses and progress (what every window's loss curve takes)."""
        self.append(item.loss_start, item.losses)
        self.set_progress(item.step, item.total_steps, item.steps_per_s, item.train_seconds)

    def set_progress(self, step: int, total: int, steps_per_s: float, seconds: float = 0.0) -> None:
        """Progress for the status line (`progress_text`; `seconds`: the wall clock the run has
        trained); the x axis spans the whole run, fixed.

        A fixed x range means the axis is not re-ticked on every frame (re-ticking is most of
        what a loss-plot redraw costs the GUI thread) and the curve visibly fills the run.
        """
        if self._progress is None or self._progress[1] != int(total):
            self.plot.getPlotItem().getViewBox().enableAutoRange(x=False)
            self.plot.setXRange(0, max(1, int(total)), padding=0.01)
        self._progress = (int(step), int(total), float(steps_per_s), float(seconds))
        self._update_status()

    def reset(self) -> None:
        """Forget every loss (a new run)."""
        self._buffer.clear()
        self._progress = None
        self._y_range = None
        self.request("curves")
        self._update_status()

    def losses(self) -> np.ndarray:
        """A copy of all losses so far (NaN where a step's loss never arrived)."""
        return self._buffer.view().copy()

    def _on_log_toggled(self, on: bool) -> None:
        self.plot.getPlotItem().setLogMode(y=on)
        self._y_range = None
        self.request("curves")

    def _on_smoothing_changed(self) -> None:
        self.request("curves")
        self._update_status()

    def _draw_curves(self) -> None:
        """Raw and smoothed curves over the finite steps (a gap is bridged, not smoothed over)."""
        values = self._buffer.view()
        finite = np.isfinite(values)
        steps = np.flatnonzero(finite).astype(np.float64)
        raw = values[finite]  # boolean indexing copies: pyqtgraph may keep these arrays
        smooth = self._smoother(raw, float(self.smoothing.value()))
        for curve, y in ((self.raw_curve, raw), (self.smooth_curve, smooth)):
            x = steps
            if self.log_box.isChecked():
                # log10 of zero or a negative is -inf/NaN: hand pyqtgraph positive values only.
                positive = y > 0
                x, y = x[positive], y[positive]
            curve.setData(x=x, y=y)
        self._fit_y(raw)

    def _fit_y(self, raw: np.ndarray) -> None:
        """Set the y range in coarse steps (quarter decades on log scale, else 5% of the span).

        Auto-range would move the axis with every new minimum and re-tick it each frame; a
        range that only changes when the data leave it keeps most redraws to the curves.
        """
        log = self.log_box.isChecked()
        values = raw[raw > 0] if log else raw
        if len(values) == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        if log:
            lo, hi = np.floor(np.log10(lo) * 4) / 4, np.ceil(np.log10(hi) * 4) / 4
        else:
            pad = 0.05 * max(hi - lo, 1e-12)
            lo, hi = lo - pad, hi + pad
        if self._y_range != (lo, hi):
            self._y_range = (lo, hi)
            self.plot.getPlotItem().getViewBox().enableAutoRange(y=False)
            self.plot.setYRange(lo, max(hi, lo + 1e-6), padding=0)

    def _update_status(self) -> None:
        parts: list[str] = []
        if self._progress is not None:
            parts.append(progress_text(*self._progress))
        # The EMA forgets geometrically, so the tail gives the curve's last value (to <1%)
        # without smoothing the whole history on every chunk, even while the view is hidden.
        tail = self._buffer.view()[-STATUS_TAIL:]
        tail = tail[np.isfinite(tail)]
        if len(tail):
            parts.append(f"loss {smoothed(tail, float(self.smoothing.value()))[-1]:.3g}")
        self.status.setText(" · ".join(parts) if parts else "no run yet")
