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


@pytest.fixture
def record():
    """`record(signal)` → a Recorder of that signal (see the class)."""
    return Recorder
