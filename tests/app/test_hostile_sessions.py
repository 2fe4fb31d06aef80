"""Hostile session files and a dying training process, met the way a user meets them: through
File ▸ Open recent, the scripted start, and the Train action. Each ends in one banner (or one
stderr line and exit code 2 for a scripted start), and the app goes on with nothing of a bad
session half-applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from qtdrive import Recorder

from fmstudio.app.window import MainWindow
from fmstudio.live import engine as engine_module
from fmstudio.live.engine import Engine
from fmstudio.live.protocol import Failed

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")

SMALL = {"hidden": 32, "depth": 2, "batch_size": 64, "warmup_steps": 5, "device": "cpu"}
BASE = {
    "format": "fmstudio-session",
    "version": 1,
    "config": {**SMALL, "steps": 20},
    "source": {"kind": "preset", "name": "moons"},
}
SCRIPT_SECONDS = 45
"""A scripted start that fails must end well before its own --timeout (120 s here)."""


def write_session(path: Path, **fields) -> Path:
    path.write_text(json.dumps({**BASE, **fields}))
    return path


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    w.runs = Recorder(w.controller.runStarted)
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=30000)
    yield w
    w.close()


def open_recent(window: MainWindow, path: Path) -> None:
    """File ▸ Open recent ▸ <name>, as a user picks it (the file is in the list already)."""
    window.prefs.add_recent(path)
    window.files.refresh_recent_menu()
    tips = {action.toolTip(): action for action in window.recent_menu.actions()}
    tips[str(path.resolve())].trigger()


def shown_state(window: MainWindow) -> dict:
    return {
        "source": window.source,
        "config": window.settings_panel.config().to_dict(),
        "points": len(window.drawing),
        "session": window.files.session_path,
        "title": window.windowTitle(),
        "sampling": window.sampling_panel.request().to_flat(),
        "t": window.time_bar.time(),
    }


def bad_sessions(folder: Path) -> dict[str, tuple[Path, str]]:
    """name → (session file, a word its banner must hold)."""
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    (folder / "elsewhere.model").mkdir()
    deep = folder / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    text = folder / "text.json"
    text.write_text("not json")
    image = {"kind": "image", "name": "x"}
    return {
        "deep": (deep, "nested too deeply"),
        "not JSON": (text, "JSON"),
        "wrong type": (write_session(folder / "types.json", config={"steps": "many"}), "steps"),
        "beyond its range": (write_session(folder / "lr.json", config={"lr": 2e6}), "'lr'"),
        "huge int": (write_session(folder / "big.json", config={"seed": 2**64}), "seed"),
        "view": (
            write_session(folder / "view.json", view={"sampling": {"steps": 1e30}}),
            "view.sampling.steps",
        ),
        "absolute model": (
            write_session(folder / "abs.json", model=str(folder / "elsewhere.model")),
            "inside the session's folder",
        ),
        "model up": (write_session(folder / "up.json", model="../x.model"), "inside"),
        "fifo image": (
            write_session(folder / "fifo.json", source={**image, "image": "pipe.png"}),
            "FIFO",
        ),
        "device image": (
            write_session(folder / "dev.json", source={**image, "image": "/dev/zero"}),
            "regular file",
        ),
    }


def test_bad_sessions_from_open_recent_show_a_banner_and_change_nothing(window, qtbot, tmp_path):
    before = shown_state(window)
    runs = len(window.runs.calls)
    for name, (path, word) in bad_sessions(tmp_path / "bad").items():
        window.clear_error()
        open_recent(window, path)
        assert window.banner_row.isVisible(), name
        assert "Cannot open the session" in window.last_error and path.name in window.last_error
        assert word in window.last_error, (name, window.last_error)
        assert "\n" not in window.last_error and len(window.last_error) < 600, name
        assert shown_state(window) == before, name
    qtbot.wait(300)
    assert len(window.runs.calls) == runs  # nothing was sent to the training process
    good = write_session(
        tmp_path / "good.json",
        points=[[0.0, 0.0], [1.0, 1.0]],
        config={**BASE["config"], "lr": 0.5, "seed": 2**40},
    )  # settings the CLI accepts are shown as they are, not clamped to a narrower control
    open_recent(window, good)  # the app goes on: a good session opens
    qtbot.waitUntil(lambda: window.run_info.config.steps == 20, timeout=30000)
    assert window.files.session_path == good and len(window.drawing) == 2
    assert (window.run_info.config.lr, window.run_info.config.seed) == (0.5, 2**40)
    assert window.settings_panel.config() == window.run_info.config


def test_a_model_that_fails_to_load_is_a_banner_and_the_sessions_settings_stay(
    window, qtbot, tmp_path
):
    """The training process refuses each model (a FIFO, a device, garbage) with a message
    the banner shows; the window keeps a fresh model on the session's settings."""
    models = {
        "fifo.model": lambda d: os.mkfifo(d / "config.json"),
        "zero.model": lambda d: (d / "config.json").symlink_to("/dev/zero"),
        "text.model": lambda d: (d / "config.json").write_text("{ not json"),
    }
    errors = Recorder(window.controller.failed)
    for name, make in models.items():
        (tmp_path / name).mkdir()
        make(tmp_path / name)
        path = write_session(tmp_path / f"{name}.json", config={**SMALL, "steps": 7}, model=name)
        failed, runs = len(errors.calls), len(window.runs.calls)
        open_recent(window, path)
        qtbot.waitUntil(lambda n=failed: len(errors.calls) > n, timeout=30000)
        assert "Cannot open the model" in errors.last and "config.json" in errors.last, name
        assert "Internal error" not in errors.last and window.banner_row.isVisible()
        assert window.files.session_path == path
        assert len(window.runs.calls) == runs + 1  # the fresh model, and no other
        assert window.runs.last.config.steps == 7
    assert window.controller.process.is_alive()


def test_loading_a_model_out_of_memory_is_a_clear_failure(monkeypatch):
    def no_memory(directory):
        raise MemoryError

    monkeypatch.setattr(engine_module.io, "load_trainer", no_memory)
    events = []
    Engine(events.append).load_model("/some/run")
    assert events == [Failed("Cannot open the model: /some/run: not enough memory to load it")]


def test_a_killed_training_process_is_reported_and_train_starts_a_new_one(window, qtbot):
    config = window.settings_panel.config()
    config.steps, config.hidden = 1_000_000, 32
    window.settings_panel.set_config(config)
    window.new_run()
    qtbot.waitUntil(lambda: window.run_info.config.steps == 1_000_000, timeout=30000)
    window.findChild(QAction, "actionTrain").trigger()
    qtbot.waitUntil(lambda: window.state == "training" and window.step > 20, timeout=30000)
    dead = window.controller.process.pid
    os.kill(dead, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.state != "training", timeout=15000)
    assert "killed by SIGKILL" in window.last_error and window.banner_row.isVisible()
    assert window.step == 0  # its model went with it: nothing left to save or lose
    window.findChild(QAction, "actionTrain").trigger()
    qtbot.waitUntil(lambda: window.state == "training" and window.step > 0, timeout=60000)
    assert window.controller.process.pid != dead
    assert window.run_info.config.steps == 1_000_000  # the same settings, a fresh model


def run_scripts(
    *starts: list[str], tmp_path: Path
) -> list[tuple[subprocess.CompletedProcess, float]]:
    """`fmstudio app ARGS` for each ARGS, side by side (each ends on its own), offscreen and
    with Qt's platform chatter off; (result, seconds) for each."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["QT_LOGGING_RULES"] = "*.warning=false"
    start = time.monotonic()
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "fmstudio", "app", *args, "--timeout", "120"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for args in starts
    ]
    outcomes = []
    for proc in running:
        out, err = proc.communicate(timeout=240)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        outcomes.append((result, time.monotonic() - start))
    return outcomes


def assert_quick_one_line_error(outcome, *words: str) -> None:
    result, seconds = outcome
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr[-3000:])
    assert lines[0].startswith("fmstudio app: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert seconds < SCRIPT_SECONDS, seconds


def test_a_scripted_start_that_fails_says_why_and_exits_2_at_once(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    shot = str(tmp_path / "x.png")
    (tmp_path / "file").write_text("")
    shots = str(tmp_path / "file" / "views")  # under a file: no one can create it
    ok = write_session(tmp_path / "ok.json")
    deep_out, shots_out = run_scripts(
        ["--session", str(deep), "--train", "--screenshot", shot],  # fails as it starts
        ["--session", str(ok), "--shots", shots],  # fails in its finishing step
        tmp_path=tmp_path,
    )
    assert_quick_one_line_error(deep_out, "deep.json", "nested too deeply")
    assert_quick_one_line_error(shots_out, "views")
    assert not Path(shot).exists()
