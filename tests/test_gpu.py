"""The code paths that only a GPU takes: bf16 autocast and channels-last image training, CUDA
sampling and likelihoods, the CLI and the app's engine on `--device cuda`.

They skip without CUDA; `benchmarks/gpu_check.sh` runs them on a GPU machine. With
FMSTUDIO_GPU_CHECK_DEVICE=cpu they run the same steps on the CPU (the script's self-check).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from fmstudio.cli import main
from fmstudio.core import io
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset
from fmstudio.core.evaluate import image_bits_per_dim
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.training import Trainer, resolve_device

DEVICE = os.environ.get("FMSTUDIO_GPU_CHECK_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(
    DEVICE.startswith("cuda") and not torch.cuda.is_available(),
    reason="needs CUDA (benchmarks/gpu_check.sh runs these on a GPU)",
)
POINTS = dict(dataset="moons", hidden=64, depth=2, batch_size=256, warmup_steps=10)
IMAGES = dict(dataset="digits", unet="tiny", batch_size=64, held_out=64)


def test_the_app_offers_cuda_and_auto_picks_it():
    pytest.importorskip("PySide6")
    from fmstudio.core.training import available_devices

    cuda = torch.cuda.is_available()
    assert ("cuda" in available_devices()) == cuda
    assert (resolve_device("auto").type == "cuda") == cuda


def test_image_training_uses_bf16_autocast_and_channels_last_on_cuda():
    trainer = Trainer(TrainConfig(**IMAGES, steps=20, device=DEVICE))
    cuda = trainer.device.type == "cuda"
    assert trainer.amp == cuda and trainer.channels_last == cuda
    convs = [m.weight for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d)]
    layout = torch.channels_last if cuda else torch.contiguous_format
    assert convs and all(w.is_contiguous(memory_format=layout) for w in convs)
    losses = trainer.run(20)
    assert np.isfinite(losses).all()
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # bf16 only inside
    flow = trainer.flow()
    samples = flow.sample(8, method="euler", steps=4).x
    assert samples.device.type == trainer.device.type and torch.isfinite(samples).all()
    held = trainer.target(16, seed=0).to(trainer.device)
    assert np.isfinite(image_bits_per_dim(flow, held, levels=17, method="rk4", steps=4))


def test_points_sample_and_score_on_the_device_as_on_the_cpu(tmp_path):
    trainer = Trainer(TrainConfig(**POINTS, steps=50, device=DEVICE))
    trainer.run(50)
    io.save_checkpoint(tmp_path, trainer)
    flows = {device: io.load_flow(tmp_path, device=device) for device in ("cpu", DEVICE)}
    x0 = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    samples = {
        device: flow.sample(256, x0=x0.to(flow.device), method="rk4", steps=8).x.cpu()
        for device, flow in flows.items()
    }
    torch.testing.assert_close(samples[DEVICE], samples["cpu"], atol=1e-4, rtol=1e-4)
    target = trainer.target(64, seed=1)
    logp = {
        device: flow.log_likelihood(target.to(flow.device), method="rk4", steps=16).logp.cpu()
        for device, flow in flows.items()
    }
    torch.testing.assert_close(logp[DEVICE], logp["cpu"], atol=1e-3, rtol=1e-3)


def test_cli_trains_samples_and_evaluates_on_the_device(tmp_path, capsys):
    run = str(tmp_path / "run")
    tiny = ["--hidden", "64", "--depth", "2", "--batch-size", "256"]
    assert main(["train", "--dataset", "moons", "--steps", "100", *tiny, "--device", DEVICE,
                 "--out", run, "-q"]) == 0  # fmt: skip
    assert f"device {DEVICE}" in capsys.readouterr().out
    out = tmp_path / "x.npy"
    assert main(["sample", run, "--n", "500", "--solver", "dopri5", "--device", DEVICE,
                 "--out", str(out), "-q"]) == 0  # fmt: skip
    assert np.isfinite(np.load(out)).all()
    capsys.readouterr()
    assert main(["eval", run, "--n", "500", "--nll-n", "100", "--device", DEVICE, "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(np.isfinite(report[key]) for key in ("w2", "nll", "straightness"))


@pytest.mark.parametrize("kind", ["points", "images"])
def test_the_app_engine_trains_and_samples_on_the_device(kind):
    from fmstudio.live.engine import Engine
    from fmstudio.live.protocol import Failed, Measured, RunStarted, Sampled

    events: list = []
    engine = Engine(events.append)
    if kind == "points":
        engine.new_run(TrainConfig(**POINTS, steps=100, device=DEVICE), PresetDataset("moons"))
    else:
        engine.new_run(TrainConfig(**IMAGES, steps=10, device=DEVICE))
    engine.start()
    for _ in range(1000):
        if not engine.busy:
            break
        engine.tick()
    engine.sample(SampleRequest(64, 0, SolverSpec.fixed("euler", 8)))
    if kind == "points":
        engine.measure(300)
    kinds = {type(event) for event in events}
    assert Failed not in kinds, [e.message for e in events if isinstance(e, Failed)]
    (info,) = [e.info for e in events if isinstance(e, RunStarted)]
    assert info.device.startswith(DEVICE) and engine.state == "finished"
    assert Sampled in kinds and (Measured in kinds) == (kind == "points")
