"""The pictures' data: frames, interpolation, densities, sampling runs and snapshot merging."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fmstudio.core.flow import FlowModel
from fmstudio.core.marginal import marginal_velocity
from fmstudio.core.paths import make_path
from fmstudio.core.solver_spec import SolverSpec
from fmstudio.core.view_data import (
    Snapshot,
    Trajectories,
    histogram_density,
    noise_bounds,
    plot_bounds,
    smoothed,
)
from fmstudio.core.view_maths import (
    conditional_paths,
    display_frames,
    exact_marginal_field,
    frame_times,
    grid_points,
    learned_field,
    likelihood_density,
    sample_run,
    trajectories,
)


class Shift(nn.Module):
    """v(x, t) = c: a constant field, so every solver is exact and x(t) = x0 + c·t."""

    def __init__(self, c=(1.0, -2.0)) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x, t):
        return self.c.expand_as(x) + 0 * t[:, None]


class Contract(nn.Module):
    """v(x, t) = -x: the flow x(t) = x0·e^{-t} shrinks N(0, I) to N(0, e^{-2} I)."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        return -x + self.dummy


def flow_of(module) -> FlowModel:
    return FlowModel(module, make_path("ot"))


def test_plot_bounds_fit_the_data_box_with_a_small_margin():
    rng = np.random.default_rng(0)
    points = np.c_[rng.uniform(-3.0, 4.0, 4000), rng.uniform(-1.0, 2.0, 4000)]  # moons-like
    xmin, xmax, ymin, ymax = plot_bounds(points)
    assert -3.6 < xmin < -3.0 and 4.0 < xmax < 4.6  # not an origin-centred square
    assert -1.6 < ymin < -1.0 and 2.0 < ymax < 2.6  # not stretched to hold the noise
    assert xmin - (-3.0) == pytest.approx(ymin - (-1.0), abs=0.05)  # one frame all round
    far = np.r_[points, [[60.0, 60.0]]]  # a stray point does not stretch the box
    assert plot_bounds(far)[1] < 5.0
    assert plot_bounds(np.zeros((5, 2)))[1] > 0.5  # one spot still gets a frame
    assert plot_bounds(np.empty((0, 2))) == noise_bounds()  # nothing yet: the noise


def test_noise_bounds_add_the_priors_3_sigma_disc():
    assert noise_bounds() == pytest.approx((-3.0, 3.0, -3.0, 3.0), abs=0.5)
    assert noise_bounds()[1] >= 3.0
    xmin, xmax, ymin, ymax = noise_bounds((-1.0, 8.0, -0.5, 0.5))
    assert xmin <= -3.0 and xmax == 8.0 and ymin <= -3.0 and ymax >= 3.0


def test_the_field_grid_has_square_cells_over_a_wide_box():
    frames = learned_field(flow_of(Shift()), (-6, 6, -2, 2), np.array([0.0, 1.0]), 12)
    assert len(frames.xs) == 12 and len(frames.ys) == 4  # 12 along the longer side
    assert np.diff(frames.xs)[0] == pytest.approx(np.diff(frames.ys)[0])
    assert frames.xs[0] == pytest.approx(-5.5) and frames.ys[-1] == pytest.approx(1.5)
    assert frames.velocity.shape == (2, 4, 12, 2)
    path = make_path("ot")
    target = torch.tensor([[1.0, 1.0], [-1.0, 0.5]])
    exact = exact_marginal_field(path, target, (-6, 6, -2, 2), np.array([0.5]), 12)
    _, _, pts = grid_points((-6, 6, -2, 2), 12, 4)
    expected = marginal_velocity(path, target, pts, 0.5).numpy().reshape(4, 12, 2)
    assert np.allclose(exact[0], expected, atol=1e-6)


def test_grid_points_are_row_major_cell_centres():
    xs, ys, pts = grid_points((-1.0, 1.0, -2.0, 2.0), 4)
    assert np.allclose(xs, [-0.75, -0.25, 0.25, 0.75]) and np.allclose(ys, [-1.5, -0.5, 0.5, 1.5])
    assert pts.shape == (16, 2)
    assert pts[1].tolist() == [xs[1], ys[0]]  # x varies fastest: [iy, ix] order


def test_learned_field_evaluates_the_model_at_every_frame():
    frames = learned_field(flow_of(Shift()), (-1, 1, -1, 1), np.array([0.0, 0.5, 1.0]), 5)
    assert frames.velocity.shape == (3, 5, 5, 2)
    assert np.allclose(frames.velocity[..., 0], 1.0) and np.allclose(frames.velocity[..., 1], -2.0)
    learned, exact = frames.at(0.25)
    assert exact is None and np.allclose(learned, frames.velocity[0])


def test_field_frames_interpolate_linearly_between_times():
    frames = learned_field(flow_of(Shift()), (-1, 1, -1, 1), np.array([0.0, 1.0]), 3)
    velocity = np.stack([np.zeros((3, 3, 2)), np.ones((3, 3, 2))])
    frames = type(frames)(frames.times, frames.xs, frames.ys, velocity, velocity * 2)
    learned, exact = frames.at(0.25)
    assert np.allclose(learned, 0.25) and np.allclose(exact, 0.5)
    assert np.allclose(frames.at(-3.0)[0], 0.0) and np.allclose(frames.at(7.0)[0], 1.0)


def test_exact_marginal_field_matches_core_marginal_velocity():
    path = make_path("ot", sigma_min=0.05)
    target = torch.tensor([[1.0, 1.0], [-1.0, 0.5], [0.0, -2.0]])
    times = np.array([0.2, 0.7])
    field = exact_marginal_field(path, target, (-2, 2, -2, 2), times, 4)
    _, _, pts = grid_points((-2, 2, -2, 2), 4)
    expected = marginal_velocity(path, target, pts, 0.7).numpy().reshape(4, 4, 2)
    assert np.allclose(field[1], expected, atol=1e-6)


def test_trajectories_follow_the_closed_form_flow():
    x0 = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    times = frame_times(make_path("ot"), 5)
    traj = trajectories(flow_of(Contract()), x0, times, SolverSpec.fixed("rk4", 40))
    expected = x0.numpy()[None] * np.exp(-times)[:, None, None]
    assert traj.points.shape == (5, 50, 2)
    assert np.allclose(traj.points, expected, atol=1e-5)
    assert traj.nfe == 160
    assert np.allclose(traj.samples, traj.points[-1])


def test_trajectory_interpolation_is_linear_in_t():
    points = np.stack([np.zeros((3, 2)), np.full((3, 2), 4.0)])
    traj = Trajectories(times=np.array([0.0, 1.0]), points=points, nfe=1)
    assert np.allclose(traj.at(0.25), 1.0)


def test_histogram_density_integrates_to_one_and_finds_the_mass():
    rng = np.random.default_rng(0)
    samples = rng.normal([2.0, 2.0], 0.1, size=(5000, 2))
    bounds = (-4.0, 4.0, -4.0, 4.0)
    d = histogram_density(samples, bounds, bins=32)
    cell = (8.0 / 32) ** 2
    assert d.values.sum() * cell == pytest.approx(1.0, abs=1e-3)
    iy, ix = np.unravel_index(np.argmax(d.values), d.values.shape)
    assert ix > 16 and iy > 16  # rows go up in y, columns in x


def test_likelihood_density_matches_the_pushforward_of_the_prior():
    """v = -x maps N(0, I) to N(0, e^{-2} I) at t = 1: the grid density must be that Gaussian."""
    bounds = (-1.5, 1.5, -1.5, 1.5)
    d = likelihood_density(flow_of(Contract()), bounds, bins=16, steps=32)
    _, _, pts = grid_points(bounds, 16)
    var = np.exp(-2.0)
    expected = np.exp(-(pts.numpy() ** 2).sum(1) / (2 * var)) / (2 * np.pi * var)
    assert np.allclose(d.values.ravel(), expected, rtol=1e-3)
    assert d.kind == "likelihood"


def test_display_frames_lie_on_the_solver_grid():
    path = make_path("ot")
    assert len(display_frames(path, 4)) == 5
    frames = display_frames(path, 100)
    assert len(frames) == 51  # 50 divides 100; 64 frames would break the uniform grid
    assert len(display_frames(path, 97)) == 2  # a prime: only the end points


@pytest.mark.parametrize("method,steps", [("euler", 8), ("rk4", 6), ("dopri5", None)])
def test_sample_run_reports_exact_samples_nfe_and_w2(method, steps):
    x0 = torch.randn(200, 2, generator=torch.Generator().manual_seed(1))
    flow = flow_of(Shift())
    target = x0 + torch.tensor([1.0, -2.0])
    solver = SolverSpec(method) if steps is None else SolverSpec.fixed(method, steps)
    run = sample_run(flow, x0, solver, target=target)
    assert np.allclose(run.trajectories.samples, target.numpy(), atol=1e-5)
    assert run.w2 == pytest.approx(0.0, abs=1e-3)
    if steps is not None:
        assert run.nfe == steps * {"euler": 1, "rk4": 4}[method]
    assert run.nfe > 0 and run.seconds >= 0


def test_sample_run_says_how_many_points_its_w2_compared():
    x0 = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    target = torch.randn(5000, 2, generator=torch.Generator().manual_seed(2))
    euler = SolverSpec.fixed("euler", 2)
    run = sample_run(flow_of(Shift()), x0, euler, target=target, w2_points=200)
    assert run.w2_points == 200 and run.w2_floor is None  # the floor is the engine's to add
    assert sample_run(flow_of(Shift()), x0, euler).w2_points == 0


def _snap(start, losses, **parts):
    return Snapshot(
        step=start + len(losses),
        total_steps=100,
        steps_per_s=1.0,
        lr=1e-3,
        loss_start=start,
        losses=np.asarray(losses, dtype=np.float64),
        **parts,
    )


def test_merging_snapshots_keeps_every_loss_and_the_newest_pictures():
    traj = Trajectories(np.array([0.0, 1.0]), np.zeros((2, 1, 2)), 1)
    older = _snap(0, [1.0, 2.0, 3.0], trajectories=traj)
    newer = _snap(3, [4.0, 5.0])
    merged = newer.merged_after(older)
    assert merged.loss_start == 0 and merged.losses.tolist() == [1, 2, 3, 4, 5]
    assert merged.trajectories is traj and merged.step == 5


def test_merging_after_a_restart_drops_the_old_run_losses():
    merged = _snap(0, [9.0]).merged_after(_snap(0, [1.0, 2.0, 3.0]))
    assert merged.loss_start == 0 and merged.losses.tolist() == [9.0]


def test_smoothed_is_a_bias_corrected_ema():
    assert np.allclose(smoothed(np.full(10, 3.0), 0.9), 3.0)
    values = np.array([1.0, 3.0])
    expected_second = (0.9 * 0.1 * 1.0 + 0.1 * 3.0) / (1 - 0.81)
    assert smoothed(values, 0.9)[1] == pytest.approx(expected_second)
    assert np.array_equal(smoothed(values, 0.0), values)


def test_conditional_paths_run_from_noise_to_their_data_point():
    x0 = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    x1 = torch.randn(20, 2, generator=torch.Generator().manual_seed(1)) + 3.0
    ot = conditional_paths(make_path("ot"), x0, x1, [0.0, 0.5, 1.0])
    assert np.allclose(ot.points[0], x0.numpy(), atol=1e-6)
    assert np.allclose(ot.points[2], x1.numpy(), atol=1e-6)
    assert np.allclose(ot.points[1], (x0 + x1).numpy() / 2, atol=1e-6)  # straight lines
    vp = conditional_paths(make_path("vp"), x0, x1, [0.0, 0.5, 0.999])
    assert not np.allclose(vp.points[1], (vp.points[0] + vp.points[2]) / 2, atol=1e-2)  # curved
