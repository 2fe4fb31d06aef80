"""Tests for image datasets: digits, IDX (MNIST), CIFAR-10 batches, folders and specs."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmstudio.core.data import DatasetError
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

# ---------------------------------------------------------------------------------------------
# Helpers that write small dataset files


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file: big-endian magic, big-endian uint32 dims, then the uint8 payload."""
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return struct.pack(">I", magic) + dims + array.astype(np.uint8).tobytes()


def mnist_like(count: int = 6, side: int = 4) -> np.ndarray:
    """Distinct images whose pixel (r, c) of image k is known: k * 16 + r * side + c."""
    k, r, c = np.meshgrid(np.arange(count), np.arange(side), np.arange(side), indexing="ij")
    return ((k * 16 + r * side + c) % 256).astype(np.uint8)


def write_idx(
    directory: Path, images: np.ndarray, labels: np.ndarray | None, gz: bool, prefix: str = "train"
) -> Path:
    suffix = ".gz" if gz else ""
    encode = gzip.compress if gz else bytes
    path = directory / f"{prefix}-images-idx3-ubyte{suffix}"
    path.write_bytes(encode(idx_bytes(images, 0x00000803)))
    if labels is not None:
        labels_file = directory / f"{prefix}-labels-idx1-ubyte{suffix}"
        labels_file.write_bytes(encode(idx_bytes(labels, 0x00000801)))
    return path


def cifar_rows(count: int = 4) -> tuple[np.ndarray, list[int]]:
    """(N, 3072) rows: image k's R plane is all 10k, G is 10k + 1, B is the 0..255 ramp."""
    rows = np.empty((count, 3072), np.uint8)
    for k in range(count):
        rows[k, :1024] = 10 * k
        rows[k, 1024:2048] = 10 * k + 1
        rows[k, 2048:] = np.arange(1024) % 256
    return rows, [k % 10 for k in range(count)]


def write_cifar_pickle(path: Path, rows: np.ndarray, labels: list[int], protocol: int = 4) -> Path:
    batch = {
        b"batch_label": b"x",
        b"labels": labels,
        b"data": rows,
        b"filenames": [f"img_{k}.png".encode() for k in range(len(labels))],
    }
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=protocol)
    return path


def write_cifar_bin(path: Path, rows: np.ndarray, labels: list[int]) -> Path:
    records = np.concatenate([np.array(labels, np.uint8)[:, None], rows], axis=1)
    path.write_bytes(records.tobytes())
    return path


def save_picture(path: Path, size: tuple[int, int], mode: str, color: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


# ---------------------------------------------------------------------------------------------
# ImageDataset and pixels_to_unit


def test_pixels_to_unit_ends_and_steps() -> None:
    out = pixels_to_unit(np.array([0, 1, 128, 255], np.uint8), 256)
    assert out.dtype == np.float32
    assert out[0] == -1.0 and out[-1] == 1.0
    np.testing.assert_allclose(out, -1 + 2 * np.array([0, 1, 128, 255]) / 255, atol=1e-6)
    np.testing.assert_array_equal(pixels_to_unit(np.array([0, 8, 16]), 17), [-1.0, 0.0, 1.0])
    with pytest.raises(DatasetError, match=r"0\.\.16"):
        pixels_to_unit(np.array([17]), 17)
    with pytest.raises(DatasetError, match="integers"):
        pixels_to_unit(np.array([0.5]), 256)


def test_dataset_validates() -> None:
    good = np.zeros((2, 1, 3, 3), np.float64)
    dataset = ImageDataset(good, "x")
    assert dataset.images.dtype == np.float32 and dataset.shape == (1, 3, 3)
    assert dataset.dim == 9 and len(dataset) == 2 and dataset.levels == 256
    good[0] = 0.5
    assert dataset.images.max() == 0.0, "the dataset keeps its own copy"
    for bad, match in (
        (np.zeros((2, 3, 3)), "shape"),
        (np.zeros((2, 2, 3, 3)), "shape"),
        (np.zeros((0, 1, 3, 3)), "no images"),
        (np.full((1, 1, 2, 2), np.nan), "NaN"),
        (np.full((1, 1, 2, 2), 1.5), r"\[-1, 1\]"),
    ):
        with pytest.raises(DatasetError, match=match):
            ImageDataset(bad, "bad")
    with pytest.raises(DatasetError, match="labels"):
        ImageDataset(np.zeros((2, 1, 2, 2)), "x", labels=np.array([1, 2, 3]))


# ---------------------------------------------------------------------------------------------
# Digits


def test_digits() -> None:
    digits = load_digits()
    assert len(digits) == 1797 and digits.shape == (1, 8, 8)
    assert digits.levels == 17 and digits.name == "digits"
    assert digits.images.dtype == np.float32
    assert digits.images.min() == -1.0 and digits.images.max() == 1.0
    assert digits.labels is not None and digits.labels.dtype == np.int64
    assert set(digits.labels.tolist()) == set(range(10))
    # 17 levels: every value is -1 + 2k/16.
    steps = (digits.images + 1.0) * 8.0
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-5)


def test_split_is_disjoint_and_deterministic() -> None:
    ramp = pixels_to_unit(np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1), 256)
    dataset = ImageDataset(ramp, "ramp", labels=np.arange(50))
    train, held = dataset.split(12, seed=1)
    assert len(train) == 38 and len(held) == 12
    assert train.labels is not None and held.labels is not None
    assert set(train.labels.tolist()).isdisjoint(held.labels.tolist())
    assert sorted(train.labels.tolist() + held.labels.tolist()) == list(range(50))
    np.testing.assert_array_equal(held.images, ramp[held.labels])  # labels follow their images
    again, _ = dataset.split(12, seed=1)
    np.testing.assert_array_equal(again.labels, train.labels)
    for bad in (50, 51, 0):
        with pytest.raises(DatasetError, match="held_out"):
            dataset.split(bad)


def test_digits_split_and_sample() -> None:
    digits = load_digits()
    train, held = digits.split(200, seed=3)
    assert len(train) + len(held) == len(digits) and len(held) == 200
    assert train.name == held.name == "digits" and train.levels == held.levels == 17
    assert train.labels is not None and held.labels is not None and digits.labels is not None
    both = np.concatenate([train.labels, held.labels])
    np.testing.assert_array_equal(np.bincount(both), np.bincount(digits.labels))
    batch = train.sample(16, np.random.default_rng(0))
    assert batch.shape == (16, 1, 8, 8) and batch.dtype == np.float32
    with pytest.raises(DatasetError):
        train.sample(0, np.random.default_rng(0))


def test_digits_resize_and_channels() -> None:
    big = load_digits(size=16, channels=3, limit=10)
    assert len(big) == 10 and big.shape == (3, 16, 16) and big.levels == 256
    np.testing.assert_array_equal(big.images[:, 0], big.images[:, 2])
    rgb = load_digits(channels=3, limit=5)
    assert rgb.shape == (3, 8, 8) and rgb.levels == 17
    np.testing.assert_array_equal(rgb.images[:, 1], load_digits(limit=5).images[:, 0])
    for bad in ({"size": 0}, {"size": -3}, {"channels": 2}):
        with pytest.raises(DatasetError):
            load_digits(**bad)


# ---------------------------------------------------------------------------------------------
# IDX (MNIST / Fashion-MNIST)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_with_labels_beside(tmp_path: Path, gz: bool) -> None:
    images = mnist_like()
    images[0, 0, 0], images[0, 3, 3] = 0, 255
    labels = np.array([3, 1, 4, 1, 5, 9], np.uint8)
    path = write_idx(tmp_path, images, labels, gz)
    dataset = load_idx(path)
    assert dataset.shape == (1, 4, 4) and len(dataset) == 6 and dataset.levels == 256
    assert dataset.images[0, 0, 0, 0] == -1.0 and dataset.images[0, 0, 3, 3] == 1.0
    np.testing.assert_allclose(dataset.images[:, 0], -1 + images / 127.5, atol=1e-6)
    assert dataset.labels is not None and dataset.labels.tolist() == labels.tolist()
    # The directory form finds the standard training file.
    np.testing.assert_array_equal(load_idx(tmp_path).images, dataset.images)


def test_idx_test_set_labels_and_gzip_detected_by_content(tmp_path: Path) -> None:
    images, labels = mnist_like(3), np.array([7, 8, 9], np.uint8)
    path = tmp_path / "t10k-images-idx3-ubyte"  # no .gz in the name, gzip inside
    path.write_bytes(gzip.compress(idx_bytes(images, 0x803)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x801)))
    dataset = load_idx(path)
    assert dataset.labels is not None and dataset.labels.tolist() == [7, 8, 9]


def test_idx_resize_channels_and_explicit_labels(tmp_path: Path) -> None:
    images = np.zeros((2, 6, 6), np.uint8)
    images[1] = 255
    path = tmp_path / "pics.idx"
    path.write_bytes(idx_bytes(images, 0x803))
    labels_path = tmp_path / "my-labels"
    labels_path.write_bytes(idx_bytes(np.array([0, 1], np.uint8), 0x801))
    dataset = load_idx(path, size=3, channels=3, labels_path=labels_path)
    assert dataset.shape == (3, 3, 3)
    np.testing.assert_array_equal(dataset.images[0], -1.0)
    np.testing.assert_array_equal(dataset.images[1], 1.0)
    assert dataset.labels is not None and dataset.labels.tolist() == [0, 1]
    assert load_idx(path).labels is None  # no standard labels file beside it


def test_idx_errors(tmp_path: Path) -> None:
    full = idx_bytes(mnist_like(), 0x803)
    cases = {
        "truncated": (full[:-5], "truncated"),
        "short-header": (full[:6], "truncated"),
        "magic": (b"\x00\x00\x08\x02" + full[4:], "magic"),
        "labels-not-images": (idx_bytes(np.arange(3), 0x801), "labels file"),
        "corrupt.gz": (b"\x1f\x8b" + b"\x08\x00garbage-not-deflate" * 3, "gzip"),
        "cut.gz": (gzip.compress(full)[:-12], "gzip|truncated"),
        "zero": (idx_bytes(np.zeros((0, 4, 4), np.uint8), 0x803), "0 images"),
    }
    for name, (data, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DatasetError, match=match) as info:
            load_idx(path)
        assert str(path) in str(info.value)
    with pytest.raises(DatasetError, match="no such file"):
        load_idx(tmp_path / "missing")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(DatasetError, match="train-images"):
        load_idx(empty_dir)
    # A labels file whose count disagrees with the images is named in the error.
    write_idx(tmp_path, mnist_like(), np.arange(5, dtype=np.uint8), gz=False)
    with pytest.raises(DatasetError, match="5 labels") as info:
        load_idx(tmp_path / "train-images-idx3-ubyte")
    assert "train-labels-idx1-ubyte" in str(info.value)


# ---------------------------------------------------------------------------------------------
# CIFAR-10


def check_cifar_pixels(dataset: ImageDataset) -> None:
    """R plane 10k, G plane 10k + 1, B the row-major 0..255 ramp: orientation and channel order."""
    for k in range(len(dataset)):
        np.testing.assert_allclose(dataset.images[k, 0], -1 + 2 * (10 * k) / 255, atol=1e-6)
        np.testing.assert_allclose(dataset.images[k, 1], -1 + 2 * (10 * k + 1) / 255, atol=1e-6)
    blue = dataset.images[0, 2]
    assert blue[0, 0] == -1.0 and blue[0, 1] > blue[0, 0]  # along a row first
    assert blue[7, 31] == 1.0  # pixel 255 = row 7, column 31


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_python_batch(tmp_path: Path, protocol: int) -> None:
    rows, labels = cifar_rows()
    path = write_cifar_pickle(tmp_path / "data_batch_1", rows, labels, protocol)
    dataset = load_cifar10(path)
    assert dataset.shape == (3, 32, 32) and len(dataset) == 4 and dataset.levels == 256
    assert dataset.labels is not None and dataset.labels.tolist() == labels
    check_cifar_pixels(dataset)


def test_cifar_python2_numpy_names(tmp_path: Path) -> None:
    """The official batches were pickled by Python 2 and numpy 1.x: numpy.core.* globals."""
    rows, labels = cifar_rows()
    raw = pickle.dumps({b"data": rows, b"labels": labels}, protocol=2)
    legacy = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in legacy
    (tmp_path / "data_batch_1").write_bytes(legacy)
    check_cifar_pixels(load_cifar10(tmp_path / "data_batch_1"))


def test_cifar_binary_batch_and_directories(tmp_path: Path) -> None:
    rows, labels = cifar_rows(3)
    binary = tmp_path / "bin"
    binary.mkdir()
    write_cifar_bin(binary / "data_batch_1.bin", rows, labels)
    write_cifar_bin(binary / "data_batch_2.bin", rows, labels)
    dataset = load_cifar10(binary / "data_batch_1.bin")
    check_cifar_pixels(dataset)
    assert dataset.labels is not None and dataset.labels.tolist() == labels
    assert len(load_cifar10(binary)) == 6
    python = tmp_path / "cifar-10-batches-py"
    python.mkdir()
    for i in (1, 2, 3):
        write_cifar_pickle(python / f"data_batch_{i}", rows, labels)
    assert len(load_cifar10(python)) == 9
    assert len(load_cifar10(python, limit=4)) == 4


def test_cifar_resize_and_gray(tmp_path: Path) -> None:
    rows, labels = cifar_rows(2)
    path = write_cifar_pickle(tmp_path / "test_batch", rows, labels)
    gray = load_cifar10(path, size=8, channels=1)
    assert gray.shape == (1, 8, 8)
    small = load_cifar10(path, size=16)
    assert small.shape == (3, 16, 16)
    np.testing.assert_allclose(small.images[1, 0], -1 + 2 * 10 / 255, atol=1e-6)


class Hostile:
    """Runs a shell command when unpickled by plain pickle."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


class EvalHostile:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (eval, ("__import__('os').getcwd()",))


def test_cifar_refuses_hostile_pickles(tmp_path: Path) -> None:
    marker = tmp_path / "hacked"
    for name, payload in (
        ("system", {b"data": Hostile(f"echo hacked > {marker}"), b"labels": [0]}),
        ("nested", {b"labels": [Hostile(f"echo hacked > {marker}")], b"data": None}),
        ("eval", {b"data": EvalHostile(), b"labels": [0]}),
    ):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(payload))
        with pytest.raises(DatasetError, match="refused") as info:
            load_cifar10(path)
        assert str(path) in str(info.value)
    assert not marker.exists()


def test_cifar_errors(tmp_path: Path) -> None:
    rows, labels = cifar_rows(2)
    cases = {
        "wrong-shape": ({b"data": np.zeros((2, 3000), np.uint8), b"labels": labels}, "3072"),
        "short-labels": ({b"data": rows, b"labels": [1]}, "labels"),
        "no-data": ({b"labels": labels}, "data"),
        "floats": ({b"data": rows.astype(np.float64), b"labels": labels}, "0..255"),
        "list": ([rows, labels], "dict"),
    }
    for name, (payload, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(pickle.dumps(payload))
        with pytest.raises(DatasetError, match=match):
            load_cifar10(path)
    records = np.concatenate([np.array(labels, np.uint8)[:, None], rows], axis=1).tobytes()
    (tmp_path / "cut.bin").write_bytes(records[:-10])
    (tmp_path / "garbage").write_bytes(b"\x80\x04not really a pickle")
    (tmp_path / "empty").write_bytes(b"")
    for name, match in (("cut.bin", "truncated"), ("garbage", "not a CIFAR"), ("empty", "empty")):
        with pytest.raises(DatasetError, match=match):
            load_cifar10(tmp_path / name)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DatasetError, match="data_batch"):
        load_cifar10(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------
# Folders


def test_folder_mixed_sizes_and_modes(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    save_picture(folder / "a_red.png", (40, 20), "RGB", (255, 0, 0))
    save_picture(folder / "b_gray.jpg", (16, 16), "L", 255)
    save_picture(folder / "sub" / "c_alpha.png", (8, 8), "RGBA", (0, 0, 255, 0))
    save_picture(folder / "sub" / "d_palette.gif", (10, 30), "P", 0)
    (folder / "notes.txt").write_text("not an image")
    save_picture(folder / ".hidden" / "skip.png", (5, 5), "RGB", (0, 255, 0))
    dataset = load_folder(folder, size=8)
    assert len(dataset) == 4 and dataset.shape == (3, 8, 8) and dataset.labels is None
    red, gray, clear, black = dataset.images
    np.testing.assert_allclose(red[:, 0, 0], [1.0, -1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(gray, 1.0, atol=0.02)  # JPEG of white stays white
    np.testing.assert_array_equal(clear, 1.0)  # fully transparent becomes white paper
    np.testing.assert_array_equal(black, -1.0)
    mono = load_folder(folder, size=4, channels=1, limit=2)
    assert mono.shape == (1, 4, 4) and len(mono) == 2
    expected_red_luma = -1 + 2 * round(255 * 299 / 1000) / 255
    np.testing.assert_allclose(mono.images[0], expected_red_luma, atol=1e-6)


def test_folder_center_crop(tmp_path: Path) -> None:
    """A wide picture keeps its middle: black 10 | white 20 | black 10 -> all white."""
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255
    Image.fromarray(wide).save(tmp_path / "wide.png")
    dataset = load_folder(tmp_path, size=20)
    np.testing.assert_array_equal(dataset.images, 1.0)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no images"):
        load_folder(tmp_path)
    with pytest.raises(DatasetError, match="no such directory"):
        load_folder(tmp_path / "missing")
    save_picture(tmp_path / "a.png", (4, 4), "RGB", (1, 2, 3))
    broken = tmp_path / "b.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    save_picture(tmp_path / "c.png", (4, 4), "RGB", (1, 2, 3))
    with pytest.raises(DatasetError) as info:
        load_folder(tmp_path)
    assert str(broken) in str(info.value)
    broken.unlink()
    save_picture(tmp_path / "d.png", (6, 6), "RGB", (1, 2, 3))
    with pytest.raises(DatasetError, match="give a size"):
        load_folder(tmp_path, size=None)


# ---------------------------------------------------------------------------------------------
# Specs


def test_resolve_images_specs(tmp_path: Path) -> None:
    digits = resolve_images("digits", limit=7)
    assert digits.name == "digits" and len(digits) == 7 and digits.shape == (1, 8, 8)
    path = write_idx(tmp_path, mnist_like(), None, gz=True)
    spec = f"fashion-mnist:{path}"
    fashion = resolve_images(spec, channels=3, size=8)
    assert fashion.name == spec and fashion.shape == (3, 8, 8)
    rows, labels = cifar_rows(2)
    batch = write_cifar_pickle(tmp_path / "data_batch_1", rows, labels)
    assert resolve_images(f"cifar10:{batch}").shape == (3, 32, 32)
    folder = tmp_path / "pics"
    save_picture(folder / "x.png", (50, 50), "RGB", (0, 0, 0))
    assert resolve_images(f"folder:{folder}").shape == (3, 32, 32)
    assert resolve_images(f"folder:{folder}", channels=1, size=5).shape == (1, 5, 5)
    with pytest.raises(DatasetError, match="unknown image dataset kind 'svhn'; choose digits"):
        resolve_images("svhn:/data")
    with pytest.raises(DatasetError, match="needs a path"):
        resolve_images("mnist:")


def test_is_image_spec() -> None:
    assert is_image_spec("digits")
    for kind in IMAGE_KINDS:
        assert is_image_spec(f"{kind}:/some/path")
    for spec in ("moons", "points.csv", "photo.png", "svhn:/x", "C:\\data\\points.npy"):
        assert not is_image_spec(spec)
