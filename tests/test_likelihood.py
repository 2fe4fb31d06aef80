"""Likelihoods of linear flows, whose pushforward of N(0, I) is a known Gaussian."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from fmstudio.core.likelihood import (
    bits_per_dim,
    divergence_exact,
    divergence_hutchinson,
    log_likelihood,
    standard_normal_logp,
)

# Non-normal, with trace 0.4 - 0.6 ≠ 0 so the log-determinant matters, and A12 + A21 ≠ 0 so a
# 2-D Hutchinson estimate would not happen to be exact.
A = torch.tensor([[-0.6, 0.9], [0.3, 0.2]], dtype=torch.float64)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _gaussian_logp(x1, m):
    """log density of x1 = M x0 with x0 ~ N(0, I), i.e. of N(0, M Mᵀ)."""
    mean = torch.zeros(len(m), dtype=m.dtype)
    return MultivariateNormal(mean, covariance_matrix=m @ m.T).log_prob(x1)


@pytest.fixture
def x1():
    return 1.5 * torch.randn(8, 2, generator=_gen(0), dtype=torch.float64)


@pytest.mark.parametrize(("method", "steps"), [("dopri5", None), ("tsit5", None), ("rk4", 40)])
def test_linear_flow_matches_gaussian(method, steps, x1):
    tol = {"atol": 1e-9, "rtol": 1e-9} if steps is None else {}
    res = log_likelihood(
        lambda x, t: x @ A.T,
        x1,
        prior_logp=standard_normal_logp,
        method=method,
        steps=steps,
        **tol,
    )
    m = torch.linalg.matrix_exp(A)
    assert res.logp.shape == (8,)
    assert torch.allclose(res.logp, _gaussian_logp(x1, m), atol=1e-6)
    assert torch.allclose(res.x0, x1 @ torch.linalg.inv(m).T, atol=1e-6)


def test_time_dependent_linear_flow(x1):
    """v = cos(t)·A x has the flow map M = expm(sin(1)·A)."""
    calls = []

    def field(x, t):
        calls.append(1)
        return torch.cos(t)[:, None] * (x @ A.T)

    res = log_likelihood(field, x1, prior_logp=standard_normal_logp, atol=1e-9, rtol=1e-9)
    m = torch.linalg.matrix_exp(math.sin(1.0) * A)
    assert torch.allclose(res.logp, _gaussian_logp(x1, m), atol=1e-4)
    assert res.nfe == len(calls)


def test_prior_scale_enters_through_prior_logp(x1):
    res = log_likelihood(
        lambda x, t: x @ A.T,
        x1,
        prior_logp=lambda x: standard_normal_logp(x, std=2.0),
        atol=1e-9,
        rtol=1e-9,
    )
    m = 2.0 * torch.linalg.matrix_exp(A)
    assert torch.allclose(res.logp, _gaussian_logp(x1, m), atol=1e-4)


def test_auto_is_exact_in_2d_and_hutchinson_differs(x1):
    def run(estimator):
        return log_likelihood(
            lambda x, t: x @ A.T,
            x1,
            prior_logp=standard_normal_logp,
            estimator=estimator,
            generator=_gen(1),
        ).logp

    assert torch.equal(run("auto"), run("exact"))
    assert not torch.allclose(run("hutchinson"), run("exact"), atol=1e-3)


def test_hutchinson_is_unbiased_in_16d():
    """Every row is the same point, each with its own probe ε: the mean over rows is the exact
    log-likelihood, within the Monte-Carlo error of the rows' spread."""
    # Contracting (trace ≈ −5), so a missing or wrongly signed divergence is far off the mark.
    w = 0.2 * torch.randn(16, 16, generator=_gen(2), dtype=torch.float64) - 0.3 * torch.eye(16)
    x1 = torch.randn(1, 16, generator=_gen(3), dtype=torch.float64).expand(1000, 16)
    field = lambda x, t: x @ w.T  # noqa: E731
    kwargs = {"prior_logp": standard_normal_logp, "method": "rk4", "steps": 10}
    exact = log_likelihood(field, x1[:1], estimator="exact", **kwargs).logp
    auto = log_likelihood(field, x1, generator=_gen(4), **kwargs).logp
    hutch = log_likelihood(field, x1, estimator="hutchinson", generator=_gen(4), **kwargs).logp
    assert torch.equal(auto, hutch)
    assert hutch.std() > 0.1  # the probes really differ between rows
    stderr = hutch.std() / math.sqrt(len(hutch))
    assert abs(hutch.mean() - exact[0]) < 4 * stderr
    assert torch.allclose(exact, _gaussian_logp(x1[:1], torch.linalg.matrix_exp(w)), atol=1e-5)


def test_single_hutchinson_draw_on_images_is_finite():
    x1 = torch.randn(3, 1, 4, 4, generator=_gen(5))

    def field(x, t):
        return -x + t[:, None, None, None] * torch.tanh(x.flip(-1))

    res = log_likelihood(field, x1, prior_logp=standard_normal_logp, generator=_gen(6))
    assert res.logp.shape == (3,)
    assert res.x0.shape == x1.shape
    assert torch.isfinite(res.logp).all()


def test_divergence_exact_is_trace_on_images():
    w = torch.randn(4, 4, generator=_gen(7), dtype=torch.float64)
    x = torch.randn(5, 1, 2, 2, generator=_gen(8), dtype=torch.float64, requires_grad=True)
    out = (x.flatten(1) @ w.T).view_as(x) + x.pow(2)
    expected = torch.trace(w) + 2 * x.detach().flatten(1).sum(dim=1)
    assert torch.allclose(divergence_exact(out, x), expected)


def test_divergence_hutchinson_is_quadratic_form_of_jacobian():
    w = torch.randn(3, 3, generator=_gen(9), dtype=torch.float64)
    x = torch.randn(6, 3, generator=_gen(10), dtype=torch.float64, requires_grad=True)
    eps = torch.randint(0, 2, (6, 3), generator=_gen(11)).to(x) * 2 - 1
    est = divergence_hutchinson(x @ w.T, x, eps)
    assert torch.allclose(est, torch.einsum("bi,ij,bj->b", eps, w, eps))


def test_standard_normal_logp():
    x = torch.randn(4, 1, 2, 2, generator=_gen(12), dtype=torch.float64)
    expected = Normal(0.0, 2.0).log_prob(x).flatten(1).sum(dim=1)
    assert torch.allclose(standard_normal_logp(x, std=2.0), expected)


def test_bits_per_dim_hand_computed():
    d, scale = 3072, 2 / 256
    # A model uniform on [-1, 1]^d has density 2^-d: exactly 8 bits per 8-bit pixel.
    uniform = torch.tensor([-d * math.log(2.0)])
    assert bits_per_dim(uniform, d, scale).item() == pytest.approx(8.0, rel=1e-12)
    # logp = -1000: -(-1000 + d·ln(1/128)) / (d ln 2) = 7 + 1000 / (3072 ln 2) = 7.469627...
    assert bits_per_dim(torch.tensor([-1000.0]), d, scale).item() == pytest.approx(7.469627, 1e-6)


def test_unknown_estimator(x1):
    with pytest.raises(ValueError, match="auto, exact, hutchinson"):
        log_likelihood(lambda x, t: x, x1, prior_logp=standard_normal_logp, estimator="skilling")
