"""The training worker and its controller, driven through signals as the window drives them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject

from fmstudio.app.controller import Controller
from fmstudio.app.worker import PARTICLES, Mailbox
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PointSet, PresetDataset
from fmstudio.core.snapshot import Snapshot

SMALL = dict(hidden=32, depth=2, batch_size=128, device="cpu", warmup_steps=10)


class Taker(QObject):
    """Takes each snapshot from the mailbox in the GUI thread, as the window does."""

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.snapshots: list = []
        controller.snapshotReady.connect(self.take)

    def take(self) -> None:
        self.snapshots.append(self.controller.mailbox.take())


@pytest.fixture
def controller(qtbot, record):
    c = Controller()
    c.taker = Taker(c)
    c.snapshots = c.taker.snapshots
    c.error_log = record(c.failed)
    c.state_log = record(c.stateChanged)
    c.started_log = record(c.runStarted)
    yield c
    assert c.shutdown()


def wait_for(qtbot, recorder, count=1, timeout=20000):
    qtbot.waitUntil(lambda: len(recorder.calls) >= count, timeout=timeout)
    return recorder.last


def _all_losses(snapshots):
    buffer: list[float] = []
    for s in snapshots:
        if s is None:
            continue
        del buffer[s.loss_start :]
        buffer.extend(s.losses.tolist())
    return buffer


def test_a_new_run_shows_the_untrained_model_at_once(qtbot, controller):
    controller.new_run(TrainConfig(steps=100, **SMALL), PresetDataset("moons"))
    info = wait_for(qtbot, controller.started_log)
    assert info.target.shape == (5000, 2) and info.t_range == (0.0, 1.0)
    qtbot.waitUntil(lambda: any(s and s.trajectories for s in controller.snapshots), timeout=10000)
    first = next(s for s in controller.snapshots if s)
    assert first.step == 0 and first.trajectories.points.shape[1:] == (PARTICLES, 2)
    assert first.field is not None and first.density is not None


def test_training_runs_to_the_end_and_streams_every_loss(qtbot, controller):
    controller.new_run(TrainConfig(steps=300, **SMALL), PresetDataset("moons"))
    controller.start()
    qtbot.waitUntil(lambda: "finished" in controller.state_log.values(), timeout=60000)
    qtbot.waitUntil(lambda: _all_losses(controller.snapshots).__len__() == 300, timeout=5000)
    losses = _all_losses(controller.snapshots)
    assert np.mean(losses[-50:]) < np.mean(losses[:20])  # it learns
    assert controller.state_log.values()[:1] == ["training"]
    assert controller.snapshots[-1].trajectories is not None  # a full picture at the end


def test_pause_stops_between_chunks_and_start_resumes(qtbot, controller):
    controller.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    controller.start()
    qtbot.waitUntil(lambda: any(s and s.step > 20 for s in controller.snapshots), timeout=20000)
    controller.pause()
    qtbot.waitUntil(lambda: controller.state_log.last == "paused", timeout=5000)
    assert controller.state_log.values()[-1] == "paused"
    qtbot.wait(100)
    step = controller.worker.trainer.step_count
    qtbot.wait(300)
    assert controller.worker.trainer.step_count == step  # nothing runs while paused
    controller.start()
    qtbot.waitUntil(lambda: controller.worker.trainer.step_count > step + 5, timeout=20000)


def test_shutdown_while_training_is_clean_and_fast(qtbot):
    c = Controller()
    c.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    c.start()
    qtbot.waitUntil(lambda: c.worker.trainer is not None and c.worker.trainer.step_count > 10)
    assert c.shutdown(timeout_ms=10000)
    assert c.thread is None and c.shutdown()  # a second call is harmless


def test_bad_settings_and_divergence_are_reported_and_the_model_kept(qtbot, controller):
    controller.new_run(TrainConfig(steps=1000, **SMALL), PresetDataset("moons"))
    qtbot.waitUntil(lambda: controller.worker.trainer is not None, timeout=10000)
    controller.update_settings({"hidden": 8})
    assert "cannot change during a run" in wait_for(qtbot, controller.error_log)
    controller.update_settings({"lr": 1e6, "grad_clip": 0.0, "warmup_steps": 0})
    controller.start()
    qtbot.waitUntil(
        lambda: any("diverged" in e for e in controller.error_log.values()), timeout=30000
    )
    assert controller.state_log.values()[-1] == "paused"
    trainer = controller.worker.trainer
    assert all(np.isfinite(p.detach().numpy()).all() for p in trainer.model.parameters())


def test_new_run_with_an_impossible_setting_is_an_error_not_a_crash(qtbot, controller):
    controller.new_run(
        TrainConfig(steps=10, **{**SMALL, "device": "cuda:7"}), PresetDataset("moons")
    )
    assert "Cannot start this run" in wait_for(qtbot, controller.error_log)


def test_the_target_can_change_under_a_live_run(qtbot, controller, record):
    controller.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    controller.start()
    qtbot.waitUntil(lambda: any(s and s.step > 5 for s in controller.snapshots), timeout=20000)
    far = np.full((10, 2), 7.0)
    changed = record(controller.targetChanged)
    controller.set_dataset(PointSet(far, name="drawing"))
    info = wait_for(qtbot, changed)
    assert np.allclose(info.target, 7.0) and info.bounds[1] > 7.0
    controller.pause()


def test_hidden_views_are_not_computed(qtbot, controller):
    controller.set_views(frozenset({"trajectories"}))
    controller.new_run(TrainConfig(steps=100, **SMALL), PresetDataset("moons"))
    qtbot.waitUntil(lambda: any(s and s.trajectories for s in controller.snapshots), timeout=10000)
    assert all(s.field is None and s.density is None for s in controller.snapshots if s)


def test_sampling_reports_nfe_w2_and_time(qtbot, controller, record):
    controller.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    request = dict(method="euler", steps=5, atol=1e-5, rtol=1e-5, n=300, seed=3)
    sampled = record(controller.sampled)
    controller.sample(request)
    run = wait_for(qtbot, sampled)
    assert run.nfe == 5 and run.w2 > 0 and run.trajectories.points.shape == (6, 300, 2)
    controller.sample({**request, "method": "rk4", "steps": 0})
    assert "Sampling failed" in wait_for(qtbot, controller.error_log)


def test_mailbox_merges_untaken_snapshots():
    box = Mailbox()

    def snap(start, losses):
        return Snapshot(len(losses) + start, 10, 0.0, 1e-3, start, np.array(losses, float))

    assert box.put(snap(0, [1.0])) is True
    assert box.put(snap(1, [2.0])) is False  # the GUI has a signal pending already
    taken = box.take()
    assert taken.losses.tolist() == [1.0, 2.0] and box.take() is None
