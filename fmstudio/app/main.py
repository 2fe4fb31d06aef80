"""Start the app: `fmstudio` (or `fmstudio app ...` for a scripted start).

A scripted start sets the data and settings from the command line (or a session file), can
train at once, sample, and save a screenshot of the window and of each view when done, then
quit. The README's screenshots are made this way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from fmstudio.app.images import ImageWindow
from fmstudio.app.style import apply_theme
from fmstudio.app.window import MainWindow
from fmstudio.cli import window_size
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import IMAGE_EXTENSIONS, PRESETS, load_points
from fmstudio.core.session import DataSource


def apply_arguments(window: MainWindow, args: argparse.Namespace, config: TrainConfig) -> None:
    """Data and settings from the command line, or the session file when one is given."""
    if args.session is not None:
        window.files.open_session(args.session)
        return
    window.settings_panel.set_config(config)
    spec = config.dataset
    if spec in PRESETS:
        window.source = DataSource("preset", spec)
        window.data_panel.set_source(window.source)
        window.data_panel.set_noise("preset", config.jitter, config.scale)
        window.new_run()
    elif Path(spec).suffix.lower() in IMAGE_EXTENSIONS:
        window.use_image(spec)
    else:
        window.data_panel.set_noise("drawing", config.jitter, 1.0)
        window.use_points(load_points(spec))
    if args.marginal:
        window.action_marginal.setChecked(True)
        window._update_views_wanted()


class ScriptedRun(QObject):
    """Train → (sample) → screenshots → quit, driven by the controller's signals (a QObject, so
    they arrive queued in the GUI thread)."""

    def __init__(
        self, window: MainWindow | ImageWindow, args: argparse.Namespace, app: QApplication
    ) -> None:
        super().__init__()
        self.window, self.args, self.app = window, args, app
        self.exit_code = 0
        self.quit_when_done = args.screenshot is not None or args.shots is not None
        window.controller.stateChanged.connect(self._on_state)
        window.controller.sampled.connect(self._on_sampled)
        window.controller.failed.connect(self._on_failed)
        if self.quit_when_done:
            QTimer.singleShot(int(args.timeout * 1000), self._on_timeout)

    def begin(self) -> None:
        if self.args.train:
            self.window.toggle_training()
        elif self.quit_when_done:  # nothing to wait for: let the first pictures arrive, then shoot
            QTimer.singleShot(1500, self._after_training)

    def _on_state(self, state: str) -> None:
        if state == "finished" and self.args.train:
            self._after_training()

    def _after_training(self) -> None:
        if self.args.sample:
            self.window.sample()
        elif self.quit_when_done:
            QTimer.singleShot(300, self._finish)  # let the last snapshot be drawn

    def _on_sampled(self, _run) -> None:
        if self.quit_when_done:
            QTimer.singleShot(300, self._finish)

    def _on_failed(self, message: str) -> None:
        print(f"fmstudio app: {message}", file=sys.stderr)
        self.exit_code = 1

    def _on_timeout(self) -> None:
        print("fmstudio app: timed out before the scripted run finished", file=sys.stderr)
        self.exit_code = 1
        self._finish()

    def _finish(self) -> None:
        time_bar = getattr(self.window, "time_bar", None)  # image mode has no t-slider
        if self.args.time is not None and time_bar is not None:
            time_bar.set_time(self.args.time)
        self.app.processEvents()
        if self.args.screenshot is not None:
            self.window.save_screenshot(self.args.screenshot)
        if self.args.shots is not None:
            self.args.shots.mkdir(parents=True, exist_ok=True)
            for name in self.window.views:
                self.window.export_view(name, self.args.shots / f"{name}.png")
        self.window.close()


def run_app(args: argparse.Namespace, config: TrainConfig, engine=None) -> int:
    """Open the window, apply the command line, run the event loop; the exit code.

    `engine`: the training process, if the caller started it early (see `launch`).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("fmstudio")
    app.setOrganizationName("fmstudio")
    apply_theme(app)
    image_mode = config.is_image and args.session is None
    window = ImageWindow(config, engine=engine) if image_mode else MainWindow(engine=engine)
    try:
        app.aboutToQuit.connect(window.shutdown)
        window.resize(*window_size(args.size))
        window.show()
        if not image_mode:
            apply_arguments(window, args, config)
        script = ScriptedRun(window, args, app)
        QTimer.singleShot(0, script.begin)
        code = app.exec()
    finally:
        window.shutdown()  # whatever happened, training ends before Python exits
    return script.exit_code or code
