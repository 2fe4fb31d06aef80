"""Figures for headless reports, drawn with Pillow (no Qt, no matplotlib): point clouds,
trajectories and a W2-vs-NFE chart on a log₂ axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

SIZE = 360
CAPTION = 24
COLORS = ((220, 80, 40), (40, 110, 210), (30, 150, 80), (150, 60, 170), (200, 150, 20))


def to_pixels(points: np.ndarray, extent: float, size: int = SIZE) -> np.ndarray:
    """Data coordinates in [-extent, extent]² → pixel coordinates, y up."""
    scaled = (np.asarray(points, dtype=np.float64) + extent) / (2 * extent) * size
    return np.stack([scaled[:, 0], size - scaled[:, 1]], axis=1)


def panel(title: str, size: int = SIZE) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white square with a grey frame and a caption under it."""
    image = Image.new("RGB", (size, size + CAPTION), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, size + 6), title, fill="black")
    draw.rectangle([0, 0, size - 1, size - 1], outline=(200, 200, 200))
    return image, draw


def scatter(
    points: np.ndarray, title: str, color: tuple[int, int, int], extent: float
) -> Image.Image:
    image, draw = panel(title)
    for x, y in to_pixels(points, extent):
        draw.point((x, y), fill=color)
    return image


def trajectories(traj: np.ndarray, title: str, extent: float) -> Image.Image:
    """Curves (T, N, 2) from noise (dark dots) to samples (red squares)."""
    image, draw = panel(title)
    for k in range(traj.shape[1]):
        draw.line([tuple(p) for p in to_pixels(traj[:, k], extent)], fill=(120, 150, 220))
    for x, y in to_pixels(traj[0], extent):
        draw.point((x, y), fill=(40, 40, 40))
    for x, y in to_pixels(traj[-1], extent):
        draw.rectangle([x - 1, y - 1, x + 1, y + 1], fill=(220, 60, 40))
    return image


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]], title: str, width: int = 2 * SIZE
) -> Image.Image:
    """Lines of (nfe, w2) per name, x on a log₂ scale, with tick labels and a legend."""
    image = Image.new("RGB", (width, SIZE + CAPTION), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, SIZE + 6), title, fill="black")
    points = [p for values in series.values() for p in values if math.isfinite(p[1])]
    if not points:
        return image
    left, right, top, bottom = 48, width - 12, 12, SIZE - 28
    xs = [math.log2(max(p[0], 1)) for p in points]
    ys = [p[1] for p in points]
    x_lo, x_hi = min(xs), max(max(xs), min(xs) + 1)
    y_lo, y_hi = 0.0, max(ys) * 1.05

    def pixel(nfe: float, w2: float) -> tuple[float, float]:
        px = left + (math.log2(max(nfe, 1)) - x_lo) / (x_hi - x_lo) * (right - left)
        py = bottom - (w2 - y_lo) / (y_hi - y_lo) * (bottom - top)
        return px, py

    draw.rectangle([left, top, right, bottom], outline=(160, 160, 160))
    for k in range(math.floor(x_lo), math.ceil(x_hi) + 1):
        px, _ = pixel(2.0**k, 0.0)
        draw.line([(px, bottom), (px, bottom + 4)], fill=(120, 120, 120))
        draw.text((px - 6, bottom + 6), str(2**k), fill="black")
    for frac in (0.0, 0.5, 1.0):
        value = y_lo + frac * (y_hi - y_lo)
        _, py = pixel(1.0, value)
        draw.text((4, py - 6), f"{value:.2f}", fill="black")
    draw.text((right - 40, bottom + 6), "NFE", fill="black")
    for index, (name, values) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        line = [pixel(nfe, w2) for nfe, w2 in sorted(values) if math.isfinite(w2)]
        if len(line) > 1:
            draw.line(line, fill=color, width=2)
        for px, py in line:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        draw.text((right - 150, top + 6 + 14 * index), name, fill=color)
    return image


def row(panels: Sequence[Image.Image], gap: int = 10) -> Image.Image:
    """Panels side by side on white."""
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    height = max(p.height for p in panels)
    figure = Image.new("RGB", (width, height), "white")
    x = 0
    for p in panels:
        figure.paste(p, (x, 0))
        x += p.width + gap
    return figure
