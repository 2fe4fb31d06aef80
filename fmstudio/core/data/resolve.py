"""Turn the user's dataset spec (preset name or file path) into a Dataset2D."""

from __future__ import annotations

import os
from pathlib import Path

from fmstudio.core.data.errors import DatasetError
from fmstudio.core.data.picture_density import ImageDensity
from fmstudio.core.data.points import (
    POINT_EXTENSIONS,
    Dataset2D,
    PointSet,
    PresetDataset,
    load_points,
)
from fmstudio.core.data.toy import PRESETS

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")


def resolve_dataset(
    spec: str | os.PathLike[str], jitter: float = 0.0, scale: float = 1.0
) -> Dataset2D:
    """Map one CLI/app string to a dataset, so every front end accepts the same specs.

    ``jitter`` (Gaussian noise per draw) applies to presets and point files; ``scale`` to
    presets. Images are continuous densities already and take neither.
    """
    text = os.fspath(spec)
    if text in PRESETS:
        return PresetDataset(text, jitter=jitter, scale=scale)
    ext = Path(text).suffix.lower()
    if ext in POINT_EXTENSIONS:
        return PointSet(load_points(text), jitter, name=Path(text).stem)
    if ext in IMAGE_EXTENSIONS:
        return ImageDensity.from_file(text)
    raise DatasetError(
        f"not a preset or a supported file; presets: {', '.join(PRESETS)}; "
        f"file extensions: {', '.join(POINT_EXTENSIONS + IMAGE_EXTENSIONS)}",
        text,
    )
