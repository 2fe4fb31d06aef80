"""Everything the window reads or writes: sessions, models, points, images, plots, animations.

Each operation has a `*_dialog` method that asks for a path and a plain method that takes one,
so tests and scripts drive the real code without a file dialog. Every write is atomic (core's
`atomic_write`, or a temp file + rename in `export`), and every bad file ends in the window's
error banner with the file's name and what is wrong, never in a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QApplication, QFileDialog

from fmstudio.app import export
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import DatasetError, load_points, save_points
from fmstudio.core.io import CheckpointError, read_header
from fmstudio.core.session import DataSource, Session, SessionError, load_session, save_session

if TYPE_CHECKING:
    from fmstudio.app.window import MainWindow

SESSION_FILTER = "fmstudio session (*.fmstudio.json *.json)"
POINTS_FILTER = "Points (*.npy *.csv)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp)"
PLOT_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"
GIF_FRAMES = 48
GIF_PARTICLE_SIZE = 4.0
"""Particles in an exported animation: larger than live, so the motion reads at GIF size."""
LIVE_PARTICLE_SIZE = 2.0


class FileActions:
    """File operations of one window (it keeps the current session path)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
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

    def _with_path(self, mode: str, title: str, filter: str, action) -> None:
        path = self.ask(mode, title, filter)
        if path:
            action(path)

    def open_session_dialog(self) -> None:
        self._with_path("open", "Open session", SESSION_FILTER, self.open_session)

    def save_session_dialog(self) -> None:
        if self.session_path is None:
            self.save_session_as_dialog()
        else:
            self.save_session(self.session_path)

    def save_session_as_dialog(self) -> None:
        self._with_path("save", "Save session", SESSION_FILTER, self.save_session)

    def open_model_dialog(self) -> None:
        self._with_path("dir", "Open a model directory", "", self.open_model)

    def export_model_dialog(self) -> None:
        self._with_path("dir", "Export the model into a directory", "", self.export_model)

    def export_samples_dialog(self) -> None:
        self._with_path("save", "Export samples", POINTS_FILTER, self.export_samples)

    def export_view_dialog(self, view: str) -> None:
        self._with_path("save", "Export plot", PLOT_FILTER, lambda p: self.export_view(view, p))

    def export_animation_dialog(self) -> None:
        self._with_path("save", "Export animation", "GIF animation (*.gif)", self.export_animation)

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

    def model_dir_for(self, session: Path) -> Path:
        name = session.name.removesuffix(".json").removesuffix(".fmstudio")
        return session.with_name(f"{name}.model")

    def save_session(self, path: str | Path) -> None:
        """Write settings, drawing and view state; the model goes to `<name>.model/` beside it."""
        w = self.window
        path = Path(path)
        try:
            config = w.current_config()
        except ConfigError as exc:
            w.show_error(f"Cannot save the session: {exc}")
            return
        model_dir = self.model_dir_for(path) if w.step > 0 else None
        session = Session(
            config=config,
            source=w.source,
            points=np.array(w.drawing.points) if len(w.drawing) else None,
            model_dir=model_dir,
            view={
                "t": w.time_bar.time(),
                "sampling": w.sampling_panel.request(),
                "brush": w.data_panel.brush_size(),
            },
        )
        try:
            if model_dir is not None:
                model_dir.mkdir(parents=True, exist_ok=True)
            save_session(path, session)
        except OSError as exc:
            w.show_error(f"Cannot save the session to {path}: {exc}")
            return
        if model_dir is not None:
            w.controller.save_model(str(model_dir))
        self.session_path = path
        self._remember(path)
        w.statusBar().showMessage(f"Saved session {path}", 5000)

    def open_session(self, path: str | Path) -> None:
        w = self.window
        path = Path(path)
        try:
            session = load_session(path)
        except SessionError as exc:
            w.show_error(f"Cannot open the session: {exc}")
            if not path.exists():
                w.prefs.remove_recent(str(path))
                self.refresh_recent_menu()
            return
        if session.points is not None:
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
        if isinstance(view.get("sampling"), dict):
            w.sampling_panel.set_request(view["sampling"])
        if isinstance(view.get("t"), int | float):
            w.time_bar.set_time(float(view["t"]))
        self.session_path = path
        self._remember(path)
        if session.model_dir is not None and (session.model_dir / "config.json").exists():
            w.controller.load_model(str(session.model_dir))
        else:
            w.new_run()
        w.statusBar().showMessage(f"Opened session {path}", 5000)

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
            action.triggered.connect(lambda _=False, p=text: self.open_session(p))
        menu.setEnabled(bool(recent))

    # ---- models ---------------------------------------------------------------------------

    def open_model(self, directory: str | Path) -> None:
        """Continue from a run directory written by the app or `fmstudio train`."""
        try:
            read_header(directory)  # a clear message now for a folder that is not a model
        except CheckpointError as exc:
            self.window.show_error(f"Cannot open the model: {exc}")
            return
        self.window.controller.load_model(str(directory))

    def export_model(self, directory: str | Path) -> None:
        """safetensors + JSON, the same layout `fmstudio sample/eval` read."""
        self.window.controller.save_model(str(directory))

    # ---- points, samples, pictures --------------------------------------------------------

    def import_points(self, path: str | Path) -> None:
        try:
            points = load_points(path)
        except DatasetError as exc:
            self.window.show_error(str(exc))
            return
        self.window.use_points(points)

    def export_points(self, path: str | Path) -> None:
        self._save_points(path, np.array(self.window.drawing.points), "drawn points")

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

    def _save_points(self, path: str | Path, points: np.ndarray, what: str) -> None:
        try:
            save_points(path, points)
        except DatasetError as exc:
            self.window.show_error(f"Cannot export the {what}: {exc}")
            return
        self.window.statusBar().showMessage(f"Wrote {len(points)} {what} to {path}", 5000)

    def export_view(self, view: str, path: str | Path) -> None:
        try:
            export.export_plot(self.window.views[view].plot, path)
        except (ValueError, OSError) as exc:
            self.window.show_error(f"Cannot export the plot: {exc}")

    def export_animation(self, path: str | Path, frames: int = GIF_FRAMES) -> None:
        """The particles flowing from noise (t = 0) to data (t = 1), one GIF frame per time."""
        w = self.window
        if w.trajectory_view.trajectories is None:
            w.show_error("No trajectories yet: train or sample first.")
            return
        t_min, t_max = w.run_info.t_range if w.run_info else (0.0, 1.0)
        keep = w.time_bar.time()
        images = []
        w.trajectory_view.set_particle_size(GIF_PARTICLE_SIZE)
        for t in np.linspace(t_min, t_max, frames):
            w.trajectory_view.set_time(float(t))
            QApplication.processEvents()
            images.append(export.grab_frame(w.trajectory_view.plot))
        w.trajectory_view.set_particle_size(LIVE_PARTICLE_SIZE)
        w.trajectory_view.set_time(keep)
        try:
            export.save_gif(images, path, fps=20)
        except (ValueError, OSError) as exc:
            w.show_error(f"Cannot export the animation: {exc}")

    def screenshot(self, path: str | Path) -> None:
        try:
            export.save_image(self.window, path)
        except (ValueError, OSError) as exc:
            self.window.show_error(f"Cannot save the screenshot: {exc}")
