"""Distances between point sets against cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmstudio.core.metrics import energy_distance, sliced_wasserstein, wasserstein2


def test_w2_of_a_shift_is_the_shift_length():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 2, generator=g)
    shift = torch.tensor([3.0, -4.0])
    assert wasserstein2(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    assert wasserstein2(a, a[torch.randperm(400, generator=g)]) == pytest.approx(0.0, abs=1e-9)


def test_w2_matches_brute_force_and_takes_unequal_sizes():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 1.0], [0.5, 1.0]])
    # each a-point sends half its mass to its nearest b-point and half to (0.5, 1)
    expected = np.sqrt(0.5 * 1.0 + 0.5 * 1.25)
    assert wasserstein2(a, b) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="non-empty"):
        wasserstein2(a[:0], b)


def test_sliced_w2_is_below_w2_and_exact_for_shifts():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(500, 2, generator=g)
    b = torch.randn(500, 2, generator=g) * 2 + 1
    sw = sliced_wasserstein(a, b, n_projections=512, generator=g)
    assert 0 < sw < wasserstein2(a, b)
    shift = torch.tensor([1.0, 0.0])
    # a shift by c projects to a 1-D shift of <c, θ>; averaged over directions: |c|²/2 in 2-D
    assert sliced_wasserstein(a, a + shift, 4096, g) == pytest.approx(np.sqrt(0.5), rel=0.03)
    assert sliced_wasserstein(a, b[:300], 64, g) > 0  # unequal sizes


def test_energy_distance_separates_laws():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(800, 2, generator=g)
    same = torch.randn(800, 2, generator=g)
    other = torch.randn(800, 2, generator=g) + 1.5
    assert abs(energy_distance(a, same)) < 0.05
    assert energy_distance(a, other) > 10 * abs(energy_distance(a, same))
