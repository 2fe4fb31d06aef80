"""Start the app: `fmstudio` (or `fmstudio app ...` for a scripted start).

A scripted start sets the data and settings from the command line (or a session file), can
train at once, sample, and save a screenshot of the window and of each view when done, then
quit. With `--compare SPEC` it opens compare mode on that target instead, trains every
configuration (and `--reflow NAME` of them), measures them and shoots the comparison. The
README's screenshots are made this way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from fmstudio.app.compare import CompareWindow
from fmstudio.app.images import ImageWindow
from fmstudio.app.style import apply_theme
from fmstudio.app.window import MainWindow
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


def quits_when_done(args: argparse.Namespace) -> bool:
    """A scripted start that shoots something quits once it has: nobody is there to answer."""
    return args.screenshot is not None or args.shots is not None


class ScriptedRun(QObject):
    """Train → (sample) → screenshots → quit, driven by the controller's signals (a QObject, so
    they arrive queued in the GUI thread)."""

    def __init__(
        self, window: MainWindow | ImageWindow, args: argparse.Namespace, app: QApplication
    ) -> None:
        super().__init__()
        self.window, self.args, self.app = window, args, app
        self.exit_code = 0
        self.quit_when_done = quits_when_done(args)
        window.ask_before_discard = not self.quit_when_done  # nobody is there to answer
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


class ScriptedCompare(QObject):
    """Compare mode: train every configuration → reflow the named ones → wait until each
    panel has trained and been measured → screenshot and export → quit."""

    POLL_MS = 250

    def __init__(self, compare: CompareWindow, args: argparse.Namespace) -> None:
        super().__init__()
        self.compare, self.args = compare, args
        self.exit_code = 0
        self.quit_when_done = quits_when_done(args)
        self.reflows = [name for name in (args.reflow or "").split(",") if name]
        self.poll = QTimer(self)
        self.poll.setInterval(self.POLL_MS)
        self.poll.timeout.connect(self._check)
        if self.quit_when_done:
            QTimer.singleShot(int(args.timeout * 1000), self._on_timeout)

    def begin(self) -> None:
        if self.args.train:
            self.compare.start()
        if self.args.train or self.quit_when_done:
            self.poll.start()

    def _ready(self, panel) -> bool:
        """Trained and measured; without --train, showing its untrained model."""
        if not self.args.train:
            return panel.config is not None and panel.step == 0
        return panel.state == "finished" and bool(panel.measured) and not panel.measuring

    def _check(self) -> None:
        panels = {panel.name: panel for panel in self.compare.panels}
        if not all(self._ready(p) for p in panels.values()):
            return
        if self.reflows:
            name = self.reflows.pop(0)
            if name not in panels:
                self._fail(f"--reflow {name}: no such configuration ({', '.join(panels)})")
                return
            self.compare.reflow(panels[name])
            return
        if self.compare.error.text():
            self._fail(self.compare.error.text())
        elif self.quit_when_done:
            self.poll.stop()
            QTimer.singleShot(500, self._finish)  # let the last pictures be drawn

    def _fail(self, message: str) -> None:
        print(f"fmstudio app: {message}", file=sys.stderr)
        self.exit_code = 1
        self.poll.stop()
        if self.quit_when_done:
            self._finish()

    def _on_timeout(self) -> None:
        self._fail("timed out before the scripted comparison finished")

    def _finish(self) -> None:
        if self.args.time is not None:
            self.compare.time_bar.set_time(self.args.time)
        QApplication.processEvents()
        if self.args.screenshot is not None:
            self.compare.save_screenshot(self.args.screenshot)
        if self.args.shots is not None:
            self.compare.export_to(self.args.shots)
        QApplication.closeAllWindows()


def run_app(args: argparse.Namespace, config: TrainConfig, engine=None) -> int:
    """Open the window, apply the command line, run the event loop; the exit code.

    `args.size`: (width, height) or None, when every window fits itself to the screen (the
    main window restores its last geometry while that fits). `engine`: the training process,
    if the caller started it early (see `launch`).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("fmstudio")
    app.setOrganizationName("fmstudio")
    apply_theme(app)
    image_mode = config.is_image and args.session is None
    window = ImageWindow(config, engine=engine) if image_mode else MainWindow(engine=engine)
    try:
        app.aboutToQuit.connect(window.shutdown)
        _size(window, args.size)
        window.show()
        if not image_mode:
            apply_arguments(window, args, config)
        if args.compare and not image_mode:
            script = _open_compare(window, args)
        else:
            script = ScriptedRun(window, args, app)
        QTimer.singleShot(0, script.begin)
        code = app.exec()
    finally:
        window.shutdown()  # whatever happened, training ends before Python exits
    return script.exit_code or code


def _size(window: QWidget, size: tuple[int, int] | None) -> None:
    if size is not None:
        window.resize(*size)


def _open_compare(window: MainWindow, args: argparse.Namespace) -> ScriptedCompare:
    """Compare mode on the window's target and settings, driven by `ScriptedCompare`; the main
    window stays behind it (training nothing), as after Train ▸ Compare paths…."""
    window.ask_before_discard = False
    compare = window.open_compare(args.compare)
    if compare is None:  # the target or settings are unusable: the banner says why
        raise SystemExit(f"fmstudio app: {window.last_error}")
    _size(compare, args.size)
    return ScriptedCompare(compare, args)
