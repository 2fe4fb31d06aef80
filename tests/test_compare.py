"""Comparing paths and couplings by what matters (straightness, W2 per NFE), and reflow."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from fmstudio.cli import main
from fmstudio.core.compare_paths import solver_ladder, train_interleaved, w2_vs_nfe
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.config_text import parse_configs
from fmstudio.core.io import load_flow, load_trainer, save_checkpoint
from fmstudio.core.metrics_flow import straightness
from fmstudio.core.reflow import reflow_pairs, reflow_trainer
from fmstudio.core.training import Trainer

BASE = TrainConfig(
    dataset="8gaussians",
    hidden=64,
    depth=2,
    batch_size=128,
    steps=500,
    lr=5e-3,
    ema_decay=0.99,
    warmup_steps=20,
    device="cpu",
)


@pytest.fixture(scope="module")
def trained() -> dict[str, Trainer]:
    trainers = {name: Trainer(config) for name, config in parse_configs("ot,otcfm,vp", BASE)}
    train_interleaved(trainers)
    return trainers


def measured(trainer: Trainer) -> float:
    flow = trainer.flow()
    x0 = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))
    return straightness(flow.model, x0, steps=40, span=(flow.path.t_min, flow.path.t_max))


def test_configs_share_everything_but_their_path_and_overrides():
    configs = dict(parse_configs("ot:sigma_min=0.05,vp, otcfm", BASE))
    assert list(configs) == ["ot:sigma_min=0.05", "vp", "otcfm"]
    assert configs["ot:sigma_min=0.05"].sigma_min == 0.05
    assert configs["otcfm"].coupling_name == "ot"
    assert {c.hidden for c in configs.values()} == {64} and {c.seed for c in configs.values()} == {
        0
    }
    with pytest.raises(ConfigError, match="differ"):
        parse_configs("ot,ot", BASE)
    with pytest.raises(ConfigError, match="unknown"):
        parse_configs("nope", BASE)
    with pytest.raises(ConfigError, match="key=value"):
        parse_configs("ot:sigma_min", BASE)


def test_interleaved_training_takes_every_config_to_its_steps(trained):
    assert {t.step_count for t in trained.values()} == {BASE.steps}


def test_ot_paths_are_straighter_than_vp(trained):
    s = {name: measured(t) for name, t in trained.items()}
    assert s["ot"] < s["vp"] and s["otcfm"] < s["vp"], s
    assert s["otcfm"] < s["ot"], s  # minibatch OT straightens the marginal paths further


def test_reflow_straightens_the_flow(trained):
    parent = trained["ot"]
    child = reflow_trainer(parent, pairs=4000, steps=300)
    child.run(300)
    before, after = measured(parent), measured(child)
    assert after < 0.5 * before, (before, after)
    assert child.config.path_name == "icfm" and child.config.sigma == 0.0


def test_reflow_pairs_are_the_flows_own_samples(trained):
    flow = trained["ot"].flow()
    x0, x1 = reflow_pairs(flow, 50, seed=3)
    assert torch.allclose(x1, flow.sample(50, x0=x0, method="rk4", steps=50).x, atol=1e-5)


def test_w2_falls_with_nfe_on_the_ladder(trained):
    flow = trained["ot"].flow()
    target = trained["ot"].target(500, seed=9)
    x0 = flow.prior(500, (2,), torch.Generator().manual_seed(1))
    rows = w2_vs_nfe(flow, target, x0)
    assert len(rows) == len(solver_ladder())
    euler = [r for r in rows if r["solver"] == "euler"]
    assert [r["nfe"] for r in euler] == [1, 2, 4, 8, 16, 32]
    assert euler[-1]["w2"] < euler[0]["w2"]
    assert all(r["nfe"] > 0 for r in rows if r["solver"] == "dopri5")


def test_a_reflow_checkpoint_keeps_its_pairs(trained, tmp_path):
    child = reflow_trainer(trained["ot"], pairs=1000, steps=20)
    child.run(10)
    save_checkpoint(tmp_path / "r", child)
    back = load_trainer(tmp_path / "r")
    assert torch.equal(back.noise, child.noise) and torch.equal(back.pool, child.pool)
    back.run(10)
    child.run(10)
    assert all(
        torch.equal(a, b)
        for a, b in zip(back.model.parameters(), child.model.parameters(), strict=True)
    )


def test_compare_command_writes_models_tables_and_figure(tmp_path):
    out = tmp_path / "cmp"
    code = main(
        ["compare", "--dataset", "moons", "--paths", "ot,vp", "--steps", "40", "--hidden", "32",
         "--depth", "1", "--batch-size", "64", "--n", "200", "--device", "cpu", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    with open(out / "w2_vs_nfe.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["config"] for r in rows} == {"ot", "vp"} and len(rows) == 2 * len(solver_ladder())
    table = json.loads((out / "table.json").read_text())
    assert [r["config"] for r in table] == ["ot", "vp"]
    assert all(np.isfinite(r["straightness"]) and r["nfe_dopri5"] > 0 for r in table)
    assert load_flow(out / "vp").sample(5, steps=2).x.shape == (5, 2)
    from PIL import Image

    with Image.open(out / "compare.png") as figure:
        assert figure.width > 1000


def test_reflow_command(tmp_path):
    assert main(["train", "--dataset", "moons", "--steps", "30", "--hidden", "32", "--depth",
                 "1", "--device", "cpu", "--out", str(tmp_path / "run")]) == 0  # fmt: skip
    code = main(["reflow", str(tmp_path / "run"), "--pairs", "500", "--steps", "20", "--out",
                 str(tmp_path / "re")])  # fmt: skip
    assert code == 0
    assert load_trainer(tmp_path / "re").step_count == 20
