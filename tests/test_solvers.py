"""Solvers against closed-form flows: accuracy per order, convergence rates, NFE, t_eval."""

import math

import pytest
import torch

from fmstudio.core.solvers import (
    ADAPTIVE,
    EVALS_PER_STEP,
    FIXED_STEP,
    SOLVERS,
    CountingField,
    solve,
)

A = torch.tensor([[-0.5, 1.0], [-1.0, -0.3]], dtype=torch.float64)


def linear(x, t):
    return x @ A.T


def linear_exact(x0, t0, t1):
    return x0 @ torch.linalg.matrix_exp(A * (t1 - t0)).T


def cos_field(x, t):
    return torch.cos(t)[:, None] * x


def cos_exact(x0, t0, t1):
    return x0 * math.exp(math.sin(t1) - math.sin(t0))


@pytest.fixture
def x0():
    return torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


class Counter:
    """Counts calls of a field independently of the solver's own bookkeeping."""

    def __init__(self, v):
        self.v, self.calls = v, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.v(x, t)


# Max error with 20 steps (fixed) or the tolerance of `_solve_kwargs` (adaptive), set from each
# method's order; adaptive_heun is second order, so a tolerance of 1e-8 would cost ~6000 NFE.
TOLERANCE = {
    "euler": 5e-2,
    "midpoint": 5e-3,
    "heun": 5e-3,
    "rk4": 1e-6,
    "dopri5": 1e-6,
    "bosh3": 1e-6,
    "tsit5": 1e-6,
    "adaptive_heun": 2e-5,
}


def _solve_kwargs(method):
    if method in FIXED_STEP:
        return {"steps": 20}
    tol = 1e-6 if method == "adaptive_heun" else 1e-8
    return {"atol": tol, "rtol": tol}


@pytest.mark.parametrize("method", SOLVERS)
@pytest.mark.parametrize(("field", "exact"), [(linear, linear_exact), (cos_field, cos_exact)])
def test_matches_closed_form(method, field, exact, x0):
    res = solve(field, x0, method=method, **_solve_kwargs(method))
    err = (res.x - exact(x0, 0.0, 1.0)).abs().max().item()
    assert err < TOLERANCE[method]


ORDER = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


@pytest.mark.parametrize("method", FIXED_STEP)
def test_convergence_order(method, x0):
    """Halving the step divides the global error by 2^order (16 for rk4, 2 for euler)."""

    def err(steps):
        res = solve(linear, x0, method=method, steps=steps, t1=2.0)
        return (res.x - linear_exact(x0, 0.0, 2.0)).abs().max().item()

    ratio = err(40) / err(80)
    assert ratio == pytest.approx(2 ** ORDER[method], rel=0.1)


@pytest.mark.parametrize("method", SOLVERS)
def test_backward_inverts_forward(method, x0):
    kwargs = _solve_kwargs(method) | ({"steps": 100} if method in FIXED_STEP else {})
    x1 = solve(linear, x0, method=method, **kwargs).x
    back = solve(linear, x1, method=method, t0=1.0, t1=0.0, **kwargs)
    assert torch.allclose(back.x, x0, atol=TOLERANCE[method])


def test_backward_matches_closed_form(x0):
    res = solve(linear, x0, method="rk4", steps=20, t0=0.8, t1=-0.2)
    assert torch.allclose(res.x, linear_exact(x0, 0.8, -0.2), atol=1e-7)


@pytest.mark.parametrize("method", FIXED_STEP)
def test_fixed_step_nfe_is_steps_times_stages(method, x0):
    counter = Counter(linear)
    res = solve(counter, x0, method=method, steps=7)
    assert res.nfe == counter.calls == 7 * EVALS_PER_STEP[method]


BUDGETS = [("rk4", 10, 8), ("euler", 7, 7), ("heun", 7, 6)]


@pytest.mark.parametrize(("method", "budget", "spent"), BUDGETS)
def test_nfe_budget(method, budget, spent, x0):
    counter = Counter(linear)
    res = solve(counter, x0, method=method, nfe=budget)
    assert res.nfe == counter.calls == spent
    # rk4 with nfe=10 is 2 steps of h = 1/2: compare with two explicit steps.
    if method == "rk4":
        assert torch.equal(res.x, solve(linear, x0, method="rk4", steps=2).x)


def test_nfe_budget_below_one_step(x0):
    with pytest.raises(ValueError, match="less than one rk4 step"):
        solve(linear, x0, method="rk4", nfe=3)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_adaptive_nfe_is_true_count_and_grows_with_accuracy(method, x0):
    spent = []
    for tol in (1e-4, 1e-6):
        counter = Counter(linear)
        res = solve(counter, x0, method=method, atol=tol, rtol=tol)
        assert res.nfe == counter.calls > 0
        spent.append(res.nfe)
    assert spent[1] > spent[0]


def test_counting_field_expands_time():
    seen = []
    field = CountingField(lambda x, t: seen.append(t) or x)
    field(torch.tensor(0.25), torch.zeros(3, 2))
    field(0.5, torch.zeros(3, 2))
    assert field.nfe == 2
    assert [t.tolist() for t in seen] == [[0.25] * 3, [0.5] * 3]


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_field_sees_one_time_per_row(method, x0):
    shapes = set()

    def field(x, t):
        shapes.add(tuple(t.shape))
        return linear(x, t)

    solve(field, x0, method=method)
    assert shapes == {(x0.shape[0],)}


@pytest.mark.parametrize("method", SOLVERS)
def test_t_eval_states_match_closed_form(method, x0):
    t_eval = [0.0, 0.1, 0.45, 0.45, 1.0]
    kwargs = _solve_kwargs(method) | ({"steps": 40} if method in FIXED_STEP else {})
    res = solve(cos_field, x0, method=method, t_eval=t_eval, **kwargs)
    assert res.trajectory.shape == (len(t_eval), *x0.shape)
    assert res.times.tolist() == t_eval
    expected = torch.stack([cos_exact(x0, 0.0, t) for t in t_eval])
    assert (res.trajectory - expected).abs().max().item() < TOLERANCE[method]


def test_t_eval_times_are_grid_points(x0):
    """Euler with 4 steps and t_eval = 1/2 lands on 1/2 after exactly 2 steps: no interpolation."""
    lam = -0.7
    res = solve(lambda x, t: lam * x, x0, method="euler", steps=4, t_eval=[0.5])
    assert torch.allclose(res.trajectory[0], x0 * (1 + 0.25 * lam) ** 2, rtol=1e-14)
    assert torch.allclose(res.x, x0 * (1 + 0.25 * lam) ** 4, rtol=1e-14)
    assert res.nfe == 4


def test_t_eval_keeps_budget_with_uneven_intervals(x0):
    counter = Counter(linear)
    res = solve(counter, x0, method="midpoint", nfe=50, t_eval=[0.03, 0.5, 0.97])
    assert res.nfe == counter.calls == 50


def test_t_eval_backward(x0):
    t_eval = torch.tensor([0.75, 0.25])
    res = solve(linear, x0, method="rk4", steps=40, t0=1.0, t1=0.0, t_eval=t_eval)
    expected = torch.stack([linear_exact(x0, 1.0, t) for t in t_eval.tolist()])
    assert torch.allclose(res.trajectory, expected, atol=1e-8)


@pytest.mark.parametrize("method", ["heun", "tsit5"])
def test_image_shaped_state(method):
    x0 = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    res = solve(lambda x, t: -x, x0, method=method, t_eval=[0.5, 1.0])
    assert res.x.shape == x0.shape
    assert res.trajectory.shape == (2, 3, 1, 4, 4)
    assert torch.allclose(res.x, x0 * math.exp(-1.0), atol=1e-4)


def test_no_grad_by_default_and_grad_on_request(x0):
    x0 = x0.clone().requires_grad_(True)
    assert not solve(linear, x0, steps=10).x.requires_grad
    res = solve(linear, x0, steps=50, grad=True)
    res.x.sum().backward()
    # d(Σ M x0)/dx0 = Mᵀ 1 for x1 = M x0, M = expm(A).
    expected = torch.linalg.matrix_exp(A).sum(dim=0).expand_as(x0)
    assert torch.allclose(x0.grad, expected, atol=1e-7)


def test_argument_errors(x0):
    with pytest.raises(ValueError, match="euler, midpoint, heun, rk4, dopri5"):
        solve(linear, x0, method="rk45")
    with pytest.raises(ValueError, match="not both"):
        solve(linear, x0, steps=4, nfe=16)
    for arg in ({"steps": 4}, {"nfe": 16}):
        with pytest.raises(ValueError, match="adaptive"):
            solve(linear, x0, method="dopri5", **arg)
    with pytest.raises(ValueError, match="monotone"):
        solve(linear, x0, t_eval=[0.5, 0.2])
    with pytest.raises(ValueError, match="within"):
        solve(linear, x0, t0=1.0, t1=0.0, t_eval=[1.5, 0.5])
    with pytest.raises(ValueError, match="cannot land"):
        solve(linear, x0, steps=2, t_eval=[0.2, 0.4, 0.6])
