"""Images out: model outputs in [-1, 1] as uint8 tiles, grids, x_t strips and PNG files.

Everything here returns plain uint8 arrays (H, W, C), row 0 at the top, so the app can show them
pixel-exact and the CLI can write them without either knowing about tensors or layouts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fmstudio.core.atomic import atomic_write


def _as_numpy(images: Any) -> np.ndarray:
    """A float32 numpy array from an array, a (CPU or GPU) torch tensor or a list of them."""
    if hasattr(images, "detach"):  # torch: no import needed, and no grad graph kept alive
        images = images.detach().float().cpu().numpy()
    elif isinstance(images, (list, tuple)):
        images = np.stack([_as_numpy(item) for item in images])
    return np.asarray(images, dtype=np.float32)


def _check_ndim(array: np.ndarray, ndim: int, layout: str) -> None:
    if array.ndim != ndim or array.shape[-3] not in (1, 3) or 0 in array.shape:
        raise ValueError(f"expected images of shape {layout} with C = 1 or 3, got {array.shape}")


def to_uint8(images: Any, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(N, C, H, W) floats in [lo, hi] -> uint8 (N, H, W, C), rounded and clipped.

    Samples overshoot [-1, 1] a little and a diverged model gives NaN; both must still display,
    so values are clipped and NaN shows as ``lo`` instead of raising.
    """
    if not hi > lo:
        raise ValueError(f"hi must exceed lo, got lo={lo}, hi={hi}")
    array = _as_numpy(images)
    _check_ndim(array, 4, "(N, C, H, W)")
    scaled = (np.nan_to_num(array, nan=lo) - lo) * (255.0 / (hi - lo))
    pixels = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))


def grid(images: Any, nrow: int | None = None, pad: int = 1, pad_value: int = 0) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one uint8 picture (H', W', C) of ``nrow`` images per row.

    ``pad`` pixels of ``pad_value`` separate the tiles and frame the whole picture; empty slots
    of the last row are ``pad_value`` too. ``nrow`` defaults to ceil(sqrt(N)), a square.
    """
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    cols = min(n, math.ceil(math.sqrt(n)) if nrow is None else _positive(nrow, "nrow"))
    rows = math.ceil(n / cols)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0, got {pad!r}")
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value must be within 0..255, got {pad_value!r}")
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(n):
        top, left = pad + (i // cols) * (h + pad), pad + (i % cols) * (w + pad)
        out[top : top + h, left : left + w] = tiles[i]
    return out


def strip(frames: Any, pad: int = 1) -> np.ndarray:
    """Frames (T, N, C, H, W) -> a uint8 grid with one row per sample and one column per time,
    so each row shows one x_t travelling from noise (left) to an image (right)."""
    array = _as_numpy(frames)
    _check_ndim(array, 5, "(T, N, C, H, W)")
    t, n = array.shape[:2]
    by_sample = array.transpose(1, 0, 2, 3, 4).reshape(n * t, *array.shape[2:])
    return grid(by_sample, nrow=t, pad=pad)


def save_png(image: np.ndarray, path: str | os.PathLike[str], upscale: int = 1) -> Path:
    """Write a uint8 (H, W), (H, W, 1) or (H, W, 3) picture as a PNG, atomically.

    ``upscale`` repeats every pixel (nearest neighbour): 8x8 digits are unreadable at 1x and any
    smoothing would invent detail the model never made.
    """
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected a uint8 picture, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if (
        pixels.ndim not in (2, 3)
        or (pixels.ndim == 3 and pixels.shape[2] != 3)
        or 0 in pixels.shape
    ):
        raise ValueError(
            f"expected a picture of shape (H, W), (H, W, 1) or (H, W, 3), got {pixels.shape}"
        )
    factor = _positive(upscale, "upscale")
    if factor > 1:
        pixels = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    target = Path(path)
    atomic_write(target, lambda handle: picture.save(handle, format="PNG"))
    return target


def save_images(
    images: Any, directory: str | os.PathLike[str], prefix: str = "sample", upscale: int = 1
) -> list[Path]:
    """One PNG per image (``prefix_0000.png``, ...) in ``directory``, created if missing."""
    tiles = to_uint8(images)
    folder = Path(directory)
    digits = max(4, len(str(len(tiles) - 1)))
    return [
        save_png(tile, folder / f"{prefix}_{i:0{digits}d}.png", upscale=upscale)
        for i, tile in enumerate(tiles)
    ]


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
