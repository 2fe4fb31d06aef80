"""The model's density on a grid: a histogram of samples or the exact likelihood (eq. 39).

The image is placed in data coordinates with `setRect`, so it lines up with the other panels.
Colour levels come from a robust max and are sticky: they change only when a new density's
scale moves by more than `LEVEL_SLACK`, so the picture does not flicker while training.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import PlotView, make_check, make_label
from fmstudio.core.view_data import Density

LEVEL_QUANTILE = 99.0
LEVEL_SLACK = 1.25
"""Keep the current top level while the new robust max is within this factor of it."""
KIND_TEXT = {"histogram": "histogram of samples", "likelihood": "exact likelihood"}


def robust_max(values: np.ndarray, quantile: float = LEVEL_QUANTILE) -> float:
    """The top colour level: a high quantile, so a few hot cells do not wash out the rest."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return 1.0
    top = float(np.percentile(finite, quantile))
    if top <= 0.0:
        top = float(finite.max())
    return top if top > 0.0 else 1.0


class DensityView(PlotView):
    """An `ImageItem` of `values[iy, ix]` (row-major: row 0 at ymin) with a colour bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("densityView", parent)
        self._density: Density | None = None
        self._levels: tuple[float, float] | None = None
        self._kind: str | None = None
        colormap = pg.colormap.get(style.DENSITY_COLORMAP)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(colormap)
        self.image.setZValue(-20)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=colormap, interactive=False, width=12
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.colorbar.getAxis("right").setTextPen(pg.mkPen(style.FOREGROUND))
        self.kind_label = make_label("densityKind", "How the density was computed")
        self.exact = make_check(
            "densityExact",
            "exact",
            "Exact model density by the change of variables (an ODE solve with the divergence "
            "per grid point: slower, refreshed less often) instead of a histogram of samples",
            False,
        )
        self.controls.addWidget(self.exact)
        self.controls.addStretch(1)
        self.controls.addWidget(self.kind_label)
        self._update_label()

    def set_density(self, density: Density | None) -> None:
        """A new density grid (None clears the image)."""
        self._density = density
        self._update_label()
        self.request("image")

    def levels(self) -> tuple[float, float] | None:
        """The colour levels in use (None before the first density)."""
        return self._levels

    def _update_label(self) -> None:
        d = self._density
        self.kind_label.setText("no density yet" if d is None else KIND_TEXT.get(d.kind, d.kind))

    def _sticky_levels(self, values: np.ndarray, kind: str) -> tuple[float, float]:
        top = robust_max(values)
        current = self._levels
        if (
            current is None
            or kind != self._kind
            or not (current[1] / LEVEL_SLACK <= top <= current[1] * LEVEL_SLACK)
        ):
            current = (0.0, top)
        self._kind = kind
        return current

    def _draw_image(self) -> None:
        d = self._density
        if d is None:
            self.image.clear()
            self._levels = None
            self._kind = None
            return
        values = np.nan_to_num(np.asarray(d.values, dtype=np.float32), nan=0.0, posinf=0.0)
        self._levels = self._sticky_levels(values, d.kind)
        self.image.setImage(values, autoLevels=False)
        self.colorbar.setLevels(self._levels)
        xmin, xmax, ymin, ymax = (float(b) for b in d.bounds)
        self.image.setRect(QRectF(xmin, ymin, xmax - xmin, ymax - ymin))
