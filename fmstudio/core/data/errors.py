"""The single error type of the data layer, plus the argument checks that raise it."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import numpy as np


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
def reading_image(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn whatever Pillow raises while opening and decoding `path` into one DatasetError."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except UnidentifiedImageError as exc:
        raise DatasetError("not a recognized image file", path) from exc
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"image is too large ({exc})", path) from exc
    except OSError as exc:  # missing, unreadable, or a decoder's "truncated" error
        raise DatasetError(describe_os_error(exc, "corrupt or truncated image"), path) from exc
    except (ValueError, SyntaxError, EOFError) as exc:  # what Pillow raises on bad chunks
        raise DatasetError(f"corrupt or truncated image ({exc})", path) from exc
