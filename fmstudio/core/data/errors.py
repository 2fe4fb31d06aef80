"""The single error type of the data layer, the argument checks that raise it, and the ways
a user's file is opened (a regular file of bounded size, a picture of bounded pixels) that turn
every refusal into it."""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from fmstudio.core.data.limits import MAX_IMAGE_SIDE, MAX_PICTURE_BYTES, MAX_PICTURE_PIXELS
from fmstudio.core.safe_read import FileRefused, open_regular

if TYPE_CHECKING:
    from PIL import Image


class DatasetError(ValueError):
    """Any bad dataset input; one type so the CLI and the app can catch and show it uniformly.

    The message always reads ``"<file>: <reason>"`` when a file is involved, so the user knows
    which file to fix without reading a traceback.
    """

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None) -> None:
        self.path: str | None = None if path is None else os.fspath(path)
        self.reason: str = reason
        super().__init__(reason if self.path is None else f"{self.path}: {reason}")


def check_count(n: int, what: str = "n") -> int:
    """Reject non-integer or non-positive counts before numpy turns them into cryptic errors."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DatasetError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def check_side(side: int, what: str = "size") -> int:
    """An image side in pixels: a positive integer of at most `MAX_IMAGE_SIDE`."""
    count = check_count(side, what)
    if count > MAX_IMAGE_SIDE:
        raise DatasetError(f"{what} must be at most {MAX_IMAGE_SIDE} pixels, got {count}")
    return count


def check_positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    """Reject NaN, inf and out-of-range scales, which would silently poison every sample."""
    bound = ">= 0" if allow_zero else "> 0"
    problem = DatasetError(f"{what} must be a finite number {bound}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise problem from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise problem
    return number


def describe_os_error(exc: OSError, fallback: str = "cannot read file") -> str:
    """Turn an OSError into a short reason; the path is already in the DatasetError prefix.

    ``fallback`` labels errors that are not about access (e.g. a decoder's "truncated" error).
    """
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"{fallback} ({exc.strerror or exc})"


@contextlib.contextmanager
def file_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a refused or unreadable file (`safe_read.FileRefused`, OSError) into a DatasetError
    naming `path`: wrap `open_regular`/`read_capped` and the reading in it."""
    try:
        yield
    except FileRefused as exc:
        raise DatasetError(str(exc), path) from None
    except OSError as exc:
        raise DatasetError(describe_os_error(exc), path) from exc


@contextlib.contextmanager
def open_picture(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """`path` opened with Pillow, its pixel count checked from the header before anything is
    decoded; whatever goes wrong here or while the caller decodes is one DatasetError.

    Pillow's own bomb check warns (89 MP) below where it refuses (179 MP); our limit is lower
    than both, so its warning is silenced and its error reworded: neither reaches the user.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open_regular(path, MAX_PICTURE_BYTES) as handle:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                picture = Image.open(handle)
            with picture:
                width, height = picture.size
                if width * height > MAX_PICTURE_PIXELS:
                    raise DatasetError(_too_many_pixels(f"{width}x{height}"), path)
                yield picture
    except DatasetError:
        raise
    except FileRefused as exc:
        raise DatasetError(str(exc), path) from None
    except UnidentifiedImageError as exc:
        raise DatasetError("not a recognized image file", path) from exc
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise DatasetError(_too_many_pixels(found[1] if found else "too many"), path) from None
    except OSError as exc:  # missing, unreadable, or a decoder's "truncated" error
        raise DatasetError(describe_os_error(exc, "corrupt or truncated image"), path) from exc
    except (ValueError, SyntaxError, EOFError) as exc:  # what Pillow raises on bad chunks
        raise DatasetError(f"corrupt or truncated image ({exc})", path) from exc


def _too_many_pixels(size: str) -> str:
    return f"{size} pixels, more than a picture may have (at most {MAX_PICTURE_PIXELS})"
