"""Compare probability paths and couplings the way the paper does: by quality per NFE.

The same target, seed, model size and step count for every configuration; training interleaved
in chunks so each gets a fair share of the device; then, per configuration, W2 to fresh target
points at a ladder of solver budgets (the "fewer evaluations for the same quality" claim,
measured on the user's own target) and a table of straightness, path energy, the NFE an
adaptive solver spends, W2, NLL and training speed. Never compare by loss: its floor differs by
path and coupling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from fmstudio.core.config import TrainConfig
from fmstudio.core.flow import FlowModel, nll_nats
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.metrics_flow import kinetic_energy, normalized_path_energy, straightness
from fmstudio.core.progress import Progress, silent
from fmstudio.core.solver_spec import SolverSpec
from fmstudio.core.training import Trainer

FIXED_LADDER: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("euler", (1, 2, 4, 8, 16, 32)),
    ("midpoint", (1, 2, 4, 8, 16)),
    ("rk4", (1, 2, 4, 8)),
)
"""Fixed-step solvers and their step counts (NFE = steps × stages)."""
ADAPTIVE_LADDER: tuple[tuple[str, tuple[float, ...]], ...] = (("dopri5", (1e-2, 1e-3, 1e-4)),)
"""Adaptive solvers and the tolerances (atol = rtol) they are run at."""
REPORT_SOLVER = SolverSpec.tolerance("dopri5", 1e-5)
"""The adaptive solver whose spent NFE (and samples' W2) the table reports."""


def train_interleaved(
    trainers: dict[str, Trainer],
    chunk: int = 50,
    callback: Callable[[str, Trainer], None] | None = None,
) -> None:
    """Round-robin chunks of `chunk` steps until every trainer is done: each configuration gets
    the same share of the device, and a slow one does not hold the others back."""
    while not all(t.done for t in trainers.values()):
        for name, trainer in trainers.items():
            if not trainer.done:
                trainer.run(chunk)
                if callback is not None:
                    callback(name, trainer)


def solver_ladder() -> list[SolverSpec]:
    """The solver settings of the W2-vs-NFE table, cheapest first within each solver."""
    specs = [SolverSpec.fixed(method, s) for method, steps in FIXED_LADDER for s in steps]
    specs += [SolverSpec.tolerance(method, tol) for method, tols in ADAPTIVE_LADDER for tol in tols]
    return specs


def ladder_row(spec: SolverSpec) -> dict[str, Any]:
    """A solver setting as the table's columns: solver, steps (fixed) or tol (adaptive)."""
    if spec.adaptive:
        return {"solver": spec.method, "steps": None, "tol": spec.atol}
    return {"solver": spec.method, "steps": spec.steps, "tol": None}


@torch.no_grad()
def w2_vs_nfe(flow: FlowModel, target: torch.Tensor, x0: torch.Tensor) -> list[dict[str, Any]]:
    """W2 of the samples from the same noise x0 to `target`, for every solver setting."""
    rows = []
    for spec in solver_ladder():
        result = flow.sample(len(x0), x0=x0, solver=spec)
        samples = result.x.float().cpu()
        w2 = wasserstein2(samples, target[: len(x0)]) if torch.isfinite(samples).all() else None
        rows.append({**ladder_row(spec), "nfe": result.nfe, "w2": w2})
    return rows


def flow_report(
    flow: FlowModel, target: torch.Tensor, x0: torch.Tensor, nll_points: int = 500
) -> dict[str, float]:
    """Straightness, normalised path energy, adaptive NFE, W2 and NLL of one trained flow."""
    span = (flow.path.t_min, flow.path.t_max)
    adaptive = flow.sample(len(x0), x0=x0, solver=REPORT_SOLVER)
    samples = adaptive.x.float().cpu()
    w2 = wasserstein2(samples, target[: len(x0)])
    energy, _ = kinetic_energy(flow.model, x0, span=span)
    transport = wasserstein2(x0.cpu(), target[: len(x0)]) ** 2  # the Benamou–Brenier bound
    return {
        "straightness": straightness(flow.model, x0, span=span),
        "path_energy": normalized_path_energy(energy, transport),
        "nfe_dopri5": adaptive.nfe,
        "w2": w2,
        "nll": nll_nats(flow.log_likelihood(target[:nll_points].to(flow.device))),
    }


def compare(
    configs: Sequence[tuple[str, TrainConfig]],
    *,
    n: int = 2000,
    seed: int = 12345,
    chunk: int = 50,
    callback: Callable[[str, Trainer], None] | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Trainer], list[dict[str, Any]], list[dict[str, Any]]]:
    """Train every configuration (interleaved) and measure them on the same noise and target.

    `callback(name, trainer)` follows training after each chunk; `progress(phase)` is told as
    each measurement starts (together they can take minutes, most of it training).
    Returns the trainers, the W2-vs-NFE rows and the table rows, each row named by config.
    """
    phase = progress or silent
    trainers = {name: Trainer(config) for name, config in configs}
    train_interleaved(trainers, chunk, callback)
    first = next(iter(trainers.values()))
    target = first.target(n, seed)
    ladder: list[dict[str, Any]] = []
    table: list[dict[str, Any]] = []
    for name, trainer in trainers.items():
        flow = trainer.flow()
        gen = torch.Generator(device=flow.device).manual_seed(seed + 1)
        x0 = flow.prior(n, tuple(target.shape[1:]), gen)
        phase(f"{name}: W2 at {len(solver_ladder())} solver settings")
        ladder += [{"config": name, **row} for row in w2_vs_nfe(flow, target, x0)]
        phase(f"{name}: straightness, path energy, dopri5 NFE, W2 and NLL")
        report = flow_report(flow, target, x0[: min(n, 1000)])
        steps_per_s = trainer.step_count / trainer.elapsed if trainer.elapsed > 0 else 0.0
        table.append({"config": name, **report, "steps_per_s": steps_per_s})
    return trainers, ladder, table
