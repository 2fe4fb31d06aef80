"""Exact log-likelihoods of a flow by the instantaneous change of variables.

A flow dx/dt = v_t(x) pushes p_0 to p_t, and along a trajectory (Lipman et al. 2023, appendix C;
Chen et al. 2018)

    d/dt log p_t(x_t) = −div v_t(x_t),   so   log p_1(x_1) = log p_0(x_0) − ∫_0^1 div v_t(x_t) dt.

`log_likelihood` integrates x_t and the divergence integral together, backward from the data
point x_1 to its noise x_0. The divergence is computed exactly by autograd in low dimension and
estimated by Hutchinson's trace estimator for images.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from fmstudio.core.solvers import Field, SolverSpec, as_spec, solve

LIKELIHOOD_SOLVER = SolverSpec("dopri5")
"""The default: adaptive, so its error control covers the log-density Δ as well as x."""

EXACT_MAX_DIM = 4
"""estimator="auto" computes the divergence exactly up to this many dimensions (one backward
pass per dimension), and by Hutchinson's estimator (one pass) above it."""

ESTIMATORS = ("auto", "exact", "hutchinson")


@dataclass
class LikelihoodResult:
    """log p_1(x_1) per row, the noise x_0 the data maps to, and the model evaluations spent."""

    logp: Tensor
    x0: Tensor
    nfe: int


def divergence_exact(v_out: Tensor, x: Tensor) -> Tensor:
    """div v = Σ_i ∂v_i/∂x_i for each row, one backward pass per dimension of x.

    `v_out` must have been computed from `x` (which requires grad) row by row. Exact but costs
    d passes, so it is meant for low-dimensional data.
    """
    flat_out = v_out.flatten(1)
    div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(flat_out.shape[1]):
        (grad_i,) = torch.autograd.grad(flat_out[:, i].sum(), x, retain_graph=True)
        div = div + grad_i.flatten(1)[:, i]
    return div


def divergence_hutchinson(v_out: Tensor, x: Tensor, eps: Tensor) -> Tensor:
    """Hutchinson's estimate εᵀ (∂v/∂x) ε of div v per row, from one vector-Jacobian product.

    Unbiased whenever E[εεᵀ] = I; Rademacher entries give the lowest variance among probes with
    i.i.d. entries (Hutchinson 1990).
    """
    (eps_jac,) = torch.autograd.grad(v_out, x, grad_outputs=eps, retain_graph=True)
    return (eps_jac * eps).flatten(1).sum(dim=1)


def standard_normal_logp(x: Tensor, std: float = 1.0) -> Tensor:
    """log N(x; 0, std² I) per row, summed over all non-batch dimensions."""
    d = x[0].numel()
    sq = x.flatten(1).pow(2).sum(dim=1) / std**2
    return -0.5 * sq - 0.5 * d * math.log(2 * math.pi * std**2)


def bits_per_dim(logp: Tensor, dims: int, scale: float) -> Tensor:
    """Bits per dimension of 8-bit images from the model's continuous log-density `logp`.

    Pixels k ∈ {0..255} are dequantized and mapped to model space as
    x = lo + (k + u)·scale with u ~ U[0, 1)^d and scale = (hi − lo)/256, the width of one
    quantization bin in model space. The density of y = k + u in pixel units is
    p_model(x)·scale^d, so by Jensen (uniform dequantization bound)

        log P(k) ≥ E_u[log p_model(x)] + d·log(scale),

    and bits/dim = −log₂ P(k) / d ≤ −(logp + d·log(scale)) / (d·ln 2).
    Example: images in [−1, 1] have scale = 2/256; a model uniform on [−1, 1]^d (logp = −d·ln 2)
    then scores exactly 8 bits/dim.
    """
    return -(logp + dims * math.log(scale)) / (dims * math.log(2))


def log_likelihood(
    v: Field,
    x1: Tensor,
    *,
    prior_logp: Callable[[Tensor], Tensor],
    solver: SolverSpec | None = None,
    estimator: str = "auto",
    generator: torch.Generator | None = None,
    t0: float = 0.0,
    t1: float = 1.0,
    **settings: Any,
) -> LikelihoodResult:
    """log p_1(x_1) of data x_1 under the flow of v with prior p_0 (`prior_logp`).

    Derivation of the sign: integrate the augmented ODE

        dx/dt = v_t(x),   dΔ/dt = div v_t(x_t),   x(1) = x_1,  Δ(1) = 0,

    backward from t = 1 to t = 0. Then Δ(0) = Δ(1) − ∫_0^1 div v_t(x_t) dt = −∫_0^1 div v_t dt,
    and the instantaneous change of variables log p_1(x_1) = log p_0(x_0) − ∫_0^1 div v_t dt
    gives log p_1(x_1) = prior_logp(x(0)) + Δ(0).

    `estimator`: "exact" (d autograd passes per evaluation), "hutchinson" (one pass, unbiased),
    or "auto", exact up to `EXACT_MAX_DIM` dimensions. Any `solver` works (or its `settings`,
    method=..., as for `solve`); the default is an adaptive one, whose error control also covers
    Δ.
    With the Hutchinson estimator one probe ε per row is drawn from `generator` and kept for the
    whole solve, so Δ is the integral of a single smooth function of t, which adaptive solvers
    need. A path that is only defined on [t0, t1] ⊂ [0, 1] (VP stops at 1 − ε) integrates
    from t1 back to t0, where its prior lives.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    batch, dims = x1.shape[0], x1.shape[1:]
    d = x1[0].numel()
    exact = estimator == "exact" or (estimator == "auto" and d <= EXACT_MAX_DIM)
    if exact:
        divergence = divergence_exact
    else:
        device = x1.device if generator is None else generator.device
        draws = torch.randint(0, 2, x1.shape, generator=generator, device=device)
        divergence = functools.partial(divergence_hutchinson, eps=(2 * draws - 1).to(x1))

    def augmented(z: Tensor, t: Tensor) -> Tensor:
        # The solve itself needs no graph; only the divergence at this point does.
        with torch.enable_grad():
            x = z[:, :d].reshape(batch, *dims).detach().requires_grad_(True)
            out = v(x, t)
            div = divergence(out, x)
        return torch.cat([out.detach().flatten(1), div.detach()[:, None]], dim=1)

    z1 = torch.cat([x1.flatten(1), x1.new_zeros(batch, 1)], dim=1)
    spec = as_spec(solver, settings) if solver or settings else LIKELIHOOD_SOLVER
    res = solve(augmented, z1, spec, t0=t1, t1=t0)
    x0 = res.x[:, :d].reshape_as(x1)
    return LikelihoodResult(logp=prior_logp(x0) + res.x[:, d], x0=x0, nfe=res.nfe)
