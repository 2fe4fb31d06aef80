"""Datasets for the trainer: 2-D toy presets, point sets and image densities, and image sets."""

from fmstudio.core.data.errors import DatasetError
from fmstudio.core.data.images import (
    IMAGE_KINDS,
    ImageDataset,
    is_image_spec,
    load_cifar10,
    load_digits,
    load_folder,
    load_idx,
    pixels_to_unit,
    resolve_images,
)
from fmstudio.core.data.limits import MAX_IMAGE_SIDE
from fmstudio.core.data.picture_density import ImageDensity
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
    "IMAGE_KINDS",
    "MAX_IMAGE_SIDE",
    "PRESETS",
    "Dataset2D",
    "DatasetError",
    "ImageDataset",
    "ImageDensity",
    "PointSet",
    "PresetDataset",
    "is_image_spec",
    "load_cifar10",
    "load_digits",
    "load_folder",
    "load_idx",
    "load_points",
    "make_preset",
    "pixels_to_unit",
    "resolve_dataset",
    "resolve_images",
    "save_points",
    "validate_points",
]
