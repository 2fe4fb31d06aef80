"""Pictures out of the app: a plot as PNG/SVG, a widget screenshot, an animated GIF.

Every write is atomic (temp file beside the target, then `os.replace`): a failed or interrupted
export never leaves a half-written file under the name the user chose.

SVGs are drawn right by any renderer, not only by Qt and browsers: Qt writes a plot's curves and
symbols in data coordinates inside a group that scales them to pixels, with
`vector-effect: non-scaling-stroke` to keep the pens thin. Renderers without that SVG 1.2
feature (librsvg, ImageMagick, Inkscape 0.x) scale the pen too, so a 1 px arrow in a plot 20 px
per unit wide becomes 20 px thick and the field fills in solid. `_bake_strokes` moves those
shapes into pixel coordinates, where a plain stroke width means what the pen meant.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QWidget

from fmstudio.core.atomic import atomic_write

MIN_PNG_WIDTH = 800
FRAME_SIZE_LIMITS = (64, 4096)
"""Smallest and largest side, in pixels, of an off-screen frame (`show_offscreen`)."""
PLOT_SUFFIXES = (".png", ".svg")
SVG_NS = "http://www.w3.org/2000/svg"
NON_SCALING = "non-scaling-stroke"
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_MATRIX = re.compile(r"\s*matrix\(([^)]*)\)\s*")
_COMMAND = re.compile(r"([MmZzLlHhVvCcSsQqTtAa])")
_ABSOLUTE_PAIRS = frozenset("MLCQSTZ")
"""Path commands whose arguments are all absolute (x, y) pairs: what Qt writes (M, L, C, Z)."""


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
    coordinate fix-up fails on (pyqtgraph issue #3495); Qt's generator then renders the plot,
    its thin pens baked into pixel coordinates (`_bake_strokes`).
    """
    exporter = pg_exporters.SVGExporter(plot.getPlotItem())
    try:
        exporter.export(str(path))  # coordinates already in pixels (its own fix-up)
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
    return _bake_strokes(bytes(data.data()))


def _bake_strokes(svg: bytes) -> bytes:
    """The SVG with every non-scaling-stroke shape moved out of its scaling group into the
    coordinates around it (see the module docstring), so its stroke width is plain pixels.

    Qt's generator writes one level of groups, each with its own `matrix(...)`; a group whose
    shapes are baked is split where baked and kept shapes alternate, so the paint order holds.
    """
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for index in reversed(range(len(parent))):
            group = parent[index]
            if group.tag == f"{{{SVG_NS}}}g":
                parent[index : index + 1] = _split_group(group)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _split_group(group: ET.Element) -> list[ET.Element]:
    """`group` as runs of children: baked ones without the transform, the others with it."""
    match = _MATRIX.fullmatch(group.get("transform", ""))
    if match is None:
        return [group]
    matrix = [float(v) for v in match.group(1).split(",")]
    runs: list[tuple[bool, list[ET.Element]]] = []
    for child in group:
        baked = child.get("vector-effect") == NON_SCALING and _bake(child, matrix)
        if runs and runs[-1][0] == baked:
            runs[-1][1].append(child)
        else:
            runs.append((baked, [child]))
    if not any(baked for baked, _ in runs):
        return [group]
    pieces = []
    for baked, children in runs:
        piece = ET.Element(group.tag, group.attrib)
        piece.text, piece.tail = group.text, group.tail
        if baked:
            del piece.attrib["transform"]
        piece.extend(children)
        pieces.append(piece)
    return pieces


def _bake(shape: ET.Element, matrix: list[float]) -> bool:
    """Map a path's or polyline's points by `matrix` and drop its non-scaling-stroke; False
    (the shape untouched) for other shapes and for path commands that are not (x, y) pairs."""
    tag = shape.tag.removeprefix(f"{{{SVG_NS}}}")
    if tag == "path":
        attribute, mapped = "d", _map_path(shape.get("d", ""), matrix)
    elif tag in ("polyline", "polygon"):
        attribute, mapped = "points", _map_points(shape.get("points", ""), matrix)
    else:
        return False
    if mapped is None:
        return False
    shape.set(attribute, mapped)
    del shape.attrib["vector-effect"]
    return True


def _map_path(data: str, matrix: list[float]) -> str | None:
    """Path data mapped by `matrix`; None unless every command takes absolute (x, y) pairs."""
    parts = _COMMAND.split(data)  # [before, command, arguments, command, arguments, ...]
    if parts[0].strip():
        return None
    out = []
    for command, arguments in zip(parts[1::2], parts[2::2], strict=True):
        mapped = _map_points(arguments, matrix)
        if command not in _ABSOLUTE_PAIRS or mapped is None:
            return None
        out.append(command + mapped)
    return " ".join(out)


def _map_points(text: str, matrix: list[float]) -> str | None:
    """Points written "x,y x,y ..." mapped by the SVG matrix (a, b, c, d, e, f); None if the
    numbers do not pair up."""
    numbers = [float(v) for v in _NUMBER.findall(text)]
    if len(numbers) % 2:
        return None
    a, b, c, d, e, f = matrix
    return " ".join(
        f"{_short(a * x + c * y + e)},{_short(b * x + d * y + f)}"
        for x, y in zip(numbers[::2], numbers[1::2], strict=True)
    )


def _short(value: float) -> str:
    """A coordinate in pixels to 1/100 px (finer than any screen or print shows)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _to_rgb(image: QImage) -> Image.Image:
    """QImage → RGB PIL image, honouring the row padding (`bytesPerLine`)."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height, stride = rgba.width(), rgba.height(), rgba.bytesPerLine()
    raw = np.frombuffer(bytes(rgba.constBits())[: stride * height], dtype=np.uint8)
    pixels = raw.reshape(height, stride)[:, : width * 4].reshape(height, width, 4)
    return Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]), mode="RGB")


def grab_frame(widget: QWidget, size: tuple[int, int] | None = None) -> Image.Image:
    """A screenshot of the widget as an RGB image, in device pixels (2× on a HiDPI screen)
    unless scaled to `size` (width, height)."""
    image = _to_rgb(widget.grab().toImage())
    if size is not None and image.size != tuple(size):
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def show_offscreen(widget: QWidget, inner: QWidget, size: tuple[int, int]) -> None:
    """Show `widget` without a window on screen, sized so that its child `inner` (a plot under
    a control row) is `size` (width, height) pixels: what an export draws at a chosen size,
    whatever the shape of the live view. ValueError for a side outside `FRAME_SIZE_LIMITS`."""
    low, high = FRAME_SIZE_LIMITS
    if not all(low <= side <= high for side in size):
        raise ValueError(f"a frame must be {low} to {high} pixels a side, got {size[0]}×{size[1]}")
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    widget.resize(*size)
    widget.show()
    QApplication.processEvents()  # lays out the widget: the plot gets what the rest leaves
    rest = (size[0] - inner.width(), size[1] - inner.height())
    widget.resize(size[0] + rest[0], size[1] + rest[1])
    QApplication.processEvents()


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
