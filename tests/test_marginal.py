"""The exact marginal field (eq. 8): it transports noise onto the target, and Theorem 2 holds."""

from __future__ import annotations

import itertools

import pytest
import torch

from fmstudio.core.marginal import marginal_velocity
from fmstudio.core.models import MLP
from fmstudio.core.paths import T_EPS, make_path

TARGET = torch.tensor([[3.0, 0.0], [-2.0, 2.0], [0.0, -3.0], [1.0, 1.5]], dtype=torch.float64)


def test_single_point_target_gives_the_conditional_field():
    path = make_path("ot", sigma_min=0.1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    t = torch.rand(100, generator=g, dtype=torch.float64) * 0.99
    x1 = TARGET[:1]
    u = marginal_velocity(path, x1, x, t)
    eq21 = (x1 - 0.9 * x) / (1 - 0.9 * t[:, None])
    torch.testing.assert_close(u, eq21)


@pytest.mark.parametrize(
    ("name", "params"), [("ot", {"sigma_min": 0.01}), ("vp", {}), ("cosine", {})]
)
def test_marginal_field_pushes_noise_onto_the_target(name, params):
    """Integrating u_t(x) from p_0 lands every particle on a target point, in equal shares."""
    path = make_path(name, **params)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 2, generator=g, dtype=torch.float64) * path.prior_std()
    ts = torch.linspace(path.t_min, min(path.t_max, 1 - T_EPS), 201, dtype=torch.float64)
    for t0, t1 in itertools.pairwise(ts):  # rk4 on the exact field
        h = t1 - t0
        k1 = marginal_velocity(path, TARGET, x, t0)
        k2 = marginal_velocity(path, TARGET, x + h / 2 * k1, t0 + h / 2)
        k3 = marginal_velocity(path, TARGET, x + h / 2 * k2, t0 + h / 2)
        k4 = marginal_velocity(path, TARGET, x + h * k3, t1)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    dist = torch.cdist(x, TARGET)
    assert (dist.min(1).values < 0.1).float().mean() > 0.99
    shares = torch.bincount(dist.argmin(1), minlength=4).double() / len(x)
    torch.testing.assert_close(
        shares, torch.full((4,), 0.25, dtype=torch.float64), atol=0.03, rtol=0
    )


def _losses_and_grads(model, xt, t, targets):
    grads = []
    for u in targets:
        model.zero_grad()
        loss = (model(xt, t) - u).square().sum(1).mean()
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]).clone())
    return grads


def test_theorem_2_fm_and_cfm_gradients_agree():
    """∇θ L_FM = ∇θ L_CFM: regressing on the marginal field or on conditional targets."""
    torch.manual_seed(0)
    path = make_path("ot", sigma_min=0.05)
    model = MLP(hidden=16, depth=2).double()
    g = torch.Generator().manual_seed(2)
    m = 200_000
    x1 = TARGET[torch.randint(len(TARGET), (m,), generator=g)]
    x0 = torch.randn(m, 2, generator=g, dtype=torch.float64)
    t = torch.rand(m, generator=g, dtype=torch.float64) * (1 - T_EPS)
    xt, u_cond = path.sample(x0, x1, t)
    u_marg = marginal_velocity(path, TARGET, xt, t)
    u_other = marginal_velocity(make_path("vp"), TARGET, xt, t)  # a wrong target, as a control
    g_cfm, g_fm, g_other = _losses_and_grads(model, xt, t, [u_cond, u_marg, u_other])
    rel = (g_cfm - g_fm).norm() / g_fm.norm()
    rel_other = (g_cfm - g_other).norm() / g_fm.norm()
    assert rel < 0.03
    assert rel_other > 10 * rel
