"""Reflow (rectified flow; Liu, Gong & Liu, ICLR 2023): straighten a trained flow.

A trained flow defines a deterministic coupling: noise x0 and the sample x1 it flows to. Training
a new flow on exactly those pairs with the straight-line path (x_t = t·x1 + (1 − t)·x0, target
x1 − x0: `icfm` with σ = 0, the paper's OT path with σ_min = 0) gives trajectories that cross
less, so they are straighter and need fewer solver steps — down to one or two Euler steps.

The new flow starts from N(0, I), so the parent's noise must be N(0, I) too: any path whose prior
std is 1 to `PRIOR_STD_TOLERANCE` qualifies (ot, vp, cosine, icfm with σ = 0, sb with moderate σ);
VE (std σ_max) and icfm with σ > 0 (std √(1 + σ²)) do not.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from fmstudio.core.flow import FlowModel
from fmstudio.core.paths import ProbabilityPath
from fmstudio.core.solver_spec import SolverSpec
from fmstudio.core.training import Trainer

PRIOR_STD_TOLERANCE = 1e-3
"""How far from 1 a parent's prior std may be, |std − 1| ≤ this. Paths with a safe time range
start a little off t = 0: vp's std is √(1 − α²) ≈ 0.99998 at t = 0 (α = e^(−5.025) with the
default β), sb's √((1 − ε)² + σ² ε (1 − ε)) ≈ 0.9995 at t = ε = 1e-3 with σ = 1. Feeding the
child noise of std 1 ± 1e-3 moves each point by at most 0.1 % of its norm, far below the error
of any trained flow; a wider prior (VE's σ_max, icfm's √(1 + σ²)) is a different distribution."""


def check_standard_prior(path: ProbabilityPath) -> None:
    """ValueError naming the path, its parameters and its prior std unless p_0 is N(0, I)."""
    std = path.prior_std()
    if abs(std - 1.0) > PRIOR_STD_TOLERANCE:
        params = ", ".join(f"{k}={v:g}" for k, v in path.config().items() if k != "name")
        raise ValueError(
            f"reflow needs a flow whose prior is N(0, I) (std within {PRIOR_STD_TOLERANCE:g} of "
            f"1); this flow's path '{path.name}' ({params or 'no parameters'}) starts from "
            f"noise of std {std:.4g}"
        )


PAIR_SOLVER = SolverSpec.fixed("rk4", 50)
"""Where the flow carries each noise point: accurate enough that the pairs are the flow's own."""


@torch.no_grad()
def reflow_pairs(
    flow: FlowModel, n: int, seed: int, solver: SolverSpec = PAIR_SOLVER
) -> tuple[Tensor, Tensor]:
    """n (x0, x1) pairs: the flow's own prior noise (what its sampler starts from, so x1 are
    its samples) and where the flow carries it (eq. 1 solved accurately)."""
    check_standard_prior(flow.path)
    gen = torch.Generator(device=flow.device).manual_seed(seed)
    x0 = flow.prior(n, flow.data_shape, gen)
    x1 = flow.sample(n, x0=x0, solver=solver).x
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
