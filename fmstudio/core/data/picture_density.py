"""Images as 2-D densities, so any drawing or photo can become a Flow Matching target."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from fmstudio.core.data.errors import (
    DatasetError,
    check_count,
    check_positive,
    check_side,
    open_picture,
)


class ImageDensity:
    """A density proportional to per-pixel ``weights`` (darkness for images).

    The grid is centred at the origin with its longest side spanning ``[-extent, extent]`` and
    row 0 at the top (``y = +extent`` side), so a scatter plot with y up shows the picture
    upright.
    """

    def __init__(self, weights: ArrayLike, extent: float = 4.0, name: str = "image") -> None:
        try:
            grid = np.array(weights, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"weights are not a numeric array ({exc})") from exc
        if grid.ndim != 2 or grid.size == 0:
            raise DatasetError(f"expected a non-empty 2-D weight array, got shape {grid.shape}")
        if not np.isfinite(grid).all() or (grid < 0).any():
            raise DatasetError("weights must be finite and non-negative")
        total = grid.sum()
        if total <= 0:
            raise DatasetError("image has no dark pixels")
        self.extent: float = check_positive(extent, "extent")
        self.name: str = name
        self.weights: np.ndarray = grid / total
        self.weights.flags.writeable = False
        self.pixel_size: float = 2.0 * self.extent / max(grid.shape)
        self._cdf = np.cumsum(self.weights.ravel())

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        max_size: int = 256,
        extent: float = 4.0,
        gamma: float = 1.0,
    ) -> ImageDensity:
        """Load a PNG/JPEG (anything Pillow reads) with weight ``(1 - gray / 255) ** gamma``.

        The image is area-averaged down so its longest side is at most ``max_size`` (itself at
        most `MAX_IMAGE_SIDE`), which bounds memory and sampling cost for large photos;
        ``gamma > 1`` favours the darkest ink. Only a regular file whose header promises at most
        `MAX_PICTURE_PIXELS` is decoded.
        """
        size = check_side(max_size, "max_size")
        power = check_positive(gamma, "gamma")
        with open_picture(path) as img:
            img.load()
            gray = _flatten_to_gray(img)
        gray.thumbnail((size, size), Image.Resampling.BOX)
        ink = (1.0 - np.asarray(gray, dtype=np.float64) / 255.0) ** power
        try:
            return cls(ink, extent, name=Path(path).stem)
        except DatasetError as exc:
            raise DatasetError(exc.reason, path) from None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Pick pixels with probability proportional to weight, then a uniform spot inside each."""
        count = check_count(n)
        rows, cols = self.weights.shape
        picks = np.searchsorted(self._cdf, rng.random(count) * self._cdf[-1], side="right")
        row, col = np.divmod(np.minimum(picks, self._cdf.size - 1), cols)
        inside = rng.random((count, 2))
        x = (col + inside[:, 0] - cols / 2.0) * self.pixel_size
        y = (rows / 2.0 - row - inside[:, 1]) * self.pixel_size
        return np.stack([x, y], axis=1).astype(np.float32)


def _flatten_to_gray(img: Image.Image) -> Image.Image:
    """Composite onto white before going gray, so transparent areas count as paper, not ink."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return img.convert("L")
