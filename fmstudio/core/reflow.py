"""Reflow (rectified flow; Liu, Gong & Liu, ICLR 2023): straighten a trained flow.

A trained flow defines a deterministic coupling: noise x0 and the sample x1 it flows to. Training
a new flow on exactly those pairs with the straight-line path (x_t = t·x1 + (1 − t)·x0, target
x1 − x0: `icfm` with σ = 0, the paper's OT path with σ_min = 0) gives trajectories that cross
less, so they are straighter and need fewer solver steps — down to one or two Euler steps.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from fmstudio.core.flow import FlowModel
from fmstudio.core.training import Trainer


@torch.no_grad()
def reflow_pairs(
    flow: FlowModel, n: int, seed: int, method: str = "rk4", steps: int = 50
) -> tuple[Tensor, Tensor]:
    """n (x0, x1) pairs: prior noise and where the flow carries it (eq. 1 solved accurately)."""
    if abs(flow.path.prior_std() - 1.0) > 1e-12:
        raise ValueError("reflow needs a flow whose prior is N(0, I); the VE path's prior is wider")
    gen = torch.Generator(device=flow.device).manual_seed(seed)
    x0 = flow.prior(n, flow.data_shape, gen)
    x1 = flow.sample(n, x0=x0, method=method, steps=steps).x
    if not torch.isfinite(x1).all():
        raise FloatingPointError("the flow's samples are not finite: nothing to reflow")
    return x0.cpu(), x1.cpu()


def reflow_trainer(parent: Trainer, pairs: int, steps: int, seed: int | None = None) -> Trainer:
    """A Trainer on the parent's own pairs, straight path, starting from the parent's EMA weights
    (so it refines a flow that already moves mass to the right places)."""
    config = dataclasses.replace(
        parent.config,
        path="icfm",
        sigma=0.0,
        coupling=None,
        steps=steps,
        seed=parent.config.seed if seed is None else seed,
    )
    x0, x1 = reflow_pairs(parent.flow(), pairs, seed=config.seed + 101)
    child = Trainer(config, dataset=parent.dataset, pool=x1, noise=x0)
    weights = parent.ema.model.state_dict()
    child.model.load_state_dict(weights)
    child.ema.model.load_state_dict(weights)
    return child
