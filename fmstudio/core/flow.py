"""A trained flow: the network, its path, and what you do with it (sample, score, measure).

`FlowModel` is what a checkpoint loads into and what the Trainer hands out (with EMA weights),
so the CLI, the app and notebooks sample and evaluate through one object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from fmstudio.core.likelihood import LikelihoodResult, log_likelihood, standard_normal_logp
from fmstudio.core.paths import ProbabilityPath
from fmstudio.core.solvers import SolveResult, SolverSpec, as_spec, solve


@dataclass
class FlowModel:
    """v_θ with its probability path: enough to sample and to score points."""

    model: nn.Module
    path: ProbabilityPath
    data_shape: tuple[int, ...] = (2,)
    """One sample's shape: (2,) for points, (C, H, W) for images."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prior(self, n: int, shape: Sequence[int], generator: torch.Generator | None = None):
        """n draws from the path's p_0 = N(0, prior_std² I) (σ_max² for VE, 1 otherwise)."""
        z = torch.randn((n, *shape), generator=generator, device=self.device)
        return z * self.path.prior_std()

    def sample(
        self,
        n: int,
        shape: Sequence[int] | None = None,
        *,
        solver: SolverSpec | None = None,
        seed: int | None = None,
        x0: Tensor | None = None,
        t_eval: Sequence[float] | Tensor | None = None,
        **settings: Any,
    ) -> SolveResult:
        """Integrate noise → data over the path's range [t_min, t_max] (eq. 1) with `solver`
        (default rk4 with `DEFAULT_NFE` evaluations), or one made of `settings` (method=,
        steps=, nfe=, atol=, rtol=)."""
        spec = as_spec(solver, settings)
        if x0 is None:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(seed if seed is not None else torch.seed() % 2**63)
            x0 = self.prior(n, self.data_shape if shape is None else shape, gen)
        self.model.eval()
        return solve(
            self.model,
            x0.to(self.device),
            spec,
            t0=self.path.t_min,
            t1=self.path.t_max,
            t_eval=t_eval,
        )

    def log_likelihood(
        self,
        x1: Tensor,
        *,
        solver: SolverSpec | None = None,
        seed: int = 0,
        **settings: Any,
    ) -> LikelihoodResult:
        """log p_1(x1) by the instantaneous change of variables (appendix C of the paper)."""
        std = self.path.prior_std()
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        self.model.eval()
        return log_likelihood(
            self.model,
            x1.to(self.device),
            prior_logp=lambda z: standard_normal_logp(z, std),
            solver=solver,
            generator=gen,
            **settings,
            t0=self.path.t_min,
            t1=self.path.t_max,
        )


def nll_nats(result: LikelihoodResult) -> float:
    """Mean negative log-likelihood in nats (finite values only would hide a bug: use all)."""
    value = float(-result.logp.mean())
    if not math.isfinite(value):
        raise FloatingPointError("log-likelihood is not finite")
    return value
