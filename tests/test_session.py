"""Session files: round trip, relative model path, and clear errors for bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmstudio.core.config import TrainConfig
from fmstudio.core.data import DatasetError, ImageDensity, PointSet, PresetDataset
from fmstudio.core.session import DataSource, Session, SessionError, load_session, save_session


def test_round_trip_with_points_model_and_view(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    session = Session(
        config=TrainConfig(path="vp", steps=123, lr=1e-3),
        source=DataSource("drawing", "drawing"),
        points=pts,
        model_dir=tmp_path / "runs" / "m",
        view={"t": 0.25, "sampling": {"method": "rk4"}},
    )
    save_session(tmp_path / "s.json", session)
    text = json.loads((tmp_path / "s.json").read_text())
    assert text["model"] == "runs/m"  # relative, so the pair can be moved together
    back = load_session(tmp_path / "s.json")
    assert back.config == session.config
    assert back.source == session.source
    assert np.allclose(back.points, pts)
    assert back.model_dir == (tmp_path / "runs" / "m").resolve()
    assert back.view == session.view


def test_moving_the_folder_keeps_the_model_reference(tmp_path):
    (tmp_path / "a").mkdir()
    save_session(tmp_path / "a" / "s.json", Session(model_dir=tmp_path / "a" / "m"))
    (tmp_path / "a").rename(tmp_path / "b")
    assert load_session(tmp_path / "b" / "s.json").model_dir == (tmp_path / "b" / "m").resolve()


@pytest.mark.parametrize(
    "content,reason",
    [
        ("not json", "not a readable JSON"),
        ('{"format": "other"}', "not an fmstudio session"),
        ('{"format": "fmstudio-session", "version": 9}', "unsupported session version"),
        (
            '{"format": "fmstudio-session", "version": 1, "config": {"lr": -1},'
            ' "source": {"kind": "preset", "name": "moons"}}',
            r"lr must be in \(0, ",
        ),
        (
            '{"format": "fmstudio-session", "version": 1, "config": {},'
            ' "source": {"kind": "preset", "name": "nope"}}',
            "nope",
        ),
        (
            '{"format": "fmstudio-session", "version": 1, "config": {},'
            ' "source": {"kind": "preset", "name": "moons"}, "points": [[1, 2, 3]]}',
            r"\(N, 2\)",
        ),
        (
            '{"format": "fmstudio-session", "version": 1, "config": {},'
            ' "source": {"kind": "hack", "name": "moons"}}',
            "unknown data source",
        ),
    ],
)
def test_bad_session_files_raise_a_session_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SessionError, match=reason) as info:
        load_session(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_session_error(tmp_path):
    with pytest.raises(SessionError, match="not found"):
        load_session(tmp_path / "none.json")


def test_data_sources_build_their_datasets(tmp_path):
    from PIL import Image

    assert isinstance(DataSource("preset", "moons").dataset(), PresetDataset)
    drawn = DataSource("drawing", "drawing").dataset(np.zeros((3, 2)), jitter=0.1)
    assert isinstance(drawn, PointSet) and drawn.jitter == 0.1
    Image.new("L", (8, 8), 0).save(tmp_path / "ink.png")
    image = DataSource("image", "ink", str(tmp_path / "ink.png"))
    assert isinstance(image.dataset(), ImageDensity)
    assert image.label == str(tmp_path / "ink.png")
    with pytest.raises(DatasetError, match="at least 2 points"):
        DataSource("drawing").dataset(np.zeros((1, 2)))
