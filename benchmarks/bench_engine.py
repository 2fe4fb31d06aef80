"""The app's training engine on a device, without a window: live steps/s, sampling, measuring.

Drives `fmstudio.live.engine.Engine` synchronously, the way its training process does (ticks,
with snapshots and the default views' pictures computed within the engine's time budget), for a
2-D run (checkerboard, the default MLP) and an image run (digits, tiny U-Net). Reports steps/s
while training live and how long sampling and the W2-vs-NFE measurement take. Any `failed`
event is an error (exit code 1): `benchmarks/gpu_check.sh` runs this on `cuda`.

python -m benchmarks.bench_engine [--device cuda] [--seconds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable

import torch

from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.threads import default_threads
from fmstudio.live.engine import Engine
from fmstudio.live.protocol import Failed, SnapshotReady

RUNS = {
    "points": (TrainConfig(dataset="checkerboard", steps=10**9), SolverSpec("dopri5")),
    "images": (
        TrainConfig(dataset="digits", unet="tiny", steps=10**9),
        SolverSpec.fixed("rk4", 10),
    ),
}
"""Each run's config (steps: until stopped) and its sampling solver, used after training."""


def _seconds(command: Callable[[], None]) -> float:
    start = time.perf_counter()
    command()
    return round(time.perf_counter() - start, 3)


def engine_run(kind: str, device: str, seconds: float, n: int) -> dict:
    """Train live for about `seconds`, then sample `n` (and measure W2 vs NFE on `n` points)."""
    config, solver = RUNS[kind]
    events: list = []
    engine = Engine(events.append)
    dataset = PresetDataset(config.dataset) if kind == "points" else None
    engine.new_run(dataclasses.replace(config, device=device), dataset)
    engine.warm_up()  # as the training process does while the user looks at the first picture
    engine.start()
    start = time.perf_counter()
    while engine.busy and time.perf_counter() - start < seconds:
        engine.tick()
    elapsed = time.perf_counter() - start
    engine.pause()
    trainer = engine.trainer
    row = {
        "run": kind,
        "device": str(trainer.device) if trainer is not None else device,
        "live_steps_per_s": round(trainer.step_count / elapsed, 1) if trainer else 0.0,
        "snapshots_per_s": round(sum(isinstance(e, SnapshotReady) for e in events) / elapsed, 1),
        "sample_s": _seconds(lambda: engine.sample(SampleRequest(n, 0, solver))),
    }
    if kind == "points":
        row["measure_s"] = _seconds(lambda: engine.measure(n))
    row["failed"] = [e.message for e in events if isinstance(e, Failed)]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=5.0, help="live training per run")
    parser.add_argument("--n", type=int, default=1000, help="samples; points W2 is measured on")
    args = parser.parse_args()
    torch.set_num_threads(default_threads())  # what the app's training process does
    rows = [engine_run(kind, args.device, args.seconds, args.n) for kind in RUNS]
    emit("engine", rows)
    failures = [f"{row['run']}: {message}" for row in rows for message in row["failed"]]
    for failure in failures:
        print(f"bench_engine: failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
