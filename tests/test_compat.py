"""Files written by fmstudio 0.1.0 keep working: its run directories and sessions load, resume
and sample exactly as 0.1.0 did, for the same seed and solver.

tests/fixtures/v0_1_0 holds what 0.1.0 wrote (three `fmstudio train` runs, a session on a
drawing with its model beside it) and what 0.1.0 computed from them (expected/); its make.py
says how they were made, and why they are never made again. A failure here means a change
broke files users already have: fix the change, not the fixtures.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fmstudio.cli import main
from fmstudio.core import io
from fmstudio.core.data import PointSet
from fmstudio.core.session import DataSource, load_session

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1_0"
EXPECTED = json.loads((FIXTURES / "expected" / "expected.json").read_text())
RUNS = tuple(EXPECTED["runs"])
SESSION = "session.fmstudio.json"
SESSION_MODEL = EXPECTED["session"]["model"]
MODELS = (*RUNS, SESSION_MODEL)
SOLVERS = ("rk4", "dopri5")
TIGHT = {"rtol": 1e-6, "atol": 1e-6}
"""As exact as float32 on another CPU allows: a changed kernel, seed or solver is far off."""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A copy of the fixtures: loading may recover a run and resuming writes one, and the
    originals must stay as 0.1.0 wrote them."""
    copy = tmp_path / "v0_1_0"
    shutil.copytree(FIXTURES, copy, ignore=shutil.ignore_patterns("make.py", "__pycache__"))
    return copy


def expected(name: str, what: str) -> torch.Tensor:
    """What 0.1.0 computed: `what` is a solver's samples or 'resume_losses'."""
    path = FIXTURES / "expected" / f"{name}.{what}.npy"
    return torch.from_numpy(np.load(path, allow_pickle=False))


def model_dir(files: Path, name: str) -> Path:
    """A run's folder; the session's model as the session file names it."""
    if name == SESSION_MODEL:
        return load_session(files / SESSION).model_dir
    return files / name


def saved_steps(name: str) -> int:
    return EXPECTED["models"][name]["step"]


@pytest.mark.parametrize("run", RUNS)
def test_a_run_loads_with_the_settings_it_was_given(files, run):
    """The flags given to `fmstudio train`, every other saved setting and the path's
    parameters read back unchanged; the trainer resumes at the saved step."""
    raw = json.loads((files / run / "config.json").read_text())
    config = io.read_header(files / run)["config"]
    given = EXPECTED["runs"][run]["config"]
    assert {key: getattr(config, key) for key in given} == given
    assert {k: v for k, v in config.to_dict().items() if k in raw["config"]} == raw["config"]
    assert io.load_flow(files / run).path.config() == raw["path"]
    trainer = io.load_trainer(files / run)
    assert trainer.config == config
    assert trainer.step_count == trainer.ema.updates == len(trainer.losses) == saved_steps(run)


@pytest.mark.parametrize("name", MODELS)
def test_a_model_samples_as_0_1_0_did(files, name):
    """Same seed and solver, same samples and the same number of model calls."""
    flow = io.load_flow(model_dir(files, name))
    for solver in SOLVERS:
        result = flow.sample(**EXPECTED["sample"], **EXPECTED[solver])
        torch.testing.assert_close(result.x, expected(name, solver), **TIGHT)
        assert result.nfe == EXPECTED["models"][name][f"{solver}_nfe"], solver


@pytest.mark.parametrize("name", MODELS)
def test_a_model_resumes_as_0_1_0_did(files, name):
    """Resumed for 5 steps, a run takes 0.1.0's steps: the same RNG stream (batches, times,
    couplings, the cached coupled batch), Adam state, EMA and learning-rate schedule."""
    more = EXPECTED["resume_steps"]
    total = saved_steps(name) + more
    trainer = io.load_trainer(model_dir(files, name), steps=total)
    losses = torch.tensor(trainer.run(more), dtype=torch.float64)
    torch.testing.assert_close(losses, expected(name, "resume_losses"), **TIGHT)
    assert trainer.step_count == trainer.ema.updates == len(trainer.losses) == total


@pytest.mark.parametrize("run", RUNS)
def test_the_cli_samples_and_resumes_a_run(files, tmp_path, run, capsys):
    """`fmstudio sample` gives 0.1.0's samples; `fmstudio train --resume` continues the run
    in place with 0.1.0's losses and appends to its metrics log."""
    out = tmp_path / "s.npy"
    sample = ["sample", str(files / run), "--n", "64", "--seed", "3", "--solver", "rk4"]
    assert main([*sample, "--steps", "8", "--out", str(out), "-q"]) == 0
    torch.testing.assert_close(torch.from_numpy(np.load(out)), expected(run, "rk4"), **TIGHT)
    total = saved_steps(run) + EXPECTED["resume_steps"]
    log = files / run / "metrics.jsonl"
    before = log.read_text().splitlines()
    assert main(["train", "--resume", str(files / run), "--steps", str(total), "-q"]) == 0
    assert f"resuming {files / run} at step {saved_steps(run)}" in capsys.readouterr().out
    resumed = io.load_trainer(files / run)
    assert resumed.step_count == total
    losses = torch.tensor(resumed.losses[-EXPECTED["resume_steps"] :], dtype=torch.float64)
    torch.testing.assert_close(losses, expected(run, "resume_losses"), **TIGHT)
    after = log.read_text().splitlines()
    assert after[: len(before)] == before and json.loads(after[-1])["step"] == total


def test_the_session_loads_as_saved(files):
    """Settings, the drawn points, the view and the model beside it; the model trains on the
    drawing saved with it, found in the session's (moved) folder."""
    session = load_session(files / SESSION)
    given = EXPECTED["session"]
    assert {key: getattr(session.config, key) for key in given["config"]} == given["config"]
    assert session.source == DataSource("drawing", "drawing")
    points = np.load(FIXTURES / "expected" / "session.points.npy", allow_pickle=False)
    np.testing.assert_array_equal(session.points, points)
    assert session.view == given["view"]
    assert session.model_dir == (files / SESSION_MODEL).resolve()
    trainer = io.load_trainer(session.model_dir)
    assert isinstance(trainer.dataset, PointSet)
    assert Path(trainer.config.dataset) == session.model_dir / "data.npy"
    np.testing.assert_array_equal(trainer.dataset.points, points)
