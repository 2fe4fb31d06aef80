"""Memory over a few minutes of training: does the CLI or the app's training process grow?

Two soaks, one after the other, each in its own process so the RSS measured is that process's:

1. the CLI: `python -m fmstudio train --dataset checkerboard --steps 10**9 --save-every 20
   --out TMP/run -q`, with its periodic atomic checkpoints; stopped with SIGINT after the soak
   (it saves and exits 130), then the run directory must load (`io.load_trainer`);
2. the app's training process (`launch.start_engine_process`: the Engine served over its pipe),
   driven as the window drives it: the samples, trajectories, field and density views shown,
   a sampling request (the sampling panel's defaults) every 30 s and a model save every 60 s;
   this process reads every event, as the window's pump thread does.

RSS (VmRSS from /proc/PID/status; psutil where there is no /proc) is sampled every second.
Warm-up is the first 20% of the soak but at least 30 s (at most half of it, for --quick):
imports, torch's allocator pools, the first checkpoints and the first of each user action
settle there. Growth is the highest RSS held for 10 s in the soak's second half minus the
RSS held at the end of warm-up (a peak that is given back within seconds is not growth; the
peaks are reported too); the goal is <= 50 MB. The slope is a least-squares fit of the held
RSS after warm-up. Exit code 1 if a soak fails its goal or anything in it goes wrong (the
CLI's exit code, a run that does not load, an error event from the engine); --quick checks
only that everything runs.

python -m benchmarks.bench_soak [--minutes 4] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import machine
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.threads import default_threads

GOAL_MB = 50.0
SAMPLE_EVERY = 1.0
"""Seconds between RSS samples."""
KEEP_EVERY = 5
"""The results file keeps every KEEP_EVERY-th sample (and the last)."""
HOLD = 10.0
"""Growth counts memory held this many seconds (`held`), not a passing peak."""
STOP_SECONDS = 60.0
"""How long the CLI gets to save and exit after SIGINT, the engine process after "shutdown"."""
VIEWS = frozenset({"samples", "trajectories", "field", "density"})
"""What the main window asks for with every view shown and the default toggles
(`MainWindow._update_views`: no marginal field, histogram density, no conditional paths)."""
SAMPLE_REQUEST = SampleRequest(2000, 0, SolverSpec.fixed("rk4", 20))
"""The sampling panel's defaults (`app/panels/sampling.py`)."""
RESULTS = Path(__file__).with_name("results_soak.json")


@dataclass(frozen=True)
class Plan:
    """How long each soak runs and how often the periodic actions come."""

    seconds: float
    cli_save_every: float
    """`--save-every` of the CLI run."""
    engine_sample_every: float
    engine_save_every: float

    @property
    def warm_up(self) -> float:
        return min(max(0.2 * self.seconds, 30.0), 0.5 * self.seconds)


FULL = dict(cli_save_every=20.0, engine_sample_every=30.0, engine_save_every=60.0)
QUICK = Plan(seconds=30.0, cli_save_every=5.0, engine_sample_every=5.0, engine_save_every=8.0)
"""--quick: 30 s each, the periodic actions more often so that each happens in it. It checks
that everything runs; growth is reported but not judged: a 15 s warm-up that begins with the
imports cannot hold the first sampling request's one-off cost (measured: 76-94 MB "growth")."""


# ---- RSS --------------------------------------------------------------------------------


def _proc_rss(pid: int) -> tuple[float, float] | None:
    """VmRSS and RssAnon in MB from /proc/PID/status; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss = float(fields["VmRSS"].split()[0]) / 1024
    anon = float(fields.get("RssAnon", "nan kB").split()[0]) / 1024
    return rss, anon


def _psutil_rss(pid: int) -> tuple[float, float] | None:
    """Where there is no /proc (macOS): RSS from psutil; no anonymous share (nan)."""
    import psutil

    try:
        return psutil.Process(pid).memory_info().rss / 2**20, float("nan")
    except psutil.NoSuchProcess:
        return None


def rss_reader() -> Callable[[int], tuple[float, float] | None]:
    """/proc where it exists, else psutil (not a dependency: installed or not)."""
    if os.path.exists(f"/proc/{os.getpid()}/status"):
        return _proc_rss
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise SystemExit("bench_soak: no /proc here and psutil is not installed") from None
    return _psutil_rss


class Recorder:
    """RSS of one process against seconds since the soak began."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.read = rss_reader()
        self.start = time.monotonic()
        self.rows: list[tuple[float, float, float]] = []
        self.next_at = self.start

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def due_in(self) -> float:
        """Seconds until the next sample is due (0 if it is)."""
        return max(0.0, self.next_at - time.monotonic())

    def sample(self) -> None:
        """Record one sample if it is due (none once the process is gone)."""
        if time.monotonic() < self.next_at:
            return
        self.next_at = max(self.next_at + SAMPLE_EVERY, time.monotonic())
        rss = self.read(self.pid)
        if rss is not None:
            self.rows.append((self.elapsed(), *rss))


def held(t: np.ndarray, rss: np.ndarray) -> np.ndarray:
    """At each sample, the lowest RSS of the last `HOLD` seconds: memory the process kept."""
    return np.array([rss[(t > now - HOLD) & (t <= now)].min() for now in t])


def summarize(rows: list[tuple[float, float, float]], warm_up: float) -> dict:
    """RSS at the end of warm-up, at the end, and the growth and slope after warm-up.

    Growth is measured on the held RSS (`held`): each sampling request in the app computes an
    exact W2 of 2000 points that takes about 150 MB for a second and gives it back, and a
    leak is memory that stays. `peak_growth_mb` counts those peaks too (the highest raw RSS
    of the second half minus the held RSS at the end of warm-up)."""
    data = np.array(rows).reshape(-1, 3)
    t, rss, anon = data.T
    warm = t <= warm_up
    if not warm.any() or (~warm).sum() < 2:
        return {"error": f"too few RSS samples ({len(rows)}) for a {warm_up:.0f} s warm-up"}
    kept = held(t, rss)
    base = float(kept[warm][-1])
    second_half = t >= t[-1] / 2
    growth = float(kept[second_half].max()) - base
    slope = float(np.polyfit(t[~warm] / 60.0, kept[~warm], 1)[0])
    series = np.round(data[(np.arange(len(data)) % KEEP_EVERY == 0) | (t == t[-1])], 1)
    return {
        "seconds": round(float(t[-1]), 1),
        "warm_up_s": round(warm_up, 1),
        "rss_warm_mb": round(base, 1),
        "rss_final_mb": round(float(rss[-1]), 1),
        "rss_peak_mb": round(float(rss.max()), 1),
        "anon_warm_mb": round(float(held(t, anon)[warm][-1]), 1),
        "anon_final_mb": round(float(anon[-1]), 1),
        "growth_mb": round(growth, 1),
        "peak_growth_mb": round(float(rss[second_half].max()) - base, 1),
        "slope_mb_per_min": round(slope, 2),
        "pass": growth <= GOAL_MB,
        "series_every_s": KEEP_EVERY * SAMPLE_EVERY,
        "series_columns": ["t_s", "rss_mb", "rss_anon_mb"],
        "series": series.tolist(),
    }


# ---- the CLI ----------------------------------------------------------------------------


def _checkpoint_id(run: Path) -> tuple[int, int] | None:
    """Which save the run directory holds now: each save renames a new config.json in."""
    try:
        st = (run / "config.json").stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def soak_cli(plan: Plan, tmp: Path) -> dict:
    """`fmstudio train` for `plan.seconds`, then SIGINT; the run it leaves must load."""
    from fmstudio.core import io

    run = tmp / "run"
    command = [sys.executable, "-m", "fmstudio", "train", "--dataset", "checkerboard"]
    command += ["--steps", str(10**9), "--save-every", f"{plan.cli_save_every:g}"]
    command += ["--out", str(run), "-q"]
    errors: list[str] = []
    saves: set[tuple[int, int]] = set()
    with open(tmp / "cli.out", "w+") as out, open(tmp / "cli.err", "w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err)
        recorder = Recorder(proc.pid)
        try:
            while recorder.elapsed() < plan.seconds and proc.poll() is None:
                time.sleep(recorder.due_in())
                recorder.sample()
                if (checkpoint := _checkpoint_id(run)) is not None:
                    saves.add(checkpoint)
            if proc.poll() is not None:
                errors.append(f"exited early with {proc.returncode}")
            proc.send_signal(signal.SIGINT)
            code = proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            errors.append(f"still running {STOP_SECONDS:.0f} s after SIGINT: killed")
        finally:
            if proc.poll() is None:
                proc.kill()
        err.seek(0)
        stderr = err.read().strip()
    if code != 130:
        errors.append(f"exit code {code}, expected 130; stderr: {stderr[-2000:]}")
    steps = None
    try:
        steps = io.load_trainer(run).step_count
    except Exception as exc:  # whatever it is, the run directory does not load: report it
        errors.append(f"the run directory does not load: {type(exc).__name__}: {exc}")
    return {
        "soak": "cli",
        "command": " ".join(command[1:]).replace(str(tmp), "TMP"),
        "exit_code": code,
        "periodic_saves_seen": len(saves),
        "steps": steps,
        "errors": errors,
        **summarize(recorder.rows, plan.warm_up),
    }


# ---- the app's training process ---------------------------------------------------------


class AppSide:
    """The window's end of the pipe: sends commands, reads and counts every event, and samples
    the process's RSS while it waits."""

    def __init__(self, process, conn, recorder: Recorder) -> None:
        self.process = process
        self.conn = conn
        self.recorder = recorder
        self.counts: dict[str, int] = {}
        self.pictures = dict.fromkeys(sorted(VIEWS), 0)
        self.errors: list[str] = []
        self.step = 0
        self.ended = False
        """`Bye` came, or the pipe closed."""

    def send(self, command: object) -> None:
        self.conn.send(command)

    def seen(self, kind: str) -> bool:
        """Whether an event of this type (by class name) came."""
        return self.counts.get(kind, 0) > 0

    def pump(self, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
        """Read events and sample RSS for `seconds`, or until `until()` or the end."""
        end = time.monotonic() + seconds
        while not (until() or self.ended) and time.monotonic() < end and self.process.is_alive():
            self._drain(min(self.recorder.due_in(), max(0.0, end - time.monotonic())))
            self.recorder.sample()

    def _drain(self, timeout: float) -> None:
        """Read what arrives within `timeout` seconds, and everything waiting."""
        try:
            while self.conn.poll(timeout):
                self._count(self.conn.recv())
                timeout = 0.0
        except (EOFError, OSError):
            self.ended = True

    def _count(self, event: object) -> None:
        from fmstudio.live import protocol

        kind = type(event).__name__
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if isinstance(event, protocol.SnapshotReady):
            self.step = event.snapshot.step
            for part in self.pictures:
                self.pictures[part] += getattr(event.snapshot, part) is not None
        elif isinstance(event, (protocol.Failed, protocol.InternalError)):
            self.errors.append(f"{kind}: {event.message}")
        elif isinstance(event, protocol.Bye):
            self.ended = True


@dataclass
class Every:
    """A user action repeated every `period` seconds, the first after half a period: early
    enough to fall within warm-up, where its one-off costs belong (the first sampling request
    imports POT and computes the W2 floor; the process keeps about 80 MB more after it)."""

    period: float
    action: Callable[[], None]
    due: float = 0.0

    def begin(self, now: float) -> None:
        self.due = now + self.period / 2

    def run_if_due(self, now: float) -> None:
        if now >= self.due:
            self.action()
            self.due += self.period


def soak_engine(plan: Plan, tmp: Path) -> dict:
    """The app's training process trains the default checkerboard run for `plan.seconds`."""
    from fmstudio.core.config import TrainConfig
    from fmstudio.core.data import PresetDataset
    from fmstudio.live import protocol as p
    from fmstudio.live.launch import start_engine_process

    process, conn = start_engine_process()
    recorder = Recorder(process.pid)
    app = AppSide(process, conn, recorder)
    actions = [
        Every(plan.engine_sample_every, lambda: app.send(p.Sample(SAMPLE_REQUEST))),
        Every(plan.engine_save_every, lambda: app.send(p.SaveModel(str(tmp / "app-run")))),
    ]
    try:
        app.send(p.SetViews(frozenset(p.Part(v) for v in VIEWS)))
        config = TrainConfig(dataset="checkerboard", steps=10**9)
        app.send(p.NewRun(config, PresetDataset(config.dataset)))
        app.pump(STOP_SECONDS, until=lambda: app.seen("RunStarted"))
        app.pump(1.0)  # the user looks at the first picture; the process warms torch up
        app.send(p.Start())
        for action in actions:
            action.begin(recorder.elapsed())
        while recorder.elapsed() < plan.seconds and process.is_alive() and not app.ended:
            app.pump(min(SAMPLE_EVERY, plan.seconds - recorder.elapsed()))
            for action in actions:
                action.run_if_due(recorder.elapsed())
        if not process.is_alive() or app.ended:
            app.errors.append(f"the training process ended early (exit code {process.exitcode})")
        else:
            app.send(p.Pause())
            app.send(p.Shutdown())
            app.pump(STOP_SECONDS)
        process.join(STOP_SECONDS)
    finally:
        if process.is_alive():
            process.kill()
            app.errors.append("the training process did not shut down: killed")
        conn.close()
    if not app.seen("Sampled") or not app.seen("Saved"):
        app.errors.append(f"a sampling request or a save went unanswered: {app.counts}")
    return {
        "soak": "engine",
        "views": sorted(VIEWS),
        "steps": app.step,
        "events": app.counts,
        "pictures": app.pictures,
        "errors": app.errors,
        **summarize(recorder.rows, plan.warm_up),
    }


# ---- main ---------------------------------------------------------------------------------


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            return round(int(meminfo.readline().split()[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="length of each soak")
    parser.add_argument(
        "--quick", action="store_true", help="30 s each: does it all run? (growth not judged)"
    )
    parser.add_argument(
        "--out", type=Path, help=f"results file (default: {RESULTS.name}; --quick: none)"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan(seconds=args.minutes * 60.0, **FULL)
    # SIGINT must reach the CLI as an interrupt: a shell starts background jobs with SIGINT
    # ignored, and an ignored signal stays ignored across exec (Python then never raises
    # KeyboardInterrupt). A handled one is reset to the default in the child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="fmstudio-soak-") as tmp:
        soaks = [soak_cli(plan, Path(tmp)), soak_engine(plan, Path(tmp))]
    report = {
        "benchmark": "soak",
        # the threads the CLI and the training process use, not this process's
        "machine": {**machine(), "torch_threads": default_threads(), "memory_gib": _memory_gib()},
        "results": {"goal_growth_mb": GOAL_MB, "quick": args.quick, "soaks": soaks},
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    failures = [
        f"{soak['soak']}: {problem}" for soak in soaks for problem in _problems(soak, args.quick)
    ]
    for failure in failures:
        print(f"bench_soak: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _problems(soak: dict, quick: bool) -> list[str]:
    """What went wrong in one soak: its errors, too few samples, growth over the goal (not
    judged in a quick run)."""
    problems = list(soak["errors"])
    if "error" in soak:
        problems.append(soak["error"])
    elif not soak["pass"] and not quick:
        problems.append(f"RSS grew {soak['growth_mb']} MB after warm-up (goal <= {GOAL_MB:g})")
    return problems


if __name__ == "__main__":
    sys.exit(main())
