"""The training engine: owns the Trainer, runs it in chunks, and publishes what the app draws.

It is Qt-free on purpose: it runs in a child process (`process.py`), so training has a Python
interpreter, a GIL and a core of its own and the window's drawing cannot slow it down (with a
worker *thread*, the GUI's drawing held the GIL often enough to cost training about a third of
its speed; benchmarks/bench_ui.py). Commands are method calls between chunks (`process.DISPATCH`
maps each `protocol.Command` to one); events (`protocol.Event`: a new run, snapshots, state
changes, errors, sampling results) go out through `send(event)`.

Snapshots are throttled by time (`PUBLISH_INTERVAL`) and the expensive pictures by a budget
(`HEAVY_SHARE` of the engine's time), computed only for the views that are shown.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from fmstudio.core import compare_paths, io, view_data, view_maths
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D, DatasetError
from fmstudio.core.evaluate import image_bits_per_dim
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.reflow import reflow_trainer
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.training import DivergenceError, Trainer, available_devices, lr_factor
from fmstudio.live import trainer_log
from fmstudio.live.protocol import (
    Event,
    Failed,
    InternalError,
    Measured,
    Measurement,
    Part,
    RunInfo,
    RunStarted,
    RunState,
    Sampled,
    Saved,
    SnapshotReady,
    StateChanged,
    TargetChanged,
)

TARGET_POINTS = 5000
"""Target points the views show (and W2 is measured against)."""
MARGINAL_POINTS = 1500
"""Target points behind the exact marginal field: enough for its shape, cheap to evaluate."""
PARTICLES = 300
FIELD_GRID = 24
"""Arrows along the longer side of the field's box (`snapshot.square_cells`): about 20 px apart
in a typical dock, fewer rows in a wide one."""
FIELD_FRAMES = 11
"""Field frames over t; the views interpolate between them, so the slider and play stay smooth."""
TRAJECTORY_FRAMES = 13
"""Frames of the live trajectories; the midpoint solve takes one step per frame (24 NFE)."""
SAMPLES = 1500
"""Live model samples (and the histogram density): fixed noise, `SAMPLE_SOLVER`."""
SAMPLE_SOLVER = SolverSpec.fixed("midpoint", 4)
CHUNK_SECONDS = 0.015
"""Aim for chunks this long: short enough that commands wait little, long enough to be cheap."""
HEAVY_SHARE = 0.07
"""At most this share of the engine's time goes to computing pictures while training."""
PUBLISH_INTERVAL = 1.0 / 30.0
"""Light snapshots (losses, progress) at most 30 times a second: with chunk granularity that
is 20-25 drawn per second, what the eye needs, and each costs the GUI a loss-plot redraw."""
IMAGES = 64
"""Image runs: samples in the live grid (the first few also make the x_t strip)."""
IMAGE_FRAMES = 9
"""Image runs: frames of x_t kept along t (the strip's columns); 8 midpoint steps."""
BPD_IMAGES = 64
"""Image runs: held-out images whose bits/dim is estimated live (`BPD_SOLVER`, Hutchinson)."""
BPD_SOLVER = SolverSpec.fixed("rk4", 8)
HEAVY_INTERVALS = {
    Part.TRAJECTORIES: 0.2,
    Part.SAMPLES: 0.25,
    Part.FIELD: 0.25,
    Part.LIKELIHOOD: 3.0,
    Part.CONDITIONAL: math.inf,
    Part.BPD: 10.0,
}
"""Fastest refresh of each picture while training; conditional paths do not depend on the model,
so they are computed only for a new run, a new target, or when their view is switched on."""
CONDITIONAL_PAIRS = 40
REPORT_POINTS = 500
"""Samples behind a measurement's table (its W2 and flow metrics); the ladder uses all."""
FLOOR_SEED = 8
"""Offset of the seeds of the target draws behind the W2 floor (the reference: seed + 7)."""
FLOOR_DRAWS = 2
"""Independent draws the W2 floor averages over (`Engine._w2_floor`): each costs one exact W2,
1.1 s at the sampling panel's 2000 points on 2 cores, once per target and size."""
IMAGE_PARTS = frozenset({Part.TRAJECTORIES, Part.BPD})
"""The parts an image run can compute: x_t of fixed noise (the grid and strip) and bits/dim."""


RATE_WINDOW = 30.0
"""Seconds of wall clock the live steps/s spans. A compare window's live measurement pauses
training for 1.5-6 s once every ten times that (`compare_panel.MEASURE_SHARE`): a window this
long takes most pauses in, where the old 2-s one forgot each at the next tick and showed 30-40
steps/s for a run that really made 4."""


@dataclass
class _Rate:
    """Training speed by the wall clock. Everything between two ticks counts (a measurement, the
    pictures, a CPU shared with other runs), so the rate is the one the run really progresses
    at; time paused does not count."""

    seconds: float = 0.0
    """Wall-clock seconds trained before the current stretch of training."""
    window: float = RATE_WINDOW
    marks: deque = field(default_factory=deque)
    since: float | None = None
    """When the current stretch of training began (None: not training)."""

    def start(self, when: float, step: int) -> None:
        self.since = when
        self.marks = deque([(when, step)])

    def add(self, when: float, step: int) -> None:
        """A tick ended at `when` with `step` steps done. The oldest mark kept is the last one
        at least `window` old, so the span never shrinks to the last tick alone."""
        self.marks.append((when, step))
        while len(self.marks) > 2 and when - self.marks[1][0] >= self.window:
            self.marks.popleft()

    def stop(self, when: float) -> None:
        if self.since is not None:
            self.seconds += when - self.since
            self.since = None

    def total(self, when: float) -> float:
        """Wall-clock seconds trained so far (the current stretch included)."""
        return self.seconds + (when - self.since if self.since is not None else 0.0)

    def live(self) -> float:
        """Steps per second over the last `window` seconds of this stretch."""
        if len(self.marks) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


LOAD_ERRORS = (
    io.CheckpointError,
    ConfigError,
    DatasetError,
    RuntimeError,
    ValueError,
    MemoryError,
    OSError,
)
"""What building or loading a run from the user's files and settings may raise: a refused
file or setting, a device or allocation failure, an unreadable file. Each is a `failed`
message (the user chose something that does not work), never an internal error."""


def _load_failure(exc: BaseException, directory: str | None = None) -> str:
    """The reason a run could not be built or loaded, in words (a bare MemoryError has none)."""
    if isinstance(exc, MemoryError):
        return f"{directory}: not enough memory to load it" if directory else "not enough memory"
    return str(exc) or type(exc).__name__


Send = Callable[[Event], None]
"""How the engine reports: one `protocol.Event` at a time (a snapshot, a state, a failure)."""


class Engine:
    """The training side of the app. Call commands between `tick()`s; each tick is one chunk."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.trainer: Trainer | None = None
        self.state = RunState.IDLE
        self.views: frozenset[Part] = frozenset(Part) - {Part.LIKELIHOOD, Part.CONDITIONAL}
        self._chunk_steps = 10
        self._field_box: view_data.Bounds | None = None
        """What the field view shows (`set_field_box`); None: the data and noise box."""
        self._reset_run_state()

    @property
    def busy(self) -> bool:
        """True while training: the host should call `tick()` again without waiting."""
        return self.state is RunState.TRAINING

    def _reset_run_state(self) -> None:
        self._sent_losses = 0
        self._last_publish = 0.0
        self._due: dict[str, float] = {}
        self._heavy_free_at = 0.0
        # A loaded run starts from the time its checkpoint says it trained.
        self._rate = _Rate(seconds=self.trainer.elapsed if self.trainer is not None else 0.0)
        self._marginal: tuple[view_data.Bounds, np.ndarray] | None = None
        """The exact field and the box it was computed on (it depends on the target only)."""
        self._floors: dict[int, float] = {}
        """W2 floors of this target, by sample size (`_w2_floor`)."""
        self._target_t: torch.Tensor | None = None
        self._bounds_cache: view_data.Bounds | None = None
        self._x0: torch.Tensor | None = None
        self._broken: set[str] = set()
        """Pictures whose code raised: off until the next run or target (`_picture`)."""

    # ---- commands ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Pay torch's one-off optimizer set-up (it imports torch._dynamo, ~2 s on a laptop
        CPU) while the user looks at the first picture, not when they press Train."""
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    def new_run(self, config: TrainConfig, dataset: Dataset2D | None = None) -> None:
        """Build a fresh Trainer and publish the untrained model's pictures at once (no
        dataset: the config's own, which image runs load here rather than in the window)."""
        self._halt()
        try:
            trainer = Trainer(config, dataset=dataset)
        except LOAD_ERRORS as exc:
            self._fail(f"Cannot start this run: {_load_failure(exc)}")
            return
        self._adopt(trainer)

    def load_model(self, directory: str) -> None:
        """Continue from a saved run directory (weights, optimizer, data pool, losses)."""
        self._halt()
        try:
            trainer = io.load_trainer(directory)
        except LOAD_ERRORS as exc:
            self._fail(f"Cannot open the model: {_load_failure(exc, directory)}")
            return
        self._adopt(trainer)

    def reflow(self, directory: str, pairs: int, steps: int) -> None:
        """A new run that straightens the flow saved in `directory` (`core.reflow`): its own
        (noise, sample) pairs, the straight path, starting from its weights."""
        self._halt()
        try:
            trainer = reflow_trainer(io.load_trainer(directory), pairs=pairs, steps=steps)
        except (*LOAD_ERRORS, ArithmeticError) as exc:
            self._fail(f"Cannot reflow this model: {_load_failure(exc, directory)}")
            return
        self._adopt(trainer)

    def _adopt(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._reset_run_state()
        self.send(RunStarted(self._run_info()))
        self._set_state(RunState.FINISHED if trainer.done else RunState.IDLE)
        self._publish(force_heavy=True)

    def start(self) -> None:
        if self.trainer is None or self.trainer.done or self.state is RunState.TRAINING:
            return
        self._set_state(RunState.TRAINING)

    def pause(self) -> None:
        if self.state is RunState.TRAINING:
            self._set_state(RunState.PAUSED)
            self._publish(force_heavy=True)

    def update_settings(self, changes: dict) -> None:
        if self.trainer is None:
            return
        try:
            self.trainer.update_settings(**changes)
        except ConfigError as exc:
            self._fail(str(exc))
            return
        if self.state is RunState.FINISHED and not self.trainer.done:
            self._set_state(RunState.PAUSED)  # more steps were asked for: the run can go on
        elif self.trainer.done and self.state is not RunState.FINISHED:
            self._set_state(RunState.FINISHED)
        self._publish()

    def set_dataset(self, dataset: Dataset2D) -> None:
        """Swap the target under a live run; the model keeps training toward the new one."""
        if self.trainer is None:
            return
        try:
            self.trainer.set_dataset(dataset)
        except (DatasetError, ValueError) as exc:
            self._fail(f"Cannot use this target: {exc}")
            return
        self._marginal = None
        self._floors.clear()
        self._target_t = None
        self._bounds_cache = None
        self._broken.clear()
        self.send(TargetChanged(self._run_info()))
        self._publish(force_heavy=True)

    def set_views(self, views: frozenset[Part]) -> None:
        """Which expensive parts the visible views need; the others are not computed at all."""
        added = frozenset(views) - self.views
        self.views = frozenset(views)
        if added and self.trainer is not None:
            if self.state is not RunState.TRAINING:
                self._publish(force_heavy=True)
            else:
                for part in added & set(HEAVY_INTERVALS):
                    self._due[part] = 0.0  # switched on mid-run: draw it at the next chance

    def set_field_box(self, box: view_data.Bounds) -> None:
        """The range the field view shows (its dock's shape, pan and zoom): the arrows are
        computed over all of it, not only the data box."""
        box = tuple(float(b) for b in box)
        if box == self._field_box:
            return
        self._field_box = box
        self._due[Part.FIELD] = 0.0
        if (
            self.trainer is not None
            and self.state is not RunState.TRAINING
            and self._wants(Part.FIELD)
        ):
            self._publish(force_heavy=True, only=frozenset({Part.FIELD}))

    def sample(self, request: SampleRequest) -> None:
        """Sample the EMA model with the requested solver; sends `sampled` or `failed`."""
        if self.trainer is None:
            self._fail("Nothing to sample yet: start a run or open a model first.")
            return
        flow = self.trainer.flow()
        gen = torch.Generator(device=flow.device).manual_seed(request.seed)
        try:
            x0 = flow.prior(request.n, flow.data_shape, gen)
            run = view_maths.sample_run(
                flow,
                x0,
                request.solver,
                target=None if self._is_image else self._target_tensor(),
                max_frames=IMAGE_FRAMES - 1 if self._is_image else 64,
            )
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            self._fail(f"Sampling failed: {exc}")
            return
        if not np.isfinite(run.trajectories.samples).all():
            self._fail("Sampling produced NaN/inf: the model or the solver diverged.")
            return
        if run.w2 is not None:
            run = replace(run, w2_floor=self._w2_floor(run.w2_points))
        self.send(Sampled(run))

    def save_model(self, directory: str) -> None:
        if self.trainer is None:
            self._fail("Nothing to save yet: train or open a model first.")
            return
        try:
            io.save_checkpoint(directory, self.trainer)
        except OSError as exc:
            self._fail(f"Cannot save the model to {directory}: {exc}")
            return
        self.send(Saved(str(Path(directory))))

    def measure(self, n: int = 1000) -> None:
        """W2 vs NFE over the solver ladder and the flow table (`core.compare_paths`) for the
        current model, on fixed noise and fresh target points; sends `Measured` or `Failed`."""
        if self.trainer is None:
            self._fail("Nothing to measure yet: start a run first.")
            return
        if self._is_image:
            self._fail("W2 vs NFE is measured for 2-D runs; image runs report bits/dim.")
            return
        flow = self.trainer.flow()
        target = self._target_tensor()[:n]
        gen = torch.Generator(device=flow.device).manual_seed(4321)
        x0 = flow.prior(len(target), (2,), gen)
        try:
            ladder = compare_paths.w2_vs_nfe(flow, target, x0)
            table = compare_paths.flow_report(flow, target, x0[:REPORT_POINTS], nll_points=300)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            self._fail(f"Measuring failed: {exc}")
            return
        table.update(
            step=self.trainer.step_count,
            steps_per_s=self._average_rate(time.perf_counter()),
            w2_floor=self._w2_floor(min(len(target), REPORT_POINTS)),
        )
        self.send(Measured(Measurement(ladder, table)))

    def recover(self) -> None:
        """After an unexpected error in a command or a tick: stop training, publishing nothing
        (whatever failed could fail again), so the user sees the error and decides."""
        self._halt()

    def _halt(self) -> None:
        """Stop training (a new run replaces this one)."""
        if self.state is RunState.TRAINING:
            self._set_state(RunState.PAUSED)

    # ---- the training loop -------------------------------------------------------------

    def tick(self) -> None:
        """One chunk of training steps (about `CHUNK_SECONDS`), then a snapshot if it is time."""
        trainer = self.trainer
        if trainer is None or self.state is not RunState.TRAINING:
            return
        start = time.perf_counter()
        try:
            trainer.run(self._chunk_steps)
        except DivergenceError as exc:
            self._set_state(RunState.PAUSED)
            self._fail(str(exc))
            self._publish(force_heavy=True)
            return
        except RuntimeError as exc:  # out of memory, a device error
            self._set_state(RunState.PAUSED)
            self._fail(f"Training stopped: {exc}")
            return
        spent = time.perf_counter() - start
        scale = CHUNK_SECONDS / max(spent, 1e-4)
        self._chunk_steps = int(min(5000, max(1, self._chunk_steps * min(2.0, max(0.5, scale)))))
        self._rate.add(time.perf_counter(), trainer.step_count)
        if trainer.done:
            self._set_state(RunState.FINISHED)
            self._publish(force_heavy=True)
            return
        self._publish()

    # ---- pictures ------------------------------------------------------------------------

    def _publish(self, force_heavy: bool = False, only: frozenset | None = None) -> None:
        """Send a snapshot if it is time (always when `force_heavy`), with the heavy parts that
        are due (all wanted ones when forced; `only`: just these)."""
        trainer = self.trainer
        if trainer is None:
            return
        now = time.perf_counter()
        if not force_heavy and now - self._last_publish < PUBLISH_INTERVAL:
            return
        self._last_publish = now
        parts = self._heavy_parts(now, force_heavy, only)
        losses = np.asarray(trainer.losses[self._sent_losses :], dtype=np.float64)
        item = view_data.Snapshot(
            step=trainer.step_count,
            total_steps=trainer.config.steps,
            steps_per_s=self._rate.live() if self.busy else self._average_rate(now),
            lr=trainer.config.lr * lr_factor(trainer.config, trainer.step_count),
            loss_start=self._sent_losses,
            losses=losses,
            train_seconds=self._rate.total(now),
            **parts,
        )
        self._sent_losses = len(trainer.losses)
        self.send(SnapshotReady(item))

    def _heavy_parts(self, now: float, force: bool, only: frozenset | None = None) -> dict:
        """The expensive parts that are wanted (and in `only`, if given) and due: all of them
        when forced, else the most overdue one, and then none until the picture budget
        (`HEAVY_SHARE`) allows again."""
        wanted = [n for n in HEAVY_INTERVALS if self._wants(n) and (only is None or n in only)]
        if not force:
            if now < self._heavy_free_at:
                return {}
            overdue = [n for n in wanted if now >= self._due.get(n, 0.0)]
            wanted = sorted(overdue, key=lambda n: self._due.get(n, 0.0))[:1]
        parts: dict = {}
        start = time.perf_counter()
        for name in wanted:
            parts.update(self._picture(name))
            self._due[name] = now + HEAVY_INTERVALS[name]
        cost = time.perf_counter() - start
        self._heavy_free_at = now + cost * (1.0 - HEAVY_SHARE) / HEAVY_SHARE
        return parts

    def _picture(self, name: Part) -> dict:
        """One picture part. One whose code raises is reported once and left off until the next
        run or target: a bug in a picture must not stop training nor flood the app every tick,
        and the snapshot goes out with the other parts."""
        try:
            return PICTURES[name](self)
        except Exception as exc:
            self._broken.add(name)
            then = "that picture is off until the next run or target"
            message = trainer_log.internal_error(f"the {name} picture", exc, then)
            self.send(InternalError(message))
            return {}

    @property
    def _is_image(self) -> bool:
        return self.trainer is not None and self.trainer.images is not None

    def _wants(self, name: Part) -> bool:
        """Whether a part is needed by a visible view (`self.views`, set by the window) and
        makes sense for this run (image runs: `IMAGE_PARTS` only; 2-D runs: all but bpd), and
        has not failed in this run (`_broken`)."""
        parts = IMAGE_PARTS if self._is_image else set(HEAVY_INTERVALS) - {Part.BPD}
        if name in self._broken or name not in parts:
            return False
        if name is Part.SAMPLES:  # the samples view, and the histogram density drawn from them
            return Part.SAMPLES in self.views or self._histogram
        return name in self.views

    @property
    def _histogram(self) -> bool:
        return Part.DENSITY in self.views and Part.LIKELIHOOD not in self.views

    def _flow_and_noise(self):
        flow = self.trainer.flow()
        if self._x0 is None:
            gen = torch.Generator(device=flow.device).manual_seed(1234)
            count = IMAGES if self._is_image else PARTICLES
            self._x0 = flow.prior(count, flow.data_shape, gen)
        return flow, self._x0

    def _trajectories(self) -> dict:
        """Fixed noise carried along the flow: particle paths, or for images x_t of the grid's
        samples (the same noise every time, so the user sees the same images sharpen)."""
        flow, x0 = self._flow_and_noise()
        frames = IMAGE_FRAMES if self._is_image else TRAJECTORY_FRAMES
        times = view_maths.frame_times(flow.path, frames)
        solver = SolverSpec.fixed("midpoint", frames - 1)  # one step per frame
        return {"trajectories": view_maths.trajectories(flow, x0, times, solver)}

    def _conditional(self) -> dict:
        """A few noise particles paired with target points by the run's own coupling (exact
        OT for otcfm), and the conditional paths between them."""
        flow, x0 = self._flow_and_noise()
        x0 = x0[:CONDITIONAL_PAIRS]
        x1 = self._target_tensor()[:CONDITIONAL_PAIRS].to(x0.device)
        gen = torch.Generator(device=x0.device).manual_seed(7)
        x0, x1 = self.trainer.coupling.pair(x0, x1, gen)
        times = view_maths.frame_times(flow.path, TRAJECTORY_FRAMES)
        return {"conditional": view_maths.conditional_paths(flow.path, x0, x1, times)}

    def _samples(self) -> dict:
        """Model samples from fixed noise (the same each time, so changes are the model's),
        and the histogram density drawn from them when that view is shown."""
        flow = self.trainer.flow()
        gen = torch.Generator(device=flow.device).manual_seed(99)
        x0 = flow.prior(SAMPLES, (2,), gen)
        samples = flow.sample(len(x0), x0=x0, solver=SAMPLE_SOLVER).x
        points = samples.float().cpu().numpy().copy()
        parts: dict = {"samples": points}
        if self._histogram:
            parts["density"] = view_data.histogram_density(points, self._bounds())
        return parts

    def _field(self) -> dict:
        """The learned field over the range the field view shows (the data and noise box until
        it says), and the exact field on the same grid when asked for: that one depends on the
        target only, so it is kept until the target or the box changes."""
        flow = self.trainer.flow()
        times = view_maths.frame_times(flow.path, FIELD_FRAMES)
        box = self._field_box or view_data.noise_bounds(self._bounds())
        frames = view_maths.learned_field(flow, box, times, FIELD_GRID)
        if Part.MARGINAL in self.views:
            if self._marginal is None or self._marginal[0] != box:
                target = self._target_tensor()[:MARGINAL_POINTS]
                exact = view_maths.exact_marginal_field(flow.path, target, box, times, FIELD_GRID)
                self._marginal = (box, exact)
            frames = replace(frames, marginal=self._marginal[1])
        return {"field": frames}

    def _bpd(self) -> dict:
        """Bits/dim of the first held-out images: a cheap fixed-step estimate for the curve."""
        trainer = self.trainer
        images = trainer.target(BPD_IMAGES, seed=0).to(trainer.device)
        levels = trainer.held_out.levels
        flow = trainer.flow()
        try:
            return {"bits_per_dim": image_bits_per_dim(flow, images, levels, solver=BPD_SOLVER)}
        except FloatingPointError:
            return {}  # a diverging model: the loss curve and the banner say so

    def _likelihood(self) -> dict:
        return {"density": view_maths.likelihood_density(self.trainer.flow(), self._bounds())}

    # ---- helpers -------------------------------------------------------------------------

    def _target_tensor(self) -> torch.Tensor:
        if self._target_t is None:
            self._target_t = self.trainer.target(TARGET_POINTS, seed=self.trainer.config.seed + 7)
        return self._target_t

    def _average_rate(self, now: float) -> float:
        """The run's steps per wall-clock second of training (what a finished run shows)."""
        seconds = self._rate.total(now)
        return self.trainer.step_count / seconds if seconds > 0 else 0.0

    def _w2_floor(self, n: int) -> float:
        """W2 between `n` of the target points W2 is measured against and `n` independent ones,
        averaged over `FLOOR_DRAWS` draws: what a perfect model scores at that sample size, once
        per target and size. One draw is too noisy to be a reference: on 8 Gaussians at n = 500
        it ranged 0.40-0.92 with the mode counts' luck, and trained models scored under it."""
        if n not in self._floors:
            seed = self.trainer.config.seed + FLOOR_SEED
            reference = self._target_tensor()[:n]
            draws = [self.trainer.target(n, seed=seed + k) for k in range(FLOOR_DRAWS)]
            self._floors[n] = float(np.mean([wasserstein2(reference, d) for d in draws]))
        return self._floors[n]

    def _bounds(self) -> view_data.Bounds:
        """Fixed per target, so the views keep their frame while the model changes."""
        if self._bounds_cache is None:
            self._bounds_cache = view_data.plot_bounds(self._target_tensor().numpy())
        return self._bounds_cache

    def _run_info(self) -> RunInfo:
        """The run's config and target: 2-D target points and their plot bounds, or for
        images the first held-out images and the pixel range."""
        trainer = self.trainer
        if self._is_image:
            target, bounds = trainer.target(IMAGES, seed=0).numpy().copy(), (-1.0, 1.0, -1.0, 1.0)
        else:
            target, bounds = self._target_tensor().numpy().copy(), self._bounds()
        return RunInfo(
            config=TrainConfig(**trainer.config.to_dict()),
            target=target,
            bounds=bounds,
            t_range=(trainer.path.t_min, trainer.path.t_max),
            device=str(trainer.device),
            devices=available_devices(),
        )

    def _set_state(self, state: RunState) -> None:
        """The new state; entering or leaving training starts or stops the training clock."""
        if state is not self.state:
            now = time.perf_counter()
            if self.state is RunState.TRAINING:
                self._rate.stop(now)
            if state is RunState.TRAINING:
                self._rate.start(now, self.trainer.step_count)
            self.state = state
            self.send(StateChanged(state))

    def _fail(self, message: str) -> None:
        self.send(Failed(message))


PICTURES: dict[Part, Callable[[Engine], dict]] = {
    Part.TRAJECTORIES: lambda engine: engine._trajectories(),
    Part.SAMPLES: lambda engine: engine._samples(),
    Part.FIELD: lambda engine: engine._field(),
    Part.LIKELIHOOD: lambda engine: engine._likelihood(),
    Part.CONDITIONAL: lambda engine: engine._conditional(),
    Part.BPD: lambda engine: engine._bpd(),
}
"""Each heavy part and the method that computes it (`HEAVY_INTERVALS` says how often)."""
