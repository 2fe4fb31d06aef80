"""Hostile session files: each ends in one short `SessionError` naming the file and the field,
before anything is applied; a model outside the session's folder is never loaded from there.

JSON-level cases run in this process (they allocate little); a session whose image is a FIFO
or a device runs in a limited child (`probe`): a loader that opened it would block or read
forever, and the probe's timeout turns that into a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from limited import probe
from PIL import Image

from fmstudio.core.data.drawing import MAX_POINTS
from fmstudio.core.session import (
    MAX_SESSION_BYTES,
    Session,
    SessionError,
    load_session,
    save_session,
)

BASE = {
    "format": "fmstudio-session",
    "version": 1,
    "config": {"steps": 20},
    "source": {"kind": "preset", "name": "moons"},
}
MAX_REASON = 400
"""A banner is one line: no reason may carry a file's worth of repr."""


def session_file(folder: Path, **fields) -> Path:
    path = folder / "s.fmstudio.json"
    path.write_text(json.dumps({**BASE, **fields}))
    return path


def refused(path: Path, *words: str) -> str:
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    assert len(info.value.reason) <= MAX_REASON, len(info.value.reason)
    for word in words:
        assert word in message, (word, message)
    return message


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"config": {"steps": "many"}}, ["'steps'"]),
        ({"config": {"hidden": [0] * 100_000}}, ["'hidden'"]),
        ({"config": 7}, ["config"]),
        ({"source": {"kind": "preset", "name": ["moons"]}}, ["'source'"]),
        ({"view": [1, 2]}, ["'view'"]),
        ({"view": {"t": float("nan")}}, ["'view.t'", "finite"]),
        ({"view": {"t": "half"}}, ["'view.t'"]),
        ({"view": {"brush": [0.1]}}, ["'view.brush'"]),
        ({"view": {"sampling": "rk4"}}, ["'view.sampling'"]),
        ({"view": {"sampling": {"steps": 1e30}}}, ["'view.sampling.steps'"]),
        ({"view": {"sampling": {"n": 2**40}}}, ["'view.sampling.n'"]),
        ({"view": {"sampling": {"atol": float("inf")}}}, ["'view.sampling.atol'"]),
        ({"view": {"sampling": {"method": 4}}}, ["'view.sampling.method'"]),
        ({"points": [[0.0, 1.0, 2.0]]}, ["'points'", "(N, 2)"]),
        ({"points": {"x": 1}}, ["'points'"]),
        ({"points": [[0, 0]] * (MAX_POINTS + 1)}, ["'points'", f"{MAX_POINTS:,}"]),
        ({"model": 5}, ["'model'"]),
        ({"model": "/etc"}, ["'model'", "inside the session's folder"]),
        ({"model": "../elsewhere/run"}, ["'model'", "inside the session's folder"]),
        ({"model": "runs/../../run"}, ["'model'", "inside the session's folder"]),
        ({"source": {"kind": "image", "name": "ink"}}, ["'source.image'"]),
        ({"source": {"kind": "image", "name": "ink", "image": "gone.png"}}, ["gone.png"]),
    ],
)
def test_each_bad_field_is_one_short_session_error_naming_it(tmp_path, fields, words):
    refused(session_file(tmp_path, **fields), *words)


def test_deep_nesting_and_non_json_are_session_errors(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    refused(path, "nested too deeply")
    path.write_text('{"format": "fmstudio-session", "view": ' + "[" * 200_000)
    refused(path)
    path.write_bytes(b"\xff\xfe not json")
    refused(path)


def test_a_file_larger_than_any_session_is_refused_unread(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.truncate(MAX_SESSION_BYTES + 1)  # sparse: nothing is written, nothing is read
    refused(path, "MiB")


def test_a_symlink_out_of_the_folder_is_refused_as_a_model(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "link.model").symlink_to(outside, target_is_directory=True)
    path = session_file(folder, model="link.model")
    refused(path, "inside the session's folder")
    (folder / "real.model").mkdir()
    path = session_file(folder, model="real.model")
    assert load_session(path).model_dir == (folder / "real.model").resolve()


def test_saving_a_model_outside_the_folder_is_refused(tmp_path):
    (tmp_path / "project").mkdir()
    path = tmp_path / "project" / "s.json"
    with pytest.raises(SessionError, match="inside the session's folder"):
        save_session(path, Session(model_dir=tmp_path / "elsewhere"))
    assert not path.exists()  # never write what loading would refuse


def test_unknown_view_keys_are_dropped_and_known_ones_kept(tmp_path):
    view = {"t": 0.25, "brush": 0.3, "sampling": {"method": "rk4", "steps": None}, "junk": [[1]]}
    session = load_session(session_file(tmp_path, view=view))
    assert session.view == {"t": 0.25, "brush": 0.3, "sampling": {"method": "rk4", "steps": None}}


def test_an_image_is_found_beside_the_session_wherever_it_is_opened_from(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    Image.new("L", (8, 8), 0).save(folder / "ink.png")
    path = session_file(folder, source={"kind": "image", "name": "ink", "image": "ink.png"})
    monkeypatch.chdir(tmp_path)
    source = load_session(path).source
    assert Path(source.image) == (folder / "ink.png").resolve()
    assert source.dataset().weights.shape == (8, 8)


def test_a_round_trip_keeps_a_relative_model_and_the_points(tmp_path):
    points = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    path = tmp_path / "s.json"
    save_session(path, Session(points=points, model_dir=tmp_path / "s.model"))
    assert json.loads(path.read_text())["model"] == "s.model"
    back = load_session(path)
    assert np.allclose(back.points, points) and back.model_dir == (tmp_path / "s.model")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_session_or_image_that_is_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    cases = {"session FIFO": str(tmp_path / "pipe.json"), "session device": "/dev/zero"}
    for name in ("pipe.png", "zero.png", "/dev/zero"):
        source = {"kind": "image", "name": "x", "image": name}
        path = tmp_path / f"image-{Path(name).stem}.json"
        path.write_text(json.dumps({**BASE, "source": source}))
        cases[name] = str(path)
    results = probe(
        f"""
        from fmstudio.core.session import SessionError, load_session
        out = {{}}
        for name, path in {cases!r}.items():
            try:
                load_session(path)
                out[name] = "loaded"
            except SessionError as exc:
                out[name] = "SessionError " + str(exc)
            except BaseException as exc:
                out[name] = type(exc).__name__ + " " + str(exc)
        return out
        """,
        timeout=60,
    )
    for name, result in results.items():
        assert result.startswith("SessionError") and "regular file" in result, (name, result)
        assert name.startswith("session") or "'source.image'" in result, result
