"""Work is never lost without asking: Reset, New, Open and Quit ask before they discard a
trained model or a drawing that is not saved, and the title names the session and marks it
modified."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction

from fmstudio.app.ask import Answer
from fmstudio.app.window import MainWindow
from fmstudio.core.config import TrainConfig

TINY = TrainConfig(hidden=32, depth=2, batch_size=64, steps=30, warmup_steps=5, device="cpu")


def open_window(qtbot, tmp_path) -> MainWindow:
    w = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=30000)
    return w


@pytest.fixture
def trained(qtbot, tmp_path):
    """A window whose model trained for TINY.steps steps, not saved."""
    w = open_window(qtbot, tmp_path)
    w.settings_panel.set_config(TINY)
    w.new_run()
    qtbot.waitUntil(lambda: w.run_info.config.steps == TINY.steps, timeout=30000)
    trigger(w, "actionTrain")
    qtbot.waitUntil(lambda: w.state == "finished" and w.step == TINY.steps, timeout=60000)
    yield w
    w.close()


def trigger(window, name: str) -> None:
    window.findChild(QAction, name).trigger()


def test_reset_asks_cancel_keeps_the_model_and_discard_starts_over(
    trained, answer_discard, tmp_path, qtbot
):
    assert trained.windowTitle().startswith("untitled") and trained.isWindowModified()
    started = []
    trained.controller.runStarted.connect(started.append)
    answer_discard.answers = [Answer.CANCEL]
    trigger(trained, "actionReset")
    qtbot.wait(500)
    assert "30 steps" in answer_discard.asked[0]
    assert trained.step == TINY.steps and not started  # cancelled: nothing happened

    answer_discard.answers = [Answer.SAVE]
    trained.files.ask = lambda *a: None  # the save dialog is cancelled: so is the Reset
    trigger(trained, "actionNewSession")
    qtbot.wait(300)
    assert trained.step == TINY.steps and len(answer_discard.asked) == 2

    trigger(trained, "actionReset")  # Discard (the default answer)
    qtbot.waitUntil(lambda: trained.step == 0, timeout=30000)
    assert trained.unsaved_work() is None


def test_save_names_the_session_in_the_title_and_quit_saves_before_closing(
    trained, answer_discard, tmp_path, qtbot
):
    trained.files.ask = lambda *a: str(tmp_path / "demo.fmstudio.json")
    trigger(trained, "actionSaveSession")
    assert trained.windowTitle().startswith("demo") and not trained.isWindowModified()
    trained.change_setting("lr", 1e-3)
    assert trained.isWindowModified()
    trained.change_setting("steps", 60)  # train on: unsaved steps again
    qtbot.waitUntil(lambda: trained.state == "paused", timeout=20000)
    trigger(trained, "actionTrain")
    qtbot.waitUntil(lambda: trained.step == 60, timeout=60000)

    answer_discard.answers = [Answer.CANCEL]
    trigger(trained, "actionQuit")
    assert trained.isVisible()  # cancelled: nothing closed, nothing lost
    answer_discard.answers = [Answer.SAVE]
    trigger(trained, "actionQuit")
    qtbot.waitUntil(lambda: not trained.isVisible(), timeout=20000)
    assert answer_discard.asked and "60 steps" in answer_discard.asked[-1]
    assert (tmp_path / "demo.model" / "model.safetensors").exists()  # saved before the exit


def test_nothing_to_lose_asks_nothing(qtbot, tmp_path, answer_discard):
    w = open_window(qtbot, tmp_path)
    trigger(w, "actionReset")
    w.close()
    assert answer_discard.asked == []


def test_progress_bar_agrees_with_the_step_after_a_pause(trained, qtbot):
    trained.change_setting("steps", 100_000)  # more steps: the finished run can go on
    qtbot.waitUntil(lambda: trained.state == "paused", timeout=20000)
    trigger(trained, "actionTrain")
    qtbot.waitUntil(lambda: trained.state == "training", timeout=20000)
    qtbot.wait(400)
    trigger(trained, "actionTrain")
    qtbot.waitUntil(lambda: trained.state == "paused", timeout=20000)
    qtbot.wait(300)
    assert trained.progress.value() == trained.step
