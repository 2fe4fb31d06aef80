"""Coarse checks of exported pictures: how much of an image is ink, and SVGs drawn by librsvg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from fmstudio.app import style


def ink_fraction(picture: Path | Image.Image) -> float:
    """The share of pixels that differ clearly from the plots' background colour: a plot drawn
    as a solid block has nearly 1, an empty one 0."""
    if isinstance(picture, Image.Image):
        rgb = np.asarray(picture.convert("RGB"))
    else:
        with Image.open(picture) as image:
            rgb = np.asarray(image.convert("RGB"))
    background = np.array(QColor(style.BACKGROUND).getRgb()[:3])
    return float((np.abs(rgb.astype(np.int16) - background).sum(axis=2) > 40).mean())


def render_with_qt(svg: Path, png: Path) -> Path:
    """The SVG drawn by Qt's renderer at its own size (Qt knows non-scaling strokes)."""
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid(), svg
    image = QImage(renderer.defaultSize(), QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    assert image.save(str(png)), png
    return png


def render_with_rsvg(svg: Path, png: Path, size: tuple[int, int]) -> Path:
    """The SVG drawn by librsvg (`rsvg-convert`), which has no non-scaling strokes (as
    ImageMagick and Inkscape 0.x); skips the test where it is not installed."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        pytest.skip("rsvg-convert is not installed")
    width, height = (str(v) for v in size)
    command = [tool, "--width", width, "--height", height, "--output", str(png), str(svg)]
    subprocess.run(command, check=True, timeout=120)
    return png


def renderers_agree(svg: Path, tolerance: float = 0.05) -> tuple[float, float]:
    """(Qt's ink, librsvg's ink) of one SVG, after checking that neither is blank or a solid
    block and that they differ by less than `tolerance`."""
    by_qt = render_with_qt(svg, svg.with_suffix(".qt.png"))
    with Image.open(by_qt) as image:
        size = image.size
    by_rsvg = render_with_rsvg(svg, svg.with_suffix(".rsvg.png"), size)
    inks = ink_fraction(by_qt), ink_fraction(by_rsvg)
    assert all(0.01 < ink < 0.8 for ink in inks), (svg.name, inks)
    assert abs(inks[0] - inks[1]) < tolerance, (svg.name, inks)
    return inks
