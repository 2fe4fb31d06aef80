"""Tests for core.imagegrid: uint8 conversion, grids, x_t strips and PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fmstudio.core import imagegrid


def test_to_uint8_maps_ends_clips_and_transposes() -> None:
    images = np.array([-1.0, 1.0, 0.0, 3.0, -7.0, np.nan], np.float32).reshape(1, 1, 2, 3)
    out = imagegrid.to_uint8(images)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3, 1)
    assert out[0, :, :, 0].tolist() == [[0, 255, 128], [255, 0, 0]]
    rgb = np.zeros((2, 3, 4, 5), np.float32)
    rgb[:, 0] = 1.0  # red channel on
    pixels = imagegrid.to_uint8(torch.from_numpy(rgb))
    assert pixels.shape == (2, 4, 5, 3)
    assert pixels[0, 0, 0].tolist() == [255, 128, 128]
    assert imagegrid.to_uint8(np.full((1, 1, 1, 1), 0.5), lo=0.0, hi=1.0)[0, 0, 0, 0] == 128
    with pytest.raises(ValueError, match="shape"):
        imagegrid.to_uint8(np.zeros((2, 2, 4, 4)))


def test_grid_layout_and_padding() -> None:
    images = np.stack([np.full((1, 4, 6), -1.0 + 0.5 * k, np.float32) for k in range(5)])
    picture = imagegrid.grid(images, nrow=3, pad=1, pad_value=200)
    assert picture.shape == (2 * (4 + 1) + 1, 3 * (6 + 1) + 1, 1)
    assert picture.dtype == np.uint8
    # Borders and gaps are pad pixels; so is the empty sixth slot.
    assert (picture[0] == 200).all() and (picture[:, 0] == 200).all()
    assert (picture[5] == 200).all() and (picture[:, 7] == 200).all()
    assert (picture[6:10, 15:21] == 200).all()
    # Tile k sits at row k // 3, column k % 3 with value -1 + 0.5k.
    for k in range(5):
        top, left = 1 + (k // 3) * 5, 1 + (k % 3) * 7
        tile = picture[top : top + 4, left : left + 6, 0]
        assert (tile == round((0.5 * k) * 127.5)).all()
    square = imagegrid.grid(np.zeros((5, 3, 2, 2)), pad=0)
    assert square.shape == (2 * 2, 3 * 2, 3)  # default nrow = ceil(sqrt(5)) = 3
    assert imagegrid.grid(np.zeros((2, 1, 2, 2)), nrow=8, pad=0).shape == (2, 4, 1)


def test_strip_rows_are_samples_columns_are_times() -> None:
    t, n = 4, 3
    frames = np.zeros((t, n, 1, 2, 2), np.float32)
    for i in range(t):
        for j in range(n):
            frames[i, j] = -1.0 + 2.0 * (i * n + j) / (t * n - 1)
    picture = imagegrid.strip(torch.from_numpy(frames))
    assert picture.shape == (n * 3 + 1, t * 3 + 1, 1)
    expected = imagegrid.to_uint8(frames.reshape(t * n, 1, 2, 2))[:, 0, 0, 0].reshape(t, n)
    for j in range(n):
        for i in range(t):
            assert picture[1 + 3 * j, 1 + 3 * i, 0] == expected[i, j]


def test_save_png_round_trips_with_upscale(tmp_path: Path) -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    path = imagegrid.save_png(rgb, tmp_path / "deep" / "rgb.png", upscale=4)
    assert path == tmp_path / "deep" / "rgb.png"
    with Image.open(path) as saved:
        assert saved.mode == "RGB" and saved.size == (12, 8)
        back = np.asarray(saved)
    np.testing.assert_array_equal(back[::4, ::4], rgb)
    np.testing.assert_array_equal(back[3, 3], rgb[0, 0])  # nearest neighbour, no smoothing
    gray = np.array([[0, 255], [7, 9]], np.uint8)[:, :, None]
    with Image.open(imagegrid.save_png(gray, tmp_path / "gray.png")) as saved:
        assert saved.mode == "L"
        np.testing.assert_array_equal(np.asarray(saved), gray[:, :, 0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ValueError, match="uint8"):
        imagegrid.save_png(np.zeros((2, 2)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="upscale"):
        imagegrid.save_png(gray, tmp_path / "x.png", upscale=0)


def test_save_images_one_png_each(tmp_path: Path) -> None:
    images = np.linspace(-1, 1, 3 * 1 * 2 * 2, dtype=np.float32).reshape(3, 1, 2, 2)
    paths = imagegrid.save_images(images, tmp_path / "out", upscale=2)
    assert [p.name for p in paths] == ["sample_0000.png", "sample_0001.png", "sample_0002.png"]
    expected = imagegrid.to_uint8(images)
    for path, tile in zip(paths, expected, strict=True):
        with Image.open(path) as saved:
            assert saved.size == (4, 4)
            np.testing.assert_array_equal(np.asarray(saved)[::2, ::2], tile[:, :, 0])
    named = imagegrid.save_images(images[:1], tmp_path, prefix="x")
    assert named == [tmp_path / "x_0000.png"]
