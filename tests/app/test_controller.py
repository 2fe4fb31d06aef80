"""The controller and its training process, through the signals the window uses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QObject

from fmstudio.app.controller import Controller, Mailbox
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset
from fmstudio.core.snapshot import Snapshot

SMALL = dict(hidden=32, depth=2, batch_size=128, device="cpu", warmup_steps=10)


@pytest.fixture
def controller(qtbot, record):
    c = Controller()
    c.errors = record(c.failed)
    c.states = record(c.stateChanged)
    c.runs = record(c.runStarted)
    yield c
    assert c.shutdown()
    assert not c.process.is_alive()


class Taker(QObject):
    """Takes each snapshot from the mailbox in the GUI thread, as the window does."""

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.mailbox = controller.mailbox
        self.steps: list[int] = []
        controller.snapshotReady.connect(self.take)

    def take(self) -> None:
        item = self.mailbox.take()
        if item is not None:
            self.steps.append(item.step)


def test_train_pause_and_shut_down_through_the_process(qtbot, controller):
    taker = Taker(controller)
    controller.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    controller.start()
    qtbot.waitUntil(lambda: controller.states.values()[-1:] == ["training"], timeout=60000)
    qtbot.waitUntil(lambda: len(taker.steps) > 5 and taker.steps[-1] > 20, timeout=20000)
    assert taker.steps == sorted(taker.steps)  # the newest state, in order, never stale
    controller.pause()
    qtbot.waitUntil(lambda: controller.states.values()[-1] == "paused", timeout=10000)
    assert controller.errors.calls == []


def test_a_dead_process_is_reported_and_replaced(qtbot, controller):
    controller.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    qtbot.waitUntil(lambda: len(controller.runs.calls) == 1, timeout=60000)
    controller.process.kill()
    qtbot.waitUntil(lambda: len(controller.errors.calls) == 1, timeout=10000)
    assert "stopped unexpectedly" in controller.errors.last
    controller.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    qtbot.waitUntil(lambda: len(controller.runs.calls) == 2, timeout=60000)


def test_the_training_process_loads_no_qt():
    code = (
        "import sys, fmstudio.app.engine, fmstudio.app.process\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_mailbox_merges_untaken_snapshots():
    box = Mailbox()

    def snap(start, losses):
        return Snapshot(len(losses) + start, 10, 0.0, 1e-3, start, np.array(losses, float))

    assert box.put(snap(0, [1.0])) is True
    assert box.put(snap(1, [2.0])) is False  # the GUI has a signal pending already
    taken = box.take()
    assert taken.losses.tolist() == [1.0, 2.0] and box.take() is None
