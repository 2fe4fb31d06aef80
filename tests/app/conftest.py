"""App tests run offscreen (no display on CI) and may not leave a QThread running."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg
import pytest
from qtdrive import Recorder

pg.setConfigOptions(mouseRateLimit=-1)  # every synthetic mouse move reaches the view


@pytest.fixture(autouse=True)
def no_threads_left_running(qapp):
    """Fail a test that leaves a QThread running: the app must always shut its threads down."""
    from fmstudio.app import threads

    yield
    running = [t for t in threads.live_threads() if t.isRunning()]
    for thread in running:
        thread.quit()
        thread.wait(5000)
    assert not running, f"{len(running)} QThread(s) left running"


@pytest.fixture(autouse=True)
def answer_discard(monkeypatch):
    """The Save/Discard/Cancel question never opens a modal box nobody answers: it answers
    Discard unless a test sets `answers` (a list, consumed in order) or `default`."""
    from fmstudio.app import ask

    class Answers:
        def __init__(self) -> None:
            self.default = ask.Answer.DISCARD
            self.answers: list[ask.Answer] = []
            self.asked: list[str] = []

        def __call__(self, parent, message: str) -> ask.Answer:
            self.asked.append(message)
            return self.answers.pop(0) if self.answers else self.default

    answers = Answers()
    monkeypatch.setattr(ask, "ask_discard", answers)
    return answers


@pytest.fixture(autouse=True)
def small_measurements(monkeypatch):
    """Compare panels measure a finished run on 300 points, not 1000: the same code, a third of
    the time (a 1000-point measurement took about 10 s on 2 cores, once per panel per test)."""
    from fmstudio.app import compare_panel, compare_window

    monkeypatch.setattr(compare_panel, "FINAL_POINTS", 300)
    monkeypatch.setattr(compare_window, "FINAL_POINTS", 300)
    monkeypatch.setattr(compare_window, "LIVE_POINTS", 200)


@pytest.fixture
def record():
    """`record(signal)` → a Recorder of that signal (see the class)."""
    return Recorder


@pytest.fixture
def window(qtbot, tmp_path, small_config):
    """The main window as a user opens it (with preferences of its own), once its first run
    has started, its settings set to `small_config`. A test file may define its own."""
    from PySide6.QtCore import QSettings

    from fmstudio.app.window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=30000)
    w.settings_panel.set_config(small_config)
    yield w
    w.close()
