"""The training engine, driven synchronously as its process drives it: commands, ticks, events."""

from __future__ import annotations

import numpy as np
import pytest

from fmstudio.app.engine import (
    CONDITIONAL_PAIRS,
    PARTICLES,
    SAMPLES,
    TRAJECTORY_FRAMES,
    Engine,
)
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PointSet, PresetDataset
from fmstudio.core.io import load_flow

SMALL = dict(hidden=32, depth=2, batch_size=128, device="cpu", warmup_steps=10)


class Host:
    """Collects the events, as the training process would send them to the app."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def send(self, kind: str, payload: object) -> None:
        self.events.append((kind, payload))

    def of(self, kind: str) -> list:
        return [payload for k, payload in self.events if k == kind]


@pytest.fixture
def host():
    return Host()


@pytest.fixture
def engine(host):
    return Engine(host.send)


def run(engine: Engine, steps: int | None = None, max_ticks: int = 10000) -> None:
    """Tick while training (until `steps` steps are done, if given)."""
    for _ in range(max_ticks):
        if not engine.busy or (steps is not None and engine.trainer.step_count >= steps):
            return
        engine.tick()
    raise AssertionError("the engine never stopped")


def all_losses(snapshots) -> list[float]:
    buffer: list[float] = []
    for s in snapshots:
        del buffer[s.loss_start :]
        buffer.extend(s.losses.tolist())
    return buffer


def test_a_new_run_shows_the_untrained_model_at_once(engine, host):
    engine.new_run(TrainConfig(steps=100, **SMALL), PresetDataset("moons"))
    (info,) = host.of("run_started")
    assert info.target.shape == (5000, 2) and info.t_range == (0.0, 1.0)
    (first,) = host.of("snapshot")
    assert first.step == 0 and first.samples.shape == (SAMPLES, 2)
    assert first.trajectories.points.shape[1:] == (PARTICLES, 2)
    assert first.field is not None and first.density.kind == "histogram"
    assert host.of("state") == [] and engine.state == "idle"


def test_training_runs_to_the_end_and_streams_every_loss(engine, host):
    engine.new_run(TrainConfig(steps=300, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    assert host.of("state") == ["training", "finished"]
    losses = all_losses(host.of("snapshot"))
    assert len(losses) == 300
    assert np.mean(losses[-50:]) < np.mean(losses[:20])  # it learns
    assert host.of("snapshot")[-1].trajectories is not None  # a full picture at the end
    engine.start()
    assert not engine.busy  # a finished run does not restart


def test_pause_stops_and_start_resumes(engine, host):
    engine.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine, steps=20)
    engine.pause()
    assert not engine.busy and host.of("state")[-1] == "paused"
    step = engine.trainer.step_count
    assert host.of("snapshot")[-1].step == step  # the paused picture is the current model
    engine.start()
    run(engine, steps=step + 10)
    assert engine.trainer.step_count >= step + 10


def test_more_steps_reopen_a_finished_run(engine, host):
    engine.new_run(TrainConfig(steps=20, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    engine.update_settings({"steps": 40})
    assert engine.state == "paused"
    engine.start()
    run(engine)
    assert engine.trainer.step_count == 40 and engine.state == "finished"


def test_bad_settings_and_divergence_are_reported_and_the_model_kept(engine, host):
    engine.new_run(TrainConfig(steps=1000, **SMALL), PresetDataset("moons"))
    engine.update_settings({"hidden": 8})
    assert "cannot change during a run" in host.of("failed")[-1]
    engine.update_settings({"lr": 1e6, "grad_clip": 0.0, "warmup_steps": 0})
    engine.start()
    run(engine)
    assert "diverged" in host.of("failed")[-1] and engine.state == "paused"
    params = engine.trainer.model.parameters()
    assert all(np.isfinite(p.detach().numpy()).all() for p in params)


def test_an_impossible_setting_is_an_error_not_a_crash(engine, host):
    engine.new_run(TrainConfig(steps=10, **{**SMALL, "device": "cuda:7"}), PresetDataset("moons"))
    assert "Cannot start this run" in host.of("failed")[-1] and engine.trainer is None
    engine.start()
    engine.sample({"method": "euler", "steps": 2, "n": 5})
    assert "Nothing to sample" in host.of("failed")[-1]


def test_the_target_can_change_under_a_live_run(engine, host):
    engine.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine, steps=5)
    engine.set_dataset(PointSet(np.full((10, 2), 7.0), name="drawing"))
    (info,) = host.of("target_changed")
    assert np.allclose(info.target, 7.0) and info.bounds[1] > 7.0
    assert engine.busy  # still training, now toward the new target


def test_hidden_views_are_not_computed(engine, host):
    engine.set_views(frozenset({"trajectories"}))
    engine.new_run(TrainConfig(steps=100, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    snapshots = host.of("snapshot")
    assert any(s.trajectories is not None for s in snapshots)
    assert all(s.field is None and s.density is None and s.samples is None for s in snapshots)


def test_likelihood_density_when_asked_for(engine, host):
    engine.set_views(frozenset({"density", "likelihood"}))
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    assert host.of("snapshot")[-1].density.kind == "likelihood"


def test_sampling_reports_nfe_w2_and_time(engine, host):
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    engine.sample(dict(method="euler", steps=5, atol=1e-5, rtol=1e-5, n=300, seed=3))
    (result,) = host.of("sampled")
    assert result.nfe == 5 and result.w2 > 0 and result.trajectories.points.shape == (6, 300, 2)
    engine.sample(dict(method="rk4", steps=0, n=10, seed=0))
    assert "Sampling failed" in host.of("failed")[-1]


def test_save_and_load_round_trip(engine, host, tmp_path):
    engine.new_run(TrainConfig(steps=30, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    engine.save_model(str(tmp_path / "m"))
    assert host.of("saved") == [str(tmp_path / "m")]
    assert load_flow(tmp_path / "m").sample(5, steps=2).x.shape == (5, 2)
    other = Host()
    again = Engine(other.send)
    again.load_model(str(tmp_path / "m"))
    assert other.of("snapshot")[-1].step == 30 and again.state == "finished"
    again.load_model(str(tmp_path / "missing"))
    assert "Cannot open the model" in other.of("failed")[-1]


def test_conditional_paths_pair_noise_and_data_by_the_runs_coupling(engine, host):
    engine.set_views(frozenset({"conditional"}))
    engine.new_run(TrainConfig(steps=10, path="otcfm", **SMALL), PresetDataset("moons"))
    paths = host.of("snapshot")[-1].conditional
    assert paths.points.shape == (TRAJECTORY_FRAMES, CONDITIONAL_PAIRS, 2)
    x0, x1 = paths.points[0], paths.points[-1]
    ot_cost = ((x1 - x0) ** 2).sum()
    shuffled = ((x1[::-1] - x0) ** 2).sum()
    assert ot_cost <= shuffled  # exact OT pairs cost no more than any other pairing
    midway = paths.at(0.5)
    assert np.allclose(midway, (x0 + x1) / 2, atol=1e-5)  # icfm with σ = 0: straight lines
