"""Everything the window reads or writes: sessions, models, points, images, plots, animations.

Each operation has a `*_dialog` method that asks for a path and a plain method that takes one,
so tests and scripts drive the real code without a file dialog. Every write is atomic (core's
`atomic_write`, or a temp file + rename in `export`), and every bad file ends in the window's
error banner with the file's name and what is wrong, never in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
)

from fmstudio.app import export
from fmstudio.app.run_model import RunModel
from fmstudio.app.views import TrajectoryView
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import DatasetError, load_points, save_points
from fmstudio.core.errors import CheckpointError
from fmstudio.core.run_header import read_header
from fmstudio.core.session import DataSource, Session, SessionError, load_session, save_session
from fmstudio.live.protocol import LoadModel

SESSION_FILTER = "fmstudio session (*.fmstudio.json *.json)"
POINTS_FILTER = "Points (*.npy *.csv)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp)"
PLOT_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"
GIF_FRAMES = 48
GIF_SIDES = (480, 640, 720, 1080)
"""Frame sizes offered for an animation, in pixels: square, as the trajectory plot's axes are
equal and its range is the target's square."""
GIF_SIDE = 640
GIF_PARTICLE_SIZE = 4.0
"""Particles in a 480 px animation (larger than live, so the motion reads), in proportion at
other sizes."""


class FileActions:
    """File operations of one window (it keeps the current session path)."""

    def __init__(self, window: QMainWindow, run: RunModel) -> None:
        """`window`: the MainWindow, whose panels a session saves and restores (typed by its Qt
        base: window.py, which builds this, imports this module, not the other way round);
        `run`: the run whose model is saved and opened."""
        self.window = window
        self.run = run
        self.session_path: Path | None = None

    # ---- dialogs (tests replace `ask`) -------------------------------------------------------

    def ask(self, mode: str, title: str, filter: str = "") -> str | None:
        """A file dialog: mode 'open', 'save' or 'dir'. Returns None when cancelled."""
        start = self.window.prefs.last_dir()
        if mode == "dir":
            path = QFileDialog.getExistingDirectory(self.window, title, start)
        elif mode == "open":
            path, _ = QFileDialog.getOpenFileName(self.window, title, start, filter)
        else:
            path, _ = QFileDialog.getSaveFileName(self.window, title, start, filter)
        if path:
            self.window.prefs.set_last_dir(path)
        return path or None

    def ask_item(self, title: str, label: str, items: list[str], current: int = 0) -> str | None:
        """A choice from a list in a small dialog. Returns None when cancelled."""
        item, ok = QInputDialog.getItem(self.window, title, label, items, current, False)
        return item if ok else None

    def _with_path(self, mode: str, title: str, filter: str, action) -> None:
        path = self.ask(mode, title, filter)
        if path:
            action(path)

    def save_session_dialog(self) -> bool:
        """File ▸ Save session: to its file, or asking for one; True once it is saved."""
        if self.session_path is None:
            return self.save_session_as_dialog()
        return self.save_session(self.session_path)

    def save_session_as_dialog(self) -> bool:
        path = self.ask("save", "Save session", SESSION_FILTER)
        return path is not None and self.save_session(path)

    def new_session_confirmed(self) -> None:
        """File ▸ New session, once unsaved work is saved or given up."""
        if self.window.confirm_discard("A new session"):
            self.new_session()

    def open_session_dialog(self) -> None:
        if self.window.confirm_discard("Opening a session"):
            self._with_path("open", "Open session", SESSION_FILTER, self.open_session)

    def open_model_dialog(self) -> None:
        if self.window.confirm_discard("Opening a model"):
            self._with_path("dir", "Open a model directory", "", self.open_model)

    def export_model_dialog(self) -> None:
        self._with_path("dir", "Export the model into a directory", "", self.export_model)

    def export_samples_dialog(self) -> None:
        self._with_path("save", "Export samples", POINTS_FILTER, self.export_samples)

    def export_view_dialog(self, view: str) -> None:
        self._with_path("save", "Export plot", PLOT_FILTER, lambda p: self.export_view(view, p))

    def export_animation_dialog(self) -> None:
        """A GIF file, then the size of its frames."""
        path = self.ask("save", "Export animation", "GIF animation (*.gif)")
        if path is None:
            return
        sides = {f"{side} × {side} px": side for side in GIF_SIDES}
        default = GIF_SIDES.index(GIF_SIDE)
        choice = self.ask_item("Export animation", "Frame size:", list(sides), default)
        if choice is not None:
            self.export_animation(path, size=(sides[choice], sides[choice]))

    def screenshot_dialog(self) -> None:
        self._with_path("save", "Save a screenshot", "PNG image (*.png)", self.screenshot)

    def import_points_dialog(self) -> None:
        self._with_path("open", "Import points", POINTS_FILTER, self.import_points)

    def export_points_dialog(self) -> None:
        self._with_path("save", "Export the drawn points", POINTS_FILTER, self.export_points)

    def load_image_dialog(self) -> None:
        self._with_path("open", "Load an image as a density", IMAGE_FILTER, self.window.use_image)

    # ---- sessions -------------------------------------------------------------------------

    def new_session(self) -> None:
        """Back to the defaults: a preset, default settings, an empty drawing, a fresh model."""
        w = self.window
        self.session_path = None
        w.drawing.clear()
        w.source = DataSource()
        w.data_panel.set_source(w.source)
        w.settings_panel.set_config(TrainConfig())
        w.new_run()
        w.mark_saved(session=True)

    def model_dir_for(self, session: Path) -> Path:
        name = session.name.removesuffix(".json").removesuffix(".fmstudio")
        return session.with_name(f"{name}.model")

    def save_session(self, path: str | Path) -> bool:
        """Write settings, drawing and view state; the model goes to `<name>.model/` beside it."""
        w = self.window
        path = Path(path)
        try:
            config = w.current_config()
        except ConfigError as exc:
            w.show_error(f"Cannot save the session: {exc}")
            return False
        model_dir = self.model_dir_for(path) if self.run.step > 0 else None
        session = Session(
            config=config,
            source=w.source,
            points=np.array(w.drawing.points) if len(w.drawing) else None,
            model_dir=model_dir,
            view={
                "t": w.time_bar.time(),
                "sampling": w.sampling_panel.request().to_flat(),
                "brush": w.data_panel.brush_size(),
            },
        )
        try:
            if model_dir is not None:
                model_dir.mkdir(parents=True, exist_ok=True)
            save_session(path, session)
        except (OSError, SessionError) as exc:
            w.show_error(f"Cannot save the session to {path}: {exc}")
            return False
        if model_dir is not None:
            self.run.save_model(str(model_dir))
        self.session_path = path
        self._remember(path)
        w.mark_saved(session=True)
        w.statusBar().showMessage(f"Saved session {path}", 5000)
        return True

    def open_session(self, path: str | Path) -> bool:
        """Open a session file; True once it is the window's. A bad file (unreadable, a wrong
        field, a model outside its folder) changes nothing
        and says why in the banner. Its model loads in the training process, after a fresh
        model on the session's settings: if that load fails, the banner says so and the
        window still shows what the session asked for."""
        w = self.window
        path = Path(path)
        try:
            session = load_session(path)
        except SessionError as exc:
            w.show_error(f"Cannot open the session: {exc}")
            if not path.exists():
                w.prefs.remove_recent(str(path))
                self.refresh_recent_menu()
            return False
        self._apply_session(session)
        self.session_path = path
        self._remember(path)
        w.new_run()
        w.mark_saved(session=True)
        if session.model_dir is not None:
            self.run.send(LoadModel(str(session.model_dir)))
        w.statusBar().showMessage(f"Opened session {path}", 5000)
        return True

    def _apply_session(self, session: Session) -> None:
        """Show a checked session in the panels (nothing here can fail on its values)."""
        w = self.window
        if session.points is None:
            w.drawing.clear()  # the drawing is the session's: none, not the last one's
        else:
            w.drawing.replace(session.points)
        w.data_panel.set_point_count(len(w.drawing), w.drawing.can_undo)
        if session.source.kind == "image":
            w.image_path = session.source.image
            w.data_panel.set_image_name(Path(session.source.image or "").name or None)
        w.source = session.source
        w.data_panel.set_source(session.source)
        w.data_panel.set_noise(session.source.kind, session.config.jitter, session.config.scale)
        w.settings_panel.set_config(session.config)
        view = session.view
        if view.get("sampling") is not None:
            w.sampling_panel.restore(view["sampling"])
        if view.get("t") is not None:
            w.time_bar.set_time(float(view["t"]))

    def _remember(self, path: Path) -> None:
        self.window.prefs.add_recent(path)
        self.refresh_recent_menu()

    def refresh_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        recent = self.window.prefs.recent_sessions()
        for text in recent:
            action = menu.addAction(Path(text).name)
            action.setToolTip(text)
            action.triggered.connect(lambda _=False, p=text: self._open_recent(p))
        menu.setEnabled(bool(recent))

    def _open_recent(self, path: str) -> None:
        if self.window.confirm_discard("Opening a session"):
            self.open_session(path)

    # ---- models ---------------------------------------------------------------------------

    def open_model(self, directory: str | Path) -> None:
        """Continue from a run directory written by the app or `fmstudio train`."""
        try:
            read_header(directory)  # a clear message now for a folder that is not a model
        except CheckpointError as exc:
            self.window.show_error(f"Cannot open the model: {exc}")
            return
        self.run.send(LoadModel(str(directory)))

    def export_model(self, directory: str | Path) -> None:
        """safetensors + JSON, the same layout `fmstudio sample/eval` read."""
        self.run.save_model(str(directory))
        self.window.mark_saved(drawing=False)

    # ---- points, samples, pictures --------------------------------------------------------

    def import_points(self, path: str | Path) -> None:
        try:
            points = load_points(path)
        except DatasetError as exc:
            self.window.show_error(str(exc))
            return
        self.window.use_points(points)

    def export_points(self, path: str | Path) -> None:
        if self._save_points(path, np.array(self.window.drawing.points), "drawn points"):
            self.window.mark_saved(model=False)

    def export_samples(self, path: str | Path) -> None:
        """The last sampling run's samples, or the live view's when nothing was sampled yet."""
        w = self.window
        samples = None
        if w.last_sample is not None:
            samples = w.last_sample.trajectories.samples
        elif w.samples_view.samples is not None:
            samples = w.samples_view.samples
        if samples is None or len(samples) == 0:
            w.show_error("No samples yet: train or press Sample first.")
            return
        self._save_points(path, samples, "samples")

    def _save_points(self, path: str | Path, points: np.ndarray, what: str) -> bool:
        try:
            save_points(path, points)
        except DatasetError as exc:
            self.window.show_error(f"Cannot export the {what}: {exc}")
            return False
        self.window.statusBar().showMessage(f"Wrote {len(points)} {what} to {path}", 5000)
        return True

    def export_view(self, view: str, path: str | Path) -> None:
        try:
            export.export_plot(self.window.views[view].plot, path)
        except (ValueError, OSError) as exc:
            self.window.show_error(f"Cannot export the plot: {exc}")

    def export_animation(
        self,
        path: str | Path,
        frames: int = GIF_FRAMES,
        size: tuple[int, int] = (GIF_SIDE, GIF_SIDE),
    ) -> None:
        """The particles flowing from noise (t = 0) to data (t = 1), one GIF frame per time,
        each `size` (width, height) pixels whatever the shape of the trajectory dock."""
        w = self.window
        if w.trajectory_view.trajectories is None or self.run.info is None:
            w.show_error("No trajectories yet: train or sample first.")
            return
        try:
            export.save_gif(self._animation_frames(frames, size), path, fps=20)
        except (ValueError, OSError) as exc:
            w.show_error(f"Cannot export the animation: {exc}")

    def _animation_frames(self, count: int, size: tuple[int, int]) -> list[Image.Image]:
        """Frames drawn by an off-screen trajectory view of `size` showing what the live one
        does (paths, target, range), so the live view keeps its own size and particles."""
        w = self.window
        live, info = w.trajectory_view, self.run.info
        view = TrajectoryView(max_curves=live.max_curves)
        view.show_curves.setChecked(live.show_curves.isChecked())
        view.set_particle_size(GIF_PARTICLE_SIZE * min(size) / GIF_SIDES[0])
        view.set_target(info.target)
        view.set_bounds(info.bounds)
        view.set_trajectories(live.trajectories)
        if live.conditional is not None:
            view.show_conditional.setChecked(True)
            view.set_conditional(live.conditional)
        try:
            export.show_offscreen(view, view.plot, size)
            images = []
            for t in np.linspace(*info.t_range, count):
                view.set_time(float(t))
                images.append(export.grab_frame(view.plot, size))
            return images
        finally:
            view.close()
            view.deleteLater()

    def screenshot(self, path: str | Path) -> None:
        try:
            export.save_image(self.window, path)
        except (ValueError, OSError) as exc:
            self.window.show_error(f"Cannot save the screenshot: {exc}")
