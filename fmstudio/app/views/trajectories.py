"""Particles flowing from noise (t = 0) to data (t = 1) along the learned ODE (eq. 1).

All drawn paths are one `PlotCurveItem` whose boolean `connect` array breaks the line between
particles; the particles at the current t are one scatter item. Only `max_curves` paths (with a
start dot each) are drawn, `MAX_CURVES` by default: they already read as a flow, where the 2000
of a sampling run would be a hairball. Every particle is drawn.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import (
    PlotView,
    clear_curve,
    make_check,
    make_curve,
    make_scatter,
    set_points,
)
from fmstudio.core.view_data import Trajectories

MAX_CURVES = 150
"""Paths drawn at most: in a dock a few hundred pixels across, 300 already merge into a hairball
(the 2000 of a sampling run all the more), 150 still read as separate curves."""


def drawn_paths(count: int, max_curves: int) -> np.ndarray:
    """Indices of the particles whose paths are drawn: up to `max_curves`, evenly spread over
    the `count` (the noise is i.i.d., so these are a fair sample, the same ones every time)."""
    n = min(count, max(int(max_curves), 0))
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, n).round().astype(np.int64))


def curve_arrays(points: np.ndarray, max_curves: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and `connect` for up to `max_curves` paths of `points` (T, N, 2) (`drawn_paths`),
    one after another; `connect[i]` is False at each path's last point, so exactly one False
    per drawn path.
    """
    steps = points.shape[0]
    chosen = drawn_paths(points.shape[1], max_curves)
    if len(chosen) == 0 or steps == 0:
        empty = np.empty(0)
        return empty, empty.copy(), np.empty(0, dtype=bool)
    paths = np.transpose(points[:, chosen], (1, 0, 2)).reshape(-1, 2)
    connect = np.ones(len(paths), dtype=bool)
    connect[steps - 1 :: steps] = False
    return paths[:, 0].copy(), paths[:, 1].copy(), connect


class TrajectoryView(PlotView):
    """Faint paths with their noise starting points, and bright particles at the slider's t."""

    SHOWS_NOISE = True

    def __init__(self, parent: QWidget | None = None, max_curves: int = MAX_CURVES) -> None:
        super().__init__(
            "trajectoryView", parent, with_target=True, target_color=(120, 170, 255, 45)
        )
        self.max_curves = int(max_curves)
        self._traj: Trajectories | None = None
        self._t = 1.0
        self.curve_item = make_curve(style.TRAJECTORY, z=0)
        self.start_item = make_scatter(style.NOISE, size=2.0, z=1)
        self.particle_item = make_scatter(style.SAMPLES, size=2.0, z=2)  # small: paths show
        self.conditional_item = make_curve(style.CONDITIONAL, z=3)
        self.conditional_item.setVisible(False)
        self._conditional: Trajectories | None = None
        for item in (self.curve_item, self.start_item, self.particle_item, self.conditional_item):
            self.plot.addItem(item)

        self.show_curves = make_check(
            "trajectoryShowCurves",
            "paths",
            f"Show the ODE paths of up to {self.max_curves} particles",
            True,
        )
        self.show_conditional = make_check(
            "trajectoryShowConditional",
            "conditional",
            "Overlay conditional paths x_t = a_t·x1 + b_t·x0 of noise–data pairs coupled as in "
            "training (white): what the network regresses on. The learned trajectories are the "
            "marginal flow, which averages them (eq. 8).",
            False,
        )
        self.controls.addWidget(self.show_curves)
        self.controls.addWidget(self.show_conditional)
        self.controls.addStretch(1)
        self.show_curves.toggled.connect(self.curve_item.setVisible)
        self.show_conditional.toggled.connect(self.conditional_item.setVisible)

    def set_trajectories(self, traj: Trajectories | None) -> None:
        """New particle paths (None clears); redraws paths, starts and particles."""
        self._traj = traj
        self.request("paths", "particles")

    @property
    def trajectories(self) -> Trajectories | None:
        return self._traj

    @property
    def conditional(self) -> Trajectories | None:
        """The conditional paths on show, or None when switched off or not computed yet."""
        return self._conditional if self.show_conditional.isChecked() else None

    def set_conditional(self, paths: Trajectories | None) -> None:
        """Conditional paths of coupled pairs (None clears), drawn as one curve item."""
        self._conditional = paths
        self.request("conditional")

    def _draw_conditional(self) -> None:
        paths = self._conditional
        if paths is None:
            clear_curve(self.conditional_item)
            return
        x, y, connect = curve_arrays(np.asarray(paths.points), len(paths.points[0]))
        self.conditional_item.setData(x=x, y=y, connect=connect)

    def set_time(self, t: float) -> None:
        """Move the particles to t (interpolated by `Trajectories.at`; no model call)."""
        self._t = float(t)
        self.request("particles")

    def set_particle_size(self, size: float) -> None:
        """Particle size in pixels (an animation export draws them larger than the live view)."""
        self.particle_item.setSize(size)

    def _draw_paths(self) -> None:
        traj = self._traj
        if traj is None:
            clear_curve(self.curve_item)
            set_points(self.start_item, None)
            return
        points = np.asarray(traj.points)
        x, y, connect = curve_arrays(points, self.max_curves)
        self.curve_item.setData(x=x, y=y, connect=connect)
        set_points(self.start_item, points[0, drawn_paths(points.shape[1], self.max_curves)])

    def _draw_particles(self) -> None:
        traj = self._traj
        set_points(self.particle_item, None if traj is None else traj.at(self._t))
