"""The exact marginal vector field of an empirical target (the paper's eq. 8), in closed form.

For a finite target {x1_i} with uniform weights and the Gaussian conditional path
p_t(x | x1) = N(a_t x1, s_t² I) (eq. 10; independent coupling), eq. 8 is a softmax-weighted
average of the conditional fields of eq. 15, u_t(x | x1) = ṡ_t/s_t · (x − a_t x1) + ȧ_t x1, with
weights w_i(x) ∝ N(x; a_t x1_i, s_t² I). Because the field is affine in x1 it collapses to the
posterior mean m(x) = Σ_i w_i(x) x1_i:

    u_t(x) = ṡ_t/s_t · (x − a_t m(x)) + ȧ_t m(x).

This is what a network trained with the CFM loss converges to on that target (Theorem 2), so the
app draws it beside the learned field and the tests use it as an oracle.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fmstudio.core.paths import T_EPS, ProbabilityPath


def posterior_mean(path: ProbabilityPath, target: Tensor, x: Tensor, t: Tensor) -> Tensor:
    """E[x1 | x_t = x] under the empirical target, weights computed in log space (logsumexp).

    x has shape (M, d) and t shape (M,); target has shape (N, d).
    """
    a, s, _, _ = path.marginal_given_x1(t)
    mean = a[:, None, None] * target[None]  # (M, N, d)
    logits = -(x[:, None, :] - mean).square().sum(-1) / (2 * s[:, None] ** 2)
    return torch.softmax(logits, dim=1) @ target


def marginal_velocity(
    path: ProbabilityPath, target: Tensor, x: Tensor, t: float | Tensor, chunk: int = 4096
) -> Tensor:
    """u_t(x) of eq. 8 at points x (M, d) for the empirical target (N, d).

    t is a float or a (M,) tensor. Times are clipped to [t_min, min(t_max, 1 − T_EPS)]: at t = 1
    with σ_min = 0 the path has s_t = 0 and the field is unbounded off the data points.
    """
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(len(x))
    t = t.clamp(path.t_min, min(path.t_max, 1.0 - T_EPS))
    out = []
    for lo in range(0, len(x), chunk):
        xs, ts = x[lo : lo + chunk], t[lo : lo + chunk]
        a, s, da, ds = (v[:, None] for v in path.marginal_given_x1(ts))
        m = posterior_mean(path, target, xs, ts)
        out.append(ds / s * (xs - a * m) + da * m)
    return torch.cat(out)
