"""The controller and its training process, through the signals the window uses."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from faulty import start_faulty_process
from PySide6.QtCore import QObject

from fmstudio.app.controller import Controller, Mailbox
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.view_data import Snapshot
from fmstudio.live import trainer_log
from fmstudio.live.protocol import LoadModel, NewRun, Pause, Sample, Start

SMALL = dict(hidden=32, depth=2, batch_size=128, device="cpu", warmup_steps=10)
DETAILS = re.compile(r"\(details in (\S+\.log)\)")
"""How a message names the training process's log file."""


@pytest.fixture
def make_controller(qtbot, record):
    """`make_controller(engine=None)` → a Controller recording its errors, states and runs,
    shut down (and its process gone) at the end of the test."""
    made: list[Controller] = []

    def make(engine=None) -> Controller:
        c = Controller(engine=engine)
        c.errors = record(c.failed)
        c.states = record(c.stateChanged)
        c.runs = record(c.runStarted)
        made.append(c)
        return c

    yield make
    for c in made:
        assert c.shutdown()
        assert not c.process.is_alive()


@pytest.fixture
def controller(make_controller):
    return make_controller()


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """The temporary directory of this process and of the training processes it starts (their
    logs go under it)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp_path


def named_log(message: str) -> Path:
    found = DETAILS.search(message)
    assert found, message
    return Path(found.group(1))


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
    controller.send(NewRun(TrainConfig(steps=100000, **SMALL), PresetDataset("moons")))
    controller.send(Start())
    qtbot.waitUntil(lambda: controller.states.values()[-1:] == ["training"], timeout=60000)
    qtbot.waitUntil(lambda: len(taker.steps) > 5 and taker.steps[-1] > 20, timeout=20000)
    assert taker.steps == sorted(taker.steps)  # the newest state, in order, never stale
    controller.send(Pause())
    qtbot.waitUntil(lambda: controller.states.values()[-1] == "paused", timeout=10000)
    assert controller.errors.calls == []


def test_a_dead_process_is_reported_and_replaced(qtbot, temp_dir, controller):
    controller.send(NewRun(TrainConfig(steps=10, **SMALL), PresetDataset("moons")))
    qtbot.waitUntil(lambda: len(controller.runs.calls) == 1, timeout=60000)
    dead = controller.process.pid
    controller.process.kill()
    qtbot.waitUntil(lambda: len(controller.errors.calls) == 1, timeout=10000)
    assert "stopped unexpectedly (killed by SIGKILL, exit code -9)" in controller.errors.last
    assert "details" not in controller.errors.last  # a kill leaves no stack to show...
    assert not trainer_log.log_path(dead).exists()  # ...and no empty log behind
    controller.send(NewRun(TrainConfig(steps=10, **SMALL), PresetDataset("moons")))
    qtbot.waitUntil(lambda: len(controller.runs.calls) == 2, timeout=60000)


def test_a_failing_picture_is_reported_once_with_its_log_and_training_goes_on(
    qtbot, make_controller, temp_dir
):
    controller = make_controller(start_faulty_process({"_field": "raise"}))
    taker = Taker(controller)
    controller.send(NewRun(TrainConfig(steps=100000, **SMALL), PresetDataset("moons")))
    controller.send(Start())
    qtbot.waitUntil(lambda: len(taker.steps) > 5 and taker.steps[-1] > 50, timeout=60000)
    controller.send(Pause())
    qtbot.waitUntil(lambda: controller.states.values()[-1:] == ["paused"], timeout=10000)
    assert controller.process.is_alive()
    assert len(controller.errors.calls) == 1, controller.errors.values()  # once, not every tick
    message = controller.errors.last
    assert "field picture" in message and "RuntimeError: _field is broken" in message
    assert "off until the next run or target" in message
    log = named_log(message)
    assert log.parent == temp_dir / "fmstudio-logs" and log.name.startswith("trainer-")
    assert "Traceback" in log.read_text() and "RuntimeError: _field is broken" in log.read_text()


def test_a_failing_warm_up_is_reported_and_a_later_crash_keeps_that_first_error(
    qtbot, make_controller, temp_dir
):
    broken = {"warm_up": "raise", "sample": "segfault"}
    controller = make_controller(start_faulty_process(broken))
    controller.send(NewRun(TrainConfig(steps=20, **SMALL), PresetDataset("moons")))
    qtbot.waitUntil(lambda: len(controller.errors.calls) == 1, timeout=60000)
    first = controller.errors.last
    assert "in the warm-up: RuntimeError: warm_up is broken" in first
    controller.send(Start())  # the process goes on: the next command works
    qtbot.waitUntil(lambda: controller.states.values()[-1:] == ["finished"], timeout=30000)
    controller.send(Sample(SampleRequest(10, 0, SolverSpec.fixed("euler", 2))))  # a hard crash
    qtbot.waitUntil(lambda: len(controller.errors.calls) == 2, timeout=30000)
    crash = controller.errors.last
    assert "stopped unexpectedly (killed by SIGSEGV, exit code -11)" in crash and first in crash
    text = named_log(first).read_text()
    assert "RuntimeError: warm_up is broken" in text and "Segmentation fault" in text


def test_a_hard_crash_names_the_log_holding_its_stack(qtbot, make_controller, temp_dir):
    controller = make_controller(start_faulty_process({"sample": "segfault"}))
    controller.send(Sample(SampleRequest(10, 0, SolverSpec.fixed("euler", 2))))
    qtbot.waitUntil(lambda: len(controller.errors.calls) == 1, timeout=60000)
    message = controller.errors.last
    assert "stopped unexpectedly (killed by SIGSEGV, exit code -11)" in message
    assert "Segmentation fault" in named_log(message).read_text()


def test_a_process_deaf_to_shutdown_and_sigterm_is_killed_and_its_pump_stopped(
    qtbot, make_controller
):
    """A process stuck in a command (here: ignoring SIGTERM too) keeps its pipe open, so the
    pump never sees it close; shutdown must still end both, or Qt aborts the whole app when
    the running pump thread is destroyed."""
    controller = make_controller(start_faulty_process({"load_model": "hang"}))
    controller.send(LoadModel("/any/run"))
    qtbot.waitUntil(lambda: controller.states.values() == ["hanging"], timeout=60000)
    start = time.monotonic()
    assert controller.shutdown(timeout_ms=500) is False  # it had to be killed
    assert time.monotonic() - start < 20
    assert not controller.process.is_alive() and controller.thread is None  # stopped, joined


def test_the_training_process_loads_no_qt():
    code = (
        "import sys, fmstudio.live.engine, fmstudio.live.process\n"
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
