"""Couplings: how noise x0 and data x1 are paired in a minibatch before a path is applied.

A coupling is independent of the path, so every path composes with every coupling. The field's
method names are combinations (see `paths.PRESETS`): OT-CFM = icfm path + exact minibatch OT,
SB-CFM = Schrödinger-bridge path + entropic OT with regularization 2σ² (Tong et al. 2023).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def squared_distances(x0: Tensor, x1: Tensor) -> Tensor:
    """Pairwise squared Euclidean cost between two batches of any shape (flattened per row)."""
    a = x0.reshape(len(x0), -1)
    b = x1.reshape(len(x1), -1)
    return torch.cdist(a, b).square()


class Coupling:
    """Reorders (or resamples) x1 against x0; `pair` returns batches of the same shapes."""

    name: str = ""

    def pair(
        self, x0: Tensor, x1: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class IndependentCoupling(Coupling):
    """q(x0) q(x1): the pairing the sampler already made (the paper's setting)."""

    name = "independent"

    def pair(self, x0, x1, generator=None):
        return x0, x1


class ExactOTCoupling(Coupling):
    """Exact optimal-transport pairing of each minibatch (squared Euclidean cost).

    For two batches of equal size with uniform weights the optimal plan is a permutation (an
    assignment problem); the network simplex in POT returns such a vertex, so x1 is permuted,
    never resampled. The plan is solved on the CPU in float64 whatever the device.
    """

    name = "ot"

    def pair(self, x0, x1, generator=None):
        if len(x0) != len(x1):
            raise ValueError(f"exact OT pairs equal batches, got {len(x0)} and {len(x1)}")
        import ot  # POT: imported when first needed, its import costs ~1.5 s (it loads sklearn)

        cost = squared_distances(x0.detach(), x1.detach()).double().cpu().numpy()
        n = len(x0)
        weights = np.full(n, 1.0 / n)
        plan = ot.emd(weights, weights, cost, numItermax=max(100_000, 50 * n * n))
        perm = torch.from_numpy(plan.argmax(axis=1)).to(x1.device)
        return x0, x1[perm]


class SinkhornCoupling(Coupling):
    """Entropic OT (Sinkhorn, log domain) with regularization `reg`; pairs drawn from the plan.

    For SB-CFM reg = 2σ², the bridge's own noise level, so the coupling is the static
    Schrödinger bridge between the batch marginals. Each x0 keeps its row and gets an x1 drawn
    from the plan's conditional row, which samples the joint plan with x0 stratified.
    """

    name = "sinkhorn"

    def __init__(self, reg: float = 2.0, max_iters: int = 200, tol: float = 1e-4) -> None:
        if reg <= 0:
            raise ValueError(f"Sinkhorn regularization must be > 0, got {reg}")
        self.reg = reg
        self.max_iters = max_iters
        self.tol = tol

    def plan(self, x0: Tensor, x1: Tensor) -> Tensor:
        """The entropic plan with uniform marginals, computed stably in log space."""
        log_k = -squared_distances(x0.detach(), x1.detach()).double() / self.reg
        n, m = log_k.shape
        log_a = torch.full((n,), -math.log(n), dtype=log_k.dtype, device=log_k.device)
        log_b = torch.full((m,), -math.log(m), dtype=log_k.dtype, device=log_k.device)
        f = torch.zeros_like(log_a)
        g = torch.zeros_like(log_b)
        for it in range(self.max_iters):
            f = log_a - torch.logsumexp(log_k + g[None, :], dim=1)
            g = log_b - torch.logsumexp(log_k + f[:, None], dim=0)
            if it % 10 == 9:
                row = torch.logsumexp(log_k + f[:, None] + g[None, :], dim=1).exp()
                if float((row * n - 1.0).abs().max()) < self.tol:
                    break
        return (log_k + f[:, None] + g[None, :]).exp()

    def pair(self, x0, x1, generator=None):
        p = self.plan(x0, x1)
        idx = torch.multinomial(p.float(), 1, generator=generator).squeeze(1)
        return x0, x1[idx]


COUPLINGS = ("independent", "ot", "sinkhorn")


def make_coupling(name: str, *, sinkhorn_reg: float = 2.0) -> Coupling:
    """Build a coupling by name; `sinkhorn_reg` is 2σ² of the path when it has a σ."""
    if name == "independent":
        return IndependentCoupling()
    if name == "ot":
        return ExactOTCoupling()
    if name == "sinkhorn":
        return SinkhornCoupling(reg=sinkhorn_reg)
    raise ValueError(f"unknown coupling '{name}'; choose one of {list(COUPLINGS)}")
