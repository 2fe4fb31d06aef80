"""The run model every window binds to: it applies what the training process says (state,
step, info) before the views hear of it, and it knows when dropping the model loses work."""

from __future__ import annotations

import os
import signal

from fmstudio.app.run_model import RunModel
from fmstudio.core.data import PresetDataset
from fmstudio.live.protocol import RunState, Start


def test_the_model_applies_each_event_before_the_views_hear_of_it(qtbot, small_config):
    run = RunModel()
    seen: list[tuple[int, int]] = []
    run.snapshot.connect(lambda item: seen.append((run.step, item.step)))
    states: list[tuple[RunState, RunState]] = []
    run.stateChanged.connect(lambda state: states.append((run.state, state)))
    try:
        assert not run.unsaved() and not run.has_steps
        run.new_run(small_config, PresetDataset("moons"))
        qtbot.waitUntil(lambda: run.info is not None and bool(seen), timeout=30000)
        assert not run.unsaved()  # a fresh model has nothing to lose
        run.send(Start())
        qtbot.waitUntil(lambda: run.state is RunState.FINISHED, timeout=60000)
        qtbot.waitUntil(lambda: seen[-1][1] == small_config.steps, timeout=30000)
        assert all(model == item for model, item in seen)  # the step came first
        assert all(model == state for model, state in states)
        assert run.has_steps and run.unsaved()
        run.mark_saved()
        assert not run.unsaved()

        os.kill(run.controller.process.pid, signal.SIGKILL)  # the model dies with its process
        qtbot.waitUntil(lambda: run.lost, timeout=30000)
        assert run.step == 0 and not run.unsaved() and run.state is RunState.IDLE
    finally:
        run.shutdown()
