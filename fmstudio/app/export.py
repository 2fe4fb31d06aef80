"""Pictures out of the app: a plot as PNG/SVG, a widget screenshot, an animated GIF.

Every write is atomic (temp file beside the target, then `os.replace`): a failed or interrupted
export never leaves a half-written file under the name the user chose.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QWidget

from fmstudio.core.atomic import atomic_write

MIN_PNG_WIDTH = 800
PLOT_SUFFIXES = (".png", ".svg")


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(
            f"cannot export to '{path.name}': the file name must end in {' or '.join(allowed)}"
        )
    return suffix


def export_plot(plot: pg.PlotWidget, path: str | os.PathLike[str]) -> Path:
    """Save a plot as PNG (at least `MIN_PNG_WIDTH` px wide) or SVG, chosen by the suffix."""
    target = Path(path)
    suffix = _suffix(target, PLOT_SUFFIXES)
    QApplication.processEvents()  # a freshly shown widget lays out its items first
    target.parent.mkdir(parents=True, exist_ok=True)
    # pyqtgraph's exporters take a file name (and PNG picks the format from it), so they write
    # a hidden temp name with the same suffix, which is then renamed over the target.
    tmp = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{suffix}")
    try:
        if suffix == ".png":
            _export_png(plot, tmp)
        else:
            _export_svg(plot, tmp)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise OSError(f"exporting '{target.name}' produced no data")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return target


def _export_png(plot: pg.PlotWidget, path: Path) -> None:
    """A raster at least `MIN_PNG_WIDTH` px wide (upscaled from a small widget, never down)."""
    item = plot.getPlotItem()
    exporter = pg_exporters.ImageExporter(item)
    exporter.parameters()["width"] = max(MIN_PNG_WIDTH, int(item.sceneBoundingRect().width()))
    exporter.export(str(path))


def _export_svg(plot: pg.PlotWidget, path: Path) -> None:
    """pyqtgraph's SVGExporter, or Qt's own SVG generator where pyqtgraph cannot parse Qt's SVG.

    With Qt >= 6.10 the SVG path data gains closing `Z` commands, which pyqtgraph 0.14's
    coordinate fix-up fails on (pyqtgraph issue #3495); Qt's generator then renders the plot
    as is (transforms kept as SVG groups, which every viewer handles).
    """
    exporter = pg_exporters.SVGExporter(plot.getPlotItem())
    try:
        exporter.export(str(path))
        return
    except ValueError:
        pass
    source = exporter.getSourceRect()
    size = QSize(max(1, round(source.width())), max(1, round(source.height())))

    def draw(painter: QPainter, target: QRectF) -> None:
        painter.fillRect(target, plot.backgroundBrush())
        exporter.render(painter, target, source)

    path.write_bytes(_svg_bytes(size, plot.logicalDpiX(), "fmstudio plot", [plot], draw))


def save_svg(widget: QWidget, path: str | os.PathLike[str], title: str = "fmstudio") -> Path:
    """A whole widget as one vector SVG: every plot inside it as paths and symbols, the
    labels and tables as text (Qt's SVG generator paints the widget tree)."""
    target = Path(path)
    _suffix(target, (".svg",))
    QApplication.processEvents()
    plots = widget.findChildren(pg.PlotWidget)
    data = _svg_bytes(
        widget.size(), widget.logicalDpiX(), title, plots, lambda p, _: widget.render(p, QPoint())
    )
    atomic_write(target, lambda handle: handle.write(data))
    return target


def _svg_bytes(
    size: QSize,
    dpi: int,
    title: str,
    plots: list[pg.PlotWidget],
    draw: Callable[[QPainter, QRectF], None],
) -> bytes:
    """What `draw` paints on a `size` canvas, as SVG; the plots' items paint vector shapes.

    Export mode makes scatter items paint vector symbols instead of cached pixmaps.
    """
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(size)
    target = QRectF(0, 0, size.width(), size.height())
    generator.setViewBox(target)
    generator.setResolution(dpi)  # else text and axes come out at 72/96 scale
    generator.setTitle(title)
    exporters = [pg_exporters.SVGExporter(plot.getPlotItem()) for plot in plots]
    painter = QPainter(generator)
    try:
        for exporter in exporters:
            exporter.setExportMode(True, {"antialias": True, "painter": painter})
        draw(painter, target)
    finally:
        for exporter in exporters:
            exporter.setExportMode(False)
        painter.end()
        buffer.close()
    if data.isEmpty():
        raise OSError(f"could not render an SVG of '{title}'")
    return bytes(data.data())


def _to_rgb(image: QImage) -> Image.Image:
    """QImage → RGB PIL image, honouring the row padding (`bytesPerLine`)."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height, stride = rgba.width(), rgba.height(), rgba.bytesPerLine()
    raw = np.frombuffer(bytes(rgba.constBits())[: stride * height], dtype=np.uint8)
    pixels = raw.reshape(height, stride)[:, : width * 4].reshape(height, width, 4)
    return Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]), mode="RGB")


def grab_frame(widget: QWidget) -> Image.Image:
    """A screenshot of the widget as an RGB image (in device pixels: 2× on a HiDPI screen)."""
    return _to_rgb(widget.grab().toImage())


def save_image(widget: QWidget, path: str | os.PathLike[str]) -> Path:
    """A PNG screenshot of a whole widget (panels, controls and all)."""
    target = Path(path)
    _suffix(target, (".png",))
    QApplication.processEvents()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not widget.grab().toImage().save(buffer, "PNG"):
        raise OSError(f"could not encode a screenshot for '{target.name}'")
    buffer.close()
    atomic_write(target, lambda handle: handle.write(bytes(data.data())))
    return target


def save_gif(frames: list[Image.Image], path: str | os.PathLike[str], fps: int = 20) -> Path:
    """An endlessly looping animated GIF; frames of another size are scaled to the first's."""
    target = Path(path)
    _suffix(target, (".gif",))
    if not frames:
        raise ValueError("cannot save a GIF without frames")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps}")
    size = frames[0].size
    images = [f.convert("RGB") if f.size == size else f.convert("RGB").resize(size) for f in frames]

    def write(handle: BinaryIO) -> None:
        images[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(1, 1000 // fps),
            loop=0,
        )

    atomic_write(target, write)
    return target
