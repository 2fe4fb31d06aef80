"""The Trainer: conditional flow matching (the paper's eq. 9) one step at a time or to the end.

The app drives `run(k)` in chunks from its training process; the CLI calls `train()`; notebooks use
either. What makes it at least as fast as the textbook loop of the same model:
- data comes from a pool drawn once on the device (a gather per step, no per-step numpy),
- Adam runs as one fused kernel (`fused=True`) and EMA as one foreach lerp,
- the divergence check reads one scalar per step, which the CPU has anyway.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.couplings import Coupling, make_coupling
from fmstudio.core.data import Dataset2D
from fmstudio.core.flow import FlowModel
from fmstudio.core.models import build_model
from fmstudio.core.paths import ProbabilityPath, default_sigma_max, make_path

POOL_SIZE = 1 << 18
"""Data points drawn up front per run: enough that a batch of 4096 rarely repeats a point."""

LIVE_SETTINGS = (
    "lr",
    "schedule",
    "warmup_steps",
    "batch_size",
    "steps",
    "ema_decay",
    "grad_clip",
    "weight_decay",
    "ot_refresh",
    "jitter",
)
"""Settings a running Trainer can take between steps; the others shape the model or the path."""


class DivergenceError(RuntimeError):
    """The loss or its gradient stopped being finite; the weights are the last good step's."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(
            f"training diverged at step {step} (loss = {loss}); the model keeps the weights of "
            f"step {step - 1}. Try a lower learning rate or gradient clipping."
        )
        self.step = step
        self.loss = loss


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit device that is not there is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{name}' was asked for but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device 'mps' was asked for but MPS is not available")
    return device


class EMA:
    """Exponential moving average of the weights, used for sampling.

    The decay is min(decay, 1 − 1/(n + 1)) at update n: the plain mean of all weights so far
    until the run is longer than the EMA window, so a short run is not dominated by its random
    initialisation, and exactly `decay` after that.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, 1.0 - 1.0 / (self.updates + 1))
        ema = list(self.model.parameters())
        torch._foreach_lerp_(ema, list(model.parameters()), 1.0 - decay)


def lr_factor(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then constant, cosine or linear decay to 0 at `config.steps`."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.schedule == "linear":
        return 1.0 - progress
    return 1.0


class Trainer:
    """Owns the model, optimizer, EMA and data pool of one run; `step()` is one CFM update."""

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset2D | None = None,
        pool: Tensor | None = None,
        noise: Tensor | None = None,
    ) -> None:
        """`pool` (the data points a resumed run trained on) skips drawing a new one.

        `noise`, one row per pool row, fixes the coupling: pool[i] is always paired with
        noise[i] (reflow trains on a flow's own (x0, x1) pairs; see `reflow.py`).
        """
        self.config = config.validate()
        self.device = resolve_device(config.device)
        self.dataset = dataset or config.make_dataset()
        self.pool = (pool if pool is not None else self._draw_pool(config.seed)).to(self.device)
        if noise is not None and noise.shape != self.pool.shape:
            raise ValueError(f"noise {tuple(noise.shape)} must match the pool {tuple(pool.shape)}")
        self.noise = None if noise is None else noise.to(self.device)
        if config.path_name == "ve" and config.sigma_max is None:
            config.sigma_max = round(default_sigma_max(self.pool[:2000].cpu()), 4)
        self.path: ProbabilityPath = make_path(config.path_name, **config.path_params())
        sigma = getattr(self.path, "sigma", 1.0) or 1.0
        self.coupling: Coupling = make_coupling(config.coupling_name, sinkhorn_reg=2 * sigma**2)
        torch.manual_seed(config.seed)
        self.model = build_model(self.model_config()).to(self.device)
        self.ema = EMA(self.model, config.ema_decay)
        self._optimizer: torch.optim.Optimizer | None = None
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed)
        self.step_count = 0
        self.coupled: tuple[Tensor, Tensor] | None = None
        self.losses: list[float] = []
        self.elapsed = 0.0
        """Seconds spent in `run`, summed over resumes (for steps/s and metrics.jsonl)."""

    def _draw_pool(self, seed: int) -> Tensor:
        rng = np.random.default_rng(seed)
        drawn = np.ascontiguousarray(self.dataset.sample(POOL_SIZE, rng), dtype=np.float32)
        return torch.from_numpy(drawn)

    def set_dataset(self, dataset: Dataset2D) -> None:
        """Train on a new target from the next step on (the app's live drawing).

        The model, optimizer and EMA carry on: the flow morphs toward the new target instead of
        starting over. The pool is redrawn with a seed tied to the step, so runs stay
        reproducible.
        """
        self.dataset = dataset
        self.pool = self._draw_pool(self.config.seed + self.step_count + 1).to(self.device)
        self.noise = None  # a new target has no fixed partners
        self.config.dataset = dataset.name
        self.config.jitter = float(getattr(dataset, "jitter", 0.0))
        self.config.scale = float(getattr(dataset, "scale", 1.0))
        self.coupled = None

    def update_settings(self, **changes: object) -> None:
        """Change `LIVE_SETTINGS` between steps; anything else, or an invalid value, raises."""
        fixed = sorted(set(changes) - set(LIVE_SETTINGS))
        if fixed:
            raise ConfigError(f"{fixed} cannot change during a run; start a new run instead")
        candidate = dataclasses.replace(self.config, **changes).validate()
        for key in changes:
            setattr(self.config, key, getattr(candidate, key))
        self.ema.decay = self.config.ema_decay
        if self._optimizer is not None:  # a new one takes the config's value when built
            for group in self._optimizer.param_groups:
                group["weight_decay"] = self.config.weight_decay
        if "batch_size" in changes:
            self.coupled = None
        if "jitter" in changes and hasattr(self.dataset, "jitter"):
            self.dataset.jitter = self.config.jitter
            self.set_dataset(self.dataset)  # the pool holds jittered draws: draw it again

    def model_config(self) -> dict:
        return self.config.model_config(dim=int(self.pool.shape[1]))

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Built on first use: torch's first optimizer in a process costs seconds (it imports
        torch._dynamo), and the app shows an untrained model before it trains."""
        if self._optimizer is None:
            self._optimizer = self._make_optimizer()
        return self._optimizer

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        return cls(
            self.model.parameters(),
            lr=self.config.lr,
            weight_decay=self.config.weight_decay,
            fused=self.device.type in ("cpu", "cuda"),
        )

    def batch(self) -> tuple[Tensor, Tensor, Tensor]:
        """(t, x_t, u_t) for one step: pool draw, prior noise, coupling, path (eqs. 9, 13)."""
        n = self.config.batch_size
        g = self.generator
        x0, x1 = self.pairs()
        eps = (
            torch.randn(x1.shape, generator=g, device=self.device)
            if self.path.uses_extra_noise
            else None
        )
        t = self.path.sample_t(n, generator=g, device=self.device)
        xt, ut = self.path.sample(x0, x1, t, eps)
        return t, xt, ut

    def pairs(self) -> tuple[Tensor, Tensor]:
        """Coupled (x0, x1) for this step: a pool draw and prior noise, paired by the coupling.

        An OT or Sinkhorn pairing costs far more than a step of a small model, so with
        `ot_refresh = k` a coupled minibatch is reused for k consecutive steps (with fresh t and
        bridge noise each time). k = 1, the default, couples every minibatch afresh.
        """
        n, g = self.config.batch_size, self.generator
        if self.noise is not None:  # a fixed coupling: draw pairs, never re-pair them
            index = torch.randint(len(self.pool), (n,), generator=g, device=self.device)
            return self.noise[index], self.pool[index]
        refresh = 1 if self.coupling.name == "independent" else self.config.ot_refresh
        if self.coupled is None or self.step_count % refresh == 0:
            x1 = self.pool[torch.randint(len(self.pool), (n,), generator=g, device=self.device)]
            x0 = torch.randn(x1.shape, generator=g, device=self.device)
            self.coupled = self.coupling.pair(x0, x1, g)
        return self.coupled

    def step(self) -> float:
        """One CFM update. Raises DivergenceError (weights untouched) on a non-finite loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * lr_factor(self.config, self.step_count)
        t, xt, ut = self.batch()
        self.model.train()
        loss = (self.model(xt, t) - ut).square().mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            value, norm_value = torch.stack([loss.detach(), norm]).tolist()
        else:
            value = norm_value = loss.item()
        if not (math.isfinite(value) and math.isfinite(norm_value)):
            self.optimizer.zero_grad(set_to_none=True)
            raise DivergenceError(self.step_count + 1, value)
        self.optimizer.step()
        self.ema.update(self.model)
        self.step_count += 1
        self.losses.append(value)
        return value

    def run(self, n: int) -> list[float]:
        """Up to n steps (never past `config.steps`); returns their losses."""
        start = time.perf_counter()
        first = len(self.losses)
        try:
            for _ in range(min(n, self.remaining)):
                self.step()
        finally:
            self.elapsed += time.perf_counter() - start
        return self.losses[first:]

    @property
    def remaining(self) -> int:
        return max(0, self.config.steps - self.step_count)

    @property
    def done(self) -> bool:
        return self.remaining == 0

    def train(self, callback: Callable[[Trainer], None] | None = None, chunk: int = 50) -> None:
        """Run to `config.steps`, calling `callback(self)` after every chunk of steps."""
        while not self.done:
            self.run(chunk)
            if callback is not None:
                callback(self)

    def flow(self) -> FlowModel:
        """The EMA model with its path, ready to sample or score."""
        return FlowModel(self.ema.model, self.path)

    def target(self, n: int, seed: int) -> Tensor:
        """Fresh points from the dataset (held out from the training pool by the seed)."""
        points = self.dataset.sample(n, np.random.default_rng(seed))
        return torch.from_numpy(np.asarray(points, dtype=np.float32))
