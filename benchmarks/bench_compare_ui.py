"""Compare mode while it trains: UI stalls and each configuration's training speed (issue 4).

Opens the real CompareWindow (offscreen) with 2 and 4 configurations of the default model on
checkerboard, trains for `--seconds` (periodic measurements off, they pause training), and
reports the event-loop stalls (10 ms QTimer lateness: median, p99, max) and every
configuration's steps/s. Compare with one model in the app (`bench_ui.py`): with C cores, N
configurations should each keep at least (C - 1)/N of that speed, their share of the cores the
window leaves them.

python -m benchmarks.bench_compare_ui [--seconds 20]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from benchmarks.bench_ui import TICK_MS, run_for
from benchmarks.common import emit
from fmstudio.app.compare_window import CompareWindow
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import PresetDataset

SPECS = {2: "ot,vp", 4: "ot,vp,icfm,cosine"}


def measure(spec: str, seconds: float) -> dict:
    config = TrainConfig(dataset="checkerboard", steps=1_000_000, device="cpu")
    window = CompareWindow(config, PresetDataset("checkerboard"), spec)
    window.show()
    run_for(60.0, lambda: all(p.trajectories.trajectories is not None for p in window.panels))
    window.timer.stop()  # measurements pause training: leave them out of the speed figures
    window.start()
    run_for(3.0)
    steps0 = [p.step for p in window.panels]
    lateness: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        lateness.append(max(0, now - last[0] - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(TICK_MS)
    run_for(seconds)
    timer.stop()
    rates = {p.name: (p.step - s) / seconds for p, s in zip(window.panels, steps0, strict=True)}
    window.close()
    late = np.array(lateness, dtype=np.float64)
    return {
        "configs": list(rates),
        "steps_per_s": rates,
        "stall_median_ms": float(np.median(late)),
        "stall_p99_ms": float(np.percentile(late, 99)),
        "stall_max_ms": float(late.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    results = {n: measure(spec, args.seconds) for n, spec in SPECS.items()}
    emit("compare_ui", results)


if __name__ == "__main__":
    main()
