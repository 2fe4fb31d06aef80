"""Couplings: exact OT really is optimal, Sinkhorn really is the entropic plan."""

from __future__ import annotations

import itertools

import pytest
import torch

from fmstudio.core.couplings import (
    ExactOTCoupling,
    IndependentCoupling,
    SinkhornCoupling,
    make_coupling,
    squared_distances,
)


def _cost(x0, x1):
    return (x0 - x1).square().sum(1).mean().item()


def test_exact_ot_is_optimal_by_brute_force():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(7, 2, generator=g)
    x1 = torch.randn(7, 2, generator=g) * 3 + 1
    p0, p1 = ExactOTCoupling().pair(x0, x1)
    assert torch.equal(p0, x0)
    assert sorted(map(tuple, p1.tolist())) == sorted(map(tuple, x1.tolist()))  # a permutation
    best = min(_cost(x0, x1[list(perm)]) for perm in itertools.permutations(range(7)))
    assert _cost(p0, p1) == pytest.approx(best, rel=1e-6)


def test_exact_ot_shortens_pairs_on_a_real_batch_of_images():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(64, 1, 4, 4, generator=g)
    x1 = torch.randn(64, 1, 4, 4, generator=g) + 2
    _, p1 = ExactOTCoupling().pair(x0, x1)
    assert p1.shape == x1.shape
    assert _cost(x0.flatten(1), p1.flatten(1)) < 0.9 * _cost(x0.flatten(1), x1.flatten(1))


def test_exact_ot_needs_equal_batches():
    with pytest.raises(ValueError, match="equal batches"):
        ExactOTCoupling().pair(torch.zeros(3, 2), torch.zeros(4, 2))


def test_sinkhorn_plan_has_uniform_marginals_and_tends_to_ot():
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(32, 2, generator=g, dtype=torch.float64)
    x1 = torch.randn(32, 2, generator=g, dtype=torch.float64) + 3
    plan = SinkhornCoupling(reg=0.5, max_iters=2000, tol=1e-9).plan(x0, x1)
    torch.testing.assert_close(plan.sum(1), torch.full((32,), 1 / 32, dtype=torch.float64))
    torch.testing.assert_close(plan.sum(0), torch.full((32,), 1 / 32, dtype=torch.float64))
    # Small regularisation: the entropic cost approaches the exact OT cost from above.
    cost = squared_distances(x0, x1)
    _, p1 = ExactOTCoupling().pair(x0, x1)
    exact = (x0 - p1).square().sum(1).mean()
    sharp = SinkhornCoupling(reg=0.01, max_iters=5000, tol=1e-9).plan(x0, x1)
    assert exact <= (sharp * cost).sum() <= exact * 1.01
    # Large regularisation: the plan approaches the independent coupling.
    flat = SinkhornCoupling(reg=1e4).plan(x0, x1)
    torch.testing.assert_close(flat, torch.full_like(flat, 1 / 32**2), rtol=1e-2, atol=0)


def test_sinkhorn_pairs_are_drawn_from_the_plan():
    x0 = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    x1 = torch.tensor([[10.2, 0.0], [0.1, 0.0]])
    g = torch.Generator().manual_seed(0)
    _, p1 = SinkhornCoupling(reg=0.5).pair(x0, x1, g)
    torch.testing.assert_close(p1, x1.flip(0))


def test_registry():
    assert isinstance(make_coupling("independent"), IndependentCoupling)
    assert make_coupling("sinkhorn", sinkhorn_reg=0.3).reg == 0.3
    with pytest.raises(ValueError, match="unknown coupling"):
        make_coupling("greedy")
