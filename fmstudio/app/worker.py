"""The training worker: one long-lived QObject on its own QThread that owns the Trainer.

Each chunk of training steps is one turn of the worker thread's event loop (a zero-delay
single-shot timer), so every command the GUI sends — pause, new settings, a new target, sample,
save — is a queued slot call that runs between two chunks, never in the middle of one. No flags,
no locks on the Trainer.

Pictures go to the GUI through a one-slot `Mailbox`: the worker puts the newest `Snapshot`
(merged with any the GUI has not taken yet) and signals only when the slot was empty, so the
GUI draws the newest state and no queue can build up behind a slow frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from fmstudio.core import io
from fmstudio.core import snapshot as snap
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D, DatasetError
from fmstudio.core.training import DivergenceError, Trainer

TARGET_POINTS = 5000
"""Target points the views show (and W2 is measured against)."""
MARGINAL_POINTS = 1500
"""Target points behind the exact marginal field: enough for its shape, cheap to evaluate."""
PARTICLES = 400
FIELD_GRID = 20
FIELD_FRAMES = 11
"""Field frames over t; the views interpolate between them, so the slider and play stay smooth."""
TRAJECTORY_FRAMES = 13
"""Frames of the live trajectories; the midpoint solve takes one step per frame (24 NFE)."""
SAMPLES = 1500
"""Live model samples (and the histogram density): fixed noise, a 6-step midpoint solve."""
SAMPLE_STEPS = 6
CHUNK_SECONDS = 0.02
"""Aim for chunks this long: short enough that commands wait little, long enough to be cheap."""
HEAVY_SHARE = 0.15
"""At most this share of the worker's time goes to computing pictures while training."""
PUBLISH_INTERVAL = 1.0 / 25.0
"""Light snapshots (losses, progress) at most 25 times a second: above the 20/s the eye needs,
and each one costs the GUI thread a redraw of the loss plot."""
HEAVY_INTERVALS = {"trajectories": 0.2, "samples": 0.25, "field": 0.25, "likelihood": 3.0}
"""Fastest refresh of each expensive view while training, in seconds."""
VIEW_PARTS = ("samples", "trajectories", "field", "marginal", "density", "likelihood")


class Mailbox:
    """A one-slot, thread-safe box: `put` merges into an untaken snapshot; `take` empties it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: snap.Snapshot | None = None

    def put(self, item: snap.Snapshot) -> bool:
        """Store the newest snapshot; True when the box was empty (the GUI needs a signal)."""
        with self._lock:
            empty = self._item is None
            self._item = item if empty else item.merged_after(self._item)
            return empty

    def take(self) -> snap.Snapshot | None:
        with self._lock:
            item, self._item = self._item, None
            return item


@dataclass(frozen=True)
class RunInfo:
    """What the views need to know about a (new) run or target before any snapshot."""

    config: TrainConfig
    target: np.ndarray
    bounds: snap.Bounds
    t_range: tuple[float, float]
    device: str


@dataclass
class _Rate:
    """Steps per second over the last few seconds of training (not since the start)."""

    window: float = 2.0
    marks: deque = field(default_factory=deque)

    def add(self, when: float, step: int) -> float:
        self.marks.append((when, step))
        while len(self.marks) > 2 and when - self.marks[0][0] > self.window:
            self.marks.popleft()
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


class TrainingWorker(QObject):
    """Runs in the worker thread. Talk to it only through queued signals (see `Controller`)."""

    runStarted = Signal(object)  # RunInfo
    targetChanged = Signal(object)  # RunInfo
    snapshotReady = Signal()
    stateChanged = Signal(str)  # idle | training | paused | finished
    failed = Signal(str)
    sampled = Signal(object)  # SampleRun
    saved = Signal(str)

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.trainer: Trainer | None = None
        self.state = "idle"
        self.views: frozenset[str] = frozenset(VIEW_PARTS) - {"likelihood"}
        self._timer = QTimer(self)  # a child: it moves to the worker thread with us
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._chunk)
        self._chunk_steps = 10
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._sent_losses = 0
        self._last_publish = 0.0
        self._due: dict[str, float] = {}
        self._heavy_free_at = 0.0
        self._rate = _Rate()
        self._steps_per_s = 0.0
        self._marginal: np.ndarray | None = None
        self._target_t: torch.Tensor | None = None
        self._bounds_cache: snap.Bounds | None = None
        self._x0: torch.Tensor | None = None

    # ---- commands (queued slots) -------------------------------------------------------

    @Slot()
    def warm_up(self) -> None:
        """Pay torch's one-off optimizer set-up (it imports torch._dynamo, ~2 s on a laptop
        CPU) while the window is still being built, not when the first run starts."""
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    @Slot(object, object)
    def new_run(self, config: TrainConfig, dataset: Dataset2D) -> None:
        """Build a fresh Trainer and publish the untrained model's pictures at once."""
        self._stop_timer()
        try:
            trainer = Trainer(config, dataset=dataset)
        except (ConfigError, DatasetError, RuntimeError, ValueError) as exc:
            self._fail(f"Cannot start this run: {exc}")
            return
        self._adopt(trainer)

    @Slot(str)
    def load_model(self, directory: str) -> None:
        """Continue from a saved run directory (weights, optimizer, data pool, losses)."""
        self._stop_timer()
        try:
            trainer = io.load_trainer(directory)
        except (io.CheckpointError, ConfigError, DatasetError, RuntimeError, ValueError) as exc:
            self._fail(f"Cannot open the model: {exc}")
            return
        self._adopt(trainer)

    def _adopt(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._reset_run_state()
        self.runStarted.emit(self._run_info())
        self._set_state("finished" if trainer.done else "idle")
        self._publish(force_heavy=True)

    @Slot()
    def start(self) -> None:
        if self.trainer is None or self.trainer.done or self.state == "training":
            return
        self._set_state("training")
        self._rate = _Rate()
        self._timer.start()

    @Slot()
    def pause(self) -> None:
        if self.state == "training":
            self._stop_timer()
            self._set_state("paused")
            self._publish(force_heavy=True)

    @Slot(dict)
    def update_settings(self, changes: dict) -> None:
        if self.trainer is None:
            return
        try:
            self.trainer.update_settings(**changes)
        except ConfigError as exc:
            self._fail(str(exc))
            return
        if self.state == "finished" and not self.trainer.done:
            self._set_state("paused")  # more steps were asked for: the run can go on
        elif self.trainer.done and self.state != "finished":
            self._stop_timer()
            self._set_state("finished")
        self._publish()

    @Slot(object)
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
        self._target_t = None
        self._bounds_cache = None
        self.targetChanged.emit(self._run_info())
        self._publish(force_heavy=True)

    @Slot(object)
    def set_views(self, views: frozenset) -> None:
        """Which expensive parts the visible views need; the others are not computed at all."""
        added = frozenset(views) - self.views
        self.views = frozenset(views)
        if added and self.trainer is not None and self.state != "training":
            self._publish(force_heavy=True)

    @Slot(dict)
    def sample(self, request: dict) -> None:
        """Sample the EMA model with the requested solver; emits `sampled` or `failed`."""
        if self.trainer is None:
            self._fail("Nothing to sample yet: start a run or open a model first.")
            return
        flow = self.trainer.flow()
        gen = torch.Generator(device=flow.device).manual_seed(int(request.get("seed", 0)))
        try:
            x0 = flow.prior(int(request["n"]), (2,), gen)
            run = snap.sample_run(
                flow,
                x0,
                method=request["method"],
                steps=request.get("steps"),
                atol=float(request.get("atol", 1e-5)),
                rtol=float(request.get("rtol", 1e-5)),
                target=self._target_tensor(),
            )
        except (ValueError, RuntimeError, AssertionError) as exc:
            self._fail(f"Sampling failed: {exc}")
            return
        if not np.isfinite(run.trajectories.samples).all():
            self._fail("Sampling produced NaN/inf: the model or the solver diverged.")
            return
        self.sampled.emit(run)

    @Slot(str)
    def save_model(self, directory: str) -> None:
        if self.trainer is None:
            self._fail("Nothing to save yet: train or open a model first.")
            return
        try:
            io.save_checkpoint(directory, self.trainer)
        except OSError as exc:
            self._fail(f"Cannot save the model to {directory}: {exc}")
            return
        self.saved.emit(str(Path(directory)))

    @Slot()
    def stop(self) -> None:
        """Stop computing (before the thread quits); the model stays as it is."""
        self._stop_timer()
        if self.state == "training":
            self._set_state("paused")

    # ---- the training loop -------------------------------------------------------------

    def _chunk(self) -> None:
        trainer = self.trainer
        if trainer is None or self.state != "training":
            return
        start = time.perf_counter()
        try:
            trainer.run(self._chunk_steps)
        except DivergenceError as exc:
            self._set_state("paused")
            self._fail(str(exc))
            self._publish(force_heavy=True)
            return
        except RuntimeError as exc:  # out of memory, a device error
            self._set_state("paused")
            self._fail(f"Training stopped: {exc}")
            return
        spent = time.perf_counter() - start
        scale = CHUNK_SECONDS / max(spent, 1e-4)
        self._chunk_steps = int(min(5000, max(1, self._chunk_steps * min(2.0, max(0.5, scale)))))
        self._steps_per_s = self._rate.add(time.perf_counter(), trainer.step_count)
        if trainer.done:
            self._set_state("finished")
            self._publish(force_heavy=True)
            return
        self._publish()
        self._timer.start()

    def _stop_timer(self) -> None:
        self._timer.stop()

    # ---- pictures ------------------------------------------------------------------------

    def _publish(self, force_heavy: bool = False) -> None:
        """Put a snapshot in the mailbox if it is time (always when `force_heavy`)."""
        trainer = self.trainer
        if trainer is None:
            return
        now = time.perf_counter()
        if not force_heavy and now - self._last_publish < PUBLISH_INTERVAL:
            return
        self._last_publish = now
        parts = self._heavy_parts(now, force_heavy)
        losses = np.asarray(trainer.losses[self._sent_losses :], dtype=np.float64)
        item = snap.Snapshot(
            step=trainer.step_count,
            total_steps=trainer.config.steps,
            steps_per_s=self._steps_per_s if self.state == "training" else 0.0,
            lr=float(trainer.optimizer.param_groups[0]["lr"]),
            loss_start=self._sent_losses,
            losses=losses,
            **parts,
        )
        self._sent_losses = len(trainer.losses)
        if self.mailbox.put(item):
            self.snapshotReady.emit()

    def _heavy_parts(self, now: float, force: bool) -> dict:
        """The expensive parts that are wanted and due: all of them when forced, else the most
        overdue one, and then none until the picture budget (`HEAVY_SHARE`) allows again."""
        wanted = [name for name in HEAVY_INTERVALS if self._wants(name)]
        if not force:
            if now < self._heavy_free_at:
                return {}
            overdue = [n for n in wanted if now >= self._due.get(n, 0.0)]
            wanted = sorted(overdue, key=lambda n: self._due.get(n, 0.0))[:1]
        parts: dict = {}
        start = time.perf_counter()
        for name in wanted:
            parts.update(getattr(self, f"_{name}")())
            self._due[name] = now + HEAVY_INTERVALS[name]
        cost = time.perf_counter() - start
        self._heavy_free_at = now + cost * (1.0 - HEAVY_SHARE) / HEAVY_SHARE
        return parts

    def _wants(self, name: str) -> bool:
        """Whether a part is needed by a visible view (`self.views`, set by the window)."""
        if name == "samples":  # the samples view, and the histogram density drawn from them
            return "samples" in self.views or self._histogram
        return name in self.views

    @property
    def _histogram(self) -> bool:
        return "density" in self.views and "likelihood" not in self.views

    def _flow_and_noise(self):
        flow = self.trainer.flow()
        if self._x0 is None:
            gen = torch.Generator(device=flow.device).manual_seed(1234)
            self._x0 = flow.prior(PARTICLES, (2,), gen)
        return flow, self._x0

    def _trajectories(self) -> dict:
        flow, x0 = self._flow_and_noise()
        times = snap.frame_times(flow.path, TRAJECTORY_FRAMES)
        steps = TRAJECTORY_FRAMES - 1
        return {"trajectories": snap.trajectories(flow, x0, times, "midpoint", steps)}

    def _samples(self) -> dict:
        """Model samples from fixed noise (the same each time, so changes are the model's),
        and the histogram density drawn from them when that view is shown."""
        flow = self.trainer.flow()
        gen = torch.Generator(device=flow.device).manual_seed(99)
        x0 = flow.prior(SAMPLES, (2,), gen)
        steps = SAMPLE_STEPS
        samples = flow.sample(len(x0), x0=x0, method="midpoint", steps=steps).x
        points = samples.float().cpu().numpy().copy()
        parts: dict = {"samples": points}
        if self._histogram:
            parts["density"] = snap.histogram_density(points, self._bounds())
        return parts

    def _field(self) -> dict:
        flow = self.trainer.flow()
        times = snap.frame_times(flow.path, FIELD_FRAMES)
        frames = snap.learned_field(flow, self._bounds(), times, FIELD_GRID)
        if "marginal" in self.views:
            if self._marginal is None:
                target = self._target_tensor()[:MARGINAL_POINTS]
                self._marginal = snap.exact_marginal_field(
                    flow.path, target, self._bounds(), times, FIELD_GRID
                )
            frames = replace(frames, marginal=self._marginal)
        return {"field": frames}

    def _likelihood(self) -> dict:
        return {"density": snap.likelihood_density(self.trainer.flow(), self._bounds())}

    # ---- helpers -------------------------------------------------------------------------

    def _target_tensor(self) -> torch.Tensor:
        if self._target_t is None:
            self._target_t = self.trainer.target(TARGET_POINTS, seed=self.trainer.config.seed + 7)
        return self._target_t

    def _bounds(self) -> snap.Bounds:
        """Fixed per target, so the views keep their frame while the model changes."""
        if self._bounds_cache is None:
            self._bounds_cache = snap.plot_bounds(self._target_tensor().numpy())
        return self._bounds_cache

    def _run_info(self) -> RunInfo:
        trainer = self.trainer
        target = self._target_tensor().numpy().copy()
        return RunInfo(
            config=TrainConfig(**trainer.config.to_dict()),
            target=target,
            bounds=self._bounds(),
            t_range=(trainer.path.t_min, trainer.path.t_max),
            device=str(trainer.device),
        )

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _fail(self, message: str) -> None:
        self.failed.emit(message)
