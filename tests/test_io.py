"""Checkpoints: exact round trips, exact resume, and hostile or broken files refused safely."""

from __future__ import annotations

import json
import os
import pickle
import struct

import pytest
import torch

from fmstudio.core import io
from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import TrainConfig
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
    with pytest.raises(io.CheckpointError, match=r"expected torch.float32 \(64"):
        io.load_flow(run)


def test_nan_weights_are_refused(trained):
    _, run = trained
    state = io.read_tensors(run / "model.safetensors")
    next(iter(state.values())).fill_(float("nan"))
    io.write_tensors(run / "model.safetensors", state)
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
