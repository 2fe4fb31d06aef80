"""Hostile data files: each must end in one `DatasetError` line naming the file and the fault,
found from headers and sizes before any large allocation (each batch runs in a child under the
2 GiB address-space limit, so a loader that trusts a lying header fails with MemoryError), and
never hang (a FIFO opened for reading blocks until someone writes: the probes time out).

One child per family (points, IDX, CIFAR-10, pictures and folders): each costs a torch import.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from limited import probe

from fmstudio.core.data.limits import (
    MAX_CIFAR_BATCH_BYTES,
    MAX_CSV_BYTES,
    MAX_FILE_POINTS,
    MAX_FOLDER_DEPTH,
    MAX_IDX_BYTES,
    MAX_IMAGE_SIDE,
    MAX_PICKLE_OPCODES,
)
from fmstudio.core.safe_read import describe_size

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")

PROBE_TIMEOUT = 60
"""Seconds a batch may take; a loader that opens a FIFO blocking would hang forever."""

_RUN_CASES = """
import warnings
import fmstudio.core.data as data
import fmstudio.core.data.images as images
from fmstudio.core.data import DatasetError
for name, value in json.loads({patches!r}).items():
    setattr(images, name, value)
warnings.simplefilter("error")  # a warning (Pillow's DecompressionBombWarning) must not escape
results = {{}}
for case, (function, args, kwargs) in json.loads({cases!r}).items():
    try:
        target = data
        for part in function.split("."):  # "ImageDensity.from_file" too
            target = getattr(target, part)
        value = target(*args, **kwargs)
        results[case] = "ok " + repr(getattr(value, "shape", None))
    except DatasetError as exc:
        results[case] = "DatasetError " + str(exc)
    except BaseException as exc:
        results[case] = type(exc).__name__ + " " + str(exc)
return results
"""

Case = tuple[str, list[object], dict[str, object]]


def run_cases(cases: dict[str, Case], patches: dict[str, int] | None = None) -> dict[str, str]:
    """Call `fmstudio.core.data.FUNCTION(*args, **kwargs)` (a dotted name) for each case in one
    limited child; each result is "ok SHAPE", "DatasetError MESSAGE" or "OTHER_TYPE MESSAGE"."""
    code = _RUN_CASES.format(cases=json.dumps(cases), patches=json.dumps(patches or {}))
    return probe(code, timeout=PROBE_TIMEOUT)


def assert_refused(results: dict[str, str], case: str, path: Path | str, *words: str) -> None:
    """A one-line DatasetError that names `path` and holds every word."""
    result = results[case]
    assert result.startswith(f"DatasetError {path}: "), (case, result)
    assert "\n" not in result, (case, result)
    for word in words:
        assert word in result, (case, word, result)


def call(function: str, *args: object, **kwargs: object) -> Case:
    return (function, [os.fspath(a) if isinstance(a, Path) else a for a in args], kwargs)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def to_dev_zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of `size` bytes that starts with `head`: cheap, the rest is a hole."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


# ---------------------------------------------------------------------------------------------
# Point files


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def test_hostile_point_files(tmp_path: Path) -> None:
    huge = tmp_path / "huge.npy"
    huge.write_bytes(npy_header((10**12, 2)) + bytes(64))
    many_head = npy_header((MAX_FILE_POINTS + 1, 2))
    many = sparse(tmp_path / "many.npy", many_head, len(many_head) + (MAX_FILE_POINTS + 1) * 16)
    objects = tmp_path / "objects.npy"
    objects.write_bytes(npy_header((10**9,), "|O") + bytes(64))
    short = tmp_path / "short.npy"
    short.write_bytes(npy_header((1000, 2)) + bytes(100))
    big_csv = sparse(tmp_path / "big.csv", b"x,y\n", MAX_CSV_BYTES + 1)
    rows_csv = tmp_path / "rows.csv"
    rows_csv.write_bytes(b"0,0\n" * (MAX_FILE_POINTS + 1))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    files = {
        "fifo.npy": fifo(tmp_path / "fifo.npy"),
        "fifo.csv": fifo(tmp_path / "fifo.csv"),
        "zero.npy": to_dev_zero(tmp_path / "zero.npy"),
        "zero.csv": to_dev_zero(tmp_path / "zero.csv"),
    }
    cases = {name: call("load_points", path) for name, path in files.items()}
    for path in (huge, many, objects, short, big_csv, rows_csv, folder):
        cases[path.name] = call("load_points", path)
    cases["resolve"] = call("resolve_dataset", files["fifo.npy"])
    results = run_cases(cases)
    assert_refused(results, "fifo.npy", files["fifo.npy"], "FIFO", "expected a regular file")
    assert_refused(results, "fifo.csv", files["fifo.csv"], "FIFO", "expected a regular file")
    assert_refused(results, "resolve", files["fifo.npy"], "FIFO")
    assert_refused(results, "zero.npy", files["zero.npy"], "character device")
    assert_refused(results, "zero.csv", files["zero.csv"], "character device")
    assert_refused(results, "folder.csv", folder, "a directory")
    assert_refused(results, "huge.npy", huge, "1000000000000", "promises", "the file holds 64")
    assert_refused(results, "many.npy", many, f"{MAX_FILE_POINTS + 1} points", "at most")
    assert_refused(results, "objects.npy", objects, "numeric", "object")
    assert_refused(results, "short.npy", short, "promises 16000 bytes", "the file holds 100")
    assert_refused(results, "big.csv", big_csv, "more than", "MiB")
    assert_refused(results, "rows.csv", rows_csv, "more than", f"{MAX_FILE_POINTS} points")


# ---------------------------------------------------------------------------------------------
# IDX (MNIST) files


def idx_header(*dims: int) -> bytes:
    return struct.pack(">I", 0x800 + len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def gzip_bomb(path: Path, head: bytes, zero_mib: int) -> Path:
    """A gzip file of `head` then `zero_mib` MiB of zeros, about 1 KiB per MiB: one deflate
    block of zeros, flushed, repeats byte for byte. Its trailer (CRC, length) is wrong, which only
    a reader that inflates all of it would ever notice."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    start = squeeze.compress(head) + squeeze.flush(zlib.Z_FULL_FLUSH)
    block = squeeze.compress(bytes(1 << 20)) + squeeze.flush(zlib.Z_FULL_FLUSH)
    path.write_bytes(start + block * zero_mib + squeeze.flush())
    return path


def test_hostile_idx_files(tmp_path: Path) -> None:
    lying = tmp_path / "lying-idx3-ubyte"
    lying.write_bytes(idx_header(10**9, 28, 28) + bytes(16))
    bomb_mib = 3 << 10  # 3 GiB of zeros in ~3 MB, far past the cap
    assert bomb_mib << 20 > 8 * MAX_IDX_BYTES
    bomb = gzip_bomb(tmp_path / "bomb-idx3-ubyte.gz", idx_header(10**6, 28, 28), bomb_mib)
    assert bomb.stat().st_size < 4 << 20
    long_bomb = gzip_bomb(tmp_path / "long-idx3-ubyte.gz", idx_header(100, 28, 28), bomb_mib)
    side = MAX_IMAGE_SIDE + 1
    wide = sparse(tmp_path / "wide-idx3-ubyte", idx_header(2, side, side), 16 + 2 * side * side)
    fifo_file = fifo(tmp_path / "fifo-idx3-ubyte")
    mnist = sparse(tmp_path / "mnist-idx3-ubyte", idx_header(60_000, 28, 28), 16 + 60_000 * 784)
    cases = {
        path.name: call("load_idx", path)
        for path in (lying, bomb, long_bomb, wide, fifo_file, Path("/dev/zero"))
    }
    cases["dataset-bytes"] = call("resolve_images", f"mnist:{mnist}", size=MAX_IMAGE_SIDE)
    results = run_cases(cases)
    cap = describe_size(MAX_IDX_BYTES)
    assert_refused(results, lying.name, lying, "1000000000x28x28", "promises", cap)
    assert_refused(results, bomb.name, bomb, "1000000x28x28", "promises", cap)
    assert_refused(results, long_bomb.name, long_bomb, "longer than its header says")
    assert_refused(results, wide.name, wide, f"{side}x{side}", f"{MAX_IMAGE_SIDE}")
    assert_refused(results, fifo_file.name, fifo_file, "FIFO", "expected a regular file")
    assert_refused(results, "zero", "/dev/zero", "character device")
    # A real MNIST at 1024 px would be 250 GB of float32: refused before it is resized.
    assert_refused(results, "dataset-bytes", f"mnist:{mnist}", "60000 images", "GiB", "limit")


# ---------------------------------------------------------------------------------------------
# CIFAR-10 batches


class Reduced:
    """Pickles as `function(*args)` (then BUILD with `state`, if given), never called here."""

    def __init__(self, function: object, args: tuple[object, ...], state: object = None) -> None:
        self.reduced = (function, args) if state is None else (function, args, state)

    def __reduce__(self) -> tuple[object, ...]:
        return self.reduced


def batch_pickle(data: object, labels: object, protocol: int = 2) -> bytes:
    return pickle.dumps({b"data": data, b"labels": labels}, protocol=protocol)


def hostile_batches() -> dict[str, bytes]:
    """Tiny pickles that make a trusting loader allocate gigabytes, or refuse otherwise."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct
    rows = np.zeros((2, 3072), np.uint8)
    row = [0] * 3072
    cube = [[[0] * 1000] * 1000] * 1000  # 10^9 labels from a few KB of memo references
    return {
        # numpy.ndarray(shape): 5.7 GB of uninitialised memory from ~100 bytes
        "ndarray": batch_pickle(Reduced(np.ndarray, ((1_900_000, 3072),)), [0]),
        "reconstruct": batch_pickle(Reduced(reconstruct, (np.ndarray, (10**10,), b"b")), [0]),
        "state": batch_pickle(
            Reduced(
                reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, (10**6, 3072), np.dtype(np.uint8), False, b"\0" * 10),
            ),
            [0],
        ),
        "objects": batch_pickle(
            Reduced(
                reconstruct, (np.ndarray, (0,), b"b"), (1, (3,), np.dtype(object), False, [1, 2])
            ),
            [0],
        ),
        "nested-data": batch_pickle([row] * 100_000, [0]),  # 2.4 GB as int64
        "nested-labels": batch_pickle(rows, cube),
        "memo": b"\x80\x02K\x01r" + struct.pack("<I", 1 << 28) + b".",
        "claimed-bytes": b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"xx.",
        "opcodes": b"\x80\x02" + b"]" * (MAX_PICKLE_OPCODES + 10) + b".",
        # BUILD on an allowed global, setting its __defaults__ for every file read after it
        "build-global": b"\x80\x02c_codecs\nencode\nN}X\x0c\x00\x00\x00__defaults__"
        b"X\x05\x00\x00\x00utf-7\x85s\x86b.",
    }


def python2_batch(rows: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2's cPickle wrote the real CIFAR-10 files (protocol 2, numpy 1.x):
    strings as SHORT_BINSTRING/BINSTRING, which `encoding="bytes"` turns into bytes, even the
    dtype code b"u1" and the byte order b"|"; ints for dtype's align and copy flags."""

    def text(raw: bytes) -> bytes:
        return (
            b"U" + bytes([len(raw)]) + raw
            if len(raw) < 256
            else b"T" + struct.pack("<i", len(raw)) + raw
        )

    shape = b"".join(b"M" + struct.pack("<H", n) for n in rows.shape) + b"\x86"
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + text(b"b") + b"\x87R"
        b"(K\x01" + shape + b"cnumpy\ndtype\n" + text(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + text(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89" + text(rows.tobytes()) + b"tb"
    )
    listed = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(" + text(b"data") + array + text(b"labels") + listed + b"u."


def test_python2_cifar_batch_loads(tmp_path: Path) -> None:
    """The restricted unpickler still reads the real files' format, pixels and labels intact."""
    from fmstudio.core.data import load_cifar10, pixels_to_unit

    rows = (np.arange(3 * 3072) % 251).astype(np.uint8).reshape(3, 3072)
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_batch(rows, [7, 0, 9]))
    assert pickle.loads(path.read_bytes(), encoding="bytes")[b"data"].shape == (3, 3072)
    dataset = load_cifar10(path)
    assert dataset.labels is not None and dataset.labels.tolist() == [7, 0, 9]
    expected = pixels_to_unit(rows.reshape(3, 3, 32, 32), 256)
    np.testing.assert_array_equal(dataset.images, expected)


def test_hostile_cifar_batches(tmp_path: Path) -> None:
    cases: dict[str, Case] = {}
    for name, raw in hostile_batches().items():
        (tmp_path / name).write_bytes(raw)
        cases[name] = call("load_cifar10", tmp_path / name)
    assert len((tmp_path / "ndarray").read_bytes()) < 200
    big = sparse(tmp_path / "big_batch", b"\x80\x02", MAX_CIFAR_BATCH_BYTES + (1 << 20))
    fifo_file = fifo(tmp_path / "fifo_batch")
    for path in (big, fifo_file, Path("/dev/zero")):
        cases[path.name] = call("load_cifar10", path)
    rows = np.arange(4 * 3072).reshape(4, 3072).astype(np.uint8)
    real = batch_pickle(rows, [1, 2, 3, 4]).replace(b"numpy._core.", b"numpy.core.")
    (tmp_path / "real").write_bytes(real)
    (tmp_path / "real5").write_bytes(batch_pickle(rows, [1, 2, 3, 4], protocol=5))
    cases["real"] = call("load_cifar10", tmp_path / "real")
    cases["real5"] = call("load_cifar10", tmp_path / "real5")
    results = run_cases(cases)

    def refused(name: str, *words: str) -> None:
        assert_refused(results, name, tmp_path / name, *words)

    refused("ndarray", "refused", "numpy.ndarray")
    refused("reconstruct", "refused", "10000000000")
    refused("state", "needs 3072000000 bytes", "holds 10")
    refused("objects", "refused", "object")
    refused("nested-data", "b'data'", "array")
    refused("nested-labels", "b'labels'", "integers")
    refused("memo", "memo")
    refused("claimed-bytes", "not a CIFAR-10 batch")
    refused("opcodes", f"{MAX_PICKLE_OPCODES}")
    refused("build-global", "refused", "attributes")
    refused("big_batch", "more than", describe_size(MAX_CIFAR_BATCH_BYTES))
    refused("fifo_batch", "FIFO", "expected a regular file")
    assert_refused(results, "zero", "/dev/zero", "character device")
    assert results["real"] == results["real5"] == "ok (3, 32, 32)", results


# ---------------------------------------------------------------------------------------------
# Pictures, folders and image sizes


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height gray pixels: tiny, and enough for Pillow to open."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(1 << 16))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def small_png(path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 0).save(path)
    return path


def test_hostile_pictures_and_folders(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(100_000, 100_000))  # past Pillow's own bomb error
    warned = tmp_path / "warned.png"
    warned.write_bytes(png_header(10_000, 10_000))  # between Pillow's warning and its error
    pipe = fifo(tmp_path / "pipe.png")
    zero = to_dev_zero(tmp_path / "zero.png")
    mixed = tmp_path / "mixed"
    small_png(mixed / "a.png")
    fifo(mixed / "b.png")
    to_dev_zero(mixed / "c.png")
    bombs = tmp_path / "bombs"
    small_png(bombs / "a.png")
    (bombs / "b.png").write_bytes(huge.read_bytes())
    deep = tmp_path / "deep"
    small_png(deep.joinpath(*["d"] * (MAX_FOLDER_DEPTH + 1), "x.png"))
    crowded = tmp_path / "crowded"
    for i in range(30):
        small_png(crowded / f"{i:02d}" / "x.png")
    cases = {
        "huge": call("ImageDensity.from_file", huge),
        "warned": call("ImageDensity.from_file", warned),
        "pipe": call("ImageDensity.from_file", pipe),
        "zero": call("ImageDensity.from_file", zero),
        "dev-zero": call("ImageDensity.from_file", "/dev/zero"),
        "resolve-pipe": call("resolve_dataset", pipe),
        "max_size": call("ImageDensity.from_file", mixed / "a.png", max_size=10**5),
        "mixed": call("load_folder", mixed, size=8),
        "bombs": call("load_folder", bombs, size=8),
        "deep": call("load_folder", deep),
        "crowded": call("load_folder", crowded),
        "side": call("resolve_images", "digits", size=10**5),
        "folder-side": call("resolve_images", f"folder:{mixed}", size=10**5),
    }
    results = run_cases(cases, patches={"MAX_FOLDER_ENTRIES": 40})
    # Pillow refuses this one itself (with no size but the product): reworded, not escaped
    assert_refused(results, "huge", huge, "10000000000 pixels", "at most")
    assert_refused(results, "warned", warned, "10000x10000 pixels", "at most")
    assert_refused(results, "pipe", pipe, "FIFO", "expected a regular file")
    assert_refused(results, "resolve-pipe", pipe, "FIFO")
    assert_refused(results, "zero", zero, "character device")
    assert_refused(results, "dev-zero", "/dev/zero", "character device")
    assert results["max_size"].startswith("DatasetError max_size"), results["max_size"]
    assert f"at most {MAX_IMAGE_SIDE}" in results["max_size"]
    assert results["mixed"] == "ok (3, 8, 8)", results["mixed"]  # FIFO and device skipped
    assert_refused(results, "bombs", bombs / "b.png", "10000000000 pixels")
    assert_refused(results, "deep", deep, f"deeper than {MAX_FOLDER_DEPTH}")
    assert_refused(results, "crowded", crowded, "more than 40 entries")
    for case in ("side", "folder-side"):
        assert results[case].startswith("DatasetError size"), results[case]
        assert "100000" in results[case] and f"at most {MAX_IMAGE_SIDE}" in results[case]
