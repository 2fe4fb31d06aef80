"""How to integrate a flow, said once: `SolverSpec` (method, steps or an NFE budget, atol, rtol).

Every sampler entry point takes one (`FlowModel.sample`, the likelihood, evaluation, compare
mode, the CLI's `--solver/--steps/--nfe/--atol/--rtol`, the app's Sampling tab), so a solver
setting is checked in one place and travels as one value, across the process boundary too. No
torch here: the window builds and shows specs without importing it (`solvers.py` runs them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FIXED_STEP = ("euler", "midpoint", "heun", "rk4")
ADAPTIVE = ("dopri5", "bosh3", "tsit5", "adaptive_heun")
SOLVERS = FIXED_STEP + ADAPTIVE

EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}
"""Model evaluations per step of each fixed-step method: its NFE is steps × this."""

DEFAULT_NFE = 200
"""Default budget of a fixed-step solve: the same cost for every method, so methods compare
fairly. It is 50 rk4 steps, whose O(h⁴) error on a smooth field is far below sampling noise,
and 200 euler steps, already a fine grid for a first-order method."""

DEFAULT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class SolverSpec:
    """One ODE solver setting, checked when made (ValueError naming what is wrong).

    Fixed-step methods take `steps` uniform steps, or as many as an evaluation budget `nfe`
    allows (neither: `DEFAULT_NFE` evaluations); adaptive ones choose their steps from
    `atol`/`rtol` and take no steps or NFE.
    """

    method: str = "rk4"
    steps: int | None = None
    nfe: int | None = None
    atol: float = DEFAULT_TOLERANCE
    rtol: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        if self.method not in SOLVERS:
            raise ValueError(f"unknown solver {self.method!r}; choose one of {', '.join(SOLVERS)}")
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive tolerance, got {value:g}")
        if self.adaptive:
            if self.steps is not None or self.nfe is not None:
                raise ValueError(
                    f"{self.method} is adaptive: it chooses its own steps from atol/rtol, so "
                    f"steps/nfe do not apply (fixed-step solvers: {', '.join(FIXED_STEP)})"
                )
            return
        if self.steps is not None and self.nfe is not None:
            raise ValueError("give either steps or nfe, not both")
        for name in ("steps", "nfe"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.nfe is not None and self.nfe < EVALS_PER_STEP[self.method]:
            raise ValueError(
                f"an NFE budget of {self.nfe} is less than one {self.method} step "
                f"({EVALS_PER_STEP[self.method]} evaluations)"
            )

    @classmethod
    def fixed(cls, method: str, steps: int) -> SolverSpec:
        return cls(method, steps=steps)

    @classmethod
    def tolerance(cls, method: str, tol: float) -> SolverSpec:
        """An adaptive solver with atol = rtol = tol."""
        return cls(method, atol=tol, rtol=tol)

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE

    @property
    def fixed_steps(self) -> int:
        """The number of uniform steps a fixed-step method takes (ValueError if adaptive)."""
        if self.adaptive:
            raise ValueError(f"{self.method} is adaptive: it has no fixed number of steps")
        if self.steps is not None:
            return self.steps
        return (self.nfe or DEFAULT_NFE) // EVALS_PER_STEP[self.method]

    @property
    def planned_nfe(self) -> int | None:
        """The evaluations a fixed-step solve will spend; None for an adaptive one."""
        return None if self.adaptive else self.fixed_steps * EVALS_PER_STEP[self.method]


DEFAULT_SOLVER = SolverSpec()
"""rk4 with `DEFAULT_NFE` evaluations."""


@dataclass(frozen=True)
class SampleRequest:
    """A sampling run as the app asks for one: how many samples, the noise seed, the solver."""

    n: int
    seed: int = 0
    solver: SolverSpec = DEFAULT_SOLVER

    def __post_init__(self) -> None:
        for name in ("n", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"sampling {name} must be a whole number, got {value!r}")
        if self.n < 1:
            raise ValueError(f"sample at least 1 point, got n = {self.n}")

    def to_flat(self) -> dict[str, Any]:
        """The flat record a session keeps (`session.SAMPLING_FIELDS`): method, steps (None for
        an adaptive solver), atol, rtol, n, seed."""
        s = self.solver
        steps = None if s.adaptive else s.fixed_steps
        return {"method": s.method, "steps": steps, "atol": s.atol, "rtol": s.rtol,
                "n": self.n, "seed": self.seed}  # fmt: skip
