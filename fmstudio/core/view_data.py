"""What the app's views draw, as plain numpy records: field frames, trajectories, densities,
a sampling run, and the snapshot that carries them from the training process to the window.

Light on purpose (numpy, no torch): the window reads these without importing torch, and every
array is a fresh copy, safe to hand to another thread (pyqtgraph keeps references to what it
is given). `view_maths.py` computes them from a model.

Frames are precomputed on a grid of times, so moving the t-slider or pressing play needs no model
call: `FieldFrames.at` and `Trajectories.at` interpolate linearly between neighbouring frames.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from fmstudio.core.solver_spec import SolverSpec

Bounds = tuple[float, float, float, float]
"""(xmin, xmax, ymin, ymax) of a plot, in data coordinates."""


NOISE_REACH = 3.3
"""Half-width of the box the t = 0 noise is shown in: the 3σ disc of N(0, I) (99% of its draws)
and a 10% frame. VE's wider prior is not fitted (it would shrink the data to a dot); its far
particles enter the plot on their way in."""
MIN_HALF = 1.0
"""The smallest half-width of a data box: one spot or a thin line still gets a readable frame."""


def plot_bounds(points: np.ndarray, margin: float = 0.06) -> Bounds:
    """The data box: where 99.5% of the points lie along each axis, with a frame of `margin` times
    its longer side all round (no points yet: the noise box).

    Neither squared nor centred on the origin: the views fit it with the aspect kept and put
    the spare room of a wide or tall plot on the sides. Quantiles keep a few stray points from
    stretching it.
    """
    finite = points[np.isfinite(points).all(axis=1)] if len(points) else points
    if len(finite) == 0:
        return noise_bounds()
    lo, hi = np.quantile(finite, [0.0025, 0.9975], axis=0)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, MIN_HALF)
    half = half + 2 * margin * half.max()
    return (
        float(centre[0] - half[0]),
        float(centre[0] + half[0]),
        float(centre[1] - half[1]),
        float(centre[1] + half[1]),
    )


def noise_bounds(bounds: Bounds | None = None, reach: float = NOISE_REACH) -> Bounds:
    """`bounds` grown to hold the prior's 3σ disc (or that disc's box alone): what the views of
    t ∈ [0, 1], the trajectories and the field, fit, so the noise at t = 0 shows too."""
    xmin, xmax, ymin, ymax = bounds if bounds is not None else (0.0, 0.0, 0.0, 0.0)
    return (min(xmin, -reach), max(xmax, reach), min(ymin, -reach), max(ymax, reach))


def _interp_frames(times: np.ndarray, frames: np.ndarray, t: float) -> np.ndarray:
    """Linear interpolation between the two frames around t (clamped to the ends)."""
    t = float(np.clip(t, times[0], times[-1]))
    hi = int(np.searchsorted(times, t, side="left"))
    if hi == 0:
        return frames[0]
    lo = hi - 1
    w = (t - times[lo]) / max(times[hi] - times[lo], 1e-12)
    return (1.0 - w) * frames[lo] + w * frames[hi]


@dataclass(frozen=True)
class FieldFrames:
    """v(x, t) on a G×G grid at K times; `marginal` is the exact field of eq. 8 when asked for."""

    times: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    velocity: np.ndarray
    """(K, G, G, 2), indexed [k, iy, ix]."""
    marginal: np.ndarray | None = None

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray | None]:
        learned = _interp_frames(self.times, self.velocity, t)
        exact = None if self.marginal is None else _interp_frames(self.times, self.marginal, t)
        return learned, exact


@dataclass(frozen=True)
class Trajectories:
    """Particle positions (T, N, 2) at `times` from fixed prior noise; the last frame: samples."""

    times: np.ndarray
    points: np.ndarray
    nfe: int

    @property
    def samples(self) -> np.ndarray:
        return self.points[-1]

    def at(self, t: float) -> np.ndarray:
        return _interp_frames(self.times, self.points, t)


@dataclass(frozen=True)
class Density:
    """Model density on a grid: `values[iy, ix]`, probability per unit area, over `bounds`."""

    bounds: Bounds
    values: np.ndarray
    kind: str
    """'histogram' (of model samples) or 'likelihood' (exact, eq. 39 of the paper's appendix C)."""


def square_cells(bounds: Bounds, grid: int) -> tuple[int, int]:
    """(columns, rows) with `grid` cells along the longer side and the cells as near square as
    whole cells allow: arrows on a wide plot stay as long across as up."""
    width, height = bounds[1] - bounds[0], bounds[3] - bounds[2]
    if width >= height:
        return grid, max(1, round(grid * height / width))
    return max(1, round(grid * width / height)), grid


def _box_blur(values: np.ndarray) -> np.ndarray:
    """3×3 mean filter (edges padded): takes the salt-and-pepper out of a sample histogram."""
    padded = np.pad(values, 1, mode="edge")
    h, w = values.shape
    return sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def histogram_density(samples: np.ndarray, bounds: Bounds, bins: int = 64) -> Density:
    """Density estimate from model samples: a normalised, lightly smoothed 2-D histogram."""
    xmin, xmax, ymin, ymax = bounds
    finite = samples[np.isfinite(samples).all(axis=1)]
    counts, _, _ = np.histogram2d(
        finite[:, 1], finite[:, 0], bins=bins, range=[[ymin, ymax], [xmin, xmax]]
    )
    area = (xmax - xmin) * (ymax - ymin) / bins**2
    values = _box_blur(counts) / max(len(samples), 1) / area
    return Density(bounds=bounds, values=values.astype(np.float32), kind="histogram")


@dataclass(frozen=True)
class Snapshot:
    """One update for the views: progress and losses always; the heavy parts when computed.

    `losses` holds the losses of steps [loss_start, loss_start + len(losses)); the views append
    them to what they have. A snapshot that replaces one the GUI has not drawn yet is merged with
    it (`merged_after`), so no loss is lost and no queue of stale pictures builds up.
    """

    step: int
    total_steps: int
    steps_per_s: float
    """While training, over the last seconds of wall clock; otherwise the run's average."""
    lr: float
    loss_start: int
    losses: np.ndarray
    samples: np.ndarray | None = None
    trajectories: Trajectories | None = None
    conditional: Trajectories | None = None
    field: FieldFrames | None = None
    density: Density | None = None
    bits_per_dim: float | None = None
    """Image runs: bits/dim of a held-out batch at `step` (a live, fixed-step estimate)."""
    train_seconds: float = 0.0
    """Wall-clock seconds the run has trained: measurements, pictures and a CPU shared with other
    runs count, pauses do not (`steps_per_s` of a run that is not training is step / this)."""

    def merged_after(self, older: Snapshot) -> Snapshot:
        """This snapshot, keeping `older`'s losses before it and its heavy parts if newer lacks."""
        if older.loss_start + len(older.losses) >= self.loss_start:
            keep = older.losses[: max(0, self.loss_start - older.loss_start)]
            losses = np.concatenate([keep, self.losses])
            start = min(older.loss_start, self.loss_start)
        else:
            losses, start = self.losses, self.loss_start
        return replace(
            self,
            loss_start=start,
            losses=losses,
            samples=self.samples if self.samples is not None else older.samples,
            trajectories=self.trajectories or older.trajectories,
            conditional=self.conditional or older.conditional,
            field=self.field or older.field,
            density=self.density or older.density,
            bits_per_dim=self.bits_per_dim if self.bits_per_dim is not None else older.bits_per_dim,
        )


SMOOTH_BLOCK = 256
"""Steps per block of `smoothed`'s blocked recursion."""


def smoothed(losses: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average of a loss curve with bias correction (TensorBoard-style):
    y_t = w·y_{t−1} + (1 − w)·x_t, divided by 1 − w^t.

    In numpy (`_ema`), not scipy's `lfilter`: importing scipy.signal cost the window's
    start-up 2 s. A live curve is smoothed by a kept `Smoother`, which extends it by the new
    steps; this is one from scratch.
    """
    return Smoother()(losses, weight)


def _ema(values: np.ndarray, weight: float, carry: float) -> np.ndarray:
    """The recursion y_t = w·y_{t−1} + (1 − w)·x_t from y_{−1} = `carry`, uncorrected.

    Blocked: within a block of `SMOOTH_BLOCK` steps it is one product with the matrix of powers
    w^(j−i) (entries ≤ 1, so exact to rounding); only the carry from block to block loops.
    """
    n, b = len(values), SMOOTH_BLOCK
    blocks = np.concatenate([values, np.zeros(-n % b)]).reshape(-1, b)
    powers, decay = _block_powers(weight)
    partial = (1.0 - weight) * blocks @ powers.T
    for row in partial:
        row += decay * carry
        carry = row[-1]
    return partial.ravel()[:n]


@functools.lru_cache(maxsize=4)
def _block_powers(weight: float) -> tuple[np.ndarray, np.ndarray]:
    """[j, i] → w^(j−i) below the diagonal (0 above), and w^(j+1): one block's recursion."""
    j = np.arange(SMOOTH_BLOCK)
    lags = np.subtract.outer(j, j)
    return np.where(lags >= 0, weight ** np.clip(lags, 0, None), 0.0), weight ** (j + 1.0)


class Smoother:
    """`smoothed` of a curve that grows: a call with the same weight and the old points first
    computes only the new ones (the loss view redraws 25 times a second over 100k steps)."""

    def __init__(self) -> None:
        self._weight: float | None = None
        self._raw = np.empty(0)
        self._ema = np.empty(0)
        self._out = np.empty(0)

    def __call__(self, losses: np.ndarray, weight: float) -> np.ndarray:
        """The smoothed curve (a new array each call: the caller may keep it)."""
        values = np.asarray(losses, dtype=np.float64)
        if weight <= 0 or len(values) == 0:
            return values
        old = len(self._raw)
        grown = old <= len(values) and np.array_equal(values[:old], self._raw)
        if weight != self._weight or not grown:
            old, self._ema, self._out = 0, np.empty(0), np.empty(0)
        carry = self._ema[-1] if old else 0.0
        tail = _ema(values[old:], weight, carry)
        correction = 1.0 - weight ** np.arange(old + 1, len(values) + 1, dtype=np.float64)
        self._ema = np.concatenate([self._ema, tail])
        self._out = np.concatenate([self._out, tail / correction])
        self._raw, self._weight = values.copy(), weight
        return self._out


@dataclass(frozen=True)
class SampleRun:
    """One sampling run as the app reports it: trajectories, the NFE and time the solve took,
    and W2 to fresh target points (None when no target was given, as for images)."""

    trajectories: Trajectories
    nfe: int
    seconds: float
    w2: float | None
    solver: SolverSpec
    w2_points: int = 0
    """Samples W2 compared with as many target points (0: not measured)."""
    w2_floor: float | None = None
    """W2 between two independent draws of `w2_points` target points: what a perfect model
    would score, since W2 of finite samples stays above zero (the engine adds it)."""
