"""The views' pictures computed from a model (`view_data.py` holds what they are): the field
on a grid, trajectories from fixed noise, the exact marginal field, conditional paths, the
density by the change of variables, and a timed sampling run.

The GUI never does the math: the app's training process calls these on the EMA model and ships
the numpy records to the window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from fmstudio.core.flow import FlowModel
from fmstudio.core.marginal import marginal_velocity
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.paths import ProbabilityPath
from fmstudio.core.solver_spec import SolverSpec
from fmstudio.core.view_data import (
    Bounds,
    Density,
    FieldFrames,
    SampleRun,
    Trajectories,
    square_cells,
)

LIVE_SOLVER = SolverSpec.fixed("midpoint", 32)
"""The live trajectory view's solver: 64 evaluations, smooth curves, cheap enough to refresh."""


def grid_points(
    bounds: Bounds, grid: int, rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """Cell-centred coordinates of `grid` columns by `rows` rows (default: as many as columns)
    and the (rows·grid, 2) points in [iy, ix] row-major order."""
    xmin, xmax, ymin, ymax = bounds
    rows = grid if rows is None else rows
    xs = xmin + (np.arange(grid) + 0.5) * (xmax - xmin) / grid
    ys = ymin + (np.arange(rows) + 0.5) * (ymax - ymin) / rows
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))
    return xs, ys, pts


def frame_times(path: ProbabilityPath, count: int) -> np.ndarray:
    """`count` evenly spaced times over the path's usable range [t_min, t_max]."""
    return np.linspace(path.t_min, path.t_max, count)


@torch.no_grad()
def learned_field(flow: FlowModel, bounds: Bounds, times: np.ndarray, grid: int) -> FieldFrames:
    """The network's v(x, t) at every time on `grid` arrows along the box's longer side
    (`square_cells`), in one batched call."""
    columns, rows = square_cells(bounds, grid)
    xs, ys, pts = grid_points(bounds, columns, rows)
    k, m = len(times), len(pts)
    x = pts.to(flow.device).repeat(k, 1)
    t = torch.as_tensor(times, dtype=torch.float32, device=flow.device).repeat_interleave(m)
    flow.model.eval()
    v = flow.model(x, t).float().cpu().numpy().reshape(k, rows, columns, 2)
    return FieldFrames(times=np.array(times), xs=xs, ys=ys, velocity=v.copy())


@torch.no_grad()
def exact_marginal_field(
    path: ProbabilityPath, target: Tensor, bounds: Bounds, times: np.ndarray, grid: int
) -> np.ndarray:
    """u_t(x) of eq. 8 for the empirical target on `learned_field`'s grid, (K, rows, columns, 2)."""
    columns, rows = square_cells(bounds, grid)
    _, _, pts = grid_points(bounds, columns, rows)
    frames = [marginal_velocity(path, target.float().cpu(), pts, float(t)).numpy() for t in times]
    return np.stack(frames).reshape(len(times), rows, columns, 2)


def trajectories(
    flow: FlowModel, x0: Tensor, times: Sequence[float], solver: SolverSpec = LIVE_SOLVER
) -> Trajectories:
    """Integrate the fixed noise x0 along the flow (eq. 1) and keep the states at `times`."""
    result = flow.sample(len(x0), x0=x0, solver=solver, t_eval=list(times))
    traj = result.trajectory
    assert traj is not None
    return Trajectories(
        times=np.asarray(times, dtype=np.float64),
        points=traj.float().cpu().numpy().copy(),
        nfe=result.nfe,
    )


def conditional_paths(
    path: ProbabilityPath, x0: Tensor, x1: Tensor, times: Sequence[float]
) -> Trajectories:
    """The mean conditional paths a_t·x1 + b_t·x0 of coupled pairs (x0, x1) (eqs. 10–11, and
    the extra bridge noise left out): straight lines for ot, curves for vp.

    Drawn next to the learned trajectories they show what the model regresses on against
    what it learned: the marginal flow, whose paths need not be any of these (Theorem 1).
    """
    t = torch.as_tensor(np.asarray(times), dtype=torch.float64)
    co = path.coefficients(t)
    a, b = co.a.float()[:, None, None], co.b.float()[:, None, None]
    points = a * x1.float().cpu()[None] + b * x0.float().cpu()[None]
    return Trajectories(times=np.asarray(times, dtype=np.float64), points=points.numpy(), nfe=0)


def likelihood_density(flow: FlowModel, bounds: Bounds, bins: int = 48, steps: int = 16) -> Density:
    """Exact model density exp(log p_1(x)) on the grid by the change of variables (eq. 39).

    A fixed-step rk4 solve keeps the cost predictable (4·steps evaluations with an exact 2-D
    divergence), so the view can refresh it while training.
    """
    _, _, pts = grid_points(bounds, bins)
    result = flow.log_likelihood(pts.to(flow.device), solver=SolverSpec.fixed("rk4", steps))
    logp = result.logp.detach().float().cpu().numpy().reshape(bins, bins)
    values = np.exp(np.clip(logp, -60.0, 30.0))
    return Density(bounds=bounds, values=values.astype(np.float32), kind="likelihood")


def display_frames(path: ProbabilityPath, steps: int, max_frames: int = 64) -> np.ndarray:
    """Frame times that are grid points of a uniform `steps`-step solve.

    With k | steps frames, a fixed-step solve through them takes the same uniform steps as one
    without, so the shown trajectory is the solver's own path and the samples and NFE are exact.
    """
    k = max(d for d in range(1, min(steps, max_frames) + 1) if steps % d == 0)
    return np.linspace(path.t_min, path.t_max, k + 1)


def sample_run(
    flow: FlowModel,
    x0: Tensor,
    solver: SolverSpec,
    *,
    target: Tensor | None = None,
    w2_points: int = 2000,
    max_frames: int = 64,
) -> SampleRun:
    """Sample from the noise x0 and keep the trajectories for display.

    Fixed-step solvers run once, through frames on their own grid. Adaptive solvers are timed
    and counted on a plain solve (landing on display frames would change their step choice),
    then run again through 33 frames for the picture.
    """
    start = time.perf_counter()
    if solver.adaptive:
        result = flow.sample(len(x0), x0=x0, solver=solver)
        seconds = time.perf_counter() - start
        frames = frame_times(flow.path, min(33, max_frames + 1))
        traj = trajectories(flow, x0, frames, solver)
    else:
        frames = display_frames(flow.path, solver.fixed_steps, max_frames)
        result = flow.sample(len(x0), x0=x0, solver=solver, t_eval=list(frames))
        seconds = time.perf_counter() - start
        assert result.trajectory is not None
        traj = Trajectories(frames, result.trajectory.float().cpu().numpy().copy(), result.nfe)
    w2, k = None, 0
    if target is not None:
        k = min(w2_points, len(target), len(x0))
        w2 = wasserstein2(result.x[:k].float().cpu(), target[:k].float().cpu())
    return SampleRun(traj, result.nfe, seconds, w2, solver, w2_points=k)
