"""The training process's loop (`process.serve`) around a fake engine, in this process: engine
code that raises is reported in one line naming the log, which holds the traceback, and the
process goes on."""

from __future__ import annotations

import tempfile
import threading
from multiprocessing import Pipe

import pytest
import torch

from fmstudio.core.config import TrainConfig
from fmstudio.core.solver_spec import SampleRequest
from fmstudio.live import process, trainer_log
from fmstudio.live.protocol import (
    Bye,
    InternalError,
    NewRun,
    Pause,
    RunStarted,
    RunState,
    Sample,
    Sampled,
    Shutdown,
    SnapshotReady,
    Start,
    StateChanged,
)

NEW_RUN = NewRun(TrainConfig())
SAMPLE = Sample(SampleRequest(1))


class FakeEngine:
    """Just enough of `Engine` for the loop; the calls named in `failing` raise."""

    failing: frozenset[str] = frozenset()

    def __init__(self, send) -> None:
        self.send = send
        self.state = "idle"
        self.trainer = None

    @property
    def busy(self) -> bool:
        return self.state == "training"

    def _call(self, name: str) -> None:
        if name in self.failing:
            raise ValueError(f"{name} is broken")

    def new_run(self, *args) -> None:
        self._call("new_run")
        self.trainer = object()
        self.send(RunStarted(None))

    def start(self) -> None:
        self._call("start")
        self.state = "training"

    def tick(self) -> None:
        self._call("tick")

    def pause(self) -> None:
        self.state = "paused"
        self.send(SnapshotReady(None))  # the heavy pictures: what recovery must not recompute

    def recover(self) -> None:
        self._call("recover")
        if self.busy:
            self.state = "paused"
            self.send(StateChanged(RunState.PAUSED))

    def warm_up(self) -> None:
        self._call("warm_up")

    def sample(self, request: SampleRequest) -> None:
        self.send(Sampled(request))


@pytest.fixture
def app(monkeypatch, tmp_path):
    """The app's end of the pipe to `serve`, which runs in a thread with a FakeEngine and logs
    under tmp_path."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(process, "Engine", FakeEngine)
    conn, child = Pipe()
    thread = threading.Thread(target=process.serve, args=(child, torch.get_num_threads()))
    thread.start()
    yield conn
    conn.send(Shutdown())
    assert events_until(conn, Bye)
    thread.join(10)
    assert not thread.is_alive()


def events_until(conn, kind: type) -> list:
    """The events up to and including the first of type `kind` (fails after 10 s without)."""
    events = []
    while conn.poll(10):
        events.append(conn.recv())
        if isinstance(events[-1], kind):
            return events
    raise AssertionError(f"no {kind.__name__} event; got {events}")


def test_a_failing_tick_pauses_without_recomputing_and_names_the_log(app, monkeypatch):
    monkeypatch.setattr(FakeEngine, "failing", frozenset({"tick"}))
    app.send(NEW_RUN)
    app.send(Start())
    events = events_until(app, InternalError)
    message = events[-1].message
    log = trainer_log.log_path()
    assert "in a training step: ValueError: tick is broken" in message
    assert "training paused" in message and f"(details in {log})" in message
    assert "Traceback" in log.read_text() and "ValueError: tick is broken" in log.read_text()
    app.send(SAMPLE)  # the process goes on
    after = events_until(app, Sampled)
    assert StateChanged(RunState.PAUSED) in after
    assert not any(isinstance(event, SnapshotReady) for event in events + after)


def test_a_failing_warm_up_is_reported_once_and_the_process_goes_on(app, monkeypatch):
    monkeypatch.setattr(FakeEngine, "failing", frozenset({"warm_up"}))
    app.send(NEW_RUN)
    message = events_until(app, InternalError)[-1].message
    assert "in the warm-up: ValueError: warm_up is broken" in message
    app.send(SAMPLE)
    assert [type(event) for event in events_until(app, Sampled)] == [Sampled]


def test_a_failing_recovery_is_logged_and_the_first_error_is_what_the_app_sees(app, monkeypatch):
    monkeypatch.setattr(FakeEngine, "failing", frozenset({"tick", "recover"}))
    app.send(NEW_RUN)
    app.send(Start())
    events = events_until(app, InternalError)
    assert "ValueError: tick is broken" in events[-1].message
    app.send(SAMPLE)
    assert [type(event) for event in events_until(app, Sampled)] == [Sampled]
    assert "ValueError: recover is broken" in trainer_log.log_path().read_text()


def test_an_unknown_command_is_an_internal_error(app):
    app.send(Pause)  # a class, not a command: no engine method is chosen by what was sent
    assert "unknown command" in events_until(app, InternalError)[-1].message
