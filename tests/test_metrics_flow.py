"""Straightness and path energy on flows whose trajectories are known in closed form."""

import math

import pytest
import torch

from fmstudio.core.metrics_flow import kinetic_energy, normalized_path_energy, straightness

ROTATION = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)


def rotation(x, t):
    return x @ ROTATION.T


@pytest.fixture
def x0():
    return torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_constant_field_is_straight(x0):
    c = torch.tensor([1.5, -0.5], dtype=torch.float64)
    field = lambda x, t: c.expand_as(x)  # noqa: E731
    assert straightness(field, x0, steps=10) < 1e-24
    energy, x1 = kinetic_energy(field, x0, steps=10)
    assert energy == pytest.approx(c.pow(2).sum().item(), rel=1e-12)
    assert torch.allclose(x1, x0 + c)


def test_straight_but_accelerating_path_is_not_straight(x0):
    """v = 2t·c moves along a line with speed 2t‖c‖: x_1 − x_0 = c, and
    ∫‖c − 2t·c‖² dt = ‖c‖²/3."""
    c = torch.tensor([1.0, 2.0], dtype=torch.float64)
    field = lambda x, t: 2 * t[:, None] * c  # noqa: E731
    expected = c.pow(2).sum().item() / 3
    assert straightness(field, x0, steps=200) == pytest.approx(expected, rel=1e-4)


def test_rotation_straightness_closed_form(x0):
    """x_t = R(t) x_0 runs along a circle. With z = x_0 as a complex number, x_1 − x_0 = (e^i − 1)z
    and v_t = i·e^{it}z, so ‖x_1 − x_0 − v_t‖² = |z|²(2 − 2cos 1 + 1 − 2(sin(1 − t) + sin t)),
    whose integral over [0, 1] is |z|²(2cos 1 − 1)."""
    expected = x0.pow(2).sum(dim=1).mean().item() * (2 * math.cos(1.0) - 1)
    assert expected > 0
    # Trapezoid rule at h = 0.01: error h²/12·∫f'' ≈ 2e-4 relative.
    assert straightness(rotation, x0) == pytest.approx(expected, rel=4e-4)
    assert straightness(rotation, x0, steps=400) == pytest.approx(expected, rel=2e-5)
    # Euler spirals outward (O(h) error) but still measures the same curvature.
    assert straightness(rotation, x0, method="euler") == pytest.approx(expected, rel=5e-2)


def test_rotation_kinetic_energy(x0):
    """The rotation keeps ‖v_t(x_t)‖ = ‖x_0‖, and x_1 = R(1) x_0."""
    energy, x1 = kinetic_energy(rotation, x0, steps=50)
    assert energy == pytest.approx(x0.pow(2).sum(dim=1).mean().item(), rel=1e-8)
    assert torch.allclose(x1, x0 @ torch.linalg.matrix_exp(ROTATION).T, atol=1e-8)


def test_images_shaped_state():
    x0 = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    assert straightness(lambda x, t: -x, x0, steps=20) > 0
    energy, x1 = kinetic_energy(lambda x, t: torch.ones_like(x), x0, steps=5)
    assert energy == pytest.approx(9.0, rel=1e-6)
    assert x1.shape == x0.shape


def test_normalized_path_energy():
    # A translation by c is its own optimal transport map, W2² = ‖c‖², and its energy is ‖c‖².
    assert normalized_path_energy(2.5, 2.5) == 0.0
    assert normalized_path_energy(3.0, 2.0) == pytest.approx(0.5)
    assert normalized_path_energy(1.0, 2.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        normalized_path_energy(1.0, 0.0)
