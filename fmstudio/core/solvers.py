"""ODE solvers for the learned flow dx/dt = v_t(x) (Lipman et al. 2023, eq. 1).

Sampling integrates from t = 0 (noise) to t = 1 (data); the likelihood integrates backward
(t1 < t0). Two families share one entry point, `solve`:

* fixed-step (euler, midpoint, heun, rk4), implemented here on a uniform grid so that the cost is
  known in advance and can be given as a budget of model evaluations (NFE), which is how
  samplers are compared;
* adaptive (dopri5, bosh3, tsit5, adaptive_heun) through `torchdiffeq.odeint`, which picks its
  own steps from atol/rtol; the cost is then whatever was really spent.

Every model call goes through `CountingField`, so the NFE reported is the number of calls made,
including the ones adaptive solvers spend choosing their first step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torchdiffeq import odeint
from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS
from torchdiffeq._impl.rk_common import RKAdaptiveStepsizeODESolver, _ButcherTableau

from fmstudio.core.solver_spec import (
    ADAPTIVE,
    DEFAULT_NFE,
    EVALS_PER_STEP,
    FIXED_STEP,
    SOLVERS,
    SolverSpec,
)

Field = Callable[[Tensor, Tensor], Tensor]
"""v(x, t) -> dx/dt, with x of shape (B, *dims), t of shape (B,), output of x's shape."""


class _Tsit5Solver(RKAdaptiveStepsizeODESolver):
    """Tsitouras' 5(4) pair (Tsitouras 2011, "Runge–Kutta pairs of order 5(4) satisfying only the
    first column simplifying assumption"), which torchdiffeq 0.2.5 does not ship.

    `mid` is the method's continuous extension b_i(θ) at θ = 1/2, which torchdiffeq needs to
    interpolate at requested times between steps.
    """

    order = 5
    tableau = _ButcherTableau(
        alpha=torch.tensor([0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0], dtype=torch.float64),
        beta=[
            torch.tensor(row, dtype=torch.float64)
            for row in (
                [0.161],
                [-0.008480655492356989, 0.335480655492357],
                [2.8971530571054935, -6.359448489975075, 4.3622954328695815],
                [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
                [
                    5.86145544294642,
                    -12.92096931784711,
                    8.159367898576159,
                    -0.071584973281401,
                    -0.028269050394068383,
                ],
                [
                    0.09646076681806523,
                    0.01,
                    0.4798896504144996,
                    1.379008574103742,
                    -3.290069515436081,
                    2.324710524099774,
                ],
            )
        ],
        c_sol=torch.tensor(
            [
                0.09646076681806523,
                0.01,
                0.4798896504144996,
                1.379008574103742,
                -3.290069515436081,
                2.324710524099774,
                0.0,
            ],
            dtype=torch.float64,
        ),
        c_error=torch.tensor(
            [
                -0.00178001105222577714,
                -0.0008164344596567469,
                0.007880878010261995,
                -0.1447110071732629,
                0.5823571654525552,
                -0.45808210592918697,
                1 / 66,
            ],
            dtype=torch.float64,
        ),
    )
    mid = torch.tensor(
        [
            0.1074123523009688,
            0.01135625,
            0.39560903056045305,
            -0.3447521435259353,
            1.316185364958164,
            -1.0170608542936517,
            0.03125,
        ],
        dtype=torch.float64,
    )


# `odeint` only accepts names from its registry; adding Tsit5 there keeps one code path for all
# adaptive methods (and defers to torchdiffeq's own Tsit5 should a later version ship one).
_TORCHDIFFEQ_SOLVERS.setdefault("tsit5", _Tsit5Solver)


class CountingField:
    """Adapts v(x, t) to torchdiffeq's f(t, x) and counts every call.

    torchdiffeq passes one scalar time for the whole batch; the model expects one per row, so t
    is expanded to shape (B,). Counting here, at the only place v is called, makes the NFE exact
    whichever solver runs.
    """

    def __init__(self, v: Field) -> None:
        self.v = v
        self.nfe = 0

    def __call__(self, t: Tensor | float, x: Tensor) -> Tensor:
        self.nfe += 1
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        return self.v(x, t)


@dataclass
class SolveResult:
    """Final state, model evaluations spent, and (if t_eval was given) the states at t_eval."""

    x: Tensor
    nfe: int
    times: Tensor | None = None
    trajectory: Tensor | None = None


def _euler(f: CountingField, t: float, h: float, x: Tensor) -> Tensor:
    return x + h * f(t, x)


def _midpoint(f: CountingField, t: float, h: float, x: Tensor) -> Tensor:
    return x + h * f(t + h / 2, x + h / 2 * f(t, x))


def _heun(f: CountingField, t: float, h: float, x: Tensor) -> Tensor:
    k1 = f(t, x)
    k2 = f(t + h, x + h * k1)
    return x + h / 2 * (k1 + k2)


def _rk4(f: CountingField, t: float, h: float, x: Tensor) -> Tensor:
    k1 = f(t, x)
    k2 = f(t + h / 2, x + h / 2 * k1)
    k3 = f(t + h / 2, x + h / 2 * k2)
    k4 = f(t + h, x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


_STEPPERS = {"euler": _euler, "midpoint": _midpoint, "heun": _heun, "rk4": _rk4}


def _split_steps(knots: Tensor, steps: int) -> list[int]:
    """Steps per interval between consecutive knots, in proportion to their lengths.

    Every interval gets one step first (so each knot is landed on exactly), the rest is shared
    by cumulative rounding so the total is exactly `steps` and the NFE budget holds.
    """
    lengths = knots.diff().abs()
    n_intervals = len(lengths)
    if steps < n_intervals:
        raise ValueError(
            f"{steps} steps cannot land on {n_intervals} distinct t_eval intervals; "
            "raise steps/nfe or pass fewer t_eval times"
        )
    cum = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)]) / lengths.sum()
    bounds = torch.round(cum * (steps - n_intervals)).long()
    return [1 + int(n) for n in bounds.diff()]


def _fixed_step_solve(
    f: CountingField, x0: Tensor, knots: Tensor, method: str, steps: int
) -> list[Tensor]:
    """States at every knot, integrating interval by interval on uniform sub-grids."""
    stepper = _STEPPERS[method]
    states = [x0]
    x = x0
    intervals = knots.unfold(0, 2, 1).tolist()
    for (ta, tb), n in zip(intervals, _split_steps(knots, steps), strict=True):
        h = (tb - ta) / n
        for i in range(n):
            x = stepper(f, ta + i * h, h, x)
        states.append(x)
    return states


def _eval_times(
    t_eval: Sequence[float] | Tensor, t0: float, t1: float, device: torch.device
) -> Tensor:
    """t_eval as a float64 tensor, checked to be ordered and inside [t0, t1] along t0 → t1."""
    times = torch.as_tensor(t_eval, dtype=torch.float64, device=device).flatten()
    sign = 1.0 if t1 > t0 else -1.0
    if (sign * times.diff() < 0).any():
        raise ValueError(f"t_eval must be monotone in the direction of integration {t0} → {t1}")
    if (sign * (times - t0) < 0).any() or (sign * (t1 - times) < 0).any():
        raise ValueError(f"t_eval must lie within [{t0}, {t1}]")
    return times


def solve(
    v: Field,
    x0: Tensor,
    solver: SolverSpec | None = None,
    *,
    t0: float = 0.0,
    t1: float = 1.0,
    t_eval: Sequence[float] | Tensor | None = None,
    grad: bool = False,
    **settings: Any,
) -> SolveResult:
    """Integrate dx/dt = v(x, t) from x(t0) = x0 to t1 (t1 < t0 integrates backward).

    `solver` says how (`SolverSpec`); `settings` (method=, steps=, nfe=, atol=, rtol=) make one
    in its place, for calls from a notebook. With `t_eval`, the states at those times are
    returned in `trajectory`, of shape (len(t_eval), *x0.shape): fixed-step grids are split so
    each time is a grid point (no interpolation); adaptive solvers are made to step onto each
    of them too. The solve runs without autograd unless `grad` is true (e.g. to differentiate
    samples with respect to x0).
    """
    spec = as_spec(solver, settings)
    if t0 == t1:
        raise ValueError("t0 and t1 must differ")
    times = None if t_eval is None else _eval_times(t_eval, t0, t1, x0.device)
    ends = torch.tensor([t0, t1], dtype=torch.float64, device=x0.device)
    requested = ends if times is None else torch.cat([ends[:1], times, ends[1:]])
    # Solvers need strictly ordered times: solve at the distinct ones, then index back.
    knots, index = torch.unique_consecutive(requested, return_inverse=True)

    f = CountingField(v)
    with torch.set_grad_enabled(grad):
        if not spec.adaptive:
            states = torch.stack(_fixed_step_solve(f, x0, knots, spec.method, spec.fixed_steps))
        else:
            t = knots.to(x0.dtype)
            # step_t makes the solver land on every requested time instead of interpolating.
            options = {"step_t": t}
            atol, rtol = spec.atol, spec.rtol
            try:
                states = odeint(f, x0, t, rtol=rtol, atol=atol, method=spec.method, options=options)
            except AssertionError as exc:  # torchdiffeq asserts "underflow in dt"
                raise FloatingPointError(
                    f"{spec.method} could not meet atol={atol:g}, rtol={rtol:g} ({exc}): "
                    "loosen them"
                ) from None
    trajectory = None if times is None else states[index[1:-1]]
    return SolveResult(x=states[-1], nfe=f.nfe, times=times, trajectory=trajectory)


def as_spec(solver: SolverSpec | None, settings: dict[str, Any]) -> SolverSpec:
    """`solver`, or a SolverSpec made of keyword `settings` (never both)."""
    if solver is None:
        return SolverSpec(**settings)
    if settings:
        raise TypeError(f"give a SolverSpec or solver settings, not both ({sorted(settings)})")
    return solver


__all__ = [
    "ADAPTIVE",
    "DEFAULT_NFE",
    "EVALS_PER_STEP",
    "FIXED_STEP",
    "SOLVERS",
    "CountingField",
    "SolveResult",
    "SolverSpec",
    "as_spec",
    "solve",
]
