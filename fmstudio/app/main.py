"""Start the app: `fmstudio` (or `fmstudio app ...` for a scripted start).

A scripted start sets the data and settings from the command line (or a session file), can
train at once, sample, and save a screenshot of the window and of each view when done, then
quit. With `--compare SPEC` it opens compare mode on that target instead, trains every
configuration (and `--reflow NAME` of them), measures them and shoots the comparison. The
README's screenshots are made this way.

A start that quits by itself has nobody to read the window's banner: any error (a refused
session or data file, a model that does not load, a failed run, a shot that cannot be written)
ends it at once with one line on stderr and exit code 2, as the CLI's own errors do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from fmstudio.app import export, startup
from fmstudio.app.compare_window import CompareWindow
from fmstudio.app.images import ImageWindow
from fmstudio.app.style import apply_theme
from fmstudio.app.window import MainWindow
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import IMAGE_EXTENSIONS, PRESETS, load_points
from fmstudio.core.session import DataSource
from fmstudio.live.protocol import RunState


def apply_arguments(
    window: MainWindow, args: argparse.Namespace, config: TrainConfig
) -> str | None:
    """Data and settings from the command line, or the session file when one is given; the
    error the window showed if they could not be applied (None: all went well)."""
    if args.session is not None:
        window.files.open_session(args.session)
        return window.last_error
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
    return window.last_error


def quits_when_done(args: argparse.Namespace) -> bool:
    """A scripted start that shoots something quits once it has: nobody is there to answer."""
    return args.screenshot is not None or args.shots is not None


def fail(message: str) -> int:
    """A scripted start's error: one line on stderr (as the CLI prints its own), exit code 2."""
    print(f"fmstudio app: error: {message}", file=sys.stderr)
    return 2


class _Script(QObject):
    """What both scripted starts share: an exit code, whether to quit once done, and a
    timeout (`args.timeout`) that ends a start which never finishes."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.args = args
        self.exit_code = 0
        self.quit_when_done = quits_when_done(args)
        if self.quit_when_done:
            QTimer.singleShot(int(args.timeout * 1000), self._on_timeout)

    def _on_timeout(self) -> None:
        raise NotImplementedError


class ScriptedRun(_Script):
    """Train → (sample) → screenshots → quit, driven by the run model's signals (a QObject, so
    they arrive queued in the GUI thread). When it quits by itself, any error ends it at once:
    one line on stderr and exit code 2 (the window's banner would wait for nobody)."""

    def __init__(
        self, window: MainWindow | ImageWindow, args: argparse.Namespace, app: QApplication
    ) -> None:
        super().__init__(args)
        self.window, self.app = window, app
        window.ask_before_discard = not self.quit_when_done  # nobody is there to answer
        window.run.stateChanged.connect(self._on_state)
        window.run.sampled.connect(self._on_sampled)
        window.run.failed.connect(self._on_failed)

    def begin(self) -> None:
        if self.args.train:
            self.window.toggle_training()
        elif self.quit_when_done:  # nothing to wait for: let the first pictures arrive, then shoot
            QTimer.singleShot(1500, self._after_training)

    def _on_state(self, state: RunState) -> None:
        if state is RunState.FINISHED and self.args.train:
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
        if self.quit_when_done:
            self._fail(message)

    def _fail(self, message: str) -> None:
        if not self.exit_code:  # the first error is the one to tell (the rest follow from it)
            self.exit_code = fail(message)
        self.window.close()

    def _on_timeout(self) -> None:
        print("fmstudio app: timed out before the scripted run finished", file=sys.stderr)
        self.exit_code = 1
        self._finish()

    def _finish(self) -> None:
        """Set t, shoot, quit. The shots are written here, not through the window's file
        actions (whose errors go to the banner), so a failed write is this run's error."""
        if self.exit_code == 2:
            return  # failed and closed already
        time_bar = getattr(self.window, "time_bar", None)  # image mode has no t-slider
        if self.args.time is not None and time_bar is not None:
            time_bar.set_time(self.args.time)
        self.app.processEvents()
        try:
            if self.args.screenshot is not None:
                export.save_image(self.window, self.args.screenshot)
            if self.args.shots is not None:
                for name, view in self.window.views.items():
                    export.export_plot(view.plot, self.args.shots / f"{name}.png")
        except (OSError, ValueError) as exc:
            self._fail(f"cannot save the pictures: {exc}")
            return
        self.window.close()


class ScriptedCompare(_Script):
    """Compare mode: train every configuration → reflow the named ones → wait until each
    panel has trained and been measured → screenshot and export → quit."""

    POLL_MS = 250

    def __init__(self, compare: CompareWindow, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.compare = compare
        self.reflows = [name for name in (args.reflow or "").split(",") if name]
        self.poll = QTimer(self)
        self.poll.setInterval(self.POLL_MS)
        self.poll.timeout.connect(self._check)

    def begin(self) -> None:
        if self.args.train:
            self.compare.start()
        if self.args.train or self.quit_when_done:
            self.poll.start()

    def _ready(self, panel) -> bool:
        """Trained and measured; without --train, showing its untrained model."""
        if not self.args.train:
            return panel.config is not None and panel.step == 0
        return panel.state is RunState.FINISHED and bool(panel.measured) and not panel.measuring

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
        """Tell the error, then shoot what there is (a failed comparison is worth a look)."""
        self.exit_code = self.exit_code or fail(message)
        self._stop()

    def _on_timeout(self) -> None:
        print("fmstudio app: timed out before the scripted comparison finished", file=sys.stderr)
        self.exit_code = 1
        self._stop()

    def _stop(self) -> None:
        self.poll.stop()
        if self.quit_when_done:
            self._finish()

    def _finish(self) -> None:
        if self.args.time is not None:
            self.compare.time_bar.set_time(self.args.time)
        QApplication.processEvents()
        try:
            if self.args.screenshot is not None:
                self.compare.save_screenshot(self.args.screenshot)
            if self.args.shots is not None:
                self.compare.export_to(self.args.shots)
        except (OSError, ValueError) as exc:
            self.exit_code = self.exit_code or fail(f"cannot save the pictures: {exc}")
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
        QTimer.singleShot(0, lambda: startup.mark(startup.WINDOW_SHOWN))
        script = _script(window, args, config, app)
        if isinstance(script, str):  # the start failed: nothing to run, nobody to tell but us
            return fail(script)
        QTimer.singleShot(0, script.begin)
        code = app.exec()
    finally:
        # Whatever happened, the window closes (hidden, its docks stop calling it) and
        # training ends before Python exits and deletes what is left.
        window.ask_before_discard = False
        window.close()
        window.shutdown()
    return script.exit_code or code


def _size(window: QWidget, size: tuple[int, int] | None) -> None:
    if size is not None:
        window.resize(*size)


def _script(
    window: MainWindow | ImageWindow, args: argparse.Namespace, config: TrainConfig, app
) -> ScriptedRun | ScriptedCompare | str:
    """Apply the command line to the window; what drives it from there, or the error that
    ends the start: a session or data the window refused when nobody is there to read its
    banner, or compare mode that cannot open."""
    if isinstance(window, ImageWindow):
        return ScriptedRun(window, args, app)
    error = apply_arguments(window, args, config)
    if args.compare:
        return error or _open_compare(window, args)
    if error and quits_when_done(args):
        return error
    return ScriptedRun(window, args, app)


def _open_compare(window: MainWindow, args: argparse.Namespace) -> ScriptedCompare | str:
    """Compare mode on the window's target and settings, driven by `ScriptedCompare`; the main
    window stays behind it (training nothing), as after Train ▸ Compare paths…. The banner's
    error when the target or settings are unusable."""
    window.ask_before_discard = False
    compare = window.open_compare(args.compare)
    if compare is None:
        return window.last_error or "compare mode cannot open"
    _size(compare, args.size)
    return ScriptedCompare(compare, args)
