"""The Trainer: it learns, it is reproducible, it fails loudly and keeps the last good weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.paths import PATHS
from fmstudio.core.training import DivergenceError, Trainer, lr_factor, resolve_device

SMALL = {"hidden": 64, "depth": 2, "batch_size": 256, "warmup_steps": 10}


def _weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_training_moves_samples_onto_the_target():
    """A short run on 8 Gaussians cuts the exact W2 to fresh target points several-fold."""
    config = TrainConfig(dataset="8gaussians", steps=800, lr=3e-3, batch_size=256, warmup_steps=10)
    trainer = Trainer(config)
    target = trainer.target(1000, seed=99)
    before = wasserstein2(trainer.flow().sample(1000, seed=1, steps=20).x, target)
    trainer.train()
    after = wasserstein2(trainer.flow().sample(1000, seed=1, steps=20).x, target)
    assert trainer.losses[-50:] and sum(trainer.losses[-50:]) < sum(trainer.losses[:50])
    assert after < 0.25 * before
    assert after < 0.8  # two fresh 1000-point draws of the target are ~0.37 apart


def test_same_seed_same_run_on_cpu():
    config = {"dataset": "moons", "steps": 15, "seed": 7, **SMALL}
    a, b = Trainer(TrainConfig(**config)), Trainer(TrainConfig(**config))
    a.train()
    b.train()
    assert a.losses == b.losses
    for pa, pb in zip(_weights(a.ema.model), _weights(b.ema.model), strict=True):
        assert torch.equal(pa, pb)
    c = Trainer(TrainConfig(**{**config, "seed": 8}))
    c.train()
    assert c.losses != a.losses


@pytest.mark.parametrize(
    ("path", "coupling"),
    [(p, c) for p, c in itertools.product(sorted(PATHS), ["independent", "ot", "sinkhorn"])]
    + [("otcfm", None), ("sbcfm", None)],
)
def test_every_path_and_coupling_trains(path, coupling):
    config = TrainConfig(path=path, coupling=coupling, steps=3, hidden=16, depth=1, batch_size=64)
    trainer = Trainer(config)
    trainer.train()
    assert len(trainer.losses) == 3
    assert all(torch.isfinite(torch.tensor(trainer.losses)))


def test_divergence_stops_with_the_last_good_weights():
    trainer = Trainer(TrainConfig(steps=100, **SMALL))
    trainer.run(5)
    model, ema = _weights(trainer.model), _weights(trainer.ema.model)
    trainer.pool[:] = float("nan")
    with pytest.raises(DivergenceError, match="diverged at step 6") as info:
        trainer.step()
    assert info.value.step == 6
    assert trainer.step_count == 5 and len(trainer.losses) == 5
    for before, after in zip(
        model + ema, _weights(trainer.model) + _weights(trainer.ema.model), strict=True
    ):
        assert torch.equal(before, after)


def test_run_stops_at_the_configured_steps():
    trainer = Trainer(TrainConfig(steps=12, **SMALL))
    assert len(trainer.run(5)) == 5
    assert len(trainer.run(100)) == 7
    assert trainer.done and trainer.run(10) == []


def test_ema_averages_and_sampling_uses_it():
    trainer = Trainer(TrainConfig(steps=30, ema_decay=0.99, **SMALL))
    trainer.train()
    assert trainer.flow().model is trainer.ema.model
    assert any(
        not torch.equal(a, b)
        for a, b in zip(_weights(trainer.model), _weights(trainer.ema.model), strict=True)
    )
    still = Trainer(TrainConfig(steps=5, ema_decay=0.0, **SMALL))
    still.train()
    for a, b in zip(_weights(still.model), _weights(still.ema.model), strict=True):
        assert torch.equal(a, b)


def test_lr_schedule_warms_up_and_decays():
    config = TrainConfig(steps=1000, warmup_steps=100, schedule="cosine")
    assert lr_factor(config, 0) == pytest.approx(0.01)
    assert lr_factor(config, 99) == pytest.approx(1.0)
    assert lr_factor(config, 550) == pytest.approx(0.5)
    assert lr_factor(config, 1000) == pytest.approx(0.0)
    config.schedule = "constant"
    assert lr_factor(config, 900) == 1.0


def test_ve_sigma_max_comes_from_the_data_and_is_recorded():
    trainer = Trainer(TrainConfig(path="ve", steps=1, **SMALL))
    assert 8.0 < trainer.config.sigma_max < 12.0  # checkerboard's diameter is 8√2
    assert trainer.path.sigma_max == trainer.config.sigma_max


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"path": "diffusion"}, "unknown path"),
        ({"path": "otcfm", "coupling": "sinkhorn"}, "implies coupling"),
        ({"coupling": "greedy"}, "unknown coupling"),
        ({"lr": 0}, "lr"),
        ({"batch_size": 1}, "batch_size"),
        ({"sigma_min": 1.0}, "sigma_min"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"device": "tpu"}, "device"),
        ({"path": "sb", "sigma": 0.0}, r"sigma must be in \(0"),
    ],
)
def test_impossible_settings_are_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes).validate()


def test_config_json_round_trip_refuses_unknown_or_mistyped_keys():
    config = TrainConfig(path="vp", hidden=32)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown config keys"):
        TrainConfig.from_dict({**config.to_dict(), "exec": "rm -rf /"})
    with pytest.raises(ConfigError, match="config key 'hidden'"):
        TrainConfig.from_dict({**config.to_dict(), "hidden": "64"})


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_ot_refresh_reuses_each_coupled_minibatch_for_k_steps():
    trainer = Trainer(TrainConfig(path="otcfm", ot_refresh=3, steps=10, **SMALL))
    seen = []
    for _ in range(6):
        trainer.step()
        seen.append(trainer.coupled)
    assert seen[0] is seen[1] is seen[2] and seen[3] is seen[4] is seen[5]
    assert not torch.equal(seen[0][1], seen[3][1])


def test_live_settings_apply_between_steps_and_others_are_refused():
    trainer = Trainer(TrainConfig(steps=50, batch_size=32, hidden=16, depth=1, device="cpu"))
    trainer.run(3)
    trainer.update_settings(lr=5e-4, batch_size=64, ema_decay=0.9, steps=10)
    assert trainer.config.lr == 5e-4 and trainer.ema.decay == 0.9
    trainer.run(100)
    assert trainer.step_count == 10  # the new step budget holds
    with pytest.raises(ConfigError, match="cannot change during a run"):
        trainer.update_settings(hidden=32)
    with pytest.raises(ConfigError, match=r"lr must be in \(0, "):
        trainer.update_settings(lr=-1.0)
    assert trainer.config.lr == 5e-4  # a refused change leaves the run as it was


def test_set_dataset_swaps_the_target_and_keeps_the_model():
    from fmstudio.core.data import PointSet

    trainer = Trainer(TrainConfig(steps=50, batch_size=32, hidden=16, depth=1, device="cpu"))
    trainer.run(2)
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.set_dataset(PointSet(np.array([[5.0, 5.0], [5.0, 5.0]]), name="drawing"))
    assert torch.allclose(trainer.pool, torch.tensor([5.0, 5.0]))
    assert trainer.config.dataset == "drawing"
    assert all(torch.equal(a, b) for a, b in zip(weights, trainer.model.parameters(), strict=True))
    trainer.run(2)
    assert trainer.step_count == 4
