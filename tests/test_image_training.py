"""Flow matching on images: the U-Net trainer on digits, checkpoints, and the CLI's image paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fmstudio.cli import main
from fmstudio.core import io
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.evaluate import image_bits_per_dim
from fmstudio.core.solver_spec import SolverSpec
from fmstudio.core.training import Trainer

SMALL = TrainConfig(
    dataset="digits", unet="tiny", batch_size=32, steps=6, lr=1e-3, held_out=64, device="cpu"
)


def test_unet_step_on_digits_trains_on_images_and_holds_some_out():
    trainer = Trainer(SMALL)
    assert trainer.data_shape == (1, 8, 8)
    assert len(trainer.pool) + len(trainer.held_out) == 1797 and len(trainer.held_out) == 64
    held = trainer.target(64, seed=0)
    pool = {tuple(row) for row in trainer.pool.flatten(1).numpy().round(4).tolist()}
    overlap = sum(tuple(row) in pool for row in held.flatten(1).numpy().round(4).tolist())
    assert overlap < 5  # digits has a few duplicates; the split itself is disjoint
    assert trainer.model_config()["kind"] == "unet"
    before = [p.detach().clone() for p in trainer.model.parameters()]
    losses = trainer.run(SMALL.steps)
    assert len(losses) == SMALL.steps and all(np.isfinite(losses))
    after = trainer.model.parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    samples = trainer.flow().sample(4, method="euler", steps=2).x
    assert samples.shape == (4, 1, 8, 8)


def test_unet_levels_fit_the_image_size():
    config = TrainConfig(unet="small")
    assert config.model_config((1, 28, 28))["channel_mults"] == [1, 2, 2]  # 28 → 14 → 7
    assert config.model_config((3, 6, 6))["channel_mults"] == [1, 2]
    assert TrainConfig(unet="base").model_config((3, 32, 32))["channel_mults"] == [1, 2, 2, 2]


def test_bad_image_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unet"):
        TrainConfig(dataset="digits", unet="huge").validate()
    with pytest.raises(ConfigError, match="channels"):
        TrainConfig(dataset="digits", channels=2).validate()


def test_bits_per_dim_of_an_untrained_model_is_finite_and_of_the_right_size():
    trainer = Trainer(SMALL)
    images = trainer.target(16, seed=0)
    bpd = image_bits_per_dim(trainer.flow(), images, levels=17, solver=SolverSpec.fixed("rk4", 4))
    # 17 levels carry at most log2(17) ≈ 4.09 bits of information per pixel; a random model
    # is worse than uniform but not absurdly so.
    assert 2.0 < bpd < 40.0


def test_image_checkpoint_keeps_no_pool_and_resumes(tmp_path):
    trainer = Trainer(SMALL)
    trainer.run(3)
    io.save_checkpoint(tmp_path, trainer)
    state = io.read_tensors(tmp_path / io.STATE_FILE)
    assert "data.pool" not in state
    header = json.loads((tmp_path / "config.json").read_text())
    assert header["data_shape"] == [1, 8, 8]
    resumed = io.load_trainer(tmp_path)
    assert resumed.step_count == 3 and torch.equal(resumed.pool, trainer.pool.cpu())
    trainer.run(3)
    resumed.run(3)
    for a, b in zip(trainer.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b)
    assert io.load_flow(tmp_path).data_shape == (1, 8, 8)


def test_cli_trains_digits_then_samples_pngs_and_reports_bits_per_dim(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--unet", "tiny", "--steps", "8", "--batch-size"]
    assert main([*args, "32", "--held-out", "64", "--device", "cpu", "--out", str(run)]) == 0
    out = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "6", "--solver", "euler", "--steps", "4",
                 "--out", str(out)]) == 0  # fmt: skip
    pngs = sorted(out.glob("sample_*.png"))
    assert len(pngs) == 6
    with Image.open(pngs[0]) as image:
        assert image.size == (64, 64)  # 8×8 enlarged to ~64 px
    with Image.open(out / "grid.png") as grid:
        assert grid.width > 64
    samples = np.load(out / "samples.npy")
    assert samples.shape == (6, 1, 8, 8) and np.isfinite(samples).all()
    capsys.readouterr()
    assert main(["eval", str(run), "--n", "4", "--nll-n", "8", "--solver", "rk4",
                 "--steps", "4"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["nfe"] == 16 and np.isfinite(report["bits_per_dim"])
    assert main(["sample", str(run), "--out", str(tmp_path / "x.npy")]) == 2  # a dir, not a file


def test_the_gpu_step_path_bf16_and_channels_last_runs_and_keeps_fp32_weights():
    """The Trainer turns these on for CUDA only; forcing them on the CPU runs the same code
    (torch autocasts to bf16 on CPUs too), so the path is covered without a GPU."""
    trainer = Trainer(SMALL)
    trainer.amp = trainer.channels_last = True
    trainer.model.to(memory_format=torch.channels_last)
    losses = trainer.run(3)
    assert all(np.isfinite(losses))
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert all(p.dtype == torch.float32 for p in trainer.ema.model.parameters())
