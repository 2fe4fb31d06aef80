"""Views of image runs: a picture of image tiles (samples, x_t strip, target) and the bits/dim
curve.

The tiles are laid out by `core.imagegrid` (uint8, row-major) and shown pixel-exact, top row
first, without axes: these are images, not plots.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from fmstudio.app import style
from fmstudio.app.views.plot import PlotView, make_label
from fmstudio.core import imagegrid


class ImageTilesView(PlotView):
    """Image tiles with a caption; `set_grid(images)` or `set_strip(frames)` from [-1, 1]."""

    def __init__(self, object_name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(object_name, parent)
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.showGrid(x=False, y=False)
        item.getViewBox().invertY(True)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.caption = make_label(f"{object_name}Caption")
        self.caption.setText(caption)
        self.controls.addWidget(self.caption)
        self.controls.addStretch(1)
        self._picture: np.ndarray | None = None

    @property
    def picture(self) -> np.ndarray | None:
        """The uint8 picture shown (H, W) or (H, W, 3)."""
        return self._picture

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def set_grid(self, images: np.ndarray, nrow: int | None = None) -> None:
        """Images (N, C, H, W) in [-1, 1] as a grid of `nrow` per row (default: square)."""
        self._set_picture(imagegrid.grid(images, nrow=nrow, pad=1))

    def set_strip(self, frames: np.ndarray) -> None:
        """Frames (T, N, C, H, W): one row per image, one column per time."""
        self._set_picture(imagegrid.strip(frames))

    def _set_picture(self, picture: np.ndarray) -> None:
        self._picture = picture[..., 0] if picture.ndim == 3 and picture.shape[2] == 1 else picture
        self.request("picture")

    def _draw_picture(self) -> None:
        picture = self._picture
        if picture is None:
            self.image_item.clear()
            return
        self.image_item.setImage(picture, levels=(0, 255), autoLevels=False)
        height, width = picture.shape[:2]
        self.plot.getPlotItem().getViewBox().setRange(
            xRange=(0, width), yRange=(0, height), padding=0.02
        )


class BitsPerDimView(PlotView):
    """Bits/dim of held-out images against the training step: the image run's quality curve.

    Its range is set from the values (auto-range around one point is ±0.5, which pyqtgraph
    labels "−400…400 (x0.001)"), and its axes never switch to an SI prefix.
    """

    MIN_STEPS = 100

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("bitsPerDimView", parent, aspect_locked=False)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "bits/dim")
        for name in ("left", "bottom"):
            item.getAxis(name).enableAutoSIPrefix(False)
        item.getViewBox().disableAutoRange()
        self.curve = self.plot.plot(
            pen=pg.mkPen(style.LOSS_SMOOTH, width=2), symbol="o", symbolSize=5
        )
        self.status = make_label(
            "bitsPerDimStatus",
            "Bits per dimension of held-out images (uniform dequantization, Hutchinson "
            "divergence, rk4 with 8 steps while training): lower is better",
        )
        self.controls.addWidget(self.status)
        self.controls.addStretch(1)
        self._steps: list[int] = []
        self._values: list[float] = []
        self._update_status()

    def add(self, step: int, value: float) -> None:
        """A new point; the same step again replaces its value (a re-measure)."""
        if self._steps and self._steps[-1] == step:
            self._values[-1] = value
        else:
            self._steps.append(int(step))
            self._values.append(float(value))
        self.request("curve")
        self._update_status()

    def reset(self) -> None:
        self._steps, self._values = [], []
        self.request("curve")
        self._update_status()

    def values(self) -> list[tuple[int, float]]:
        return list(zip(self._steps, self._values, strict=True))

    def _draw_curve(self) -> None:
        self.curve.setData(self._steps, self._values)
        if self._values:
            self._fit_range()

    def _fit_range(self) -> None:
        """Steps from 0 to the last one (at least `MIN_STEPS`, so a first point at step 0
        gets whole-step ticks); bits/dim from the lowest to the highest value, padded by a
        tenth of the span or, for one value or a flat curve, by 2% of the value."""
        lo, hi = min(self._values), max(self._values)
        pad = max(0.1 * (hi - lo), 0.02 * abs(hi), 0.01)
        self.plot.setYRange(lo - pad, hi + pad, padding=0)
        self.plot.setXRange(0, max(self._steps[-1], self.MIN_STEPS), padding=0.02)

    def _update_status(self) -> None:
        text = f"{self._values[-1]:.3f} bits/dim" if self._values else "bits/dim: not yet"
        self.status.setText(text)
