"""Which flows reflow accepts: every path whose prior is N(0, I) to the stated tolerance, and a
refusal that names the path and its prior otherwise."""

from __future__ import annotations

import pytest
import torch

from fmstudio.core.flow import FlowModel
from fmstudio.core.models.mlp import MLP
from fmstudio.core.paths import make_path
from fmstudio.core.reflow import PRIOR_STD_TOLERANCE, reflow_pairs
from fmstudio.core.solver_spec import SolverSpec


def flow(path: str, **params: float) -> FlowModel:
    torch.manual_seed(0)
    return FlowModel(MLP(hidden=16, depth=1), make_path(path, **params))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("ot", {}),
        ("ot", {"sigma_min": 0.05}),
        ("vp", {}),  # std √(1 − α²) ≈ 0.99998 at t = 0
        ("cosine", {}),
        ("icfm", {}),
        ("sb", {"sigma": 1.0}),  # sbcfm's default; std ≈ 0.9995 at its t_min = 1e-3
    ],
)
def test_reflow_accepts_every_path_whose_prior_is_standard_normal(path, params):
    f = flow(path, **params)
    assert abs(f.path.prior_std() - 1.0) <= PRIOR_STD_TOLERANCE
    x0, x1 = reflow_pairs(f, 20, seed=1, solver=SolverSpec.fixed("rk4", 4))
    assert x0.shape == x1.shape == (20, 2) and torch.isfinite(x1).all()
    assert torch.equal(x0, f.prior(20, (2,), torch.Generator().manual_seed(1)))


@pytest.mark.parametrize(
    ("path", "params", "said"),
    [
        ("ve", {"sigma_max": 9.2}, ["'ve'", "sigma_max=9.2", "std 9.2"]),
        ("icfm", {"sigma": 0.1}, ["'icfm'", "sigma=0.1", "std 1.005"]),
        ("sb", {"sigma": 3.0}, ["'sb'", "sigma=3", "std 1.003"]),
        ("vp", {"beta_min": 0.1, "beta_max": 2.0}, ["'vp'", "beta_max=2", "std 0.806"]),
    ],
)
def test_reflow_refuses_another_prior_and_names_the_path(path, params, said):
    with pytest.raises(ValueError, match=r"N\(0, I\)") as refused:
        reflow_pairs(flow(path, **params), 20, seed=1, solver=SolverSpec.fixed("rk4", 4))
    message = str(refused.value)
    assert all(text in message for text in said), message
