"""The Trainer: conditional flow matching (the paper's eq. 9) one step at a time or to the end.

The app drives `run(k)` in chunks from its training process; the CLI calls `train()`; notebooks use
either. What makes it at least as fast as the textbook loop of the same model:
- data comes from a pool drawn once on the device (a gather per step, no per-step numpy),
- Adam runs as one fused kernel (`fused=True`) and EMA as one foreach lerp,
- the divergence check reads one scalar per step, which the CPU has anyway.

Under torchrun (`distributed.DistContext`) each rank trains its own shard of the data on its
own device and DistributedDataParallel averages the gradients, so the weights stay identical.
"""

from __future__ import annotations

import array
import copy
import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from fmstudio.core import distributed
from fmstudio.core.config import LIVE_SETTINGS, ConfigError, TrainConfig
from fmstudio.core.couplings import Coupling, make_coupling
from fmstudio.core.data import Dataset2D
from fmstudio.core.data.images import ImageDataset
from fmstudio.core.flow import FlowModel
from fmstudio.core.models import build_model
from fmstudio.core.paths import ProbabilityPath, default_sigma_max, make_path

POOL_SIZE = 1 << 18
"""Data points drawn up front per run: enough that a batch of 4096 rarely repeats a point."""


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """What a run's steps draw from: the dataset, the pool drawn from it and any fixed noise
    partners (reflow). A checkpoint names the dataset of `Trainer.trained_on`."""

    dataset: Dataset2D | ImageDataset
    pool: Tensor
    noise: Tensor | None


class DivergenceError(RuntimeError):
    """The loss or its gradient stopped being finite; the weights are the last good step's."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(
            f"training diverged at step {step} (loss = {loss}); the model keeps the weights of "
            f"step {step - 1}. Try a lower learning rate or gradient clipping."
        )
        self.step = step
        self.loss = loss


def available_devices() -> tuple[str, ...]:
    """ "auto" and "cpu", plus the accelerators torch can use on this machine: what the
    settings forms offer (the training process tells the window, which has no torch)."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return tuple(devices)


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit device that is not there is a ConfigError (a
    setting the user can change, not a failure of the run)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' was asked for but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but MPS is not available")
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


def draw_pool(dataset, images: ImageDataset | None, seed: int) -> Tensor:
    """The training data: `POOL_SIZE` draws of a 2-D dataset, or exactly the training images."""
    if images is not None:  # a finite set: train on its images, not on draws with repeats
        return torch.from_numpy(images.images)
    drawn = dataset.sample(POOL_SIZE, np.random.default_rng(seed))
    return torch.from_numpy(np.ascontiguousarray(drawn, dtype=np.float32))


def split_images(
    dataset, held_out: int, seed: int
) -> tuple[ImageDataset | None, ImageDataset | None]:
    """(train, held-out) images, at most a tenth held out; (None, None) for 2-D points."""
    if not isinstance(dataset, ImageDataset):
        return None, None
    held = min(held_out, len(dataset) // 10)
    if held < 1:  # too few images to hold any out: score on the training images
        return dataset, dataset
    return dataset.split(held, seed=seed)


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
        dataset: Dataset2D | ImageDataset | None = None,
        pool: Tensor | None = None,
        noise: Tensor | None = None,
        dist: distributed.DistContext | None = None,
    ) -> None:
        """`pool` (the data points a resumed run trained on) skips drawing a new one.

        `noise`, one row per pool row, fixes the coupling: pool[i] is always paired with
        noise[i] (reflow trains on a flow's own (x0, x1) pairs; see `reflow.py`).

        Images train on the dataset's own images minus a held-out split (`config.held_out`,
        at most a tenth), which `target` returns for bits/dim and sample quality.

        `dist` (a torchrun run) trains data-parallel on `dist.device`: rank r takes every
        world_size-th training image from the r-th on, or draws its own 2-D pool (seed
        `seed + 1009 r`), and its own batches (generator seed `seed + r`). Each rank's batch is
        `batch_size`, so a step averages world_size × batch_size points. Rank 0's 2-D pool and
        its draws are a single process's; a given `pool` (with `noise`) is used whole.
        """
        self.config = config.validate()
        self.dist = dist
        self.rank = 0 if dist is None else dist.rank
        self.device = resolve_device(config.device) if dist is None else dist.device
        self.dataset = dataset or config.make_dataset()
        self.images, self.held_out = split_images(self.dataset, config.held_out, config.seed)
        if pool is None:
            pool = self._draw_pool(self.dataset, self.images, config.seed)
        self.pool = pool.to(self.device)
        if noise is not None and noise.shape != self.pool.shape:
            raise ValueError(f"noise {tuple(noise.shape)} must match the pool {tuple(pool.shape)}")
        self.noise = None if noise is None else noise.to(self.device)
        if config.path_name == "ve" and config.sigma_max is None:
            config.sigma_max = round(default_sigma_max(self.pool[:2000].cpu()), 4)
            if dist is not None:  # every rank's pool differs: all take rank 0's path
                config.sigma_max = distributed.broadcast_from_main(config.sigma_max)
        self.path: ProbabilityPath = make_path(config.path_name, **config.path_params())
        sigma = getattr(self.path, "sigma", 1.0) or 1.0
        self.coupling: Coupling = make_coupling(config.coupling_name, sinkhorn_reg=2 * sigma**2)
        torch.manual_seed(config.seed)
        self.model = build_model(self.model_config()).to(self.device)
        self.channels_last = self.device.type == "cuda" and self.pool.dim() == 4
        if self.channels_last:  # NHWC convolutions: tensor cores without layout transposes
            self.model = self.model.to(memory_format=torch.channels_last)
        self.amp = config.amp and self.device.type == "cuda"
        """bf16 autocast for the forward pass on GPUs; the loss and the weights stay fp32."""
        self.ema = EMA(self.model, config.ema_decay)
        self.net: nn.Module = self.model if dist is None else self._data_parallel(dist)
        """What `step` runs forward: the model, or its DDP wrapper that averages gradients.
        Everything else (EMA, optimizer, checkpoints) uses the plain `model`."""
        self._optimizer: torch.optim.Optimizer | None = None
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed + self.rank)
        self.step_count = 0
        self.coupled: tuple[Tensor, Tensor] | None = None
        self.losses = array.array("d")
        """One loss a step, as doubles: 8 bytes a step where a list took 36 (the only memory a
        long run grew by in the soak benchmark)."""
        self.elapsed = 0.0
        """Seconds spent in `run`, summed over resumes (for steps/s and metrics.jsonl)."""
        self._before_swap: TrainingData | None = None
        """The data of the steps before the last `set_dataset`, while no step has used the new."""
        self._swapped_at = 0

    def _data_parallel(self, dist: distributed.DistContext) -> DistributedDataParallel:
        """The model under DDP, which also copies rank 0's initial weights to every rank."""
        device_ids = [dist.local_rank] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def _draw_pool(self, dataset, images: ImageDataset | None, seed: int) -> Tensor:
        """This rank's training data: its shard of the images or its own draw of 2-D points."""
        if self.dist is None:
            return draw_pool(dataset, images, seed)
        if images is None:
            return draw_pool(dataset, None, seed + 1009 * self.rank)
        shard = draw_pool(dataset, images, seed)[self.rank :: self.dist.world_size]
        if len(shard) == 0:
            raise ValueError(
                f"{len(images.images)} training images cannot be shared by "
                f"{self.dist.world_size} processes"
            )
        return shard.contiguous()

    @property
    def data_shape(self) -> tuple[int, ...]:
        """One data point's shape: (2,) for points, (C, H, W) for images."""
        return tuple(int(v) for v in self.pool.shape[1:])

    @property
    def trained_on(self) -> TrainingData:
        """The data the model's last steps drew from, which a checkpoint records.

        That is the current data unless the target was swapped after the last step (a paused or
        finished run given another target in the app): a swap with no step after it does not
        change what the model learned. A run trained on several targets in turn records the
        last one it took steps on; a run without any step, its current target.
        """
        if self._before_swap is not None and self.step_count == self._swapped_at:
            return self._before_swap
        return TrainingData(self.dataset, self.pool, self.noise)

    def set_dataset(self, dataset: Dataset2D) -> None:
        """Train on a new target from the next step on (the app's live drawing).

        The model, optimizer and EMA carry on: the flow morphs toward the new target instead of
        starting over. The pool is redrawn with a seed tied to the step, so runs stay
        reproducible. `config` names the new target at once (what the next steps use), while
        `trained_on` keeps the data of the steps so far until a step is taken.
        """
        images, held_out = split_images(dataset, self.config.held_out, self.config.seed)
        pool = self._draw_pool(dataset, images, self.config.seed + self.step_count + 1)
        if tuple(pool.shape[1:]) != self.data_shape:
            raise ValueError(
                f"the new target's points have shape {tuple(pool.shape[1:])}, the model's "
                f"{self.data_shape}: start a new run for it"
            )
        self._before_swap = self.trained_on if self.step_count else None
        self._swapped_at = self.step_count
        self.dataset, self.images, self.held_out = dataset, images, held_out
        self.pool = pool.to(self.device)
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
        if self._optimizer is not None:  # a new one takes the config's values when built
            for group in self._optimizer.param_groups:
                group["weight_decay"] = self.config.weight_decay
                group["betas"] = (group["betas"][0], self.config.adam_beta2)
        if "batch_size" in changes:
            self.coupled = None
        if "jitter" in changes and hasattr(self.dataset, "jitter"):
            dataset = copy.copy(self.dataset)  # the old one stays what the steps so far drew
            dataset.jitter = self.config.jitter
            self.set_dataset(dataset)  # the pool holds jittered draws: draw it again

    def model_config(self) -> dict:
        return self.config.model_config(self.data_shape)

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
            betas=(0.9, self.config.adam_beta2),
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
        """One CFM update. Raises DivergenceError (weights untouched) on a non-finite loss.

        Data-parallel, the loss recorded and checked is the mean over ranks: a NaN on any rank
        makes it NaN on all, and the clipped gradient norm is computed from the averaged
        gradients, which every rank holds identically. So all ranks take the same decision at
        the same step, and none is left waiting in a collective for a rank that stopped.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * lr_factor(self.config, self.step_count)
        t, xt, ut = self.batch()
        self.model.train()
        if self.channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            prediction = self.net(xt, t)
        loss = (prediction.float() - ut).square().mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        reported = loss.detach()
        if self.dist is not None:  # one scalar, after DDP's gradient all-reduce
            reported = distributed.mean_over_ranks(reported)
        if self.config.grad_clip > 0:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            value, norm_value = torch.stack([reported, norm]).tolist()
        else:
            value = norm_value = reported.item()
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
        return self.losses[first:].tolist()

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
        return FlowModel(self.ema.model, self.path, self.data_shape)

    def target(self, n: int, seed: int) -> Tensor:
        """Fresh points from the dataset (held out from the training pool by the seed), or
        the first n held-out images (the same batch each time, so scores compare)."""
        if self.held_out is not None:
            images = self.held_out.images
            if n > len(images):
                images = self.held_out.sample(n, np.random.default_rng(seed))
            return torch.from_numpy(np.ascontiguousarray(images[:n]))
        points = self.dataset.sample(n, np.random.default_rng(seed))
        return torch.from_numpy(np.asarray(points, dtype=np.float32))
