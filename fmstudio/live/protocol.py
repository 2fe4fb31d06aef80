"""What a window and its training process say to each other: commands down, events up, each a
small frozen dataclass, and the run's states and picture parts as enums.

A command is dispatched by its type through one table (`process.DISPATCH`), so a reader goes
from a button (`controller.send(Start())`) straight to the engine method it runs; an event is
turned into a Qt signal by one table too (`Controller._on_event`). Everything here is plain
data, pickled by multiprocessing between two processes of the same program; no user file is
ever unpickled. No torch and no Qt here: both sides import it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fmstudio.core.config import TrainConfig
from fmstudio.core.solver_spec import SampleRequest

if TYPE_CHECKING:
    import numpy as np

    from fmstudio.core.data import Dataset2D
    from fmstudio.core.view_data import Bounds, SampleRun, Snapshot


class StringEnum(str, enum.Enum):
    """An enum whose members are their strings: they compare, hash and print as the value, so
    they read well in messages and sessions (after napari's `StringEnum`)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    __hash__ = str.__hash__


class RunState(StringEnum):
    """Where the run in the training process is."""

    IDLE = "idle"
    """Nothing trained yet, or nothing to train."""
    TRAINING = "training"
    PAUSED = "paused"
    FINISHED = "finished"
    """It has trained its steps (raise Steps to go on)."""


class Part(StringEnum):
    """A picture the views can ask the training process for (hidden views ask for none)."""

    SAMPLES = "samples"
    TRAJECTORIES = "trajectories"
    CONDITIONAL = "conditional"
    FIELD = "field"
    MARGINAL = "marginal"
    """The exact marginal field (eq. 8), over the learned one."""
    DENSITY = "density"
    LIKELIHOOD = "likelihood"
    """The density view by the change of variables instead of a histogram of samples."""
    BPD = "bpd"
    """Bits/dim of held-out images (image runs)."""


# ---- commands: the window → the training process -------------------------------------------


class Command:
    """Base of the commands (`process.DISPATCH` maps each type to its engine method)."""


@dataclass(frozen=True)
class NewRun(Command):
    """A fresh model on `config`, on `dataset` (None: the config's own, loaded by the
    training process: image runs)."""

    config: TrainConfig
    dataset: Dataset2D | None = None


@dataclass(frozen=True)
class LoadModel(Command):
    """Continue the run saved in `directory`."""

    directory: str


@dataclass(frozen=True)
class Reflow(Command):
    """A new run that straightens the flow saved in `directory` on its own pairs."""

    directory: str
    pairs: int
    steps: int


@dataclass(frozen=True)
class Start(Command):
    """Train (from where the run is)."""


@dataclass(frozen=True)
class Pause(Command):
    pass


@dataclass(frozen=True)
class UpdateSettings(Command):
    """Settings a running trainer takes between steps (`config.LIVE_SETTINGS`)."""

    changes: dict[str, Any]


@dataclass(frozen=True)
class SetDataset(Command):
    """A new target under the run; the model keeps training toward it."""

    dataset: Dataset2D


@dataclass(frozen=True)
class SetViews(Command):
    """The pictures the visible views need; the others are not computed."""

    parts: frozenset[Part]


@dataclass(frozen=True)
class SetFieldBox(Command):
    """The range the field view shows: the arrows are computed over it."""

    box: Bounds


@dataclass(frozen=True)
class Sample(Command):
    request: SampleRequest


@dataclass(frozen=True)
class SaveModel(Command):
    directory: str


@dataclass(frozen=True)
class Measure(Command):
    """W2 vs NFE and the flow table of the model, on `n` fresh target points."""

    n: int = 1000


@dataclass(frozen=True)
class Shutdown(Command):
    """End the process once every command sent before has run (answered by `Bye`)."""


# ---- events: the training process → the window ---------------------------------------------


class Event:
    """Base of the events (`Controller._on_event` maps each type to its signal)."""


@dataclass(frozen=True)
class RunInfo:
    """What the views need to know about a (new) run or target before any snapshot."""

    config: TrainConfig
    target: np.ndarray
    bounds: Bounds
    t_range: tuple[float, float]
    device: str
    devices: tuple[str, ...] = ("auto", "cpu")
    """The devices this machine's torch can train on (the settings forms offer them)."""


@dataclass(frozen=True)
class RunStarted(Event):
    info: RunInfo


@dataclass(frozen=True)
class TargetChanged(Event):
    info: RunInfo


@dataclass(frozen=True)
class SnapshotReady(Event):
    snapshot: Snapshot


@dataclass(frozen=True)
class StateChanged(Event):
    state: RunState


@dataclass(frozen=True)
class Failed(Event):
    """An expected failure, in words: a setting refused, a file that cannot be read."""

    message: str


@dataclass(frozen=True)
class InternalError(Event):
    """A bug, one line naming the log that holds its traceback (`trainer_log`)."""

    message: str


@dataclass(frozen=True)
class Sampled(Event):
    run: SampleRun


@dataclass(frozen=True)
class Saved(Event):
    directory: str


@dataclass(frozen=True)
class Measurement:
    """W2 at each solver setting of the ladder (rows of `core.compare_paths.w2_vs_nfe`) and the
    flow table of one model (`core.compare_paths.flow_report`, with step and speed)."""

    ladder: list[dict[str, Any]] = field(default_factory=list)
    table: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured(Event):
    measurement: Measurement


@dataclass(frozen=True)
class Bye(Event):
    """The answer to `Shutdown`: every command before it has run."""
