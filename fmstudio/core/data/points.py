"""Point-set datasets: the trainer-facing protocol, presets, user point sets and their files."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from fmstudio.core.atomic import atomic_write
from fmstudio.core.data.errors import (
    DatasetError,
    check_count,
    check_positive,
    describe_os_error,
    file_errors,
)
from fmstudio.core.data.limits import MAX_CSV_BYTES, MAX_FILE_POINTS, MAX_NPY_HEADER_BYTES
from fmstudio.core.data.toy import get_preset, make_preset
from fmstudio.core.safe_read import open_regular, read_capped

POINT_EXTENSIONS: tuple[str, ...] = (".npy", ".csv")
_CSV_HEADER = "x,y"
_NPY_MAX_BYTES = MAX_NPY_HEADER_BYTES + MAX_FILE_POINTS * 2 * np.dtype(np.longdouble).itemsize
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


@runtime_checkable
class Dataset2D(Protocol):
    """What the trainer consumes: a named source of 2-D training points."""

    name: str

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` points as an (n, 2) float32 array, taking all randomness from ``rng``."""
        ...


@dataclass
class PresetDataset:
    """A named toy preset, optionally scaled and blurred; each draw gets a fresh seed.

    ``scale`` multiplies the points (about the origin, where the N(0, I) noise sits, so it
    sets how far the flow must carry mass); ``jitter`` adds N(0, jitter²) to each point, as
    it does for a `PointSet`.
    """

    name: str
    jitter: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        get_preset(self.name)  # fail on a typo now rather than at the first training step
        check_positive(self.jitter, "jitter", allow_zero=True)
        check_positive(self.scale, "scale")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` preset points, reproducible through ``rng``."""
        points = make_preset(self.name, n, int(rng.integers(0, 2**63 - 1))) * self.scale
        if self.jitter > 0:
            points += self.jitter * rng.standard_normal(points.shape, dtype=np.float32)
        return points.astype(np.float32, copy=False)


class PointSet:
    """A finite user point set (e.g. drawn with the mouse) treated as an empirical distribution.

    ``jitter`` adds Gaussian noise of that std to each draw, which smooths a small set so the
    model learns a density instead of memorizing a handful of atoms.
    """

    def __init__(self, points: ArrayLike, jitter: float = 0.0, name: str = "points") -> None:
        self.points: np.ndarray = validate_points(points)
        self.points.flags.writeable = False
        self.jitter: float = check_positive(jitter, "jitter", allow_zero=True)
        self.name: str = name

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows with replacement, plus ``jitter * N(0, 1)`` noise."""
        draws = self.points[rng.integers(0, len(self.points), check_count(n))]
        if self.jitter > 0:
            draws += self.jitter * rng.standard_normal(draws.shape, dtype=np.float32)
        return draws


def validate_points(points: ArrayLike, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Return a float32 (N, 2) copy of ``points`` or raise a DatasetError naming ``path``."""
    try:
        arr = np.asarray(points)
    except (TypeError, ValueError) as exc:  # ragged nested lists and the like
        raise DatasetError(f"not a numeric array ({exc})", path) from exc
    if arr.dtype.kind not in "iuf":
        raise DatasetError(f"expected a numeric array, got dtype {arr.dtype}", path)
    if arr.size == 0:
        raise DatasetError(f"contains no points (shape {arr.shape})", path)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DatasetError(f"expected an (N, 2) array, got shape {arr.shape}", path)
    with np.errstate(over="ignore"):  # float32 overflow becomes inf, reported just below
        out = arr.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise DatasetError(f"contains {bad} non-finite value(s) (NaN, inf or beyond float32)", path)
    return out


def _extension(path: str | os.PathLike[str]) -> str:
    """Return the lower-cased point-file extension, refusing formats we cannot round-trip."""
    ext = Path(path).suffix.lower()
    if ext not in POINT_EXTENSIONS:
        expected = ", ".join(POINT_EXTENSIONS)
        raise DatasetError(f"unsupported extension {ext or '(none)'!r}; expected {expected}", path)
    return ext


def load_points(path: str | os.PathLike[str]) -> np.ndarray:
    """Load an (N, 2) float32 point array from ``.npy`` or ``.csv``; every failure is a
    DatasetError naming the file, never a raw numpy or OS error. Only a regular file is read
    (a FIFO would block, a device never end), and sizes are checked before anything large is
    allocated: at most `MAX_FILE_POINTS` points, `MAX_CSV_BYTES` of CSV text."""
    ext = _extension(path)
    with file_errors(path):
        raw = _read_npy(path) if ext == ".npy" else _read_csv(path)
    return validate_points(raw, path)


def _read_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a plain .npy array; pickles are refused because loading one can run arbitrary code.

    The magic bytes are checked first so that .npz archives and random bytes get a clear reason
    instead of numpy's hint to retry with ``allow_pickle``. The header's dtype, shape and the
    bytes they need are checked against the file's real length before the data is read, so a
    header that promises 10^12 rows costs nothing.
    """
    magic = np.lib.format.MAGIC_PREFIX
    with open_regular(path, _NPY_MAX_BYTES) as handle:
        prefix = handle.read(len(magic))
        if prefix.startswith(b"PK"):
            raise DatasetError("is an .npz archive, expected a single .npy array", path)
        if prefix != magic:
            raise DatasetError("not a .npy file (missing the NumPy header)", path)
        handle.seek(0)
        shape, fortran, dtype = _read_npy_header(handle, path)
        count = _check_npy_header(
            shape, dtype, os.fstat(handle.fileno()).st_size - handle.tell(), path
        )
        data = handle.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise DatasetError("truncated while being read", path)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_npy_header(
    handle: BinaryIO, path: str | os.PathLike[str]
) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy header, which numpy parses without evaluating."""
    try:
        version = np.lib.format.read_magic(handle)
        reader = _NPY_HEADER_READERS.get(version)
        header = None if reader is None else reader(handle)
    except (ValueError, EOFError) as exc:  # a bad or truncated header
        raise DatasetError(f"not a readable .npy array ({exc})", path) from exc
    if header is None:
        raise DatasetError(f"unsupported .npy format version {version[0]}.{version[1]}", path)
    return header


def _check_npy_header(
    shape: tuple[int, ...], dtype: np.dtype, available: int, path: str | os.PathLike[str]
) -> int:
    """The number of values a header promises, once it proves to be numbers the file holds
    and few enough to be a point set."""
    if dtype.kind not in "iuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise DatasetError(f"expected a numeric array, got dtype {dtype}", path)
    described = f"{'x'.join(map(str, shape)) or 'scalar'} {dtype}"
    if any(n < 0 for n in shape):
        raise DatasetError(f"the header gives a negative dimension ({described})", path)
    count = math.prod(shape)
    if count * dtype.itemsize > available:
        raise DatasetError(
            f"truncated: the header promises {count * dtype.itemsize} bytes of data "
            f"({described}), the file holds {available}",
            path,
        )
    if count > 2 * MAX_FILE_POINTS:
        raise DatasetError(
            f"holds {count // 2} points ({described}); a point file holds at most "
            f"{MAX_FILE_POINTS}",
            path,
        )
    return count


def _is_numeric_row(line: str) -> bool:
    """True when every comma-separated field parses as a float (tells data from a header)."""
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return False
    return True


def _read_csv(path: str | os.PathLike[str]) -> np.ndarray:
    """Read comma-separated rows, skipping one optional non-numeric header line."""
    try:
        text = read_capped(path, MAX_CSV_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError("not a UTF-8 text CSV file", path) from exc
    rows = _csv_rows(text, path)
    if not rows:
        raise DatasetError("contains no data rows", path)
    try:
        return np.loadtxt(rows, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"malformed CSV ({exc})", path) from exc


def _csv_rows(text: str, path: str | os.PathLike[str]) -> list[str]:
    """The non-blank lines after an optional header, stopping past `MAX_FILE_POINTS`: a few
    bytes a line would otherwise make tens of millions of strings."""
    lines = (line for line in io.StringIO(text, newline=None) if line.strip())
    first = next(lines, None)
    rows = [first] if first is not None and _is_numeric_row(first) else []
    for line in lines:
        if len(rows) == MAX_FILE_POINTS:
            raise DatasetError(
                f"more than {MAX_FILE_POINTS} points; a point file holds at most that many", path
            )
        rows.append(line)
    return rows


def save_points(path: str | os.PathLike[str], points: ArrayLike) -> None:
    """Save (N, 2) points to ``.npy`` or ``.csv`` atomically: the data goes to a temp file in
    the same directory and is then renamed over ``path``, so a crash or a concurrent reader
    never sees a half-written file."""
    ext = _extension(path)
    data = validate_points(points, path)

    def write(handle: BinaryIO) -> None:
        if ext == ".npy":
            np.save(handle, data, allow_pickle=False)
        else:
            np.savetxt(handle, data, fmt="%.9g", delimiter=",", header=_CSV_HEADER, comments="")

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise DatasetError(describe_os_error(exc, "cannot write it"), path) from exc
