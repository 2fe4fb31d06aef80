"""Tests for the 2-D data layer: presets, point files, image densities and spec resolution."""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmstudio.core.data import (
    PRESETS,
    Dataset2D,
    DatasetError,
    ImageDensity,
    PointSet,
    PresetDataset,
    load_points,
    make_preset,
    resolve_dataset,
    save_points,
)

# Documented half-widths of each preset's box (see the preset docstrings).
BOXES = {
    "moons": 4.0,
    "8gaussians": 6.5,
    "checkerboard": 4.0,
    "circles": 4.5,
    "spirals": 4.0,
    "swissroll": 4.0,
    "pinwheel": 5.0,
    "rings": 3.5,
}


def test_registry_names() -> None:
    assert set(PRESETS) == set(BOXES)


@pytest.mark.parametrize("name", sorted(BOXES))
def test_preset_contract(name: str) -> None:
    first = make_preset(name, 3000, seed=7)
    assert first.shape == (3000, 2)
    assert first.dtype == np.float32
    assert np.isfinite(first).all()
    assert np.abs(first).max() <= BOXES[name]
    np.testing.assert_array_equal(first, make_preset(name, 3000, seed=7))
    assert not np.array_equal(first, make_preset(name, 3000, seed=8))
    assert make_preset(name, 1, seed=0).shape == (1, 2)


@pytest.mark.parametrize("name", sorted(BOXES))
def test_preset_is_vectorized(name: str) -> None:
    start = time.perf_counter()
    make_preset(name, 1_000_000, seed=0)
    assert time.perf_counter() - start < 1.0


def test_checkerboard_occupies_exactly_the_black_squares() -> None:
    points = make_preset("checkerboard", 40_000, seed=3)
    assert points.min() >= -4.0 and points.max() <= 4.0
    cells = np.clip(np.floor(points / 2.0).astype(int) + 2, 0, 3)
    counts = np.zeros((4, 4))
    np.add.at(counts, (cells[:, 0], cells[:, 1]), 1)
    black = (np.add.outer(np.arange(4), np.arange(4)) % 2) == 0
    assert (counts[~black] == 0).all()
    np.testing.assert_allclose(counts[black] / len(points), 1 / 8, atol=0.01)


def test_make_preset_rejects_bad_arguments() -> None:
    with pytest.raises(DatasetError, match="checkerboard") as info:
        make_preset("chekerboard", 10, 0)
    assert info.value.path is None
    for n in (0, -5):
        with pytest.raises(DatasetError, match="positive"):
            make_preset("moons", n, 0)
    with pytest.raises(DatasetError, match="seed"):
        make_preset("moons", 10, -1)


def test_preset_dataset_samples_through_rng() -> None:
    data = PresetDataset("rings")
    assert isinstance(data, Dataset2D)
    batch = data.sample(64, np.random.default_rng(1))
    assert batch.shape == (64, 2) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, data.sample(64, np.random.default_rng(1)))
    with pytest.raises(DatasetError):
        PresetDataset("nope")


def test_point_set_validation() -> None:
    bad_inputs = [
        np.zeros((10, 3)),
        np.zeros(4),
        np.zeros((0, 2)),
        np.array([[0.0, np.nan]]),
        np.array([[np.inf, 0.0]]),
        np.array([["a", "b"]]),
    ]
    for bad in bad_inputs:
        with pytest.raises(DatasetError):
            PointSet(bad)
    with pytest.raises(DatasetError, match=r"got shape \(10, 3\)"):
        PointSet(np.zeros((10, 3)))
    for jitter in (-0.1, float("nan"), "abc"):
        with pytest.raises(DatasetError, match="jitter"):
            PointSet(np.zeros((3, 2)), jitter=jitter)


def test_point_set_keeps_a_read_only_copy() -> None:
    source = np.array([[1.0, 2.0], [3.0, 4.0]])
    points = PointSet(source)
    source[0, 0] = 99.0
    assert points.points.dtype == np.float32 and points.points[0, 0] == 1.0
    with pytest.raises(ValueError):
        points.points[0, 0] = 5.0


def test_point_set_sampling_and_jitter() -> None:
    source = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]], dtype=np.float32)
    plain = PointSet(source).sample(3000, np.random.default_rng(0))
    assert plain.shape == (3000, 2) and plain.dtype == np.float32
    assert {tuple(row) for row in plain.tolist()} == {tuple(row) for row in source.tolist()}
    noisy = PointSet(source, jitter=0.5).sample(20_000, np.random.default_rng(0))
    nearest = source[np.argmin(((noisy[:, None, :] - source[None]) ** 2).sum(-1), axis=1)]
    assert abs(float((noisy - nearest).std()) - 0.5) < 0.02


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32) * 1e3
    target = tmp_path / f"points{suffix}"
    target.write_text("old content")
    save_points(target, points)
    np.testing.assert_array_equal(load_points(target), points)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp file left behind


def test_csv_with_and_without_header(tmp_path: Path) -> None:
    expected = np.array([[1.0, 2.0], [3.5, -4.0]], dtype=np.float32)
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2\n3.5, -4\n")
    header = tmp_path / "header.csv"
    header.write_text("x,y\n1,2\n3.5,-4\n\n")
    np.testing.assert_array_equal(load_points(plain), expected)
    np.testing.assert_array_equal(load_points(header), expected)


class _Trap:
    """Pickles to a call that creates a file, proving the loader never unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def _write_bytes(data: bytes) -> Callable[[Path], object]:
    return lambda path: path.write_bytes(data)


def _saved_bytes(save: Callable[..., None], *args: object, **arrays: np.ndarray) -> bytes:
    buffer = BytesIO()
    save(buffer, *args, **arrays)
    return buffer.getvalue()


BAD_FILES: dict[str, Callable[[Path], object]] = {
    "missing.npy": lambda path: None,
    "missing.csv": lambda path: None,
    "folder.npy": lambda path: path.mkdir(),
    "corrupt.npy": _write_bytes(b"\x00\x01garbage bytes\xff" * 10),
    "truncated.npy": _write_bytes(_saved_bytes(np.save, np.zeros((100, 2)))[:150]),
    "object.npy": lambda path: np.save(path, np.array([{"a": 1}], dtype=object)),
    "shape.npy": lambda path: np.save(path, np.zeros((10, 3))),
    "empty.npy": lambda path: np.save(path, np.zeros((0, 2))),
    "nan.npy": lambda path: np.save(path, np.array([[0.0, np.nan]])),
    "text.npy": lambda path: np.save(path, np.array([["a", "b"]])),
    "archive.npy": _write_bytes(_saved_bytes(np.savez, a=np.zeros((3, 2)))),
    "empty.csv": _write_bytes(b""),
    "header_only.csv": _write_bytes(b"x,y\n"),
    "nan.csv": _write_bytes(b"1,2\nnan,3\n"),
    "ragged.csv": _write_bytes(b"1,2\n3\n"),
    "words.csv": _write_bytes(b"x,y\n1,2\nfoo,bar\n"),
    "binary.csv": _write_bytes(b"\xff\xfe\x00\x81"),
    "three.csv": _write_bytes(b"1,2,3\n4,5,6\n"),
    "points.txt": _write_bytes(b"1,2\n"),
}


@pytest.mark.parametrize("filename", sorted(BAD_FILES))
def test_bad_files_raise_dataset_error_naming_the_file(tmp_path: Path, filename: str) -> None:
    path = tmp_path / filename
    BAD_FILES[filename](path)
    with pytest.raises(DatasetError) as info:
        load_points(path)
    assert filename in str(info.value)
    assert info.value.path == str(path)
    assert info.value.reason and info.value.reason in str(info.value)


def test_pickled_payload_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "trap.npy"
    np.save(path, np.array([_Trap(marker)], dtype=object), allow_pickle=True)
    raw = tmp_path / "raw.npy"
    raw.write_bytes(pickle.dumps(_Trap(marker)))
    for candidate in (path, raw):
        with pytest.raises(DatasetError, match=re.escape(candidate.name)):
            load_points(candidate)
    assert not marker.exists()


def test_save_points_errors_name_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DatasetError, match=re.escape("out.csv")):
        save_points(blocker / "out.csv", np.zeros((2, 2)))
    with pytest.raises(DatasetError, match=re.escape("out.txt")):
        save_points(tmp_path / "out.txt", np.zeros((2, 2)))
    with pytest.raises(DatasetError, match=r"out\.npy: expected an \(N, 2\) array"):
        save_points(tmp_path / "out.npy", np.zeros((2, 3)))
    assert list(tmp_path.iterdir()) == [blocker]


def _png(path: Path, pixels: np.ndarray, mode: str = "L") -> Path:
    Image.fromarray(pixels.astype(np.uint8), mode=mode).save(path)
    return path


def test_image_samples_land_on_dark_pixels(tmp_path: Path) -> None:
    pixels = np.full((40, 80), 255)
    pixels[:, :40] = 0  # black left half of a 2:1 image
    density = ImageDensity.from_file(_png(tmp_path / "left.png", pixels))
    assert density.name == "left"
    samples = density.sample(5000, np.random.default_rng(0))
    assert samples.shape == (5000, 2) and samples.dtype == np.float32
    assert (samples[:, 0] <= 0).all() and samples[:, 0].min() >= -4.0
    assert np.abs(samples[:, 1]).max() <= 2.0  # longest side spans [-4, 4], aspect kept
    assert samples[:, 1].min() < -1.8 and samples[:, 1].max() > 1.8


def test_image_top_rows_map_to_positive_y(tmp_path: Path) -> None:
    pixels = np.full((64, 64), 255)
    pixels[:8] = 0  # dark band along the top edge
    samples = ImageDensity.from_file(_png(tmp_path / "top.png", pixels)).sample(
        2000, np.random.default_rng(0)
    )
    assert (samples[:, 1] >= 3.0).all()


def test_image_downscale_gamma_and_transparency(tmp_path: Path) -> None:
    density = ImageDensity.from_file(_png(tmp_path / "big.png", np.zeros((300, 600))), max_size=64)
    assert density.weights.shape == (32, 64)
    rgba = np.zeros((10, 10, 4))
    rgba[:, :5, 3] = 255  # opaque black left half; right half is transparent "black"
    transparent = ImageDensity.from_file(_png(tmp_path / "alpha.png", rgba, mode="RGBA"))
    assert transparent.weights[:, 5:].sum() == 0
    gray = np.array([[0, 128]])
    soft = ImageDensity.from_file(_png(tmp_path / "g1.png", gray)).weights
    hard = ImageDensity.from_file(_png(tmp_path / "g3.png", gray), gamma=3.0).weights
    assert hard[0, 0] > soft[0, 0]


def test_image_density_from_array() -> None:
    density = ImageDensity(np.array([[0.0, 1.0], [0.0, 0.0]]), extent=2.0)
    samples = density.sample(500, np.random.default_rng(0))
    assert (samples[:, 0] >= 0).all() and (samples[:, 1] >= 0).all()
    assert samples.max() <= 2.0
    for bad in (np.zeros((0, 3)), np.zeros(5), [[1.0, -1.0]], np.zeros((3, 3)), [["a", "b"]]):
        with pytest.raises(DatasetError):
            ImageDensity(bad)


@pytest.mark.parametrize("case", ["white", "corrupt", "truncated", "missing", "not_image"])
def test_bad_images_raise_dataset_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.png"
    if case == "white":
        _png(path, np.full((16, 16), 255))
    elif case == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    elif case == "truncated":
        _png(path, np.random.default_rng(0).integers(0, 256, (64, 64)))
        path.write_bytes(path.read_bytes()[:300])
    elif case == "not_image":
        path.write_text("hello")
    with pytest.raises(DatasetError, match=re.escape(path.name)) as info:
        ImageDensity.from_file(path)
    if case == "white":
        assert "no dark pixels" in info.value.reason


def test_resolve_dataset_dispatch(tmp_path: Path) -> None:
    assert isinstance(resolve_dataset("moons"), PresetDataset)
    save_points(tmp_path / "pts.npy", np.ones((4, 2)))
    points = resolve_dataset(tmp_path / "pts.npy", jitter=0.1)
    assert isinstance(points, PointSet) and points.jitter == 0.1 and points.name == "pts"
    pixels = np.zeros((8, 8))
    image = resolve_dataset(str(_png(tmp_path / "ink.PNG", pixels)))
    assert isinstance(image, ImageDensity) and image.name == "ink"
    with pytest.raises(DatasetError) as info:
        resolve_dataset("data.txt")
    message = str(info.value)
    assert "data.txt" in message and "checkerboard" in message and ".npy" in message
    with pytest.raises(DatasetError, match=re.escape("missing.csv")):
        resolve_dataset(tmp_path / "missing.csv")


def test_preset_scale_and_jitter_reshape_the_target():
    base = PresetDataset("moons").sample(4000, np.random.default_rng(0))
    scaled = PresetDataset("moons", scale=2.0).sample(4000, np.random.default_rng(0))
    assert np.allclose(scaled, 2.0 * base)
    noisy = PresetDataset("moons", jitter=0.5).sample(4000, np.random.default_rng(0))
    assert noisy.dtype == np.float32
    assert np.std(noisy - base) == pytest.approx(0.5, rel=0.05)
    with pytest.raises(DatasetError, match="scale"):
        PresetDataset("moons", scale=0.0)


def test_a_config_builds_its_dataset_with_jitter_and_scale():
    from fmstudio.core.config import TrainConfig

    dataset = TrainConfig(dataset="rings", jitter=0.1, scale=1.5).make_dataset()
    assert isinstance(dataset, PresetDataset)
    assert (dataset.jitter, dataset.scale) == (0.1, 1.5)


SHA_0_1_0 = {
    "moons": "5a37e03b26c85715",
    "8gaussians": "7ede2ce394980e19",
    "checkerboard": "da93acf602301375",
    "circles": "0e090f7ceca3c7e2",
    "spirals": "1fa2bae29ede84d9",
    "swissroll": "ceb70d46b7644f70",
    "pinwheel": "79a4d13dac10a092",
    "rings": "2e2b01ec165669a6",
}
"""sha256 (first 16 hex digits) of `make_preset(name, 1000, 0)` as fmstudio 0.1.0 drew it."""


def test_labelled_presets_draw_the_same_points_and_label_each_by_its_component():
    """Issue 13's labels: the same draws as 0.1.0's presets (old runs and their seeds keep
    their data), and each point's class is the component it came from."""
    import hashlib

    from fmstudio.core.data.toy import CLASSES, make_labelled

    for name in PRESETS:
        drawn = make_preset(name, 1000, 0).tobytes()
        assert hashlib.sha256(drawn).hexdigest()[:16] == SHA_0_1_0[name], name
        points, labels = make_labelled(name, 4000, 3)
        assert np.array_equal(points, make_preset(name, 4000, 3)), name
        if name not in CLASSES:
            assert labels is None, name
            continue
        counts = np.bincount(labels, minlength=CLASSES[name])
        assert labels.dtype == np.int64 and len(counts) == CLASSES[name], name
        assert counts.min() > 0.5 * len(labels) / CLASSES[name], name  # equal mass per class

    points, k = make_labelled("8gaussians", 4000, 0)
    centres = 4.0 * np.stack(
        [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1
    )
    nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == k).mean() > 0.99
    points, k = make_labelled("checkerboard", 4000, 0)
    column, row = np.floor(points[:, 0] / 2) + 2, np.floor(points[:, 1] / 2) + 2
    assert np.array_equal(k, (2 * column + row // 2).astype(np.int64))
    points, k = make_labelled("moons", 4000, 0)
    assert points[k == 0, 1].mean() > points[k == 1, 1].mean()  # class 0 is the upper moon
    for name, radii in (("circles", (4.0, 2.0)), ("rings", (3.0, 2.25, 1.5, 0.75))):
        points, k = make_labelled(name, 4000, 0)
        radius = np.linalg.norm(points, axis=1)
        assert np.abs(radius - np.asarray(radii)[k]).max() < 0.5, name
