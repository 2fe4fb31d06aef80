"""The training engine, driven synchronously as its process drives it: commands, ticks, events."""

from __future__ import annotations

import dataclasses
import tempfile
import time

import numpy as np
import pytest

from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PointSet, PresetDataset
from fmstudio.core.io import load_flow
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.live import engine as engine_module
from fmstudio.live.engine import (
    CONDITIONAL_PAIRS,
    PARTICLES,
    SAMPLES,
    TRAJECTORY_FRAMES,
    Engine,
)
from fmstudio.live.protocol import (
    Event,
    Failed,
    InternalError,
    Measured,
    RunStarted,
    Sampled,
    Saved,
    SnapshotReady,
    StateChanged,
    TargetChanged,
)

SMALL = dict(hidden=32, depth=2, batch_size=128, device="cpu", warmup_steps=10)


class Host:
    """Collects the events, as the training process would send them to the app."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def send(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list:
        """What each event of type `kind` carries (its one field)."""
        return [
            getattr(e, dataclasses.fields(e)[0].name) for e in self.events if isinstance(e, kind)
        ]


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
    (info,) = host.of(RunStarted)
    assert info.target.shape == (5000, 2) and info.t_range == (0.0, 1.0)
    (first,) = host.of(SnapshotReady)
    assert first.step == 0 and first.samples.shape == (SAMPLES, 2)
    assert first.trajectories.points.shape[1:] == (PARTICLES, 2)
    assert first.field is not None and first.density.kind == "histogram"
    assert host.of(StateChanged) == [] and engine.state == "idle"


def test_training_runs_to_the_end_and_streams_every_loss(engine, host):
    engine.new_run(TrainConfig(steps=300, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    assert host.of(StateChanged) == ["training", "finished"]
    losses = all_losses(host.of(SnapshotReady))
    assert len(losses) == 300
    assert np.mean(losses[-50:]) < np.mean(losses[:20])  # it learns
    assert host.of(SnapshotReady)[-1].trajectories is not None  # a full picture at the end
    engine.start()
    assert not engine.busy  # a finished run does not restart


def test_pause_stops_and_start_resumes(engine, host):
    engine.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine, steps=20)
    engine.pause()
    assert not engine.busy and host.of(StateChanged)[-1] == "paused"
    step = engine.trainer.step_count
    assert host.of(SnapshotReady)[-1].step == step  # the paused picture is the current model
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
    assert "cannot change during a run" in host.of(Failed)[-1]
    engine.update_settings({"lr": 1e6, "grad_clip": 0.0, "warmup_steps": 0})
    engine.start()
    run(engine)
    assert "diverged" in host.of(Failed)[-1] and engine.state == "paused"
    params = engine.trainer.model.parameters()
    assert all(np.isfinite(p.detach().numpy()).all() for p in params)


def test_an_impossible_setting_is_an_error_not_a_crash(engine, host):
    engine.new_run(TrainConfig(steps=10, **{**SMALL, "device": "cuda:7"}), PresetDataset("moons"))
    assert "Cannot start this run" in host.of(Failed)[-1] and engine.trainer is None
    engine.start()
    engine.sample(SampleRequest(5, 0, SolverSpec.fixed("euler", 2)))
    assert "Nothing to sample" in host.of(Failed)[-1]


def test_the_target_can_change_under_a_live_run(engine, host):
    engine.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine, steps=5)
    engine.set_dataset(PointSet(np.full((10, 2), 7.0), name="drawing"))
    (info,) = host.of(TargetChanged)
    assert np.allclose(info.target, 7.0) and info.bounds[1] > 7.0
    assert engine.busy  # still training, now toward the new target


def test_hidden_views_are_not_computed(engine, host):
    engine.set_views(frozenset({"trajectories"}))
    engine.new_run(TrainConfig(steps=100, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    snapshots = host.of(SnapshotReady)
    assert any(s.trajectories is not None for s in snapshots)
    assert all(s.field is None and s.density is None and s.samples is None for s in snapshots)


def test_likelihood_density_when_asked_for(engine, host):
    engine.set_views(frozenset({"density", "likelihood"}))
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    assert host.of(SnapshotReady)[-1].density.kind == "likelihood"


def test_sampling_reports_nfe_w2_and_time(engine, host):
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    engine.sample(SampleRequest(300, 3, SolverSpec.fixed("euler", 5)))
    (result,) = host.of(Sampled)
    assert result.nfe == 5 and result.w2 > 0 and result.trajectories.points.shape == (6, 300, 2)
    engine.sample(SampleRequest(10, 0, SolverSpec.tolerance("dopri5", 1e-300)))
    assert "Sampling failed" in host.of(Failed)[-1]  # a tolerance no solve can meet


def test_save_and_load_round_trip(engine, host, tmp_path):
    engine.new_run(TrainConfig(steps=30, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    engine.save_model(str(tmp_path / "m"))
    assert host.of(Saved) == [str(tmp_path / "m")]
    assert load_flow(tmp_path / "m").sample(5, steps=2).x.shape == (5, 2)
    other = Host()
    again = Engine(other.send)
    again.load_model(str(tmp_path / "m"))
    assert other.of(SnapshotReady)[-1].step == 30 and again.state == "finished"
    again.load_model(str(tmp_path / "missing"))
    assert "Cannot open the model" in other.of(Failed)[-1]


def test_conditional_paths_pair_noise_and_data_by_the_runs_coupling(engine, host):
    engine.set_views(frozenset({"conditional"}))
    engine.new_run(TrainConfig(steps=10, path="otcfm", **SMALL), PresetDataset("moons"))
    paths = host.of(SnapshotReady)[-1].conditional
    assert paths.points.shape == (TRAJECTORY_FRAMES, CONDITIONAL_PAIRS, 2)
    x0, x1 = paths.points[0], paths.points[-1]
    ot_cost = ((x1 - x0) ** 2).sum()
    shuffled = ((x1[::-1] - x0) ** 2).sum()
    assert ot_cost <= shuffled  # exact OT pairs cost no more than any other pairing
    midway = paths.at(0.5)
    assert np.allclose(midway, (x0 + x1) / 2, atol=1e-5)  # icfm with σ = 0: straight lines


def test_a_failing_picture_is_reported_once_and_the_others_still_come(
    engine, host, monkeypatch, tmp_path
):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)

    def broken(self):
        raise RuntimeError("the field is broken")

    monkeypatch.setattr(Engine, "_field", broken)
    engine.new_run(TrainConfig(steps=60, **SMALL), PresetDataset("moons"))
    engine.start()
    run(engine)
    assert engine.state == "finished"  # training went on
    errors = host.of(InternalError)
    assert len(errors) == 1, errors  # once, not every tick
    assert "field picture" in errors[0] and f"details in {tmp_path}" in errors[0]
    snapshots = host.of(SnapshotReady)
    assert snapshots[0].trajectories is not None and snapshots[0].samples is not None
    assert all(s.field is None for s in snapshots)
    engine.set_dataset(PresetDataset("8gaussians"))  # a new target tries the picture again
    assert len(host.of(InternalError)) == 2


def test_steps_per_s_is_the_wall_clock_rate_with_measurements_included(engine, host, monkeypatch):
    """A measurement pauses training for seconds (compare mode takes one every few seconds):
    the rate shown must be the one the run really progresses at, not the rate of the ticks."""
    from fmstudio.core import compare_paths as compare

    def slow_ladder(*args, **kwargs):
        time.sleep(1.0)  # a measurement on a busy machine
        return []

    monkeypatch.setattr(compare, "w2_vs_nfe", slow_ladder)
    monkeypatch.setattr(compare, "flow_report", lambda *args, **kwargs: {"w2": 1.0})
    engine.set_views(frozenset())
    engine.new_run(TrainConfig(steps=100000, **SMALL), PresetDataset("moons"))
    start = time.perf_counter()
    engine.start()
    run(engine, steps=30)
    engine.measure(50)
    measured = host.of(Measured)[-1].table  # the run's rate until the measurement's end
    assert measured["steps_per_s"] <= 1.2 * measured["step"] / (time.perf_counter() - start)
    run(engine, steps=engine.trainer.step_count + 30)
    time.sleep(engine_module.PUBLISH_INTERVAL)
    engine.tick()  # publishes: the last snapshot is from now
    wall = time.perf_counter() - start
    shown = host.of(SnapshotReady)[-1]
    assert shown.steps_per_s <= 1.2 * shown.step / wall, (shown.steps_per_s, shown.step, wall)
    assert shown.steps_per_s >= 0.5 * shown.step / wall


def test_a_finished_run_reports_its_average_rate_not_zero(engine, host):
    engine.set_views(frozenset())
    engine.new_run(TrainConfig(steps=60, **SMALL), PresetDataset("moons"))
    start = time.perf_counter()
    engine.start()
    time.sleep(0.3)  # a starved process: wall clock the run spends, too
    run(engine)
    wall = time.perf_counter() - start
    last = host.of(SnapshotReady)[-1]
    assert engine.state == "finished" and last.step == 60
    assert 0.3 < last.train_seconds <= wall
    assert last.steps_per_s == pytest.approx(60 / last.train_seconds)
    engine.start()  # a finished run does not restart, and keeps its time
    engine.pause()
    assert host.of(SnapshotReady)[-1].train_seconds == pytest.approx(last.train_seconds)


def test_sampling_and_measuring_report_the_w2_floor(engine, host, monkeypatch):
    from fmstudio.core import compare_paths as compare

    monkeypatch.setattr(compare, "w2_vs_nfe", lambda *args, **kwargs: [])
    monkeypatch.setattr(compare, "flow_report", lambda *args, **kwargs: {"w2": 1.0})
    engine.set_views(frozenset())
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    engine.sample(SampleRequest(300, 3, SolverSpec.fixed("euler", 2)))
    (first,) = host.of(Sampled)
    assert first.w2_points == 300 and 0 < first.w2_floor < first.w2  # untrained: far above
    engine.sample(SampleRequest(300, 4, SolverSpec.fixed("rk4", 2)))
    assert host.of(Sampled)[-1].w2_floor == first.w2_floor  # once per target and size
    engine.measure(100)
    assert 0 < host.of(Measured)[-1].table["w2_floor"] < 1.0
    engine.set_dataset(PresetDataset("8gaussians"))
    engine.sample(SampleRequest(300, 3, SolverSpec.fixed("euler", 2)))
    assert host.of(Sampled)[-1].w2_floor != first.w2_floor  # a new target, a new floor


def test_the_field_is_computed_on_the_box_the_view_shows(engine, host):
    engine.set_views(frozenset({"field", "marginal"}))
    engine.new_run(TrainConfig(steps=10, **SMALL), PresetDataset("moons"))
    engine.set_field_box((-9.0, 9.0, -3.0, 3.0))  # a wide dock
    field = host.of(SnapshotReady)[-1].field
    cell = field.xs[1] - field.xs[0]
    assert field.xs[0] - cell / 2 == pytest.approx(-9.0) and field.ys[-1] + cell / 2 == 3.0
    assert field.ys[1] - field.ys[0] == pytest.approx(cell)  # square cells, round arrows
    assert field.marginal.shape == field.velocity.shape  # the exact field on the same grid
