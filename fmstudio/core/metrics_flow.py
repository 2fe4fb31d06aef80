"""How straight and how cheap the learned flow's trajectories are.

Both measures are integrals over t ∈ [t0, t1] (normally [0, 1]; a path with a singular end uses
its safe range) along the model's own trajectories x_t, started from
noise x_0 and integrated with a fixed-step solver on a uniform grid. The velocity is evaluated at
the grid points and the time integral taken by the trapezoid rule (error O(h²)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fmstudio.core.solvers import Field, SolverSpec, solve


def _grid_velocities(
    v: Field, x0: Tensor, steps: int, method: str, span: tuple[float, float]
) -> tuple[Tensor, Tensor]:
    """v_t(x_t) on a uniform grid of `span` with steps + 1 points, shape (steps + 1, *x0.shape),
    and the endpoints x_1."""
    times = torch.linspace(span[0], span[1], steps + 1, dtype=torch.float64)
    res = solve(v, x0, SolverSpec.fixed(method, steps), t0=span[0], t1=span[1], t_eval=times)
    with torch.no_grad():
        velocities = torch.stack(
            [
                v(x, x.new_full((x.shape[0],), t))
                for x, t in zip(res.trajectory, times.tolist(), strict=True)
            ]
        )
    return velocities, res.x


def _time_integral(per_time: Tensor, steps: int, span: tuple[float, float]) -> float:
    """Trapezoid rule over the uniform grid of (steps + 1) values."""
    return torch.trapezoid(per_time, dx=(span[1] - span[0]) / steps).item()


def straightness(
    v: Field,
    x0: Tensor,
    steps: int = 100,
    *,
    method: str = "rk4",
    span: tuple[float, float] = (0.0, 1.0),
) -> float:
    """Liu et al.'s straightness E ∫_0^1 ‖(x_1 − x_0) − v_t(x_t)‖² dt (squared norm over all dims).

    It is 0 exactly when every trajectory is a straight line run at constant speed, which is
    what lets one Euler step sample the flow; larger values need more steps.
    """
    velocities, x1 = _grid_velocities(v, x0, steps, method, span)
    chord = (x1 - x0) / (span[1] - span[0])
    deviation = (chord.unsqueeze(0) - velocities).flatten(2).pow(2).sum(dim=2)
    return _time_integral(deviation.mean(dim=1), steps, span)


def kinetic_energy(
    v: Field,
    x0: Tensor,
    steps: int = 100,
    *,
    method: str = "rk4",
    span: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, Tensor]:
    """Path energy E ∫_0^1 ‖v_t(x_t)‖² dt and the endpoints x_1 of the trajectories.

    Any flow from p_0 to p_1 spends at least W2²(p_0, p_1) (Benamou–Brenier), with equality for
    the optimal-transport flow; see `normalized_path_energy`.
    """
    velocities, x1 = _grid_velocities(v, x0, steps, method, span)
    speed_sq = velocities.flatten(2).pow(2).sum(dim=2)
    return _time_integral(speed_sq.mean(dim=1), steps, span), x1


def normalized_path_energy(energy: float, w2_sq: float) -> float:
    """|E∫‖v‖² − W2²| / W2²: how far the flow's path energy is from the optimal-transport bound."""
    if w2_sq <= 0:
        raise ValueError(f"W2² must be positive, got {w2_sq}")
    return abs(energy - w2_sq) / w2_sq
