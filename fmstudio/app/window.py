"""The main window: panels on the left, the samples canvas in the middle, views in docks.

It holds the app's state in plain objects (the session's `DataSource`, the `Drawing`, the last
sampling run) and wires widgets to the `Controller`: widgets send intent, the training process
does the work, snapshots come back and the views draw them. No math happens here.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app import ask, help_pages, startup
from fmstudio.app.files import FileActions
from fmstudio.app.panels.data import DataPanel
from fmstudio.app.panels.sampling import SamplingPanel
from fmstudio.app.panels.settings import EditEffect, SettingsPanel, edit_effect
from fmstudio.app.prefs import Prefs
from fmstudio.app.run_model import BoundToRun, RunModel
from fmstudio.app.screen import fit_to_screen, fits_screen
from fmstudio.app.views import (
    DensityView,
    FieldView,
    LossView,
    SamplesView,
    TimeBar,
    TrajectoryView,
)
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import DatasetError, ImageDensity
from fmstudio.core.data.drawing import Drawing
from fmstudio.core.session import DataSource
from fmstudio.core.view_data import SampleRun, Snapshot, plot_bounds
from fmstudio.live.protocol import (
    Part,
    Pause,
    RunInfo,
    RunState,
    Sample,
    SetDataset,
    SetFieldBox,
    SetViews,
    Start,
    UpdateSettings,
)

PREVIEW_POINTS = 3000
COMPARE_SPEC = "ot,vp,otcfm"
"""What Train ▸ Compare paths… sets up first (the user edits it in the compare window)."""
PREFERRED_SIZE = (1500, 950)
"""The window's size where the screen allows (`screen.fit_to_screen` shrinks it to fit)."""
CONTROLS_MIN_WIDTH = 300
"""The Controls dock never gets narrower: its tabs and fields stay readable."""
DOCKED_VIEWS = ("loss", "field", "trajectories", "density")
DOCK_AREAS = {
    "field": Qt.DockWidgetArea.RightDockWidgetArea,
    "trajectories": Qt.DockWidgetArea.RightDockWidgetArea,
    "density": Qt.DockWidgetArea.RightDockWidgetArea,
    "loss": Qt.DockWidgetArea.BottomDockWidgetArea,
}
VIEW_TITLES = {
    "samples": "Samples vs target",
    "loss": "Loss",
    "field": "Vector field",
    "trajectories": "Trajectories",
    "density": "Model density",
}


class MainWindow(BoundToRun, QMainWindow):
    """fmstudio's window. `settings` lets tests keep their preferences away from the user's."""

    @property
    def run_info(self) -> RunInfo | None:
        return self.run.info

    def __init__(self, settings: QSettings | None = None, engine=None) -> None:
        """`engine`: a training process started early (`launch.start_engine_process`)."""
        super().__init__()
        self.setObjectName("mainWindow")
        self.prefs = Prefs(settings)
        self.run = RunModel(self, engine)
        self.drawing = Drawing()
        self.source = DataSource()
        self.image_path: str | None = None
        self.last_sample: SampleRun | None = None
        self.last_error: str | None = None
        self._showing_sample = False
        self._locked = False
        self._closed = False
        self.compare_window = None
        self.image_window = None
        self.ask_before_discard = True
        """False for a scripted start that quits by itself: nobody is there to answer."""
        self._drawing_saved = True
        self._session_changed = False

        self._build_views()
        self._build_panels()
        self.files = FileActions(self, self.run)
        self._build_actions()
        self._build_status()
        self._connect()
        self._restore_layout()
        self._update_views_wanted()
        self.update_title()
        self.new_run()

    # ---- layout ---------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.samples_view = SamplesView()
        self.loss_view = LossView()
        self.field_view = FieldView()
        self.trajectory_view = TrajectoryView()
        self.density_view = DensityView()
        self.views: dict[str, QWidget] = {
            "samples": self.samples_view,
            "loss": self.loss_view,
            "field": self.field_view,
            "trajectories": self.trajectory_view,
            "density": self.density_view,
        }
        self.banner = QLabel()
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#5c1f24;color:#ffd9d9;padding:6px;border-radius:4px")
        self.banner_close = QToolButton()
        self.banner_close.setObjectName("errorClose")
        self.banner_close.setText("✕")
        self.banner_close.setToolTip("Dismiss this message")
        self.banner_row = QWidget()
        row = QHBoxLayout(self.banner_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.banner, 1)
        row.addWidget(self.banner_close)
        self.banner_row.hide()

        self.time_bar = TimeBar()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner_row)
        layout.addWidget(self.samples_view, 1)
        layout.addWidget(self.time_bar)
        self.setCentralWidget(central)

        self.docks: dict[str, QDockWidget] = {}
        # The side columns run the full height; the loss sits under the canvas only.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        for name in DOCKED_VIEWS:
            dock = QDockWidget(VIEW_TITLES[name], self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(self.views[name])
            self.addDockWidget(DOCK_AREAS[name], dock)
            self.docks[name] = dock

    def _build_panels(self) -> None:
        self.data_panel = DataPanel()
        self.settings_panel = SettingsPanel()
        self.sampling_panel = SamplingPanel()
        self.settings_panel.set_config(TrainConfig())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("controlTabs")
        for panel, title in (
            (self.data_panel, "Data"),
            (self.settings_panel, "Training"),
            (self.sampling_panel, "Sampling"),
        ):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            self.tabs.addTab(scroll, title)
        self.tabs.setMinimumWidth(CONTROLS_MIN_WIDTH)
        dock = QDockWidget("Controls", self)
        dock.setObjectName("dock_controls")
        dock.setWidget(self.tabs)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.docks["controls"] = dock

    def _action(self, name: str, text: str, slot, shortcut: str | None = None, tip: str = ""):
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip or text} ({shortcut})" if shortcut else tip or text)
        action.setStatusTip(tip or text)
        if slot is not None:
            # `triggered` passes `checked`: never let it land in a slot's own parameter (it
            # once reached open_compare's `spec` and broke Ctrl+K).
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        f = self.files
        self.action_train = self._action(
            "actionTrain", "Train", self.toggle_training, "Space", "Start or pause training"
        )
        self.action_reset = self._action(
            "actionReset", "Reset", self.reset_run, "Ctrl+R", "Start over with a fresh model"
        )
        self.action_sample = self._action(
            "actionSample", "Sample", self.sample, "Ctrl+Return", "Sample the current model"
        )
        self.action_compare = self._action(
            "actionCompare",
            "Compare paths…",
            self.open_compare,
            "Ctrl+K",
            "Train several paths/couplings side by side on this target (compare mode)",
        )
        self.action_images = self._action(
            "actionImages",
            "Images…",
            self.open_images,
            "Ctrl+I",
            "Image mode: train on digits, MNIST, CIFAR-10 or a folder of images",
        )
        self.action_undo = self._action(
            "actionUndoDrawing", "Undo stroke", self.undo_drawing, "Ctrl+Z", "Undo the last stroke"
        )
        self.action_marginal = self._action(
            "actionMarginal",
            "Exact marginal field",
            None,
            tip="Overlay the exact marginal field of the target (eq. 8) on the learned one",
        )
        self.action_marginal.setCheckable(True)
        self.action_marginal.setChecked(self.prefs.flag("marginal"))
        self.action_likelihood = self._action(
            "actionLikelihood",
            "Density by exact likelihood",
            None,
            tip="Model density by the change of variables (slower) instead of a histogram",
        )
        self.action_likelihood.setCheckable(True)
        self.action_likelihood.setChecked(self.prefs.flag("likelihood"))

        menu = self.menuBar().addMenu("&File")
        menu.setObjectName("menuFile")
        menu.addAction(
            self._action("actionNewSession", "New session", f.new_session_confirmed, "Ctrl+N")
        )
        menu.addAction(
            self._action("actionOpenSession", "Open session…", f.open_session_dialog, "Ctrl+O")
        )
        self.recent_menu = menu.addMenu("Open recent")
        self.recent_menu.setObjectName("menuRecent")
        menu.addAction(
            self._action("actionSaveSession", "Save session", f.save_session_dialog, "Ctrl+S")
        )
        menu.addAction(
            self._action(
                "actionSaveSessionAs", "Save session as…", f.save_session_as_dialog, "Ctrl+Shift+S"
            )
        )
        menu.addSeparator()
        menu.addAction(self._action("actionOpenModel", "Open model…", f.open_model_dialog))
        export = menu.addMenu("Export")
        export.setObjectName("menuExport")
        export.addAction(
            self._action(
                "actionExportModel",
                "Model…",
                f.export_model_dialog,
                "Ctrl+E",
                "Export the model (safetensors + JSON, what fmstudio sample/eval read)",
            )
        )
        export.addAction(
            self._action("actionExportSamples", "Samples (NPY/CSV)…", f.export_samples_dialog)
        )
        for name in self.views:
            export.addAction(
                self._action(
                    f"actionExportView_{name}",
                    f"{VIEW_TITLES[name]} plot (PNG/SVG)…",
                    functools.partial(f.export_view_dialog, name),
                )
            )
        export.addAction(
            self._action(
                "actionExportAnimation",
                "Trajectory animation (GIF)…",
                f.export_animation_dialog,
                "Ctrl+Shift+E",
                "Export the trajectory animation as a GIF",
            )
        )
        export.addAction(
            self._action("actionScreenshot", "Window screenshot (PNG)…", f.screenshot_dialog)
        )
        menu.addSeparator()
        menu.addAction(self._action("actionQuit", "Quit", self.close, "Ctrl+Q"))

        menu = self.menuBar().addMenu("&Edit")
        menu.setObjectName("menuEdit")
        menu.addAction(self.action_undo)

        menu = self.menuBar().addMenu("&Train")
        menu.setObjectName("menuTrain")
        for action in (self.action_train, self.action_reset, self.action_sample):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.action_compare)
        menu.addAction(self.action_images)

        menu = self.menuBar().addMenu("&View")
        menu.setObjectName("menuView")
        for name in (*DOCKED_VIEWS, "controls"):
            toggle = self.docks[name].toggleViewAction()
            toggle.setObjectName(f"toggle_{name}")
            menu.addAction(toggle)
        menu.addSeparator()
        menu.addAction(self.action_marginal)
        menu.addAction(self.action_likelihood)
        menu.addSeparator()
        menu.addAction(
            self._action(
                "actionResetLayout",
                "Reset layout",
                self.reset_layout,
                tip="Put every view and the controls back where they were at the first start",
            )
        )

        menu = self.menuBar().addMenu("&Help")
        menu.setObjectName("menuHelp")
        menu.addAction(
            self._action("actionShortcuts", "Keyboard shortcuts", self.show_shortcuts, "F1")
        )
        menu.addAction(
            self._action(
                "actionMaths",
                "What each view shows (the maths)",
                self.show_maths,
                tip="Each view's equation, with links to the papers",
            )
        )

        bar = self.addToolBar("Training")
        bar.setObjectName("transportBar")
        for action in (self.action_train, self.action_reset, self.action_sample):
            bar.addAction(action)
            bar.widgetForAction(action).setObjectName(f"button_{action.objectName()}")
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v / %m steps")
        bar.addWidget(self.progress)
        self.files.refresh_recent_menu()

    def _build_status(self) -> None:
        self.status_state = QLabel()
        self.status_state.setObjectName("statusState")
        self.status_device = QLabel()
        self.status_device.setObjectName("statusDevice")
        self.statusBar().addPermanentWidget(self.status_state)
        self.statusBar().addPermanentWidget(self.status_device)

    def _connect(self) -> None:
        r = self.run
        r.runStarted.connect(self._on_run_started)
        r.targetChanged.connect(self._on_target_changed)
        r.snapshot.connect(self._on_snapshot)
        r.stateChanged.connect(self._on_state)
        r.failed.connect(self.show_error)
        r.processEnded.connect(self._on_process_ended)
        r.sampled.connect(self._on_sampled)
        r.saved.connect(self._on_saved)
        self.banner_close.clicked.connect(self.clear_error)

        d = self.data_panel
        d.sourceChanged.connect(self.set_source_kind)
        d.presetChosen.connect(self.choose_preset)
        d.toolChanged.connect(self.samples_view.set_tool)
        d.brushSizeChanged.connect(self.samples_view.set_brush_radius)
        d.undoRequested.connect(self.undo_drawing)
        d.clearRequested.connect(self.clear_drawing)
        d.jitterChanged.connect(self._data_shape_changed)
        d.presetShapeChanged.connect(self._data_shape_changed)
        d.importRequested.connect(self.files.import_points_dialog)
        d.exportRequested.connect(self.files.export_points_dialog)
        d.imageRequested.connect(self.files.load_image_dialog)
        self.samples_view.set_brush_radius(d.brush_size())

        self.samples_view.strokeStarted.connect(self.drawing.begin_stroke)
        self.samples_view.strokeAt.connect(self._stroke_at)
        self.samples_view.strokeFinished.connect(self._stroke_finished)

        self.settings_panel.changed.connect(self.change_setting)
        self.sampling_panel.sampleRequested.connect(self.sample)
        self.time_bar.timeChanged.connect(self._set_time)
        self.field_view.boxChanged.connect(self._send_field_box)
        # One switch, two places: the View menu and the field view's "exact" box.
        self.field_view.show_marginal.setChecked(self.action_marginal.isChecked())
        self.field_view.show_marginal.toggled.connect(self.action_marginal.setChecked)
        self.action_marginal.toggled.connect(self.field_view.show_marginal.setChecked)
        self.action_marginal.toggled.connect(self._update_views_wanted)
        self.density_view.exact.setChecked(self.action_likelihood.isChecked())
        self.density_view.exact.toggled.connect(self.action_likelihood.setChecked)
        self.action_likelihood.toggled.connect(self.density_view.exact.setChecked)
        self.action_likelihood.toggled.connect(self._update_views_wanted)
        self.trajectory_view.show_conditional.toggled.connect(self._update_views_wanted)
        for dock in self.docks.values():
            dock.visibilityChanged.connect(lambda _visible: self._update_views_wanted())

    def _restore_layout(self) -> None:
        """The user's last geometry and dock layout, while they fit this screen; else the
        first start's, sized to the screen."""
        geometry, state = self.prefs.layout()
        restored = geometry is not None and self.restoreGeometry(geometry) and fits_screen(self)
        if not restored:
            fit_to_screen(self, PREFERRED_SIZE)
        if state is None or not self.restoreState(state):
            self.default_layout()

    def default_layout(self) -> None:
        """Sizes of the first start (later starts restore the user's own layout), in
        proportion to the window so a laptop screen keeps room for the canvas."""
        width, height = self.width(), self.height()
        self.resizeDocks(
            [self.docks["controls"], self.docks["field"]],
            [max(CONTROLS_MIN_WIDTH, width * 23 // 100), width * 31 // 100],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks([self.docks["loss"]], [height * 23 // 100], Qt.Orientation.Vertical)

    def reset_layout(self) -> None:
        """View ▸ Reset layout: every dock shown, docked where the first start put it, at
        the first start's sizes, in a window that fits the screen."""
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.docks["controls"])
        for name in DOCKED_VIEWS:
            self.addDockWidget(DOCK_AREAS[name], self.docks[name])
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.showNormal()
        fit_to_screen(self, PREFERRED_SIZE)
        self.default_layout()

    # ---- runs and training ------------------------------------------------------------------

    def current_config(self) -> TrainConfig:
        """The settings panel's config with the data fields filled from the chosen source."""
        config = self.settings_panel.config()
        config.dataset = self.source.label
        config.jitter, config.scale = self._jitter_scale()
        return config

    def _jitter_scale(self) -> tuple[float, float]:
        """The data panel's noise settings that apply to the current source."""
        if self.source.kind == "preset":
            return self.data_panel.preset_noise(), self.data_panel.preset_scale()
        if self.source.kind == "drawing":
            return self.data_panel.jitter(), 1.0
        return 0.0, 1.0

    def current_dataset(self):
        if self.source.kind == "image":
            if self.image_path is None:
                raise DatasetError("no image loaded: use 'Load image…' first")
            return ImageDensity.from_file(self.image_path)
        jitter, scale = self._jitter_scale()
        return self.source.dataset(self.drawing.points, jitter=jitter, scale=scale)

    def new_run(self) -> None:
        """A fresh model on the current settings and target (Reset); shows it untrained at once."""
        try:
            config, dataset = self.current_config(), self.current_dataset()
        except (ConfigError, DatasetError) as exc:
            self.show_error(str(exc))
            return
        self.clear_error()
        self.loss_view.reset()
        self._showing_sample = False
        self._preview_target(dataset)
        self.run.new_run(config, dataset)

    def _preview_target(self, dataset) -> None:
        """Draw the target now, before the training process answers (seconds at start-up);
        its own target, drawn the same way, replaces this when the run starts."""
        points = np.asarray(dataset.sample(PREVIEW_POINTS, np.random.default_rng(0)))
        self.samples_view.set_target(points)
        self.samples_view.set_samples(None)
        self.samples_view.set_bounds(plot_bounds(points))

    def reset_run(self) -> None:
        """Train ▸ Reset: a fresh model, once the user agreed to lose an unsaved one."""
        if self.confirm_discard("Reset"):
            self.new_run()

    def toggle_training(self) -> None:
        if self.state is RunState.TRAINING:
            self.run.send(Pause())
        elif self.state is RunState.FINISHED:
            self.show_error("This run has finished: raise Steps to go on, or Reset to start over.")
        else:
            self._showing_sample = False
            if self.run.lost:
                self.new_run()  # on these settings, in the new process the next command starts
            self.run.send(Start())

    def _send_field_box(self, box: tuple) -> None:
        """The range the field view shows: the training process computes the arrows over it."""
        self.run.send(SetFieldBox(tuple(box)))

    def change_setting(self, name: str, value: object) -> None:
        """A settings edit: live ones go to the running trainer; the rest start a fresh model."""
        self.mark_changed()
        effect = edit_effect(name, has_steps=self.run.has_steps)
        if effect is EditEffect.LIVE:
            self.run.send(UpdateSettings({name: value}))
        elif effect is EditEffect.NEW_RUN:
            self.new_run()

    def open_compare(self, spec: str = COMPARE_SPEC):
        """Compare mode on this window's target and settings (model size, steps, seed); the
        new CompareWindow, or None when the target or settings are unusable."""
        from fmstudio.app.compare_window import CompareWindow, base_for_compare

        try:
            config, dataset = self.current_config(), self.current_dataset()
        except (ConfigError, DatasetError) as exc:
            self.show_error(str(exc))
            return None
        if self.compare_window is not None:
            self.compare_window.close()
        self.compare_window = CompareWindow(base_for_compare(config), dataset, spec)
        self.compare_window.show()
        return self.compare_window

    def open_images(self):
        """Image mode, on the built-in digits (its own window and training process)."""
        from fmstudio.app.images import ImageWindow

        if self.image_window is not None:
            self.image_window.close()
        self.image_window = ImageWindow()
        self.image_window.show()
        return self.image_window

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts, listed from the actions themselves."""
        self._show_help(
            "helpShortcuts", "Keyboard shortcuts", help_pages.shortcuts_html(self.actions())
        )

    def show_maths(self) -> None:
        """Help ▸ What each view shows: the equation behind every view, with links."""
        self._show_help("helpMaths", "What each view shows", help_pages.maths_html())

    def _show_help(self, name: str, title: str, text: str) -> None:
        page = self.findChild(help_pages.HelpPage, name)
        if page is None:
            page = help_pages.HelpPage(self, name, title, text)
        page.show()
        page.raise_()

    def save_screenshot(self, path: str | Path) -> None:
        self.files.screenshot(path)

    def export_view(self, name: str, path: str | Path) -> None:
        self.files.export_view(name, path)

    def sample(self) -> None:
        self.sampling_panel.show_busy(True)
        self.run.send(Sample(self.sampling_panel.request()))

    # ---- data ---------------------------------------------------------------------------------

    def choose_preset(self, name: str) -> None:
        self.source = DataSource("preset", name)
        self._apply_target()

    def set_source_kind(self, kind: str) -> None:
        if kind == "preset":
            self.source = DataSource("preset", self.data_panel.preset_name())
        elif kind == "image":
            if self.image_path is None:
                self.files.load_image_dialog()
                return
            self.source = DataSource("image", Path(self.image_path).stem, self.image_path)
        else:
            self.source = DataSource("drawing", "drawing")
            self.samples_view.set_target(self.drawing.points)
            if len(self.drawing) < 2:
                self.statusBar().showMessage(
                    "Pick the brush and draw on the plot: the points become the target.", 8000
                )
                return
        self._apply_target()

    def use_image(self, path: str) -> None:
        """Make the image at `path` the target (a density from its dark pixels)."""
        try:
            ImageDensity.from_file(path)
        except DatasetError as exc:
            self.show_error(str(exc))
            return
        self.image_path = path
        self.data_panel.set_image_name(Path(path).name)
        self.source = DataSource("image", Path(path).stem, path)
        self.data_panel.set_source(self.source)
        self._apply_target()

    def use_points(self, points: np.ndarray) -> None:
        """Replace the drawing with these points (an import) and train on them."""
        try:
            self.drawing.replace(points)
        except DatasetError as exc:
            self.show_error(str(exc))
            return
        self.source = DataSource("drawing", "drawing")
        self.data_panel.set_source(self.source)
        self._drawing_changed()

    def _apply_target(self) -> None:
        """Train on the chosen target: a fresh model if nothing was trained yet, else live."""
        self.mark_changed()
        if not self.run.has_steps:
            self.new_run()
            return
        try:
            dataset = self.current_dataset()
        except DatasetError as exc:
            self.show_error(str(exc))
            return
        self.clear_error()
        self.run.send(SetDataset(dataset))

    def _data_shape_changed(self) -> None:
        """Noise, scale or jitter of the current source: a new target (live if training)."""
        if self.source.kind != "drawing" or len(self.drawing) >= 2:
            self._apply_target()

    def _stroke_at(self, x: float, y: float) -> None:
        radius = self.data_panel.brush_size()
        if self.samples_view.tool == "eraser":
            self.drawing.erase((x, y), radius)
        else:
            self.drawing.spray((x, y), radius, self.data_panel.brush_density())
        self.samples_view.set_target(self.drawing.points)
        self.data_panel.set_point_count(len(self.drawing), self.drawing.can_undo)

    def _stroke_finished(self) -> None:
        self.drawing.end_stroke()
        self._drawing_changed()

    def undo_drawing(self) -> None:
        if self.drawing.undo():
            self._drawing_changed()

    def clear_drawing(self) -> None:
        self.drawing.clear()
        self._drawing_changed()

    def _drawing_changed(self) -> None:
        self._drawing_saved = False
        self.mark_changed()
        self.data_panel.set_point_count(len(self.drawing), self.drawing.can_undo)
        if self.source.kind != "drawing":
            return
        self.samples_view.set_target(self.drawing.points)
        if len(self.drawing) >= 2:
            self._apply_target()

    # ---- training events -----------------------------------------------------------------------

    def _on_run_started(self, info: RunInfo) -> None:
        self.settings_panel.set_devices(info.devices)
        self.settings_panel.set_config(info.config)
        self.loss_view.reset()
        self.time_bar.set_range(*info.t_range)
        self.status_device.setText(f"device: {info.device}")
        self.progress.setMaximum(info.config.steps)
        self._on_target_changed(info)

    def _on_target_changed(self, info: RunInfo) -> None:
        shown = self.drawing.points if self.source.kind == "drawing" else info.target
        self.samples_view.set_target(shown)
        for view in (self.field_view, self.trajectory_view):
            view.set_target(info.target)
        for view in (self.samples_view, self.field_view, self.trajectory_view, self.density_view):
            view.set_bounds(info.bounds)

    def _on_snapshot(self, item: Snapshot) -> None:
        if not self.isWindowModified() and self.unsaved_work() is not None:
            self.update_title()
        self.loss_view.add_snapshot(item)
        if self.progress.maximum() != item.total_steps:
            self.progress.setMaximum(item.total_steps)
        # Repaint the bar per 0.5% of the run while training, but always once it stops (so the
        # bar and the loss readout agree after a pause).
        if (
            (item.step - self.progress.value()) * 200 >= item.total_steps
            or item.step in (0, item.total_steps)
            or self.state is not RunState.TRAINING
        ):
            self.progress.setValue(item.step)
        self._lock_settings()
        if item.samples is not None and not self._showing_sample:
            self.samples_view.set_samples(item.samples)
        if item.trajectories is not None and not self._showing_sample:
            self.trajectory_view.set_trajectories(item.trajectories)
        if item.conditional is not None:
            self.trajectory_view.set_conditional(item.conditional)
        if item.field is not None:
            self.field_view.set_frames(item.field)
        if item.density is not None:
            self.density_view.set_density(item.density)
        if item.samples is not None or item.field is not None:
            QTimer.singleShot(0, lambda: startup.mark(startup.FIRST_PICTURE))  # once drawn

    def _on_state(self, state: RunState) -> None:
        self.action_train.setText("Pause" if state is RunState.TRAINING else "Train")
        self._lock_settings()
        labels = {
            RunState.IDLE: "ready",
            RunState.TRAINING: "training…",
            RunState.PAUSED: "paused",
            RunState.FINISHED: "finished",
        }
        self.status_state.setText(labels.get(state, state))

    def _lock_settings(self) -> None:
        """Lock what cannot change mid-run once a run has steps (only on a change: re-enabling
        widgets on every snapshot would restyle the panel 25 times a second)."""
        locked = self.run.has_steps
        if locked != self._locked:
            self._locked = locked
            self.settings_panel.set_training(locked)

    def _on_sampled(self, run: SampleRun) -> None:
        self.last_sample = run
        self._showing_sample = True
        self.sampling_panel.show_busy(False)
        self.sampling_panel.show_result(run.nfe, run.w2, run.seconds, floor=run.w2_floor)
        self.samples_view.set_samples(run.trajectories.samples)
        self.trajectory_view.set_trajectories(run.trajectories)
        self.trajectory_view.set_time(self.time_bar.time())

    def _on_saved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved model to {path}", 5000)

    def _set_time(self, t: float) -> None:
        self.field_view.set_time(t)
        self.trajectory_view.set_time(t)

    def _update_views_wanted(self) -> None:
        """Tell the engine which expensive pictures the visible views need (hidden: none)."""
        visible = {name for name, dock in self.docks.items() if dock.isVisible()}
        parts = set()
        if self.samples_view.isVisible() or not self.isVisible():
            parts.add(Part.SAMPLES)
        if "trajectories" in visible or not self.isVisible():
            parts.add(Part.TRAJECTORIES)
            if self.trajectory_view.show_conditional.isChecked():
                parts.add(Part.CONDITIONAL)
        if "field" in visible or not self.isVisible():
            parts.add(Part.FIELD)
            if self.action_marginal.isChecked():
                parts.add(Part.MARGINAL)
        if "density" in visible or not self.isVisible():
            parts.add(Part.LIKELIHOOD if self.action_likelihood.isChecked() else Part.DENSITY)
        self.prefs.set_flag("marginal", self.action_marginal.isChecked())
        self.prefs.set_flag("likelihood", self.action_likelihood.isChecked())
        self.run.send(SetViews(frozenset(parts)))

    # ---- errors and shutdown --------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """Worker and file errors: a banner the user can dismiss; the app carries on."""
        self.last_error = message
        self.banner.setText(message)
        self.banner_row.show()
        self.sampling_panel.show_busy(False)
        self.statusBar().showMessage(message, 10000)

    def clear_error(self) -> None:
        self.banner_row.hide()

    def _on_process_ended(self) -> None:
        """The training process died (the banner says how): its model went with it, so there
        is nothing left to save or lose, and the next Train starts a fresh model."""
        self.progress.setValue(0)
        self._lock_settings()
        self.update_title()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed and not self._may_close():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    # ---- unsaved work --------------------------------------------------------------------

    def _may_close(self) -> bool:
        """Quitting: this window's unsaved work, then image mode's, may be dropped (each asks)."""
        if not self.confirm_discard("Quitting"):
            return False
        image = self.image_window
        return image is None or not image.isVisible() or image.close()

    def unsaved_work(self) -> str | None:
        """What a Reset, New, Open or Quit would throw away, in words (None: nothing)."""
        lost = []
        if self.run.unsaved():
            lost.append(f"a model trained for {self.step:,} steps")
        if not self._drawing_saved and len(self.drawing):
            lost.append(f"a drawing of {len(self.drawing):,} points")
        return " and ".join(lost) or None

    def confirm_discard(self, action: str) -> bool:
        """Whether `action` may go on: nothing unsaved, or the user saved it (File ▸ Save
        session) or chose to discard it."""
        lost = self.unsaved_work()
        if lost is None or not self.ask_before_discard:
            return True
        answer = ask.ask_discard(self, f"{action} discards {lost}, not saved yet.")
        if answer is ask.Answer.SAVE:
            return self.files.save_session_dialog()
        return answer is ask.Answer.DISCARD

    def mark_saved(self, model: bool = True, drawing: bool = True, session: bool = False) -> None:
        """The model (at its current step), the drawing and/or the session are on disk."""
        if model:
            self.run.mark_saved()
        if drawing:
            self._drawing_saved = True
        if session:
            self._session_changed = False
        self.update_title()

    def mark_changed(self) -> None:
        """Settings, target or drawing changed since the session was saved."""
        self._session_changed = True
        self.update_title()

    def update_title(self) -> None:
        """'name[*] — fmstudio', with Qt's modified marker while there is unsaved work."""
        path = self.files.session_path
        name = path.name.removesuffix(".json").removesuffix(".fmstudio") if path else "untitled"
        self.setWindowTitle(f"{name}[*] — fmstudio")
        self.setWindowModified(self._session_changed or self.unsaved_work() is not None)

    def shutdown(self) -> None:
        """Stop training and remember the layout; safe to call twice (close + aboutToQuit)."""
        if self._closed:
            return
        self._closed = True
        self.time_bar.stop()
        for other in (self.compare_window, self.image_window):
            if other is not None:
                other.close()
        self.prefs.save_layout(self.saveGeometry(), self.saveState())
        self.prefs.sync()
        self.run.shutdown()
