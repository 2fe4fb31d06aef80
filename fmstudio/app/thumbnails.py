"""Preset thumbnails: each toy dataset drawn as a small dot cloud, so presets are chosen by eye.

They are rendered from the same `make_preset` the trainer samples (fixed seed), so a thumbnail
is exactly the shape that will be learned. Rendering 1500 points is cheap but not free, and the
list asks for every icon at start-up, so pictures are cached per (name, size).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from fmstudio.app import style
from fmstudio.core.data import make_preset

THUMBNAIL_POINTS = 1500
THUMBNAIL_SEED = 0
CARD = "#22262e"
"""Card colour: a step lighter than the app background so the tile reads as a button."""
DOT_ALPHA = 170


@lru_cache(maxsize=128)
def preset_pixmap(name: str, size: int = 64) -> QPixmap:
    """A `size`×`size` picture of preset `name`: dots on a dark rounded card.

    Needs a QGuiApplication (QPixmap lives in the GUI). Raises DatasetError for an unknown name.
    """
    points = np.asarray(make_preset(name, THUMBNAIL_POINTS, seed=THUMBNAIL_SEED), dtype=float)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(CARD))
        radius = size * 0.14
        painter.drawRoundedRect(QRectF(0.5, 0.5, size - 1.0, size - 1.0), radius, radius)
        dot = QColor(*style.TARGET[:3], DOT_ALPHA)
        pen = QPen(dot, max(1.0, size / 48.0))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in _fit(points, size)]))
    finally:
        painter.end()
    return pixmap


@lru_cache(maxsize=128)
def preset_icon(name: str, size: int = 64) -> QIcon:
    """`preset_pixmap` as an icon for list views and buttons."""
    return QIcon(preset_pixmap(name, size))


def _fit(points: np.ndarray, size: int) -> np.ndarray:
    """Map points into the card keeping their aspect, centred with a margin, y pointing up."""
    margin = size * 0.12
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    scale = (size - 2.0 * margin) / span
    centre = (lo + hi) / 2.0
    xy = (points - centre) * scale
    return np.column_stack([size / 2.0 + xy[:, 0], size / 2.0 - xy[:, 1]])
