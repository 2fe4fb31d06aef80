"""Image mode: train flow matching on an image dataset and watch samples form.

The window shows a grid of samples from fixed noise (the same noise at every refresh, so the
user watches the same images sharpen), a strip of x_t along t for the first few of them, the
held-out images they should resemble, the loss and the bits/dim of held-out images. Training
runs in its own process like the 2-D window's (`Controller`), which also loads the dataset, so
a 60000-image file never passes through the window.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fmstudio.app import ask, export
from fmstudio.app.panels import forms
from fmstudio.app.panels.sampling import SamplingPanel
from fmstudio.app.panels.settings import EditEffect, SettingsPanel, edit_effect
from fmstudio.app.run_model import BoundToRun, RunModel
from fmstudio.app.screen import fit_to_screen
from fmstudio.app.views import LossView
from fmstudio.app.views.images import BitsPerDimView, ImageTilesView
from fmstudio.core import imagegrid
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.schema import Applies
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.view_data import SampleRun, Snapshot
from fmstudio.live.protocol import (
    Part,
    Pause,
    RunInfo,
    RunState,
    Sample,
    SetViews,
    Start,
    UpdateSettings,
)

DEFAULT_CONFIG = TrainConfig(
    dataset="digits",
    unet="tiny",
    steps=2500,
    batch_size=128,
    lr=2e-3,
    warmup_steps=200,
    ema_decay=0.999,
    held_out=256,
)
"""The offline default: 8×8 digits, which 2 CPU cores turn into recognisable digits in about
four minutes (benchmarks/RESULTS.md, "Digits on a CPU")."""
STRIP_IMAGES = 8
PREFERRED_SIZE = (1400, 900)
"""Where the screen allows; `screen.fit_to_screen` shrinks it to a smaller screen."""
"""Samples whose x_t is shown along t."""
SOURCES = (
    ("digits", "digits (8×8, built in)"),
    ("mnist", "MNIST / Fashion-MNIST IDX file…"),
    ("cifar10", "CIFAR-10 batches folder…"),
    ("folder", "Folder of images…"),
)


class ImageWindow(BoundToRun, QMainWindow):
    """The image-mode window: settings row, sample grid, x_t strip, target, loss, bits/dim."""

    def __init__(self, config: TrainConfig | None = None, engine=None) -> None:
        super().__init__()
        self.setObjectName("imageWindow")
        self.setWindowTitle("fmstudio — images")
        self.spec = (config or DEFAULT_CONFIG).dataset
        self.samples = None
        """The images on show (live grid or the last Sample), what Export writes."""
        self.last_error = ""
        self.ask_before_discard = True
        """False for a scripted start that quits by itself: nobody is there to answer."""
        self.run = RunModel(self, engine)
        self.run.send(SetViews(frozenset({Part.TRAJECTORIES, Part.BPD})))
        self._build(config or DEFAULT_CONFIG)
        self.run.runStarted.connect(self._on_run_started)
        self.run.snapshot.connect(self._on_snapshot)
        self.run.stateChanged.connect(self._on_state)
        self.run.sampled.connect(self._on_sampled)
        self.run.saved.connect(self._on_saved)
        self.run.failed.connect(self.show_error)
        fit_to_screen(self, PREFERRED_SIZE)
        self.new_run()

    # ---- layout ---------------------------------------------------------------------------

    def _build(self, config: TrainConfig) -> None:
        self.error = forms.error_label("imageError")
        self.grid_view = ImageTilesView("imageSamples", "samples from fixed noise")
        self.strip_view = ImageTilesView("imageStrip", "x_t along t (noise → data)")
        self.target_view = ImageTilesView("imageTarget", "held-out images")
        self.loss_view = LossView()
        self.bpd_view = BitsPerDimView()
        self.views = {
            "samples": self.grid_view,
            "strip": self.strip_view,
            "target": self.target_view,
            "loss": self.loss_view,
            "bits_per_dim": self.bpd_view,
        }
        grid = QGridLayout()
        grid.addWidget(self.grid_view, 0, 0, 2, 1)
        grid.addWidget(self.strip_view, 0, 1)
        grid.addWidget(self.target_view, 1, 1)
        grid.addWidget(self.loss_view, 2, 0)
        grid.addWidget(self.bpd_view, 2, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        central = QWidget()
        column = QVBoxLayout(central)
        column.addLayout(self._build_run_row(config))
        self._build_settings_dock(config)
        column.addWidget(self.error)
        column.addLayout(grid, 1)
        self.setCentralWidget(central)
        self.sampling_panel = SamplingPanel()
        self.sampling_panel.set_request(SampleRequest(64, 0, SolverSpec.fixed("midpoint", 16)))
        self.sampling_panel.sampleRequested.connect(self.sample)
        dock = QDockWidget("Sampling", self)
        dock.setObjectName("dock_imageSampling")
        dock.setWidget(self.sampling_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        for keys, slot in (("Space", self.toggle_training), ("Ctrl+Return", self.sample)):
            QShortcut(QKeySequence(keys), self, activated=slot)
        self.status = QLabel()
        self.status.setObjectName("imageStatus")
        self.statusBar().addPermanentWidget(self.status)

    def _build_run_row(self, config: TrainConfig) -> QHBoxLayout:
        """The images to learn and the run's buttons; the settings are in their own dock."""
        self.source = forms.combo(
            "setting_dataset",
            "The images to learn: the built-in 8×8 digits (offline), or files you have",
            [(label, kind, "") for kind, label in SOURCES],
        )
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.source.activated.connect(self._on_source_chosen)
        self.source_label = forms.hint_label("imageSpec", config.dataset)
        row = QHBoxLayout()
        row.addWidget(QLabel("Data"))
        row.addWidget(self.source)
        row.addWidget(self.source_label, 1)
        for name, text, slot, tip in (
            ("imageNewRun", "New run", self.reset_run, "A fresh model with these settings"),
            ("imageTrain", "Train", self.toggle_training, "Train or pause (Space)"),
            ("imageExportGrid", "Export grid…", self.export_grid_dialog, "The grid as one PNG"),
            (
                "imageExportImages",
                "Export images…",
                self.export_images_dialog,
                "One PNG per image shown, into a folder",
            ),
            ("imageSaveModel", "Save model…", self.save_model_dialog, "safetensors + JSON"),
        ):
            button = forms.push_button(name, text, tip)
            button.clicked.connect(slot)
            row.addWidget(button)
            if name == "imageTrain":
                self.train_button = button
        return row

    def _build_settings_dock(self, config: TrainConfig) -> None:
        """Every setting of an image run, generated from the settings' descriptions."""
        self.settings_panel = SettingsPanel(applies=Applies.IMAGES, config=config)
        self.settings_panel.changed.connect(self.change_setting)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.settings_panel)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(self.settings_panel.sizeHint().width() + bar + 4)
        dock = QDockWidget("Settings", self)
        dock.setObjectName("dock_imageSettings")
        dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

    # ---- runs -----------------------------------------------------------------------------

    def current_config(self) -> TrainConfig:
        """The settings as a TrainConfig on the chosen images (ConfigError if impossible)."""
        return dataclasses.replace(self.settings_panel.config(), dataset=self.spec).validate()

    def change_setting(self, name: str, value: object) -> None:
        """A settings edit: live ones go to the running trainer; one that shapes the run
        starts a fresh model while nothing is trained yet, else waits for New run."""
        effect = edit_effect(name, has_steps=self.run.has_steps)
        if effect is EditEffect.LIVE:
            self.run.send(UpdateSettings({name: value}))
        elif effect is EditEffect.NEW_RUN:
            self.new_run()

    def new_run(self) -> None:
        """A fresh model on the chosen images; the training process loads them."""
        try:
            config = self.current_config()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.clear_error()
        self.run.new_run(config, None)

    def reset_run(self) -> None:
        """New run: a fresh model, once the user agreed to lose an unsaved one."""
        if self.confirm_discard("A new run"):
            self.new_run()

    def confirm_discard(self, action: str) -> bool:
        """Whether `action` may drop the model: nothing unsaved, or the user saved it (Save
        model…) or chose to discard it."""
        if not self.ask_before_discard or not self.run.unsaved():
            return True
        answer = ask.ask_discard(
            self, f"{action} discards a model trained for {self.step:,} steps, not saved yet."
        )
        if answer is ask.Answer.SAVE:
            return self.save_model_dialog()
        return answer is ask.Answer.DISCARD

    def set_dataset(self, spec: str) -> None:
        """Train on other images ('digits', 'mnist:PATH', ...) from a fresh run."""
        if not self.confirm_discard("Other images"):
            return
        self.spec = spec
        self.source_label.setText(spec)
        self.new_run()

    def toggle_training(self) -> None:
        if self.state is RunState.TRAINING:
            self.run.send(Pause())
        else:
            if self.run.lost:  # the new process starts on a fresh model on these settings
                self.new_run()
            self.run.send(Start())

    def sample(self) -> None:
        self.sampling_panel.show_busy(True)
        self.run.send(Sample(self.sampling_panel.request()))

    def _on_source_chosen(self) -> None:
        kind = self.source.currentData()
        if kind == "digits":
            self.set_dataset("digits")
            return
        if kind == "mnist":
            path, _ = QFileDialog.getOpenFileName(
                self, "An MNIST/Fashion-MNIST image file (IDX, may be .gz)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "A folder of images or CIFAR batches")
        if path:
            self.set_dataset(f"{kind}:{path}")

    # ---- events ---------------------------------------------------------------------------

    def _on_run_started(self, info: RunInfo) -> None:
        self.settings_panel.set_devices(info.devices)
        self.samples = None
        self.loss_view.reset()
        self.bpd_view.reset()
        self.target_view.set_grid(info.target)
        shape = "×".join(str(v) for v in info.target.shape[1:])
        self.target_view.set_caption(f"held-out images ({shape})")
        self.status.setText(f"{info.config.dataset} · device {info.device}")

    def _on_snapshot(self, item: Snapshot) -> None:
        self.loss_view.add_snapshot(item)
        if item.trajectories is not None and item.trajectories.points.ndim == 5:
            self._show_frames(
                item.trajectories.points, f"samples from fixed noise, step {item.step:,}"
            )
        if item.bits_per_dim is not None:
            self.bpd_view.add(item.step, item.bits_per_dim)

    def _show_frames(self, frames, caption: str) -> None:
        """The last frame as the grid, the first few images' frames as the x_t strip."""
        self.samples = frames[-1]
        self.grid_view.set_grid(self.samples)
        self.grid_view.set_caption(caption)
        self.strip_view.set_strip(frames[:, :STRIP_IMAGES])

    def _on_state(self, state: RunState) -> None:
        self.train_button.setText("Pause" if state is RunState.TRAINING else "Train")

    def _on_sampled(self, run: SampleRun) -> None:
        self.sampling_panel.show_busy(False)
        self.sampling_panel.show_result(run.nfe, None, run.seconds)
        caption = f"sampled: {run.solver.method}, NFE {run.nfe}, {run.seconds:.2f} s"
        self._show_frames(run.trajectories.points, caption)

    def _on_saved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved model to {path}", 5000)

    # ---- export ---------------------------------------------------------------------------

    def export_grid(self, path: str | Path, upscale: int | None = None) -> Path | None:
        """The images on show as one PNG grid (enlarged to ~64 px a tile by default)."""
        if self.samples is None:
            self.show_error("No samples yet: wait for the first picture or press Sample.")
            return None
        scale = upscale or max(1, 64 // self.samples.shape[-1])
        try:
            return imagegrid.save_png(imagegrid.grid(self.samples), path, upscale=scale)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the grid: {exc}")
            return None

    def export_images(self, directory: str | Path, upscale: int | None = None) -> list[Path]:
        """Each image on show as its own PNG in `directory`."""
        if self.samples is None:
            self.show_error("No samples yet: wait for the first picture or press Sample.")
            return []
        scale = upscale or max(1, 64 // self.samples.shape[-1])
        try:
            return imagegrid.save_images(self.samples, directory, upscale=scale)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the images: {exc}")
            return []

    def export_grid_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the grid", "", "PNG image (*.png)")
        if path:
            self.export_grid(path)

    def export_images_dialog(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Export the images into")
        if directory:
            self.export_images(directory)

    def save_model_dialog(self) -> bool:
        """Save model…: True once a directory was chosen (the training process writes it)."""
        directory = QFileDialog.getExistingDirectory(self, "Save the model into")
        if directory:
            self.run.save_model(directory)
            self.run.mark_saved()
        return bool(directory)

    def export_view(self, name: str, path: str | Path) -> None:
        """One view as PNG or SVG (the scripted start's `--shots`)."""
        try:
            export.export_plot(self.views[name].plot, path)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the view: {exc}")

    def save_screenshot(self, path: str | Path) -> None:
        try:
            export.save_image(self, path)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot save the screenshot: {exc}")

    # ---- errors and shutdown ---------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.last_error = message
        forms.show_error(self.error, message)
        self.sampling_panel.show_busy(False)

    def clear_error(self) -> None:
        forms.show_error(self.error, None)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.isVisible() and not self.confirm_discard("Closing image mode"):
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.run.shutdown()
