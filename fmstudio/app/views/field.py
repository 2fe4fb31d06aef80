"""The vector field v(x, t) as arrows coloured by speed, optionally over the exact field (eq. 8).

Every arrow is three line segments (shaft and two head strokes). All arrows of one speed bin go
into a single `PlotCurveItem(connect='pairs')`, so a 32×32 grid is six items, not a thousand.
Lengths are scaled by one robust speed for all frames of a snapshot, so arrows grow and shrink
honestly while t plays instead of being renormalised every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import PlotView, clear_curve, make_check, make_curve, make_label
from fmstudio.core.view_data import FieldFrames

SPEED_BINS = 6
ARROW_LENGTH = 0.9
"""Length of the fastest (robust-max) arrow, in grid cells."""
HEAD_FRACTION = 0.3
HEAD_ANGLE = np.deg2rad(25.0)
EXACT_ALPHA = 110
"""The exact field is drawn faint and under the learned arrows, which stay readable on top."""
BOX_SETTLE_MS = 300
"""A resize, pan or zoom reports the new range once it has rested this long (not every frame)."""
BOX_TOLERANCE = 0.02
"""Range changes smaller than this share of the span are not reported (no recompute)."""


@dataclass(frozen=True)
class Arrows:
    """Arrow geometry: `segments[m]` is [shaft, head-left, head-right], each [start, end] (x, y).

    `level` is speed divided by the reference speed, clipped to [0, 1] (picks the colour bin).
    """

    segments: np.ndarray
    """(M, 3, 2, 2)."""
    level: np.ndarray
    """(M,)."""


def reference_speed(velocity: np.ndarray, quantile: float = 95.0) -> float:
    """A robust 'fast' speed: the quantile of |v| over all arrows (a few outliers do not count)."""
    v = np.nan_to_num(np.asarray(velocity, dtype=np.float64))  # float32 squares can overflow
    speed = np.linalg.norm(v.reshape(-1, 2), axis=1)
    ref = float(np.percentile(speed, quantile)) if len(speed) else 0.0
    if ref <= 0.0:
        ref = float(speed.max()) if len(speed) else 0.0
    return ref if ref > 0.0 else 1.0


def arrow_segments(
    xs: np.ndarray,
    ys: np.ndarray,
    velocity: np.ndarray,
    ref_speed: float | None = None,
    length: float = ARROW_LENGTH,
    head: float = HEAD_FRACTION,
) -> Arrows:
    """Arrows centred on the grid points (`velocity[iy, ix]`), pointing along v.

    An arrow of speed `ref_speed` (default: the 95th percentile) is `length` grid cells long;
    faster ones are clipped to that, so no arrow reaches into its neighbour.
    """
    v = np.nan_to_num(np.asarray(velocity, dtype=np.float64)).reshape(-1, 2)
    gx, gy = np.meshgrid(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    centres = np.stack([gx.ravel(), gy.ravel()], axis=1)
    cell = min(_spacing(xs), _spacing(ys))
    ref = reference_speed(v) if ref_speed is None else float(ref_speed)
    speed = np.linalg.norm(v, axis=1)
    level = np.clip(speed / ref, 0.0, 1.0)
    # Direction times clipped length: d = v / |v| · level · length · cell.
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(speed[:, None] > 0, v / speed[:, None], 0.0)
    d = unit * (level * length * cell)[:, None]
    tail, tip = centres - d / 2, centres + d / 2
    back = -d * head
    c, s = np.cos(HEAD_ANGLE), np.sin(HEAD_ANGLE)
    left = np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], axis=1)
    right = np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], axis=1)
    segments = np.stack(
        [
            np.stack([tail, tip], axis=1),
            np.stack([tip, tip + left], axis=1),
            np.stack([tip, tip + right], axis=1),
        ],
        axis=1,
    )
    return Arrows(segments=segments, level=level)


def _spacing(coords: np.ndarray) -> float:
    return float(np.abs(np.diff(coords)).min()) if len(coords) > 1 else 1.0


def speed_bins(level: np.ndarray, bins: int = SPEED_BINS) -> np.ndarray:
    """Bin index per arrow: equal-width bins of `level` in [0, 1], the top bin closed."""
    return np.minimum((np.asarray(level) * bins).astype(np.int64), bins - 1)


def pairs_xy(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat x, y arrays for `connect='pairs'` (point 2k joins point 2k+1)."""
    flat = segments.reshape(-1, 2)
    return flat[:, 0].copy(), flat[:, 1].copy()


class FieldView(PlotView):
    """The learned field at the slider's t, with the exact marginal field under it.

    The arrows are computed where the plot looks: `boxChanged` reports the range shown (a wide
    dock's sides, a pan, a zoom), and its owner asks the training process for the field there.
    """

    SHOWS_NOISE = True
    boxChanged = Signal(tuple)
    """(xmin, xmax, ymin, ymax) now shown, once a change of it has settled."""

    def __init__(self, parent: QWidget | None = None, bins: int = SPEED_BINS) -> None:
        super().__init__("fieldView", parent, with_target=True, target_color=(120, 170, 255, 45))
        self._frames: FieldFrames | None = None
        self._ref = 1.0
        self._t = 1.0
        self._box: tuple[float, ...] | None = None
        self._box_timer = QTimer(self, singleShot=True, interval=BOX_SETTLE_MS)
        self._box_timer.timeout.connect(self._report_box)
        self.plot.getPlotItem().getViewBox().sigRangeChanged.connect(self._box_timer.start)
        colormap = pg.colormap.get(style.SPEED_COLORMAP)
        # Start above viridis' darkest purple, which vanishes on the dark background.
        colors = colormap.mapToQColor(np.linspace(0.25, 1.0, bins))
        self.bin_items = [make_curve(color, connect="pairs", z=1) for color in colors]
        for item in self.bin_items:
            self.plot.addItem(item)
        self.marginal_item = make_curve((*style.MARGINAL[:3], EXACT_ALPHA), connect="pairs", z=0)
        self.marginal_item.setVisible(False)
        self.plot.addItem(self.marginal_item)

        self.show_learned = make_check(
            "fieldShowLearned", "learned", "Show the network's velocity field v(x, t)", True
        )
        self.show_marginal = make_check(
            "fieldShowMarginal",
            "exact",
            "Show the exact marginal field u_t(x) of the empirical target (faint pink, under "
            "the learned arrows): where they differ, the network has not learned it yet",
            False,
        )
        self.time_label = make_label("fieldTime", "The time t of the field shown")
        self.controls.addWidget(self.show_learned)
        self.controls.addWidget(self.show_marginal)
        self.controls.addStretch(1)
        self.controls.addWidget(self.time_label)
        self.show_learned.toggled.connect(self._on_learned_toggled)
        self.show_marginal.toggled.connect(self.marginal_item.setVisible)
        self._update_label()

    def set_frames(self, frames: FieldFrames | None) -> None:
        """New precomputed frames (None clears); the scale is fixed over all their times."""
        self._frames = frames
        if frames is not None:
            self._ref = reference_speed(frames.velocity)
        self.request("arrows")

    def set_time(self, t: float) -> None:
        """Show the frame at t (interpolated by `FieldFrames.at`; no model call)."""
        self._t = float(t)
        self._update_label()
        self.request("arrows")

    def _update_label(self) -> None:
        self.time_label.setText(f"t = {self._t:.2f}")

    def _draw_bounds(self) -> None:
        super()._draw_bounds()
        self._box_timer.start()

    def _report_box(self) -> None:
        """Emit the range shown if it moved by more than `BOX_TOLERANCE` (hidden: nothing)."""
        vb = self.plot.getPlotItem().getViewBox()
        if not self._bounds or not self.isVisible() or vb.width() < 2 or vb.height() < 2:
            return  # no range of its own yet, or none to see
        (x0, x1), (y0, y1) = vb.viewRange()
        box = (x0, x1, y0, y1)
        if self._box is not None:
            span = max(x1 - x0, y1 - y0)
            if max(abs(a - b) for a, b in zip(box, self._box, strict=True)) < BOX_TOLERANCE * span:
                return
        self._box = box
        self.boxChanged.emit(box)

    def _on_learned_toggled(self, on: bool) -> None:
        for item in self.bin_items:
            item.setVisible(on)

    def _draw_arrows(self) -> None:
        frames = self._frames
        if frames is None:
            for item in [*self.bin_items, self.marginal_item]:
                clear_curve(item)
            return
        learned, exact = frames.at(self._t)
        arrows = arrow_segments(frames.xs, frames.ys, learned, self._ref)
        index = speed_bins(arrows.level, len(self.bin_items))
        for b, item in enumerate(self.bin_items):
            x, y = pairs_xy(arrows.segments[index == b])
            item.setData(x=x, y=y)
        if exact is None:
            clear_curve(self.marginal_item)
        else:
            x, y = pairs_xy(arrow_segments(frames.xs, frames.ys, exact, self._ref).segments)
            self.marginal_item.setData(x=x, y=y)
