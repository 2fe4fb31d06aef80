"""Probability paths against their definitions: autograd, closed forms, boundaries, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from fmstudio.core.paths import (
    PATHS,
    T_EPS,
    ProbabilityPath,
    default_sigma_max,
    make_path,
    resolve_preset,
)

CASES = [
    ("ot", {"sigma_min": 0.0}),
    ("ot", {"sigma_min": 0.1}),
    ("vp", {}),
    ("ve", {"sigma_max": 5.0}),
    ("cosine", {}),
    ("icfm", {"sigma": 0.0}),
    ("icfm", {"sigma": 0.2}),
    ("sb", {"sigma": 0.5}),
]
IDS = [f"{n}-{p}" for n, p in CASES]


def _draw(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)]


def _interior_times(path: ProbabilityPath, n: int) -> torch.Tensor:
    lo, hi = path.t_min + 0.01, path.t_max - 0.01
    return torch.linspace(lo, hi, n, dtype=torch.float64)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(64, 2), (6, 3, 4, 4)], ids=["points", "images"])
def test_target_is_time_derivative_of_flow(name, params, shape):
    """u_t equals d/dt ψ_t(x0) (eq. 13), checked with autograd for every element."""
    path = make_path(name, **params)
    x0, x1, eps = _draw(shape)
    t = _interior_times(path, shape[0]).requires_grad_(True)
    xt, ut = path.sample(x0, x1, t, eps)
    assert xt.shape == ut.shape == x1.shape
    # Row i depends on t_i only, so d(sum over rows)/dt_i is row i's time derivative.
    flat = xt.reshape(len(xt), -1)
    deriv = torch.stack(
        [
            torch.autograd.grad(flat[:, j].sum(), t, retain_graph=True)[0]
            for j in range(flat.shape[1])
        ],
        dim=1,
    )
    torch.testing.assert_close(deriv, ut.reshape(len(ut), -1).detach(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_no_inf_or_nan_over_the_whole_safe_range(name, params):
    path = make_path(name, **params)
    x0, x1, eps = _draw((2001, 2))
    t = torch.linspace(path.t_min, path.t_max, 2001, dtype=torch.float64)
    xt, ut = path.sample(x0, x1, t, eps)
    assert torch.isfinite(xt).all() and torch.isfinite(ut).all()
    drawn = path.sample_t(10_000, generator=torch.Generator().manual_seed(0))
    assert drawn.min() >= path.t_min and drawn.max() <= path.t_max


def test_singular_paths_declare_their_safe_range():
    assert make_path("vp").t_max == pytest.approx(1 - T_EPS)
    sb = make_path("sb")
    assert (sb.t_min, sb.t_max) == pytest.approx((T_EPS, 1 - T_EPS))
    assert (make_path("ot").t_min, make_path("ot").t_max) == (0.0, 1.0)


def test_ot_path_matches_eqs_20_to_23():
    sigma_min = 0.05
    path = make_path("ot", sigma_min=sigma_min)
    x0, x1, _ = _draw((50, 2))
    t = torch.rand(50, dtype=torch.float64)
    xt, ut = path.sample(x0, x1, t)
    tc = t[:, None]
    torch.testing.assert_close(xt, (1 - (1 - sigma_min) * tc) * x0 + tc * x1)  # eq. 22
    torch.testing.assert_close(ut, x1 - (1 - sigma_min) * x0)  # eq. 23
    eq21 = (x1 - (1 - sigma_min) * xt) / (1 - (1 - sigma_min) * tc)
    torch.testing.assert_close(ut, eq21)


@pytest.mark.parametrize(
    ("name", "params"), [c for c in CASES if c[0] in ("ot", "vp", "ve", "cosine")]
)
def test_paper_paths_match_theorem_3(name, params):
    """u_t(x|x1) = σ'_t/σ_t (x − μ_t) + μ'_t (eq. 15) for the paths that condition on x1 only."""
    path = make_path(name, **params)
    x0, x1, _ = _draw((40, 2))
    t = _interior_times(path, 40)
    xt, ut = path.sample(x0, x1, t)
    a, s, da, ds = (v[:, None] for v in path.marginal_given_x1(t))
    torch.testing.assert_close(ut, ds / s * (xt - a * x1) + da * x1)


def test_vp_matches_eq_19():
    """u_t(x|x1) = α'_{1−t} / (1 − α²_{1−t}) · (α_{1−t} x − x1), α' = dα/ds at s = 1 − t."""
    path = make_path("vp")
    x0, x1, _ = _draw((40, 2))
    t = _interior_times(path, 40)
    xt, ut = path.sample(x0, x1, t)
    s = (1 - t)[:, None]
    big_t = 0.1 * s + 0.5 * s**2 * (20 - 0.1)
    alpha = torch.exp(-0.5 * big_t)
    dalpha = -0.5 * (0.1 + s * (20 - 0.1)) * alpha
    torch.testing.assert_close(ut, dalpha / (1 - alpha**2) * (alpha * xt - x1))


def test_ve_matches_eq_17():
    path = make_path("ve", sigma_max=5.0, sigma_min=0.01)
    x0, x1, _ = _draw((40, 2))
    t = _interior_times(path, 40)
    xt, ut = path.sample(x0, x1, t)
    sig = 0.01 * (5.0 / 0.01) ** (1 - t[:, None])
    dsig_ds = sig * math.log(5.0 / 0.01)
    torch.testing.assert_close(xt, x1 + sig * x0)
    torch.testing.assert_close(ut, -dsig_ds / sig * (xt - x1))


def test_sb_matches_its_closed_form():
    path = make_path("sb", sigma=0.7)
    x0, x1, eps = _draw((40, 2))
    t = _interior_times(path, 40)
    xt, ut = path.sample(x0, x1, t, eps)
    tc = t[:, None]
    mu = tc * x1 + (1 - tc) * x0
    torch.testing.assert_close(xt, mu + 0.7 * torch.sqrt(tc * (1 - tc)) * eps)
    torch.testing.assert_close(ut, (1 - 2 * tc) / (2 * tc * (1 - tc)) * (xt - mu) + (x1 - x0))


@pytest.mark.parametrize(
    ("name", "params", "start", "end"),
    [
        ("ot", {"sigma_min": 0.1}, lambda x0, x1, e: x0, lambda x0, x1, e: x1 + 0.1 * x0),
        ("cosine", {}, lambda x0, x1, e: x0, lambda x0, x1, e: x1),
        ("icfm", {"sigma": 0.2}, lambda x0, x1, e: x0 + 0.2 * e, lambda x0, x1, e: x1 + 0.2 * e),
        ("ve", {"sigma_max": 5.0}, lambda x0, x1, e: x1 + 5 * x0, lambda x0, x1, e: x1 + 0.01 * x0),
    ],
)
def test_boundaries_exact(name, params, start, end):
    path = make_path(name, **params)
    x0, x1, eps = _draw((30, 2))
    ones = torch.ones(30, dtype=torch.float64)
    torch.testing.assert_close(path.sample(x0, x1, 0 * ones, eps)[0], start(x0, x1, eps))
    torch.testing.assert_close(path.sample(x0, x1, ones, eps)[0], end(x0, x1, eps))


@pytest.mark.parametrize("name", ["vp", "sb"])
def test_boundaries_of_singular_paths_within_eps(name):
    """At the safe ends the path is within a small distance of noise and of data."""
    path = make_path(name)
    x0, x1, eps = _draw((30, 2))
    ones = torch.ones(30, dtype=torch.float64)
    near_noise = path.sample(x0, x1, path.t_min * ones, eps)[0]
    near_data = path.sample(x0, x1, path.t_max * ones, eps)[0]
    assert (near_noise - x0).abs().max() < 0.1
    assert (near_data - x1).abs().max() < 0.1


@pytest.mark.parametrize("name", sorted(PATHS))
def test_t0_marginal_is_the_prior(name):
    """With x1 small against the noise, x_{t_min} has the std the samplers start from."""
    path = make_path(name) if name != "ve" else make_path("ve", sigma_max=8.0)
    n = 200_000
    x0, _, eps = _draw((n, 2), seed=3)
    x1 = torch.zeros(n, 2, dtype=torch.float64)
    xt, _ = path.sample(x0, x1, torch.full((n,), path.t_min, dtype=torch.float64), eps)
    assert xt.std().item() == pytest.approx(path.prior_std(), rel=0.01)


def test_presets_and_errors():
    assert resolve_preset("otcfm", None) == ("icfm", "ot")
    assert resolve_preset("sbcfm", None) == ("sb", "sinkhorn")
    assert resolve_preset("vp", "ot") == ("vp", "ot")
    assert resolve_preset("ot", None) == ("ot", "independent")
    with pytest.raises(ValueError, match="implies coupling"):
        resolve_preset("otcfm", "sinkhorn")
    with pytest.raises(ValueError, match="unknown path"):
        resolve_preset("nope", None)
    with pytest.raises(ValueError, match="takes"):
        make_path("ot", sigma=0.1)
    with pytest.raises(ValueError, match="sigma_min"):
        make_path("ot", sigma_min=1.0)
    with pytest.raises(ValueError):
        make_path("sb", sigma=0.0)


def test_config_round_trip_rebuilds_the_same_path():
    for name, params in CASES:
        path = make_path(name, **params)
        cfg = path.config()
        rebuilt = make_path(cfg.pop("name"), **cfg)
        assert rebuilt == path


def test_default_sigma_max_is_the_data_diameter():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert default_sigma_max(x) == pytest.approx(5.0)
