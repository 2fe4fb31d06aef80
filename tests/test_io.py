"""Checkpoints: exact round trips, exact resume, and hostile or broken files refused safely."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from fmstudio.cli import main as cli_main
from fmstudio.core import io
from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import ImageDensity, PointSet, PresetDataset
from fmstudio.core.evaluate import held_out_target
from fmstudio.core.training import Trainer

SMALL = {"hidden": 32, "depth": 2, "batch_size": 64, "warmup_steps": 5, "steps": 30}


@pytest.fixture
def trained(tmp_path):
    trainer = Trainer(TrainConfig(**SMALL))
    trainer.run(12)
    io.save_checkpoint(tmp_path / "run", trainer)
    return trainer, tmp_path / "run"


def test_loaded_model_reproduces_outputs_bit_for_bit(trained):
    trainer, run = trained
    flow = io.load_flow(run)
    x = torch.randn(500, 2)
    t = torch.rand(500)
    with torch.no_grad():
        assert torch.equal(flow.model(x, t), trainer.ema.model(x, t))
    assert flow.path == trainer.path
    a = flow.sample(200, seed=3, method="rk4", steps=10).x
    b = trainer.flow().sample(200, seed=3, method="rk4", steps=10).x
    assert torch.equal(a, b)


def test_run_directory_layout(trained):
    _, run = trained
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "model.safetensors",
        "train_state.safetensors",
    ]
    header = json.loads((run / "config.json").read_text())
    assert header["format"] == "fmstudio-checkpoint" and header["step"] == 12


@pytest.mark.parametrize(
    ("path", "refresh"), [("ot", 1), ("vp", 1), ("otcfm", 1), ("otcfm", 4), ("sbcfm", 1)]
)
def test_resume_continues_exactly_as_if_never_stopped(tmp_path, path, refresh):
    config = {**SMALL, "path": path, "ot_refresh": refresh}
    straight = Trainer(TrainConfig(**config))
    straight.train()
    first = Trainer(TrainConfig(**config))
    first.run(13)
    io.save_checkpoint(tmp_path, first)
    resumed = io.load_trainer(tmp_path)
    assert resumed.step_count == 13
    resumed.train()
    assert resumed.losses == straight.losses
    for a, b in zip(resumed.ema.model.parameters(), straight.ema.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_resume_may_extend_the_run(trained, tmp_path):
    _, run = trained
    resumed = io.load_trainer(run, steps=40)
    resumed.train()
    assert resumed.step_count == 40 and len(resumed.losses) == 40


def test_hostile_pickle_is_refused_and_never_run(trained, tmp_path):
    _, run = trained
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (run / "model.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(io.CheckpointError, match=r"model\.safetensors"):
        io.load_flow(run)
    assert not marker.exists()
    torch.save({"w": torch.zeros(3)}, run / "model.safetensors")
    with pytest.raises(io.CheckpointError, match="not a valid safetensors"):
        io.load_flow(run)


def test_safetensors_header_cannot_claim_absurd_sizes(trained):
    _, run = trained
    (run / "model.safetensors").write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(io.CheckpointError, match=r"model\.safetensors"):
        io.load_flow(run)


def test_truncated_weights_are_refused(trained):
    _, run = trained
    data = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(io.CheckpointError, match="not a valid safetensors"):
        io.load_flow(run)


def test_weights_that_do_not_fit_the_config_are_refused(trained):
    _, run = trained
    header = json.loads((run / "config.json").read_text())
    header["model"]["hidden"] = 64
    (run / "config.json").write_text(json.dumps(header))
    with pytest.raises(io.CheckpointError, match=r"expected \(64, "):
        io.load_flow(run)


def test_nan_weights_are_refused(trained):
    _, run = trained
    state = io.read_tensors(run / "model.safetensors")
    next(iter(state.values())).fill_(float("nan"))
    generation = json.loads((run / "config.json").read_text())["generation"]
    io.write_tensors(run / "model.safetensors", state, generation)
    with pytest.raises(io.CheckpointError, match="NaN"):
        io.load_flow(run)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\xff not json", "not a readable JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"format": "something-else"}', "not an fmstudio checkpoint"),
        (b'{"format": "fmstudio-checkpoint", "version": 99}', "unsupported checkpoint version"),
    ],
)
def test_bad_config_json_is_refused(trained, content, reason):
    _, run = trained
    (run / "config.json").write_bytes(content)
    with pytest.raises(io.CheckpointError, match=reason) as info:
        io.load_flow(run)
    assert "config.json" in str(info.value)


def test_unknown_model_kind_and_config_keys_are_refused(trained):
    _, run = trained
    header = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**header, "model": {"kind": "os.system"}}))
    with pytest.raises(io.CheckpointError, match="unknown model kind"):
        io.load_flow(run)
    header["config"]["__class__"] = "x"
    (run / "config.json").write_text(json.dumps(header))
    with pytest.raises(io.CheckpointError, match="unknown config keys"):
        io.load_flow(run)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(io.CheckpointError, match="file not found"):
        io.load_flow(tmp_path / "nope")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def failing(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
    atomic_write(target, lambda handle: handle.write(b"new"))
    assert target.read_bytes() == b"new"


STROKE = np.stack([np.linspace(-1.0, 1.0, 50), np.full(50, 2.0)], axis=1).astype(np.float32)
"""A drawn line at y = 2: far from every preset, so a wrong target is obvious."""
FIXTURES = Path(__file__).parent / "fixtures"


def drawing_run(tmp_path: Path, **swap) -> tuple[Trainer, Path]:
    """A run trained on the stroke, then (maybe) given another target, saved to tmp_path/run."""
    trainer = Trainer(TrainConfig(**SMALL), dataset=PointSet(STROKE, jitter=0.05, name="drawing"))
    trainer.run(5)
    if swap:
        trainer.set_dataset(PresetDataset(**swap))
    io.save_checkpoint(tmp_path / "run", trainer)
    return trainer, tmp_path / "run"


def near_the_stroke(points: torch.Tensor) -> bool:
    return bool((points[:, 1] - 2.0).abs().max() < 0.5 and points[:, 0].abs().max() < 1.5)


def test_a_target_swapped_after_the_last_step_is_not_what_the_model_learned(tmp_path):
    _, run = drawing_run(tmp_path, name="moons")
    header = json.loads((run / "config.json").read_text())
    assert header["config"]["dataset"] == "data.npy" and header["config"]["jitter"] == 0.05
    assert np.array_equal(np.load(run / "data.npy"), STROKE)
    resumed = io.load_trainer(run)
    assert isinstance(resumed.dataset, PointSet) and np.array_equal(resumed.dataset.points, STROKE)
    assert near_the_stroke(resumed.pool) and near_the_stroke(held_out_target(run, 500, seed=1))


def test_steps_after_a_swap_make_the_new_target_the_recorded_one(tmp_path):
    trainer, _ = drawing_run(tmp_path, name="moons", scale=2.0)
    trainer.set_dataset(PresetDataset("rings"))  # two swaps, no step between: still the stroke
    io.save_checkpoint(tmp_path / "again", trainer)
    assert io.read_header(tmp_path / "again")["config"].dataset.endswith("data.npy")
    trainer.set_dataset(PresetDataset("moons", jitter=0.1, scale=2.0))
    trainer.run(1)
    io.save_checkpoint(tmp_path / "later", trainer)
    config = io.read_header(tmp_path / "later")["config"]
    assert (config.dataset, config.jitter, config.scale) == ("moons", 0.1, 2.0)


def test_a_live_jitter_change_without_steps_keeps_the_trained_jitter(tmp_path):
    trainer = Trainer(TrainConfig(**SMALL, jitter=0.0))
    trainer.run(3)
    trainer.update_settings(jitter=0.3)
    io.save_checkpoint(tmp_path, trainer)
    assert io.read_header(tmp_path)["config"].jitter == 0.0
    assert trainer.config.jitter == 0.3  # what the next steps will use


def test_a_drawing_run_directory_moved_elsewhere_still_evaluates(tmp_path, monkeypatch, capsys):
    _, run = drawing_run(tmp_path)
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(run, moved)
    monkeypatch.chdir(moved.parent)  # the data file is found beside the model, not in the cwd
    assert near_the_stroke(held_out_target(moved, 500, seed=1))
    argv = ["eval", str(moved), "--n", "200", "--nll-n", "20", "--solver", "euler", "--steps", "4"]
    assert cli_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["w2"] > 0


def test_an_image_density_is_saved_beside_the_model(tmp_path):
    ink = np.zeros((12, 20))
    ink[2:5, 3:9] = 1.0
    ink[8:11, 14:18] = 0.5
    density = ImageDensity(ink, name="ink")
    trainer = Trainer(TrainConfig(**SMALL), dataset=density)
    trainer.run(2)
    trainer.set_dataset(PresetDataset("moons"))
    io.save_checkpoint(tmp_path, trainer)
    loaded = io.load_trainer(tmp_path).dataset
    assert isinstance(loaded, ImageDensity) and loaded.extent == density.extent
    assert np.allclose(loaded.weights, density.weights, atol=2e-3)


def test_an_old_run_directory_without_a_data_file_still_loads(tmp_path):
    """tests/fixtures/run_v1_drawing was written by the format before data files: a drawing
    recorded as 'drawing' with its points only in the data pool."""
    run = tmp_path / "old"
    shutil.copytree(FIXTURES / "run_v1_drawing", run)
    resumed = io.load_trainer(run)
    assert resumed.step_count == 5 and resumed.config.dataset == "drawing"
    assert near_the_stroke(resumed.pool) and near_the_stroke(held_out_target(run, 100, seed=0))
    resumed.run(2)
    io.save_checkpoint(tmp_path / "new", resumed)  # re-saved: its pool becomes its data file
    assert near_the_stroke(held_out_target(tmp_path / "new", 100, seed=0))
