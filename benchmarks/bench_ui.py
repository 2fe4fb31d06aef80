"""UI responsiveness while the app trains at full speed, against headless training.

Measures, with the real MainWindow (offscreen) on the default checkerboard run:
- main-thread event-loop stalls: a 10 ms QTimer records how late each tick fires; a stall is
  that lateness (median, p99, max). Goal: p99 <= 50 ms.
- plot refresh rate: snapshots drawn per second (each redraws the loss curve and progress) and
  picture refreshes per second (samples, trajectories, field, density). Goal: >= 20 per second.
- training steps/s inside the app vs a headless `Trainer.run` loop of the same config and thread
  count. Goal: >= 0.9x.

python -m benchmarks.bench_ui [--seconds 20] [--hidden-views]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from benchmarks.common import emit
from fmstudio.app.style import apply_theme
from fmstudio.app.window import MainWindow
from fmstudio.core.config import TrainConfig
from fmstudio.core.threads import default_threads
from fmstudio.core.training import Trainer

TICK_MS = 10


def headless_steps_per_s(config: TrainConfig, seconds: float) -> float:
    trainer = Trainer(config)
    trainer.run(20)  # warm-up
    start, steps = time.perf_counter(), trainer.step_count
    while time.perf_counter() - start < seconds:
        trainer.run(50)
    return (trainer.step_count - steps) / (time.perf_counter() - start)


class Probe(QObject):
    """Counts what the window draws and how late a 10 ms timer fires (a QObject, so the
    controller's signal reaches `counted` in the GUI thread, as it reaches the window)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.lateness: list[float] = []
        self.snapshots = 0
        self.pictures = 0
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._last = 0
        window.controller.snapshotReady.disconnect(window._on_snapshot)
        window.controller.snapshotReady.connect(self.counted)

    def counted(self) -> None:
        """Peek at the snapshot the window is about to draw, then let it draw."""
        mailbox = self.window.controller.mailbox
        item = mailbox.take()
        if item is None:
            return
        self.snapshots += 1
        heavy = (item.samples, item.trajectories, item.field, item.density)
        self.pictures += sum(part is not None for part in heavy)
        mailbox.put(item)
        self.window._on_snapshot()

    def start(self) -> None:
        self.clock.start()
        self._last = self.clock.elapsed()
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.lateness.append(max(0, now - self._last - TICK_MS))
        self._last = now


def run_for(seconds: float, until=None) -> None:
    """Run a Qt event loop for `seconds` (or until `until()` is true, checked every 50 ms).

    A local QEventLoop, as the app's own loop idles: waiting in C++ with the GIL released
    (app.quit() would also close the window in Qt 6).
    """
    loop = QEventLoop()
    stop = QTimer()
    stop.setSingleShot(True)
    stop.timeout.connect(loop.quit)
    stop.start(int(seconds * 1000))
    check = QTimer()
    if until is not None:
        check.timeout.connect(lambda: until() and loop.quit())
        check.start(50)
    loop.exec()
    stop.stop()
    check.stop()


def measure_app(config: TrainConfig, seconds: float, hidden_views: bool) -> dict:
    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    prefs = QSettings(os.path.join(tempfile.mkdtemp(), "prefs.ini"), QSettings.Format.IniFormat)
    window = MainWindow(prefs)
    window.resize(1500, 950)
    window.show()
    if hidden_views:
        for name in ("field", "trajectories", "density"):
            window.docks[name].close()
    window.settings_panel.set_config(config)
    window.new_run()
    run_for(30.0, lambda: window.run_info is not None and window.run_info.config == config)
    probe = Probe(window)
    window.toggle_training()
    run_for(3.0)  # past start-up and the first chunk-size adaptation
    step0 = window.step
    probe.snapshots = probe.pictures = 0
    probe.start()
    start = time.perf_counter()
    run_for(seconds)  # the real event loop: idle waits release the GIL, as in the app
    elapsed = time.perf_counter() - start
    steps = window.step - step0  # as the snapshots report it (at most 40 ms behind)
    shown = [name for name, view in window.views.items() if view.isVisible()]
    window.close()
    late = np.array(probe.lateness, dtype=np.float64)
    return {
        "stall_median_ms": float(np.median(late)),
        "stall_p99_ms": float(np.percentile(late, 99)),
        "stall_max_ms": float(late.max()),
        "snapshots_drawn_per_s": probe.snapshots / elapsed,
        "pictures_drawn_per_s": probe.pictures / elapsed,
        "views_shown": shown,
        "app_steps_per_s": steps / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--hidden-views", action="store_true", help="only samples and loss")
    args = parser.parse_args()
    threads = default_threads()
    torch.set_num_threads(threads)  # the headless baseline gets what the training process gets
    config = TrainConfig(steps=1_000_000, device="cpu")
    # Headless before and after the app, averaged: this VM's speed drifts by ±20% over minutes.
    before = headless_steps_per_s(config, args.seconds / 2)
    results = measure_app(config, args.seconds, args.hidden_views)
    after = headless_steps_per_s(config, args.seconds / 2)
    headless = (before + after) / 2
    results["headless_steps_per_s"] = headless
    results["headless_before_after"] = [before, after]
    results["app_vs_headless"] = results["app_steps_per_s"] / headless
    results["torch_threads"] = threads
    results["hidden_views"] = args.hidden_views
    emit("ui", results)


if __name__ == "__main__":
    main()
