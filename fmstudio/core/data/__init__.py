"""2-D datasets for the trainer: toy presets, user point sets and images as densities."""

from fmstudio.core.data.errors import DatasetError
from fmstudio.core.data.image import ImageDensity
from fmstudio.core.data.points import (
    Dataset2D,
    PointSet,
    PresetDataset,
    load_points,
    save_points,
    validate_points,
)
from fmstudio.core.data.resolve import IMAGE_EXTENSIONS, resolve_dataset
from fmstudio.core.data.toy import PRESETS, make_preset

__all__ = [
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "Dataset2D",
    "DatasetError",
    "ImageDensity",
    "PointSet",
    "PresetDataset",
    "load_points",
    "make_preset",
    "resolve_dataset",
    "save_points",
    "validate_points",
]
