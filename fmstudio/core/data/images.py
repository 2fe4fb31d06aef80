"""Image datasets for Flow Matching on pixels: digits, MNIST, Fashion-MNIST, CIFAR-10, folders.

Every loader returns an `ImageDataset`: float32 images in [-1, 1], shape (N, C, H, W). Pixels
stay uint8 until that final conversion, so 60 000 MNIST images cost 47 MB, not 190 MB, while
they are resized. Every bad input raises one `DatasetError` that names the file and the fault.
Files are opened only if regular (a FIFO would block, a device never end) and every size a
header or a folder promises is checked against `limits` before anything large is allocated.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from fmstudio.core.data.cifar_pickle import unpickle_batch
from fmstudio.core.data.errors import (
    DatasetError,
    check_count,
    check_side,
    describe_os_error,
    file_errors,
    open_picture,
)
from fmstudio.core.data.limits import (
    MAX_CIFAR_BATCH_BYTES,
    MAX_DATASET_BYTES,
    MAX_FOLDER_DEPTH,
    MAX_FOLDER_ENTRIES,
    MAX_IDX_BYTES,
    MAX_IMAGE_SIDE,
)
from fmstudio.core.safe_read import describe_size, open_regular, read_capped

IMAGE_KINDS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "folder")
FOLDER_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SPEC_HELP = "digits, mnist:PATH, fashion-mnist:PATH, cifar10:PATH or folder:PATH"
DEFAULT_FOLDER_SIZE = 32
"""Folders hold images of any size, so they need a side length; 32 matches CIFAR-10."""

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions (N, H, W)
_IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension (N,)
_CIFAR_SIDE = 32
_CIFAR_PIXELS = 3 * _CIFAR_SIDE * _CIFAR_SIDE
_CIFAR_RECORD = 1 + _CIFAR_PIXELS  # binary version: one label byte, then the pixels
_CIFAR_BATCHES = 5
_CHUNK = 1 << 24

PathLike = str | os.PathLike[str]


class ImageDataset:
    """N images as float32 in [-1, 1], shape (N, C, H, W).

    ``levels`` is how many values a source pixel could take (256 for 8-bit files, 17 for the
    0..16 digits), which dequantization and bits/dim need; ``labels`` are int64 class ids.
    """

    def __init__(
        self,
        images: np.ndarray,
        name: str,
        levels: int = 256,
        labels: np.ndarray | None = None,
    ) -> None:
        self.images: np.ndarray = _check_images(images)
        self.name: str = name
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2:
            raise DatasetError(f"levels must be an integer >= 2, got {levels!r}")
        self.levels: int = int(levels)
        self.labels: np.ndarray | None = _check_labels(labels, len(self.images))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image: what the model takes and makes."""
        _, c, h, w = self.images.shape
        return (c, h, w)

    @property
    def dim(self) -> int:
        """Numbers per image; bits/dim divides by it."""
        c, h, w = self.shape
        return c * h * w

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"ImageDataset({self.name!r}, n={len(self)}, shape={self.shape})"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` images drawn with replacement, float32 (n, C, H, W); a copy, safe to modify."""
        count = check_count(n)
        return self.images[rng.integers(0, len(self), size=count)]

    def split(self, held_out: int, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
        """(train, held_out): a disjoint random split, so bits/dim is scored on unseen images."""
        held = check_count(held_out, "held_out")
        if held >= len(self):
            raise DatasetError(
                f"held_out must be less than the {len(self)} images of {self.name}, got {held}"
            )
        order = np.random.default_rng(seed).permutation(len(self))
        return self._subset(np.sort(order[held:])), self._subset(np.sort(order[:held]))

    def _subset(self, index: np.ndarray) -> ImageDataset:
        """The images at ``index`` without re-validating (they were checked once already)."""
        part = object.__new__(ImageDataset)
        part.images = self.images[index]
        part.name = self.name
        part.levels = self.levels
        part.labels = None if self.labels is None else self.labels[index]
        return part


def _check_images(images: np.ndarray) -> np.ndarray:
    """A float32 copy of valid images, so no caller's later edit can change the dataset."""
    try:
        array = np.array(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"images are not a numeric array ({exc})") from exc
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise DatasetError(f"images must have shape (N, 1 or 3, H, W), got {array.shape}")
    if array.shape[0] < 1 or array.shape[2] < 1 or array.shape[3] < 1:
        raise DatasetError(f"no images (shape {array.shape})")
    if not np.isfinite(array).all():
        raise DatasetError("images contain NaN or infinity")
    if array.min() < -1.0 or array.max() > 1.0:
        low, high = float(array.min()), float(array.max())
        raise DatasetError(f"image values must lie in [-1, 1], got [{low:.4g}, {high:.4g}]")
    return array


def _check_labels(labels: np.ndarray | None, count: int) -> np.ndarray | None:
    """Int64 labels, one per image, or None."""
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.shape != (count,) or (array.size and array.dtype.kind not in "iu"):
        raise DatasetError(
            f"labels must be {count} integers, got shape {array.shape} of {array.dtype}"
        )
    return array.astype(np.int64)


def pixels_to_unit(pixels: np.ndarray, levels: int) -> np.ndarray:
    """Integer pixels 0..levels-1 to float32 in [-1, 1] (pixel k -> -1 + 2k/(levels-1)).

    A lookup table makes both ends exact (0 -> -1.0, levels-1 -> 1.0) and keeps the uint8 input
    uint8 until the one float32 array is made.
    """
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2:
        raise DatasetError(f"levels must be an integer >= 2, got {levels!r}")
    array = np.asarray(pixels)
    if array.dtype.kind not in "iu":
        raise DatasetError(f"pixels must be integers, got {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= levels):
        raise DatasetError(f"pixels must lie in 0..{levels - 1}, got {array.min()}..{array.max()}")
    table = (-1.0 + 2.0 * np.arange(levels, dtype=np.float64) / (levels - 1)).astype(np.float32)
    return table[array]


# ---------------------------------------------------------------------------------------------
# Shared checks and the final resize / channel conversion


def _check_size(size: int | None) -> int | None:
    """None keeps the native size; anything else must be a positive pixel count of at most
    `MAX_IMAGE_SIDE`."""
    return None if size is None else check_side(size, "size")


def _check_dataset_bytes(
    count: int, channels: int, height: int, width: int, path: PathLike | None = None
) -> None:
    """Refuse, before building it, an image set whose float32 array would pass
    `MAX_DATASET_BYTES` (60 000 MNIST digits at 1024 px would be 250 GB)."""
    need = count * channels * height * width * 4
    if need > MAX_DATASET_BYTES:
        raise DatasetError(
            f"{count} images of {channels}x{height}x{width} take {describe_size(need)} as "
            f"float32, more than the {describe_size(MAX_DATASET_BYTES)} an image set may; "
            "choose a smaller image size or a limit",
            path,
        )


def _check_channels(channels: int) -> int:
    """Only grayscale and RGB exist as models' inputs."""
    if isinstance(channels, bool) or channels not in (1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels!r}")
    return int(channels)


def _check_limit(limit: int | None) -> int | None:
    return None if limit is None else check_count(limit, "limit")


def _finish(
    pixels: np.ndarray,
    name: str,
    levels: int,
    labels: np.ndarray | None,
    size: int | None,
    channels: int,
    limit: int | None = None,
) -> ImageDataset:
    """Uint8 (N, C, H, W) pixels -> a dataset, cutting to ``limit`` before any resize work."""
    if limit is not None:
        pixels = pixels[:limit]
        labels = None if labels is None else labels[:limit]
    n, _, h, w = pixels.shape
    _check_dataset_bytes(n, channels, size or h, size or w, name)
    pixels, levels = _convert(pixels, levels, size, channels)
    return ImageDataset(pixels_to_unit(pixels, levels), name, levels=levels, labels=labels)


def _convert(
    pixels: np.ndarray, levels: int, size: int | None, channels: int
) -> tuple[np.ndarray, int]:
    """Resize and change channels with PIL, one image at a time (uint8 stays uint8).

    Resizing interpolates, so sources with fewer than 256 levels (digits) are first spread over
    0..255 and the result honestly reports 256 levels.
    """
    n, c, h, w = pixels.shape
    if c == channels and (size is None or (h, w) == (size, size)):
        return pixels, levels
    if size is None and c == 1:  # 1 -> 3 at native size: repeat, no resampling
        return np.repeat(pixels, 3, axis=1), levels
    if levels != 256:
        pixels = _spread_to_8bit(pixels, levels)
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((n, channels, size or h, size or w), dtype=np.uint8)
    for i in range(n):
        source = pixels[i, 0] if c == 1 else pixels[i].transpose(1, 2, 0)
        picture = _fit(Image.fromarray(np.ascontiguousarray(source)), size, mode)
        out[i] = _to_chw(picture)
    return out, 256


def _spread_to_8bit(pixels: np.ndarray, levels: int) -> np.ndarray:
    table = np.rint(np.arange(levels) * (255.0 / (levels - 1))).astype(np.uint8)
    return table[pixels]


def _fit(picture: Image.Image, size: int | None, mode: str) -> Image.Image:
    """Convert to ``mode``, then centre-crop to a square and LANCZOS-resize to size x size."""
    if picture.mode != mode:
        picture = picture.convert(mode)
    if size is None:
        return picture
    width, height = picture.size
    side = min(width, height)
    if (width, height) != (side, side):
        left, top = (width - side) // 2, (height - side) // 2
        picture = picture.crop((left, top, left + side, top + side))
    if side != size:
        picture = picture.resize((size, size), Image.Resampling.LANCZOS)
    return picture


def _to_chw(picture: Image.Image) -> np.ndarray:
    array = np.asarray(picture, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _read_exact(stream: BinaryIO, count: int) -> bytearray:
    """Up to ``count`` bytes in chunks, so a lying header cannot allocate a huge buffer."""
    data = bytearray()
    while len(data) < count:
        block = stream.read(min(_CHUNK, count - len(data)))
        if not block:
            break
        data += block
    return data


# ---------------------------------------------------------------------------------------------
# Digits (scikit-learn, offline)


def load_digits(
    size: int | None = None, channels: int = 1, limit: int | None = None
) -> ImageDataset:
    """The 1797 8x8 handwritten digits that ship with scikit-learn: a dataset that needs no
    download and trains on a CPU in minutes. Pixels are 0..16 (17 levels); labels 0..9."""
    size, channels, limit = _check_size(size), _check_channels(channels), _check_limit(limit)
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise DatasetError(
            "the digits dataset needs scikit-learn: pip install scikit-learn"
        ) from exc
    bunch = sklearn_digits()
    pixels = np.rint(bunch.images).astype(np.uint8)[:, None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    return _finish(pixels, "digits", 17, labels, size, channels, limit)


# ---------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST (IDX files)

_IDX_TRAIN_NAMES = ("train-images-idx3-ubyte", "train-images.idx3-ubyte")


def load_idx(
    path: PathLike,
    size: int | None = None,
    channels: int = 1,
    labels_path: PathLike | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """An MNIST or Fashion-MNIST IDX image file, gzipped or raw (told apart by content).

    ``path`` may be the directory holding ``train-images-idx3-ubyte[.gz]``. Labels come from
    ``labels_path`` or, when absent, from the standard labels file beside the images if any.
    """
    size, channels, limit = _check_size(size), _check_channels(channels), _check_limit(limit)
    images_path = _idx_images_path(Path(path).expanduser())
    dims, payload = _read_idx(images_path, _IDX_IMAGES, "images")
    count, height, width = dims
    if min(dims) < 1:
        raise DatasetError(f"header says {count} images of {height}x{width} pixels", images_path)
    pixels = np.frombuffer(payload, dtype=np.uint8).reshape(count, 1, height, width)
    found = _idx_labels_beside(images_path) if labels_path is None else Path(labels_path)
    labels = None if found is None else _load_idx_labels(found.expanduser(), count)
    return _finish(pixels, f"mnist:{path}", 256, labels, size, channels, limit)


def _idx_images_path(path: Path) -> Path:
    """The images file itself, or the standard training file inside a directory."""
    if not path.is_dir():
        return path
    for name in _IDX_TRAIN_NAMES:
        for candidate in (path / name, path / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DatasetError("no train-images-idx3-ubyte[.gz] in this directory", path)


def _idx_labels_beside(images_path: Path) -> Path | None:
    """train-images-idx3-ubyte[.gz] -> train-labels-idx1-ubyte[.gz] (either compression)."""
    base = images_path.name.removesuffix(".gz")
    for images, labels in (("-images-idx3-", "-labels-idx1-"), ("-images.idx3-", "-labels.idx1-")):
        if images in base:
            stem = base.replace(images, labels)
            for candidate in (images_path.with_name(stem), images_path.with_name(f"{stem}.gz")):
                if candidate.is_file():
                    return candidate
    return None


def _load_idx_labels(path: Path, count: int) -> np.ndarray:
    (found,), payload = _read_idx(path, _IDX_LABELS, "labels")
    if found != count:
        raise DatasetError(f"has {found} labels but the images file has {count} images", path)
    return np.frombuffer(payload, dtype=np.uint8).astype(np.int64)


def _read_idx(path: Path, magic: int, what: str) -> tuple[tuple[int, ...], bytearray]:
    """(dims, payload) of an IDX file whose magic must be ``magic``; gzip by its magic bytes.

    A regular file of at most `MAX_IDX_BYTES`, which its header may not promise more than
    either: a gzip bomb is never inflated past what the header promises (plus one byte).
    """
    with file_errors(path), open_regular(path, MAX_IDX_BYTES) as raw:
        try:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if not gzipped:
                return _parse_idx(raw, path, magic, what)
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _parse_idx(stream, path, magic, what)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DatasetError(f"corrupt or truncated gzip data ({exc})", path) from exc


def _parse_idx(
    stream: BinaryIO, path: Path, magic: int, what: str
) -> tuple[tuple[int, ...], bytearray]:
    head = bytes(_read_exact(stream, 4))
    if len(head) < 4:
        raise DatasetError(f"truncated: {len(head)} bytes, too short for an IDX header", path)
    found = int.from_bytes(head, "big")
    if found != magic:
        hint = " (an IDX labels file, not images)" if found == _IDX_LABELS else ""
        raise DatasetError(
            f"wrong magic number 0x{found:08x}{hint}; an IDX {what} file starts with 0x{magic:08x}",
            path,
        )
    ndim = head[3]
    raw_dims = bytes(_read_exact(stream, 4 * ndim))
    if len(raw_dims) < 4 * ndim:
        raise DatasetError("truncated: the header ends before its dimensions", path)
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    expected = _check_idx_dims(dims, path)
    payload = _read_exact(stream, expected)
    shape = "x".join(map(str, dims))
    if len(payload) < expected:
        raise DatasetError(
            f"truncated: the header promises {expected} bytes ({shape}), the file has "
            f"{len(payload)}",
            path,
        )
    if stream.read(1):
        raise DatasetError(f"longer than its header says ({shape})", path)
    return dims, payload


def _check_idx_dims(dims: tuple[int, ...], path: Path) -> int:
    """The payload bytes an IDX header promises, if images are at most `MAX_IMAGE_SIDE` a side
    and the whole at most `MAX_IDX_BYTES`."""
    shape = "x".join(map(str, dims))
    if len(dims) == 3 and max(dims[1:]) > MAX_IMAGE_SIDE:
        raise DatasetError(
            f"images of {dims[1]}x{dims[2]} pixels ({shape}); an image side may be at most "
            f"{MAX_IMAGE_SIDE}",
            path,
        )
    expected = math.prod(dims)  # Python ints: three uint32 dims can overflow int64
    if expected > MAX_IDX_BYTES:
        raise DatasetError(
            f"the header promises {expected} bytes ({shape}), more than the "
            f"{describe_size(MAX_IDX_BYTES)} an IDX file may hold",
            path,
        )
    return expected


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (python pickles or the binary version)


def load_cifar10(
    path: PathLike,
    size: int | None = None,
    channels: int = 3,
    limit: int | None = None,
) -> ImageDataset:
    """A CIFAR-10 batch file (python ``data_batch_N``/``test_batch`` or binary ``*.bin``), or a
    directory of ``data_batch_1..5`` (either version). Each is a regular file of at most
    `MAX_CIFAR_BATCH_BYTES`; pickles are read by `cifar_pickle`, which can only rebuild numpy
    arrays from the file's own bytes, so a hostile file can neither run code nor make us
    allocate more than it holds."""
    size, channels, limit = _check_size(size), _check_channels(channels), _check_limit(limit)
    root = Path(path).expanduser()
    files = _cifar_batches(root) if root.is_dir() else [root]
    pixel_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    for file in files:
        pixels, labels = _load_cifar_batch(file)
        pixel_parts.append(pixels)
        label_parts.append(labels)
        if limit is not None and sum(map(len, pixel_parts)) >= limit:
            break
    pixels = np.concatenate(pixel_parts) if len(pixel_parts) > 1 else pixel_parts[0]
    labels = np.concatenate(label_parts) if len(label_parts) > 1 else label_parts[0]
    return _finish(pixels, f"cifar10:{path}", 256, labels, size, channels, limit)


def _cifar_batches(root: Path) -> list[Path]:
    """data_batch_1..5 (python) or data_batch_1..5.bin (binary), whichever are present."""
    for suffix in ("", ".bin"):
        found = [root / f"data_batch_{i}{suffix}" for i in range(1, _CIFAR_BATCHES + 1)]
        found = [file for file in found if file.is_file()]
        if found:
            return found
    raise DatasetError(
        "no CIFAR-10 batches here (data_batch_1..5 of cifar-10-batches-py or -bin)", root
    )


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Uint8 (N, 3, 32, 32) pixels and int64 labels of one batch file, either version."""
    with file_errors(path):
        data = read_capped(path, MAX_CIFAR_BATCH_BYTES)
    if not data:
        raise DatasetError("empty file", path)
    if data.startswith(_GZIP_MAGIC):
        raise DatasetError("a gzip archive; extract it and point at cifar-10-batches-py", path)
    binary = path.suffix == ".bin" or (data[0] < 10 and len(data) % _CIFAR_RECORD == 0)
    return _parse_cifar_binary(data, path) if binary else _parse_cifar_pickle(data, path)


def _parse_cifar_binary(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if len(data) % _CIFAR_RECORD:
        raise DatasetError(
            f"truncated: {len(data)} bytes is not a whole number of {_CIFAR_RECORD}-byte "
            "records (1 label byte + 3072 pixel bytes)",
            path,
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= 10:
        raise DatasetError(f"label byte {labels.max()} is not a CIFAR-10 class (0..9)", path)
    return _cifar_pixels(records[:, 1:]), labels


def _cifar_pixels(rows: np.ndarray) -> np.ndarray:
    """Rows of 1024 R, 1024 G, 1024 B bytes (each row-major 32x32) -> (N, 3, 32, 32)."""
    return np.ascontiguousarray(rows).reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE)


def _parse_cifar_pickle(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = unpickle_batch(data)
    except DatasetError as exc:
        raise DatasetError(exc.reason, path) from None
    return _check_cifar_batch(batch, path)


def _check_cifar_batch(batch: Any, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The dict a CIFAR-10 batch must be: b"data" an (N, 3072) array of bytes, b"labels" N
    integers. Nothing else is turned into an array: a list of lists that shares its rows (a
    few bytes of pickle) would become gigabytes."""
    if not isinstance(batch, dict):
        raise DatasetError(f"not a CIFAR-10 batch: a {type(batch).__name__}, not a dict", path)
    rows = _batch_entry(batch, "data", path)
    if not isinstance(rows, np.ndarray):
        raise DatasetError(
            f"b'data' must be a numpy array of (N, 3072) bytes, got a {type(rows).__name__}", path
        )
    if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] != _CIFAR_PIXELS:
        raise DatasetError(f"b'data' must have shape (N, 3072), got {rows.shape}", path)
    if rows.dtype.kind not in "iu" or rows.min() < 0 or rows.max() > 255:
        raise DatasetError(f"b'data' must hold bytes 0..255, got {rows.dtype}", path)
    labels = _cifar_labels(_batch_entry(batch, "labels", path), len(rows), path)
    return _cifar_pixels(rows.astype(np.uint8, copy=False)), labels


def _cifar_labels(labels: Any, count: int, path: Path) -> np.ndarray:
    """`count` labels 0..9 from a list of integers (the real files) or an integer array."""
    if isinstance(labels, np.ndarray):
        ok = labels.shape == (count,) and labels.dtype.kind in "iu"
        ok = ok and labels.min() >= 0 and labels.max() <= 9
        found = f"shape {labels.shape} of {labels.dtype}"
    else:
        ok = isinstance(labels, list) and len(labels) == count and all(map(_is_class, labels))
        found = _kind_of(labels)
    if not ok:
        raise DatasetError(f"b'labels' must be {count} integers 0..9, got {found}", path)
    return np.array(labels, dtype=np.int64)


def _is_class(label: Any) -> bool:
    return isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label <= 9


def _kind_of(value: Any) -> str:
    """A few words on what a pickle held instead (never its repr, which could be huge)."""
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a {type(value).__name__}"


def _batch_entry(batch: dict[Any, Any], key: str, path: Path) -> Any:
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise DatasetError(f"not a CIFAR-10 batch: no b'{key}' entry", path)


# ---------------------------------------------------------------------------------------------
# A folder of pictures


def load_folder(
    path: PathLike,
    size: int | None = DEFAULT_FOLDER_SIZE,
    channels: int = 3,
    limit: int | None = None,
) -> ImageDataset:
    """Every picture under ``path`` (sorted, recursive; hidden files skipped), as L or RGB,
    centre-cropped to a square and LANCZOS-resized to size x size. ``size=None`` keeps every
    picture as it is, so they must all have the same size (at most `MAX_IMAGE_SIDE`)."""
    size, channels, limit = _check_size(size), _check_channels(channels), _check_limit(limit)
    root = Path(path).expanduser()
    files = _folder_files(root)[:limit]
    mode = "L" if channels == 1 else "RGB"
    pixels = [_to_chw(_load_picture(files[0], size, mode))]
    first = pixels[0].shape  # the size every picture will have: check it before decoding more
    if max(first[1:]) > MAX_IMAGE_SIDE:
        raise DatasetError(
            f"is {first[2]}x{first[1]} px, larger than {MAX_IMAGE_SIDE} a side; give a size "
            "to resize the pictures",
            files[0],
        )
    _check_dataset_bytes(len(files), channels, first[1], first[2], root)
    pixels += [_to_chw(_load_picture(file, size, mode)) for file in files[1:]]
    for file, picture in zip(files, pixels, strict=True):
        if picture.shape != first:
            raise DatasetError(
                f"is {picture.shape[2]}x{picture.shape[1]} px, unlike {files[0].name} "
                f"({first[2]}x{first[1]}); give a size to resize them all",
                file,
            )
    return _finish(np.stack(pixels), f"folder:{path}", 256, None, None, channels)


def _folder_files(root: Path) -> list[Path]:
    if not root.exists():
        raise DatasetError("no such directory", root)
    if not root.is_dir():
        raise DatasetError("not a directory (folder:PATH wants a folder of images)", root)
    files = sorted(_walk_pictures(root))
    if not files:
        raise DatasetError(f"no images ({', '.join(FOLDER_EXTENSIONS)}) in this folder", root)
    return files


def _walk_pictures(root: Path) -> list[Path]:
    """Picture files under `root`, looking at no more than `MAX_FOLDER_ENTRIES` entries and
    `MAX_FOLDER_DEPTH` levels (`folder:/usr` must end quickly, in an error that says why).
    Hidden entries and linked folders are skipped, and so is anything but a regular file
    (a FIFO or a device named like a picture); unreadable subfolders too."""
    found: list[Path] = []
    examined = 0
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError as exc:
            if folder == root:
                raise DatasetError(describe_os_error(exc, "cannot list folder"), root) from exc
            continue
        with entries:
            for entry in entries:
                examined += 1
                if examined > MAX_FOLDER_ENTRIES:
                    raise DatasetError(
                        f"more than {MAX_FOLDER_ENTRIES} entries under this folder; point "
                        "folder: at the folder that holds the pictures",
                        root,
                    )
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if depth == MAX_FOLDER_DEPTH:
                        raise DatasetError(
                            f"folders nest deeper than {MAX_FOLDER_DEPTH} levels (at "
                            f"{entry.path}); point folder: at the folder that holds the pictures",
                            root,
                        )
                    pending.append((Path(entry.path), depth + 1))
                elif Path(entry.name).suffix.lower() in FOLDER_EXTENSIONS and entry.is_file():
                    found.append(Path(entry.path))
    return found


def _load_picture(path: Path, size: int | None, mode: str) -> Image.Image:
    """One picture, upright (EXIF), alpha composited onto white, cropped and resized."""
    with open_picture(path) as picture:
        picture.load()
        upright = ImageOps.exif_transpose(picture)
        return _fit(_flatten(upright), size, mode)


def _flatten(picture: Image.Image) -> Image.Image:
    """Transparent areas become white paper; 16-bit grayscale is scaled, not clipped, to 8 bit."""
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if picture.mode.startswith("I;16"):
        wide = np.asarray(picture, dtype=np.uint16)
        return Image.fromarray((wide >> 8).astype(np.uint8))
    return picture


# ---------------------------------------------------------------------------------------------
# Specs


def is_image_spec(spec: str) -> bool:
    """Whether ``spec`` names an image dataset ("digits" or "<kind>:...") rather than points."""
    if not isinstance(spec, str):
        return False
    kind, colon, _ = spec.partition(":")
    kind = kind.strip().lower()
    return kind == "digits" or (bool(colon) and kind in IMAGE_KINDS)


def resolve_images(
    spec: str,
    size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """Load the images ``spec`` names; ``channels=None`` keeps the source's own (1 for digits
    and MNIST, 3 for CIFAR-10 and folders), ``limit`` keeps the first images only."""
    kind, colon, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in IMAGE_KINDS:
        raise DatasetError(f"unknown image dataset kind {kind!r}; choose {SPEC_HELP}")
    if kind == "digits":
        if colon:
            raise DatasetError(f"digits takes no path, got {spec!r}")
        dataset = load_digits(size, 1 if channels is None else channels, limit)
    else:
        if not rest:
            raise DatasetError(f"{kind} needs a path: {kind}:PATH")
        dataset = _LOADERS[kind](rest, size, channels, limit)
    dataset.name = spec
    return dataset


def _idx_from_spec(
    path: str, size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    return load_idx(path, size, 1 if channels is None else channels, limit=limit)


def _cifar_from_spec(
    path: str, size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    return load_cifar10(path, size, 3 if channels is None else channels, limit)


def _folder_from_spec(
    path: str, size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    return load_folder(
        path,
        DEFAULT_FOLDER_SIZE if size is None else size,
        3 if channels is None else channels,
        limit,
    )


_LOADERS: dict[str, Callable[[str, int | None, int | None, int | None], ImageDataset]] = {
    "mnist": _idx_from_spec,
    "fashion-mnist": _idx_from_spec,
    "cifar10": _cifar_from_spec,
    "folder": _folder_from_spec,
}
